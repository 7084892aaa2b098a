"""Shared fixtures: where the real data is, and skips that say why."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("STELREL_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def miles_dir():
    """The real MILES folder (../shared/data/miles or $STELREL_MILES_DIR)."""
    path = Path(os.environ.get("STELREL_MILES_DIR", SHARED_DATA / "miles"))
    if not (path / "MILES_res2.50_star_m0001V.fits").exists():
        pytest.skip(f"real MILES spectra not found at {path} (set STELREL_MILES_DIR)")
    return path


@pytest.fixture(scope="session")
def mnist_dir():
    """The real MNIST test-set folder (../shared/data/mnist or $STELREL_MNIST_DIR)."""
    path = Path(os.environ.get("STELREL_MNIST_DIR", SHARED_DATA / "mnist"))
    if not (path / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST files not found at {path} (set STELREL_MNIST_DIR)")
    return path


@pytest.fixture(autouse=True)
def _matplotlib_text_usetex_unchanged():
    """A test that leaves matplotlib's ``text.usetex`` changed fails by name (gaiaxpy and TheCannon set it
    to True at import; every later figure would then need LaTeX). The setting is restored either way."""
    import matplotlib

    before = matplotlib.rcParams["text.usetex"]
    yield
    after = matplotlib.rcParams["text.usetex"]
    if after != before:
        matplotlib.rcParams["text.usetex"] = before
        pytest.fail(f"text.usetex changed {before} -> {after} during the test (an unguarded import of gaiaxpy "
                    "or TheCannon?)")


@pytest.fixture
def without_gaiaxpy(monkeypatch):
    """gaiaxpy unimportable for one test, installed or not (importing it for real would also set text.usetex)."""
    import builtins

    real_import = builtins.__import__

    def no_gaiaxpy(name, *args, **kwargs):
        if name == "gaiaxpy" or name.startswith("gaiaxpy."):
            raise ImportError("No module named 'gaiaxpy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gaiaxpy)
