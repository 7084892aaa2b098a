"""The Examples sections of the package's docstrings run, as doctests, against the installed package.

The modules are found through the installed ``stellar_relevance`` (and its
``cli`` and ``catalogs`` subpackages, which live elsewhere in the source
tree), so this works for editable and regular installs alike, without
``--doctest-modules`` collecting the source folders themselves.
"""

import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

import stellar_relevance

PACKAGES = ("stellar_relevance", "stellar_relevance.cli", "stellar_relevance.catalogs")


def _modules_with_examples():
    names = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, f"{package_name}.")]
    found = []
    for name in dict.fromkeys(names):
        origin = importlib.util.find_spec(name).origin
        if origin and origin.endswith(".py") and ">>>" in Path(origin).read_text(encoding="utf-8"):
            found.append(name)
    return found


MODULES = _modules_with_examples()


def test_the_public_api_has_examples():
    """The estimators, the layer and the exceptions keep runnable examples (a guard against losing them)."""
    for name in ("stellar_relevance.estimators._spectral", "stellar_relevance.nn.layers", "stellar_relevance.exceptions"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    import torch

    module = importlib.import_module(name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        finder = doctest.DocTestFinder(exclude_empty=True)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        tests = [t for t in finder.find(module, name) if t.examples]
        assert tests, f"{name}: '>>>' in the source but no doctest found"
        for test in tests:
            runner.run(test)
    finally:
        torch.set_num_threads(threads)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"
