"""The estimators' checks of their parameters and inputs: one clear `ParameterError` each."""

import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state

from stellar_relevance.exceptions import ParameterError
from stellar_relevance.nn.core import REGRESSION_LOSSES
from stellar_relevance.nn.network import ACTIVATIONS, count_parameters
from stellar_relevance.nn.proximal import check_penalty
from stellar_relevance.nn.training import available_memory_bytes, training_memory_bytes

INPUT_SCALINGS = ("center", "standard", "none")
#: float32 in either byte order is used as it is (FITS is big-endian: a memory-mapped packed store is
#: read batch by batch, never converted whole); anything else becomes native float32
FLOAT32S = [np.float32, np.dtype(">f4")]
TARGET_SCALINGS = ("standard", "none")
LOSSES = REGRESSION_LOSSES
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device):
    """``device`` ("auto", "cpu", "cuda") as a ``torch.device``; "auto" is CUDA when torch sees one."""
    if device not in DEVICES:
        raise ParameterError("device", f"must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device", "'cuda' was asked for but torch sees no CUDA device; use 'auto' or 'cpu'")
    return torch.device(device)


def seed_from(random_state):
    """An int seed from ``random_state``, through scikit-learn's ``check_random_state``.

    An int is used as it is; a ``RandomState`` (or None: numpy's global one)
    draws the seed, so a shared ``RandomState`` gives each fit its own.
    """
    try:
        rng = check_random_state(random_state)
    except ValueError:
        raise ParameterError(
            "random_state", f"must be None, an int in [0, 2**32 - 1] or a numpy RandomState, got {random_state!r}"
        ) from None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(rng.randint(0, 2**31 - 1))


def check_memory(n_features, n_outputs, sizes, batch_size, device):
    """Refuse (before allocating anything) a network too large to train in the memory available."""
    needed = training_memory_bytes(n_features, n_outputs, sizes, batch_size)
    available = available_memory_bytes(device)
    if available is not None and needed > available:
        n_params = count_parameters(n_features, n_outputs, sizes)
        raise ParameterError(
            "hidden_layer_sizes",
            f"{','.join(str(s) for s in sizes)} on {n_features} features make a network of {n_params:,} "
            f"parameters; training it needs about {needed / 2**30:.1f} GiB (weights, gradients, optimiser "
            f"state), more than the {available / 2**30:.1f} GiB of {device.type.upper()} memory available; "
            "use smaller hidden layers",
        )


def _is_count(value, minimum):
    """A whole number (not a bool, not a float) of at least ``minimum``."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum


def check_hidden_layer_sizes(sizes):
    """``hidden_layer_sizes`` as a tuple of ints: an integer >= 1 or a non-empty sequence of them."""
    message = f"must be an integer >= 1 or a non-empty sequence of integers >= 1 (layer widths), got {sizes!r}"
    if _is_count(sizes, 1):
        return (int(sizes),)
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ParameterError("hidden_layer_sizes", message)
    sizes = tuple(sizes)
    if not sizes or not all(_is_count(s, 1) for s in sizes):
        raise ParameterError("hidden_layer_sizes", message)
    return tuple(int(s) for s in sizes)


def check_params(estimator):
    """Check every parameter of a spectral estimator; the hidden layer sizes as a tuple of ints."""
    for name in ("eigenvalue_penalty", "eigenvector_penalty"):
        value = getattr(estimator, name)
        if value is None and name == "eigenvalue_penalty":
            continue  # the penalty's default strength
        if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
            raise ParameterError(name, f"must be a finite number >= 0, got {value!r}")
    check_penalty(estimator.penalty)
    if not isinstance(estimator.learning_rate, numbers.Real) or not estimator.learning_rate > 0:
        raise ParameterError("learning_rate", f"must be > 0, got {estimator.learning_rate!r}")
    for name in ("max_epochs", "batch_size", "n_iter_no_change"):
        value = getattr(estimator, name)
        if not isinstance(value, numbers.Integral) or value < 1:
            raise ParameterError(name, f"must be an integer >= 1, got {value!r}")
    if not isinstance(estimator.min_epochs, numbers.Integral) or estimator.min_epochs < 0:
        raise ParameterError("min_epochs", f"must be an integer >= 0, got {estimator.min_epochs!r}")
    fraction = estimator.validation_fraction
    if not isinstance(fraction, numbers.Real) or not 0 <= fraction < 1:
        raise ParameterError("validation_fraction", f"must be in [0, 1), got {fraction!r}")
    if estimator.activation not in ACTIVATIONS:
        raise ParameterError(
            "activation", f"{estimator.activation!r}: unknown activation; expected one of {sorted(ACTIVATIONS)}"
        )
    if estimator.input_scaling not in INPUT_SCALINGS:
        raise ParameterError("input_scaling", f"must be one of {INPUT_SCALINGS}, got {estimator.input_scaling!r}")
    threads = estimator.n_threads
    if threads is not None and (not isinstance(threads, numbers.Integral) or threads < 1):
        raise ParameterError("n_threads", f"must be None or an integer >= 1, got {threads!r}")
    return check_hidden_layer_sizes(estimator.hidden_layer_sizes)


def check_sample_index(sample_index, n_samples):
    """The rows to train on, as an int64 array (all rows when None)."""
    if sample_index is None:
        return np.arange(n_samples)
    rows = np.asarray(sample_index)
    if rows.ndim != 1 or (rows.size and not np.issubdtype(rows.dtype, np.integer)):
        raise ParameterError("sample_index", f"must be a 1-D array of row numbers, got shape {rows.shape} "
                             f"of {rows.dtype}")
    rows = rows.astype(np.int64)
    if rows.size < 2:
        raise ParameterError("sample_index", f"selects {rows.size} row(s); at least 2 are needed")
    if rows.min() < 0 or rows.max() >= n_samples:
        raise ParameterError("sample_index", f"row numbers must be in [0, {n_samples - 1}], got "
                             f"{rows.min()}..{rows.max()}")
    if len(np.unique(rows)) != len(rows):
        raise ParameterError("sample_index", "has repeated row numbers")
    return rows


def check_given(given, n_samples):
    """``given`` as a float (n_samples, n_given) array, or None."""
    if given is None:
        return None
    try:
        values = np.asarray(given, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError("given", "must be numeric (n_samples, n_given) values") from None
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] < 1:
        raise ParameterError("given", f"must have shape (n_samples, n_given), got {values.shape}")
    if len(values) != n_samples:
        raise ParameterError("given", f"has {len(values)} rows for {n_samples} samples")
    if not np.all(np.isfinite(values)):
        bad = np.argwhere(~np.isfinite(values))[0]
        raise ParameterError("given", f"row {bad[0]}, column {bad[1]} is not finite ({values[tuple(bad)]})")
    return values
