"""The documentation site: every public name has an API page, nothing private has one, and the
build's helpers do what ``docs/conf.py`` relies on. The full build (``sphinx-build -W -n``) runs in
``.ci/run`` after the tests; these checks need no Sphinx."""

import importlib
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
sys.path.insert(0, str(DOCS))

import _api_pages  # noqa: E402
import _xref  # noqa: E402


@pytest.fixture(scope="module")
def api_pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    layout = _api_pages.write_api_pages(folder)
    pages = {p.stem: p.read_text() for p in folder.glob("*.rst")}
    return layout, pages


def _entries(text):
    """Names listed on a page: autosummary rows, autofunction targets and links."""
    rows = re.findall(r"^   ~?([\w.]+)$", text, flags=re.M)
    rows += re.findall(r"^\.\. autofunction:: ([\w.]+)$", text, flags=re.M)
    rows += re.findall(r"^- :py:obj:`([\w.]+)`$", text, flags=re.M)
    return rows


@pytest.mark.parametrize("package", ["stellar_relevance", "stellar_relevance.io", "stellar_relevance.datasets"])
def test_every_public_name_is_on_its_package_page(api_pages, package):
    layout, pages = api_pages
    module = importlib.import_module(package)
    listed = {name.rsplit(".", 1)[-1] for name in _entries(pages[package])}
    expected = {n for n in module.__all__ if n != "__version__" and not isinstance(getattr(module, n), type(sys))}
    assert expected, package
    assert expected <= listed, f"{package}: no API entry for {sorted(expected - listed)}"
    # and each entry points at a page that exists (an entry documented on its own module's page)
    own = {f"{module_name}.{name}" for module_name, entries in layout.items()
           for name, where in entries if where == f"{module_name}.{name}"}
    for name, where in layout[package]:
        assert where in own, f"{package}.{name} is listed as {where}, which has no page"


def test_every_exported_object_has_one_page():
    import stellar_relevance

    documented = _api_pages.documented_objects()
    for package in ("stellar_relevance", "stellar_relevance.io", "stellar_relevance.datasets"):
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if name == "__version__" or isinstance(obj, type(sys)):
                continue
            assert id(obj) in documented, f"{package}.{name} has no page"
    assert documented[id(stellar_relevance.read_spectra)] == "stellar_relevance.read_spectra"


def test_nothing_private_is_documented(api_pages):
    layout, pages = api_pages
    for module_name, entries in layout.items():
        assert not any(part.startswith("_") for part in module_name.split(".")), module_name
        for name, where in entries:
            assert not any(part.startswith("_") for part in where.split(".")), where
    assert not any(name.startswith(("stellar_relevance.cli", "stellar_relevance._")) for name in pages if name != "index")


def test_the_api_index_lists_every_page(api_pages):
    _, pages = api_pages
    index = pages["index"]
    for name in pages:
        if name != "index":
            assert re.search(rf"^   {re.escape(name)}$", index, flags=re.M), name


def test_every_markdown_page_is_in_the_site():
    """A page another change adds to docs/ must be put in a toctree, or the build warns."""
    tocs = "\n".join(p.read_text() for p in DOCS.glob("*.rst"))
    for page in DOCS.glob("*.md"):
        assert re.search(rf"^   {re.escape(page.stem)}$", tocs, flags=re.M), f"{page.name} is in no toctree"


def test_docstring_pitfalls_are_rendered_as_text():
    lines = [
        "    **feature_names_in_** : ndarray of shape (n_features_in_,)",
        "Fitted: n_features_in_ and ranking_.",
        "the `Record`s of a file",
        ":attr:`ranking_` stays a reference",
        ">>> model_ = 1",
    ]
    _xref.fix_rst_pitfalls(None, "function", "x", None, {}, lines)
    assert lines == [
        "    **feature_names_in_** : ndarray of shape (n_features_in\\_,)",
        "Fitted: n_features_in\\_ and ranking\\_.",
        "the `Record`\\ s of a file",
        ":attr:`ranking_` stays a reference",
        ">>> model_ = 1",
    ]


def test_references_follow_import_paths():
    """A docstring may name an object by its defining module; the link goes to its page."""
    import stellar_relevance

    assert _xref._import("stellar_relevance.indices.matching.match_indices") is stellar_relevance.match_indices
    assert _xref._import("stellar_relevance.io.read_spectra") is stellar_relevance.read_spectra
    assert _xref._import("stellar_relevance.indices.matching.no_such_function") is None
    node = {"refdoc": "api/generated/stellar_relevance.datasets.planted_mask", "py:module": "stellar_relevance.datasets"}
    assert "stellar_relevance.datasets.synthetic_spectra.planted_lines" in _xref._candidates("planted_lines", node)


def test_intersphinx_is_offline_by_default(tmp_path):
    """No inventory is fetched without a cached copy or STELREL_DOCS_INTERSPHINX=1 (no network in CI)."""
    import _offline

    assert _offline.intersphinx_mapping(tmp_path, {}) == {}
    ignored = _offline.nitpick_ignore_for({})
    assert any(re.fullmatch(target, "astropy.table.Table") for _, target in ignored)
    assert not any(re.fullmatch(target, "stellar_relevance.SpectralSet") for _, target in ignored)
    (tmp_path / "numpy.inv").write_bytes(b"")
    mapping = _offline.intersphinx_mapping(tmp_path, {})
    assert list(mapping) == ["numpy"] and mapping["numpy"][1] == str(tmp_path / "numpy.inv")
    assert not any(re.fullmatch(target, "numpy.ndarray") for _, target in _offline.nitpick_ignore_for(mapping))
    online = _offline.intersphinx_mapping(tmp_path, {"STELREL_DOCS_INTERSPHINX": "1"})
    assert set(online) == set(_offline.INVENTORIES) and online["astropy"][1] is None


def test_ci_builds_the_site_as_the_readme_says():
    ci = (REPO / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if "sphinx-build" in line and not line.lstrip().startswith("#")]
    assert len(commands) == 1, commands
    assert " -W " in commands[0] and " -n " in commands[0] and "--keep-going" in commands[0]
    assert commands[0] in (REPO / "README.md").read_text()
    assert commands[0] in (DOCS / "building_the_docs.md").read_text()


def test_the_docs_extra_has_the_extensions_conf_uses():
    text = (REPO / "pyproject.toml").read_text()
    extra = re.search(r"^docs = \[(.*?)\]", text, flags=re.M | re.S).group(1)
    for package in ("sphinx", "pydata-sphinx-theme", "numpydoc", "sphinx-click", "myst-parser", "sphinx-gallery"):
        assert f'"{package}' in extra, package


def _has_examples(obj):
    """Whether the docstring has a numpydoc ``Examples`` section with at least one ``>>>`` line."""
    import inspect

    text = inspect.getdoc(obj) or ""
    section = re.search(r"^Examples\n-{8,}\n(.*?)(?=^\w[\w ]*\n-{3,}\n|\Z)", text, flags=re.M | re.S)
    return bool(section) and ">>>" in section.group(1)


def test_the_example_check_finds_a_missing_section():
    def documented():
        """Summary.

        Examples
        --------
        >>> 1 + 1
        2
        """

    def undocumented():
        """Summary, with ``>>>`` in the text but no Examples section."""

    assert _has_examples(documented) and not _has_examples(undocumented)


def test_every_public_function_and_class_has_an_example():
    """Every function and class with an API page has a runnable Examples section (tests/test_doctests.py runs them)."""
    import inspect

    missing = []
    for where in sorted(set(_api_pages.documented_objects().values())):
        module_name, _, name = where.rpartition(".")
        obj = getattr(importlib.import_module(module_name), name)
        if (inspect.isroutine(obj) or inspect.isclass(obj)) and not _has_examples(obj):
            missing.append(where)
    assert not missing, f"no Examples section with '>>>' in: {', '.join(missing)}"
