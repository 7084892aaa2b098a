"""Write the API reference pages (``docs/api/*.rst``) from the code's ``__all__``.

Called from ``conf.py`` at every build, so the reference follows the code:
every name in the ``__all__`` of a public package or module gets a page
(through autosummary), documented once, where users import it from:

1. ``stellar_relevance`` (the package's own ``__all__``),
2. its subpackages (the rooms: ``nn``, ``estimators``, ``ranking``, ``indices``,
   ``report``, ``io``, ``datasets``),
3. then every public module (no leading underscore in its dotted name) for
   the names in its ``__all__`` that none of the above exports.

A name exported in several places is documented at the first and listed
(linked) at the others. Nothing private is listed: only ``__all__`` names.
"""

import importlib
import pkgutil
from pathlib import Path

PACKAGE = "stellar_relevance"
SUBPACKAGES = tuple(f"stellar_relevance.{room}" for room in
                    ("nn", "estimators", "ranking", "indices", "report", "io", "datasets"))
SKIP = {"__version__"}
# modules that are not library API: the command-line application (documented
# by sphinx-click on the CLI page) and the catalogue build script.
NOT_API_PREFIXES = ("stellar_relevance.cli", "stellar_relevance.catalogs.build_catalog")


def _public_names(module):
    """The module's ``__all__``; without one, the public functions and classes it defines."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items()
                 if callable(v) and getattr(v, "__module__", None) == module.__name__]
    return [n for n in names if n not in SKIP and not n.startswith("_")]


def public_modules():
    """Dotted names of the public modules of the package, sorted (no ``_private`` part)."""
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(package.__path__, f"{PACKAGE}."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if info.name.startswith(NOT_API_PREFIXES):
            continue
        names.append(info.name)
    return sorted(names)


def api_layout():
    """``{page_module: [(name, documented_as)]}``: each public name and the dotted path of its page."""
    layout = {}
    documented = {}  # id(object) -> dotted name where it has its page
    deferred = []
    modules = public_modules()
    order = [PACKAGE, *SUBPACKAGES] + [m for m in modules if m not in (PACKAGE, *SUBPACKAGES)]
    for module_name in order:
        module = importlib.import_module(module_name)
        entries = []
        for name in _public_names(module):
            obj = getattr(module, name)
            if type(obj).__name__ == "module":
                continue  # a subpackage: it has its own page
            key = id(obj)
            if key not in documented and not hasattr(module, "__all__"):
                continue  # no __all__: list only what is exported elsewhere
            if key not in documented and f"{module_name}.{name}" in modules:
                # ``io.resample`` the function shadows ``io.resample`` the module: its page is
                # ``io.resample.resample``; listed here once that page is known
                deferred.append((module_name, len(entries), name, key))
                continue
            if key not in documented:
                documented[key] = f"{module_name}.{name}"
            entries.append((name, documented[key]))
        layout[module_name] = entries
    for module_name, position, name, key in reversed(deferred):
        layout[module_name].insert(position, (name, documented[key]))
    return layout


def documented_objects():
    """``{id(object): dotted name of its page}`` for every documented public object."""
    out = {}
    for module_name, entries in api_layout().items():
        module = importlib.import_module(module_name)
        for name, where in entries:
            out.setdefault(id(getattr(module, name)), where)
    return out


def _title(text, char="="):
    return f"{text}\n{char * len(text)}\n"


def _page(module_name, entries):
    lines = [_title(f"``{module_name}``"), f".. automodule:: {module_name}", "   :no-members:"]
    lines.append("")
    own = [name for name, where in entries if where == f"{module_name}.{name}"]
    inline = []
    elsewhere = [(name, where) for name, where in entries if where != f"{module_name}.{name}"]
    if own:
        # a name equal to its module's last part (``io.resample.resample``) is documented in
        # place: autosummary would take it for the module itself
        inline = [name for name in own if module_name.rsplit(".", 1)[-1] == name]
        own = [name for name in own if name not in inline]
    if own:
        lines += [".. currentmodule:: " + module_name, "", ".. autosummary::",
                  "   :toctree: generated/", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in own]
        lines.append("")
    for name in inline:
        lines += [f".. autofunction:: {module_name}.{name}", ""]
    if elsewhere:
        # autosummary refuses names below the current module: those are plain links
        below = [where for _, where in elsewhere if where.startswith(module_name + ".")]
        table = [where for _, where in elsewhere if where not in below]
        lines += ["Also exported here (documented where listed):", ""]
        if table:
            lines += [".. autosummary::", "   :nosignatures:", ""]
            lines += [f"   ~{where}" for where in table]
            lines.append("")
        lines += [f"- :py:obj:`{where}`" for where in below]
        lines.append("")
    if not entries:
        lines += ["This module has no ``__all__`` and nothing of it is exported: it is an internal "
                  "step of the public functions.", ""]
    return "\n".join(lines)


def write_api_pages(folder):
    """Write ``index.rst`` and one page per public module into ``folder``; return the layout."""
    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    layout = api_layout()
    pages = []
    for module_name, entries in layout.items():
        page = folder / f"{module_name}.rst"
        text = _page(module_name, entries)
        if not page.exists() or page.read_text() != text:
            page.write_text(text)
        pages.append(module_name)
    main = [m for m in pages if m in (PACKAGE, *SUBPACKAGES)]
    modules = [m for m in pages if m not in main]
    index = [
        _title("API reference"),
        "Generated from the code: every name in the ``__all__`` of the package, of its",
        "subpackages and of its public modules has a page, documented once where you import",
        "it from (``from stellar_relevance import ...`` first). The command line is on",
        ":doc:`../cli_reference`.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "   :caption: Packages",
        "",
        *[f"   {m}" for m in main],
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "   :caption: Modules",
        "",
        *[f"   {m}" for m in modules],
        "",
    ]
    text = "\n".join(index)
    if not (folder / "index.rst").exists() or (folder / "index.rst").read_text() != text:
        (folder / "index.rst").write_text(text)
    return layout
