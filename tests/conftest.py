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
