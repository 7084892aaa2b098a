"""Cross-references by any import path, and two docstring fixes, for ``conf.py``.

Each public object has one page, under the name users import it by
(``stellar_relevance.match_indices``), but a docstring may name it by the
module that defines it (``stellar_relevance.indices.matching.match_indices``), by a
subpackage that re-exports it (``stellar_relevance.io.read_spectra``) or by a
short name inside its module (``load_catalog``). ``resolve_alias`` follows
the import path to the object and links to its page.

A reference to something that imports but has no page (a private helper, a
module constant without ``__all__``) is shown as code, unlinked. A reference
that does not import at all stays a warning: with ``-n -W`` a typo or a
renamed function fails the build.
"""

import importlib
import re


def _import(dotted):
    """The object a dotted path names, or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 - any failure means "not this prefix"
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _candidates(target, node):
    """Dotted paths the reference may mean: as written, inside its module / class, inside the
    module that defines the documented object (a short name in a re-exported function's docstring)."""
    target = target.lstrip("~.")
    out = [target]
    page = node.get("refdoc", "").rsplit("/", 1)[-1]
    documented = _import(page) if page.startswith("stellar_relevance") else None
    home = getattr(documented, "__module__", None) or getattr(documented, "__name__", None)
    if isinstance(home, str) and home.startswith("stellar_relevance"):
        out.append(f"{home}.{target}")
    module = node.get("py:module")
    klass = node.get("py:class")
    if module:
        if klass:
            out.append(f"{module}.{klass}.{target}")
        out.append(f"{module}.{target}")
    out.append(f"stellar_relevance.{target}")
    return out


def make_resolver(documented):
    """A ``missing-reference`` handler; ``documented`` maps id(object) to its page's dotted name."""

    def page_of(dotted):
        obj = _import(dotted)
        if obj is None:
            return None, False
        if id(obj) in documented:
            return documented[id(obj)], True
        # a method or attribute of a documented class: Class.member
        head, _, tail = dotted.rpartition(".")
        owner = _import(head) if head else None
        if owner is not None and id(owner) in documented:
            return f"{documented[id(owner)]}.{tail}", True
        return dotted, False

    def resolve_alias(app, env, node, contnode):
        if node.get("refdomain") != "py":
            return None
        target = node.get("reftarget", "")
        if not target.startswith(("stellar_relevance", "~stellar_relevance", ".")) and \
                not node.get("py:module", "").startswith("stellar_relevance"):
            return None
        domain = env.get_domain("py")
        for dotted in _candidates(target, node):
            page, linked = page_of(dotted)
            if page is None:
                continue
            if linked:
                for role in ("obj", node.get("reftype", "obj")):
                    found = domain.resolve_xref(env, node["refdoc"], app.builder, role, page, node, contnode)
                    if found is not None:
                        return found
            # it exists but has no page (private, or not exported): code, no link
            from docutils import nodes

            return nodes.literal(contnode.astext(), contnode.astext())
        return None

    return resolve_alias


_TRAILING_UNDERSCORE = re.compile(r"(?<![\w`*\\|])([A-Za-z]\w*)_(?![\w`*])")
_ROLE_PLURAL = re.compile(r"(`[^`\s][^`]*`)(s\b)")


def fix_rst_pitfalls(app, what, name, obj, options, lines):
    """Render two plain-text habits of our docstrings as meant, not as reST markup.

    - ``n_features_in_`` (a fitted attribute named in prose) would be a
      hyperlink reference to an undefined target: the underscore is escaped;
    - ```Record`s`` (a plural after interpreted text) is a reST error: a
      ``\\ `` is inserted so the text reads "Records".
    Lines of doctest examples and literal blocks are left alone.
    """
    in_literal = False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith((">>>", "...")) or in_literal and (not stripped or line.startswith("    ")):
            continue
        in_literal = line.rstrip().endswith("::")
        line = _ROLE_PLURAL.sub(r"\1\\ \2", line)
        lines[i] = _TRAILING_UNDERSCORE.sub(r"\1\\_", line)


def skip_foreign_members(app, what, name, obj, skip, options):
    """Skip the members a class inherits from scikit-learn / torch machinery (metadata routing...)."""
    module = getattr(obj, "__module__", "") or ""
    if what == "class" and module and not module.startswith("stellar_relevance"):
        return True
    return None
