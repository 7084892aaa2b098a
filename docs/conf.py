"""Sphinx configuration of the stelrel documentation site.

Build (from the repository root, after ``pip install ".[docs]"``)::

    sphinx-build -W --keep-going -n -b html docs docs/_build/html

Offline by default: intersphinx inventories (numpy, astropy, specutils,
scikit-learn, torch) are used only when they can be had without a network
failure turning into a warning:

- ``docs/_intersphinx/<name>.inv`` present (a cached ``objects.inv``): used;
- ``STELREL_DOCS_INTERSPHINX=1`` in the environment: fetched from the web;
- otherwise the external links are left as plain text, and references to
  those packages are not reported as missing (``nitpick_ignore_regex``).

The API pages under ``docs/api/`` are written at each build from the
packages' ``__all__`` (see ``_api_pages.py``), so a new public name gets its
page without anyone editing the docs.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import stellar_relevance  # noqa: E402

from _api_pages import documented_objects, write_api_pages  # noqa: E402
from _xref import fix_rst_pitfalls, make_resolver, skip_foreign_members  # noqa: E402

project = "stelrel"
author = "stelrel developers"
copyright = "stelrel developers, BSD-3-Clause"
release = stellar_relevance.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_click",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_intersphinx", "_templates", "Thumbs.db", ".DS_Store",
                    "gallery/*.ipynb", "gallery/*.py", "gallery/*.zip", "gallery/*.json"]

# -- the API pages -------------------------------------------------------------
write_api_pages(HERE / "api")
autosummary_generate = True
autosummary_generate_overwrite = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# numpydoc's validation of the public API: every check but a few that our
# docstring style does not follow (a "See Also" on every name, an extended
# summary on one-line helpers, ...). Violations are warnings, so -W fails.
numpydoc_validation_checks = {"all", "GL01", "GL02", "GL08", "SA01", "ES01", "EX01", "RT02",
                              "SS03", "SS05", "SS06", "PR09", "RT03", "RT05", "PR06", "PR02",
                              "YD01", "GL03", "SS02", "SS01", "PR01", "PR07", "PR08", "PR10",
                              "RT01", "GL07"}
# -- intersphinx: offline unless an inventory is at hand (see _offline.py) -----
from _offline import intersphinx_mapping as _mapping, nitpick_ignore_for  # noqa: E402

intersphinx_mapping = _mapping(HERE / "_intersphinx", os.environ)
# In nitpicky mode (-n) a reference that resolves nowhere is a warning. The
# projects without an inventory are outside this site: not our broken links.
nitpick_ignore_regex = nitpick_ignore_for(intersphinx_mapping)

# -- markdown pages (myst) -----------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- gallery -------------------------------------------------------------------
from _gallery import gallery_conf  # noqa: E402

sphinx_gallery_conf = gallery_conf(HERE)

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"stelrel {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False


def setup(app):
    """Links by any import path; two reST pitfalls of plain-text docstrings; no foreign members."""
    app.connect("missing-reference", make_resolver(documented_objects()))
    app.connect("autodoc-process-docstring", fix_rst_pitfalls)
    app.connect("autodoc-skip-member", skip_foreign_members)
