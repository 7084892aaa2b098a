"""sphinx-gallery settings: which examples run at build time, and with what arguments.

The examples in ``examples/`` are plain scripts (``python examples/x.py``)
with a ``--quick`` mode. At build time:

- ``rank_synthetic.py`` and ``feature_selection.py`` run in their quick mode
  (seconds each; no data needed): the page shows what they print then;
- ``rank_miles.py`` is not run (minutes of training, and the MILES spectra
  need not be on the building machine): its page shows the code and
  what a full run printed, stored in its docstring.
"""

RUN_AT_BUILD = ("rank_synthetic.py", "feature_selection.py")


class QuickArgv:
    """``reset_argv``: the arguments the gallery gives an example it runs (its quick mode).

    A class with a ``__repr__`` rather than a function, so that Sphinx can
    cache the configuration.
    """

    def __call__(self, gallery_conf, script_vars):
        return ["--quick"]

    def __repr__(self):
        return "QuickArgv()"


def gallery_conf(docs_folder):
    """The ``sphinx_gallery_conf`` dictionary for ``conf.py``."""
    import re

    return {
        "examples_dirs": str(docs_folder.parent / "examples"),
        "gallery_dirs": "gallery",
        "filename_pattern": "/(" + "|".join(re.escape(n) for n in RUN_AT_BUILD) + ")$",
        "reset_argv": QuickArgv(),
        "download_all_examples": False,
        "remove_config_comments": True,
        "abort_on_example_error": True,
        "only_warn_on_example_error": False,
        "show_memory": False,
        "min_reported_time": 1,
        "plot_gallery": "True",
        "capture_repr": (),
        "image_scrapers": ("matplotlib",),
        "within_subsection_order": "FileNameSortKey",
    }
