"""Intersphinx without a network: which inventories ``conf.py`` may use.

CI and the development machines cannot reach the web, and an inventory that
cannot be fetched is a warning (an error under ``-W``). An inventory is used
only when it can be had: a cached ``objects.inv`` in ``docs/_intersphinx/``,
or any when ``STELREL_DOCS_INTERSPHINX=1`` says the network is there.
"""

from pathlib import Path

INVENTORIES = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "astropy": "https://docs.astropy.org/en/stable",
    "specutils": "https://specutils.readthedocs.io/en/stable",
    "sklearn": "https://scikit-learn.org/stable",
    "torch": "https://pytorch.org/docs/stable",
    "matplotlib": "https://matplotlib.org/stable",
}

# module prefixes of each project, for ``nitpick_ignore_regex`` when its inventory is absent
MODULE_PATTERNS = {
    "python": r"(pathlib|os|io|logging|typing|collections|concurrent|json|numbers|warnings|"
              r"enum|dataclasses|tempfile|datetime|builtins)",
    "numpy": r"(numpy|np)", "astropy": "astropy", "specutils": "specutils", "sklearn": "sklearn",
    "torch": "torch", "matplotlib": "matplotlib",
}


def intersphinx_mapping(cache_folder, environ):
    """``intersphinx_mapping`` for ``conf.py``: cached inventories, or all online when allowed."""
    online = environ.get("STELREL_DOCS_INTERSPHINX", "") == "1"
    mapping = {}
    for name, url in INVENTORIES.items():
        cached = Path(cache_folder) / f"{name}.inv"
        if cached.exists():
            mapping[name] = (url, str(cached))
        elif online:
            mapping[name] = (url, None)
    return mapping


def nitpick_ignore_for(mapping):
    """References into the projects without an inventory: not ours to check (plain text)."""
    missing = [name for name in INVENTORIES if name not in mapping]
    ignore = [(r"py:.*", rf"{MODULE_PATTERNS[name]}(\..*)?") for name in missing]
    if "python" in missing:
        # builtins named bare in docstrings (``:class:`ValueError```, ``:exc:`FileExistsError```...)
        ignore.append((r"py:.*", r"(int|float|str|bool|dict|list|tuple|bytes|object|None|"
                                 r"[A-Z][A-Za-z]*(Error|Exception|Warning))"))
    return ignore
