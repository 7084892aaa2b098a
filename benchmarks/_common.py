"""Small helpers shared by the benchmark scripts in ``benchmarks/``.

Every benchmark script is run as ``python benchmarks/<name>.py [options]``;
Python then puts ``benchmarks/`` on ``sys.path``, so a script imports these
helpers with ``from _common import ...``.

Stable API (other benchmarks import it; do not rename):

- ``add_common_args(parser, default_output, default_seeds=10)`` adds
  ``--quick``, ``--seeds``, ``--output``, ``--threads``, ``--no-figures``.
- ``environment()`` -> dict of versions (stellar_relevance, torch, numpy,
  sklearn, scipy, python, platform, cpu count, torch threads).
- ``write_json(path, payload, overwrite=True)`` writes JSON atomically
  (temp file in the same folder, then ``os.replace``); numpy scalars and
  arrays are converted.
- ``markdown_table(rows, columns, floatfmt=".3f")`` -> str (a GitHub table).
- ``atomic_savefig(fig, path)`` saves a matplotlib figure atomically.
- ``Timer`` context manager (``.seconds``).
- ``data_dir(name, env_variable)`` -> the real data folder: ``$env_variable``,
  else ``$STELREL_SHARED_DATA/name``, else ``../shared/data/name`` beside the
  repository (the development and CI layout).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from stellar_relevance.io.atomic import atomic_write
from stellar_relevance.io.provenance import jsonable, machine, versions

__all__ = [
    "SHARED_DATA",
    "data_dir",
    "add_common_args",
    "environment",
    "write_json",
    "markdown_table",
    "atomic_savefig",
    "Timer",
]


#: The shared data folder: ``$STELREL_SHARED_DATA``, else ``../shared/data`` beside the repository.
SHARED_DATA = Path(os.environ.get("STELREL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def data_dir(name, env_variable):
    """The folder of data set ``name``: ``$env_variable`` if set, else ``SHARED_DATA / name``."""
    value = os.environ.get(env_variable)
    return Path(value).expanduser() if value else SHARED_DATA / name


def add_common_args(parser, default_output, default_seeds=10):
    """Add the options every benchmark understands.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    default_output : str or Path
        Default JSON path (figures go next to it).
    default_seeds : int
        Number of seeds in the full run.

    Returns
    -------
    argparse.ArgumentParser
        The same parser.
    """
    parser.add_argument(
        "--quick",
        action="store_true",
        help="reduced run for CI (fewer seeds, samples and epochs)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=f"number of seeds (default {default_seeds}, fewer with --quick)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(default_output),
        help=f"JSON output path; figures are written next to it (default {default_output})",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1)"
    )
    parser.add_argument(
        "--no-figures", action="store_true", help="do not write PNG figures"
    )
    return parser


def environment():
    """Versions and machine facts to store with every benchmark result.

    Returns
    -------
    dict
    """
    env = {**versions(), **machine()}
    env["time_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return env


def write_json(path, payload, overwrite=True):
    """Write ``payload`` as indented JSON, atomically.

    Parameters
    ----------
    path : str or Path
    payload : dict
    overwrite : bool
        If False and ``path`` exists, raise ``FileExistsError``; if True, a
        note naming the replaced file goes to stderr (never silent).

    Returns
    -------
    Path
    """
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass another --output or remove it")
        print(f"note: replacing existing {path}", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(jsonable(payload), indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text), overwrite=True)


def atomic_savefig(fig, path, **kwargs):
    """Save a matplotlib figure atomically (temp file, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("format", path.suffix.lstrip(".") or None)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, **kwargs), overwrite=True)


def _fmt(value, floatfmt):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return format(value, floatfmt)
    try:
        import numpy as np

        if isinstance(value, np.floating):
            return format(float(value), floatfmt)
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def markdown_table(rows, columns, floatfmt=".3f"):
    """Format ``rows`` (a list of dicts) as a GitHub Markdown table.

    Parameters
    ----------
    rows : list of dict
    columns : list of str or list of (key, header) tuples
    floatfmt : str
        Format spec for floats.

    Returns
    -------
    str
    """
    cols = [(c, c) if isinstance(c, str) else tuple(c) for c in columns]
    lines = [
        "| " + " | ".join(h for _, h in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(k), floatfmt) for k, _ in cols) + " |")
    return "\n".join(lines)


class Timer:
    """Wall-clock timer: ``with Timer() as t: ...; t.seconds``."""

    def __enter__(self):
        self._start = time.perf_counter()
        self.seconds = float("nan")
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False


def make_parser(description, default_output, default_seeds=10):
    """An ``argparse`` parser with the common options already added."""
    parser = argparse.ArgumentParser(description=description)
    return add_common_args(parser, default_output, default_seeds)


def load_miles_feh(path=None):
    """MILES stars with [Fe/H], from ``path``, ``$STELREL_MILES_DIR``, ../shared/data/miles or sdss-mangadap.

    Returns None (after printing why) when the library is nowhere to be found,
    so that a benchmark can skip with the reason.
    """
    import warnings

    from stellar_relevance import DataError, load_miles

    beside = Path(__file__).resolve().parents[2] / "shared" / "data" / "miles"
    if path is None and not os.environ.get("STELREL_MILES_DIR") and beside.is_dir():
        path = beside  # the development / CI layout: ../shared/data/miles next to the repository
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_miles(path).with_label("FEH")
    except DataError as exc:
        print(f"skipping: MILES not available ({exc})")
        return None
