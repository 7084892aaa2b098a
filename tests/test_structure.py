"""The package's house rules: rooms (subpackages), no import cycle, short modules, no private
name imported across rooms."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "stellar_relevance"
MAX_LINES = 400
# the top of the package holds only the rooms and these modules
TOP_LEVEL_MODULES = {"__init__.py", "_version.py", "exceptions.py", "spectra.py"}
ROOMS = {"nn", "estimators", "ranking", "indices", "report", "io", "datasets"}


def _modules():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(name, path):
    """``(module, attribute)`` for every import in module ``name`` (relative imports resolved;
    ``attribute`` is ``""`` for ``import x.y``); imports inside functions included."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield from ((target, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from ((alias.name, "") for alias in node.names)


def _import_graph(modules):
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for module, attribute in _imports(name, path):
            candidates = (module, f"{module}.{attribute}") if attribute else (module,)
            graph[name].update(c for c in candidates if c in modules and c != name)
    return graph


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_checker_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    """Imports inside functions count too: a cycle hidden in a function is still a cycle."""
    assert _cycles(_import_graph(_modules())) == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_short_enough_to_read(path):
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    assert n_lines <= MAX_LINES, f"{path.name}: {n_lines} lines; split it by job"


def test_the_top_of_the_package_holds_only_rooms_and_the_shared_modules():
    files = {p.name for p in PACKAGE.glob("*.py")}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert files == TOP_LEVEL_MODULES
    assert folders == ROOMS


def _room(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ROOMS) else ""


def _private_imports_across_rooms(modules):
    """``(importer, imported)`` pairs where a module imports a private module or name of another room."""
    found = []
    for name, path in modules.items():
        for module, attribute in _imports(name, path):
            if not module.startswith("stellar_relevance"):
                continue
            if _room(module) in ("", _room(name)):
                continue  # the top level (exceptions, spectra, _version) is shared by every room
            private_module = any(part.startswith("_") and part not in ("__init__",)
                                 for part in module.split(".")[1:])
            if private_module or (attribute.startswith("_") and attribute != "__version__"):
                found.append((name, f"{module}:{attribute}" if attribute else module))
    return found


def test_the_private_import_checker_finds_one(tmp_path):
    package = tmp_path / "stellar_relevance"
    (package / "nn").mkdir(parents=True)
    (package / "report").mkdir()
    (package / "nn" / "_secret.py").write_text("X = 1\n")
    (package / "report" / "uses.py").write_text("from stellar_relevance.nn._secret import X\n"
                                                "from stellar_relevance.nn.layers import _helper\n")
    modules = {"stellar_relevance.nn._secret": package / "nn" / "_secret.py",
               "stellar_relevance.report.uses": package / "report" / "uses.py"}
    assert _private_imports_across_rooms(modules) == [
        ("stellar_relevance.report.uses", "stellar_relevance.nn._secret:X"),
        ("stellar_relevance.report.uses", "stellar_relevance.nn.layers:_helper"),
    ]


def test_no_private_name_is_imported_across_rooms():
    """A room's private modules and names are its own; other rooms use what it makes public."""
    assert _private_imports_across_rooms(_modules()) == []
