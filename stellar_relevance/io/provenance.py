"""Provenance: the versions behind a result, and values made JSON-safe.

One place for both facts, used by the pipeline's outputs, the packed-spectra
header and the benchmarks' JSON files.
"""

import math
import os
import platform
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table

from stellar_relevance._version import __version__

__all__ = ["versions", "jsonable", "from_jsonable"]


def _module_version(name):
    try:
        module = __import__(name)
    except ImportError:  # pragma: no cover - optional package missing
        return None
    return getattr(module, "__version__", None)


def versions():
    """Versions of stellar_relevance and the libraries a result depends on.

    Returns
    -------
    dict
        ``stellar_relevance``, ``python``, ``numpy``, ``astropy``,
        ``scikit-learn``, ``torch`` (None when not installed), ``platform``.

    Examples
    --------
    >>> from stellar_relevance.io.provenance import versions
    >>> sorted(versions())[:3]
    ['astropy', 'numpy', 'platform']
    """
    return {
        "stellar_relevance": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "astropy": _module_version("astropy"),
        "scikit-learn": _module_version("sklearn"),
        "torch": _module_version("torch"),
        "platform": platform.platform(),
    }


def machine():
    """Facts about the machine a measurement ran on (cores, torch threads, CUDA).

    Returns
    -------
    dict
    """
    facts = {"machine": platform.machine(), "cpu_count": os.cpu_count()}
    try:
        import torch

        facts["torch_threads"] = torch.get_num_threads()
        facts["cuda"] = bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        pass
    return facts


def jsonable(value, tagged=False):
    """Plain Python types that :func:`json.dump` writes.

    Parameters
    ----------
    value : object
        Nested dicts / lists / tuples of numpy scalars and arrays, astropy
        Quantities and units, Paths, str, int, float, bool, None.
    tagged : bool
        If False (the default) the output is for people and other programs:
        a Quantity becomes ``{"value": ..., "unit": ...}`` and non-finite
        floats become None (JSON has no NaN). If True the output is for
        :func:`from_jsonable` to read back exactly: Quantities and units
        are tagged (``__quantity__`` / ``__unit__``) and floats are kept.

    Returns
    -------
    object

    Examples
    --------
    >>> import numpy as np, astropy.units as u
    >>> jsonable({"k": np.int64(3), "w": 5.0 * u.AA, "bad": np.nan})
    {'k': 3, 'w': {'value': 5.0, 'unit': 'Angstrom'}, 'bad': None}
    >>> from_jsonable(jsonable(5.0 * u.AA, tagged=True))
    <Quantity 5. Angstrom>
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v, tagged) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, tagged) for v in value]
    if isinstance(value, u.Quantity):
        key = "__quantity__" if tagged else "value"
        return {key: jsonable(value.value, tagged), "unit": value.unit.to_string()}
    if isinstance(value, (u.UnitBase, u.FunctionUnitBase)):
        return {"__unit__": value.to_string()} if tagged else value.to_string()
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), tagged)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value) and not tagged:
        return None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Table):
        return None  # tables are stored in their own files / HDUs
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def from_jsonable(value):
    """Read back what :func:`jsonable` wrote with ``tagged=True``.

    Parameters
    ----------
    value : object
        Parsed JSON.

    Returns
    -------
    object
        With Quantities and units restored.

    Examples
    --------
    >>> import astropy.units as u
    >>> from stellar_relevance.io.provenance import from_jsonable, jsonable
    >>> from_jsonable(jsonable({"step": 0.9 * u.AA, "n": 3}, tagged=True))
    {'step': <Quantity 0.9 Angstrom>, 'n': 3}
    """
    if isinstance(value, dict):
        if "__quantity__" in value:
            return u.Quantity(value["__quantity__"], u.Unit(value["unit"]))
        if "__unit__" in value:
            return u.Unit(value["__unit__"])
        return {k: from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    return value
