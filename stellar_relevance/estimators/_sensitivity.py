"""The forward pattern of a prediction: how each input responds to the label (Haufe et al. 2014).

``relevance_`` is a *filter*: what the network uses. An input can be used
without responding to the label (a pixel that only carries noise shared with
a useful pixel, used to cancel it), and an input can respond without being
used (a pixel redundant with a better one). :func:`forward_sensitivity`
measures the response, from the inputs and a model's prediction ``yhat``
alone:

1. residualise every input ``x_i`` and ``yhat`` on ``[1, given]`` by least
   squares over the rows used (without given labels: centre them);
2. ``a_i = cov(x~_i, yhat~) / var(yhat~)``: the forward pattern, in input
   units per label unit (Haufe et al. 2014, NeuroImage 87:96);
3. ``s_i = std(x~_i - a_i yhat~)``: the scatter of the input that the
   prediction does not explain;
4. ``sensitivity_i = a_i / s_i``: signed, per label unit, in units of that
   scatter (rank by its absolute value).

An input without residual scatter (constant over the rows, or explained by
the given labels and the prediction to within 1e-10 of its variance) gets 0.
"""

import numpy as np

from stellar_relevance.exceptions import ParameterError
from stellar_relevance.nn.batches import column_moments, gather_rows, row_chunks

__all__ = ["forward_sensitivity"]

#: residual sums of squares at or below this share of the input's (centred) sum of squares count as zero scatter
ZERO_SCATTER = 1e-10


def _as_rows(values, n_rows, name):
    """``values`` as a finite float64 (n_rows, n_columns) array (1-D becomes one column)."""
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(name, "must be numeric") from None
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] < 1:
        raise ParameterError(name, f"must have shape (n_rows,) or (n_rows, n_columns), got {values.shape}")
    if len(values) != n_rows:
        raise ParameterError(name, f"has {len(values)} rows for the {n_rows} rows used")
    if not np.all(np.isfinite(values)):
        bad = np.argwhere(~np.isfinite(values))[0]
        raise ParameterError(name, f"row {bad[0]}, column {bad[1]} is not finite ({values[tuple(bad)]})")
    return values


def _check_rows(rows, n_samples):
    rows = np.arange(n_samples) if rows is None else np.asarray(rows)
    if rows.ndim != 1 or (rows.size and not np.issubdtype(rows.dtype, np.integer)):
        raise ParameterError("rows", f"must be a 1-D array of row numbers, got shape {rows.shape} of {rows.dtype}")
    if rows.size and (rows.min() < 0 or rows.max() >= n_samples):
        raise ParameterError("rows", f"row numbers must be in [0, {n_samples - 1}], got {rows.min()}..{rows.max()}")
    if rows.size < 2:
        raise ParameterError("rows", f"selects {rows.size} row(s); at least 2 are needed")
    return rows.astype(np.int64)


def forward_sensitivity(X, prediction, given=None, rows=None, *, mean=None):
    """How each input responds to the predicted label: the forward pattern over the residual scatter.

    See the module docstring for the definition: ``a_i = cov(x~_i,
    yhat~) / var(yhat~)`` and ``sensitivity_i = a_i / std(x~_i - a_i
    yhat~)``, with ``~`` the residual of a least-squares fit on ``[1,
    given]`` over the rows used. ``X`` is read in chunks of rows (a memory
    map is never loaded whole), with float64 accumulators.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The inputs (a numpy array or memory map, any float dtype or byte order).
    prediction : array-like of shape (n_rows,) or (n_rows, n_outputs)
        A model's prediction for each row used (``X[rows]``, in that order).
    given : array-like of shape (n_rows,) or (n_rows, n_given), optional
        Known labels of the same rows: their response is removed from the
        inputs and the prediction first.
    rows : array-like of int, optional
        The rows of ``X`` to use (default: all, ``n_rows = n_samples``).
    mean : array-like of shape (n_features,), optional
        The mean of every input over ``rows`` when already known (saves one
        pass over ``X``).

    Returns
    -------
    ndarray of shape (n_features,) or (n_outputs, n_features)
        The signed sensitivity, per label unit (one row per output when
        ``prediction`` is 2-D). 0 for an input without residual scatter, and
        everywhere when the prediction is constant (after the given labels).

    Raises
    ------
    ParameterError
        Naming ``prediction``, ``given`` or ``rows`` when their shapes do
        not match or a value is not finite.

    Examples
    --------
    Pixel 0 responds to the label, pixel 1 twice as strongly but with four
    times the scatter, pixel 2 not at all:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=5000)
    >>> X = np.column_stack([y + 0.1 * rng.normal(size=5000), 2 * y + 0.4 * rng.normal(size=5000),
    ...                      rng.normal(size=5000)])
    >>> np.rint(forward_sensitivity(X, y)).astype(int).tolist()
    [10, 5, 0]
    """
    if getattr(X, "ndim", None) != 2:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ParameterError("X", f"must be 2-D (n_samples, n_features), got shape {X.shape}")
    rows = _check_rows(rows, X.shape[0])
    prediction_2d = _as_rows(prediction, len(rows), "prediction")
    one_output = np.ndim(prediction) == 1
    n_features = X.shape[1]
    if mean is None:
        mean = column_moments(X, rows)[0]
    mean = np.asarray(mean, dtype=np.float64)
    # the prediction and the given labels are small (one value per row): residualise them in memory
    p_res = prediction_2d - prediction_2d.mean(axis=0)
    g_res = None
    if given is not None:
        g_res = _as_rows(given, len(rows), "given")
        g_res = g_res - g_res.mean(axis=0)
        p_res = p_res - g_res @ np.linalg.lstsq(g_res, p_res, rcond=None)[0]
    sum_xx = np.zeros(n_features)
    sum_xp = np.zeros((n_features, p_res.shape[1]))
    sum_xg = None if g_res is None else np.zeros((n_features, g_res.shape[1]))
    start = 0
    for chunk_rows in row_chunks(rows, n_features):
        chunk = gather_rows(X, chunk_rows, np.float64)
        chunk -= mean
        stop = start + len(chunk_rows)
        # x~' p~ = x' p~: p~ is orthogonal to [1, given]
        sum_xp += chunk.T @ p_res[start:stop]
        if g_res is not None:
            sum_xg += chunk.T @ g_res[start:stop]
        sum_xx += np.einsum("ij,ij->j", chunk, chunk)
        start = stop
    x_res_ss = sum_xx
    if g_res is not None:
        # the given labels' share of each input's sum of squares: x'G (G'G)^+ G'x
        x_res_ss = sum_xx - np.einsum("ij,ij->i", sum_xg @ np.linalg.pinv(g_res.T @ g_res), sum_xg)
    p_ss = np.einsum("ij,ij->j", p_res, p_res)
    with np.errstate(divide="ignore", invalid="ignore"):
        pattern = np.where(p_ss > 0, sum_xp / p_ss, 0.0)  # (n_features, n_outputs)
        residual_ss = np.clip(x_res_ss[:, None] - pattern * sum_xp, 0.0, None)
        scatter = np.sqrt(residual_ss / max(len(rows), 1))
        zero = residual_ss <= ZERO_SCATTER * sum_xx[:, None]
        out = np.where(zero, 0.0, pattern / np.where(zero, 1.0, scatter))
    out = out.T
    return out[0] if one_output else out
