"""Where the real data sets live: options, environment variables, packages."""

import importlib.util
import os
from pathlib import Path

MILES_ENV = "STELREL_MILES_DIR"
MNIST_ENV = "STELREL_MNIST_DIR"


def mangadap_miles_dir():
    """The MILES folder inside an installed ``sdss-mangadap``, or None.

    Found with :func:`importlib.util.find_spec`, without importing mangadap.
    """
    spec = importlib.util.find_spec("mangadap")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "spectral_templates" / "miles"
        if candidate.is_dir():
            return candidate
    return None


def env_dir(variable):
    """The folder named by an environment variable, or None when unset."""
    value = os.environ.get(variable)
    return Path(value).expanduser() if value else None
