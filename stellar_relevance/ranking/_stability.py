"""Stability of a ranking over seeds: mean relevance, its spread, top-k overlap and selection frequency.

Used by :func:`~stellar_relevance.ranking.pipeline.rank_spectra` once the models of
all seeds are trained. The selection frequency of a pixel is the share of
seeds in whose top-k it is (stability selection, Meinshausen & Buhlmann
2010, with seeds in place of subsamples). With one seed there is no spread:
``relevance_std`` and ``selection_frequency`` are NaN and
``stability["note"]`` says so.
"""

from types import SimpleNamespace

import numpy as np

from stellar_relevance.ranking.evaluation import topk_overlap

__all__ = ["selection_frequency", "combine_seeds", "spread_over_seeds", "OVERLAP_TOLERANCE", "NO_SPREAD_NOTE"]

#: Top-k overlap across seeds is measured with this tolerance in pixels.
OVERLAP_TOLERANCE = 2
#: Stated in ``metrics["stability"]["note"]`` (and the report) when one seed was trained.
NO_SPREAD_NOTE = "one seed trained: no spread, overlap or selection frequency is available (use --seeds 2 or more)"


def selection_frequency(importances, k):
    """Share of the rows of ``importances`` (one per seed) in whose top-k each feature is.

    Parameters
    ----------
    importances : array-like, shape (n_seeds, n_features)
    k : int
        Size of the top set (1 .. n_features).

    Returns
    -------
    numpy.ndarray, shape (n_features,)
        Values in {0, 1/n_seeds, ..., 1}; they sum to ``k``.

    Examples
    --------
    >>> selection_frequency([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3]], k=1)
    array([0.5, 0.5, 0. ])
    """
    importances = np.atleast_2d(np.asarray(importances, dtype=float))
    n_seeds, n_features = importances.shape
    if not 1 <= int(k) <= n_features:
        raise ValueError(f"k={k} must be between 1 and the {n_features} features")
    counts = np.zeros(n_features)
    for row in importances:
        counts[np.argsort(-row, kind="stable")[: int(k)]] += 1
    return counts / n_seeds


def combine_seeds(importances, top, rankings=None):
    """The ranking of several seeds' relevances: mean, spread, order, selection frequency and overlap.

    Parameters
    ----------
    importances : array-like, shape (n_seeds, n_features)
        Each seed's relevance (normalised to sum 1).
    top : int
        k of the selection frequency (the pixels matched against the indices).
    rankings : sequence of array-like, optional
        Each seed's own ranking (default: the argsort of its relevance).

    Returns
    -------
    types.SimpleNamespace
        ``relevance`` (mean), ``relevance_std`` (ddof 1; NaN with one seed),
        ``selection_frequency`` (NaN with one seed), ``order`` (most relevant
        first) and ``stability`` (dict: ``n_seeds``, ``top{k}_overlap`` for
        k in 10, top, 100 with a tolerance of :data:`OVERLAP_TOLERANCE`
        pixels, or ``note`` with one seed).

    Examples
    --------
    >>> out = combine_seeds([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]], top=1)
    >>> out.order.tolist(), out.selection_frequency.tolist(), out.stability["n_seeds"]
    ([0, 1, 2], [1.0, 0.0, 0.0], 2)
    >>> combine_seeds([[0.6, 0.3, 0.1]], top=1).stability["note"][:8]
    'one seed'
    """
    importances = np.atleast_2d(np.asarray(importances, dtype=float))
    n_seeds, n_pixels = importances.shape
    relevance = importances.mean(axis=0)
    order = np.argsort(-relevance, kind="stable")
    stability = {"n_seeds": int(n_seeds)}
    if n_seeds < 2:
        stability["note"] = NO_SPREAD_NOTE
        nan = np.full(n_pixels, np.nan)
        return SimpleNamespace(relevance=relevance, relevance_std=nan, selection_frequency=nan.copy(),
                               order=order, stability=stability)
    if rankings is None:
        rankings = [np.argsort(-row, kind="stable") for row in importances]
    for k in sorted({10, int(top), 100}):
        if k <= n_pixels:
            stability[f"top{k}_overlap"] = float(topk_overlap(rankings, k, tolerance=OVERLAP_TOLERANCE))
    return SimpleNamespace(
        relevance=relevance,
        relevance_std=importances.std(axis=0, ddof=1),
        selection_frequency=selection_frequency(importances, min(int(top), n_pixels)),
        order=order,
        stability=stability,
    )


def spread_over_seeds(values):
    """Mean and standard deviation (ddof 1; NaN with one seed) over seeds of a per-pixel quantity.

    Parameters
    ----------
    values : array-like, shape (n_seeds, n_features)
        One row per seed (e.g. each model's ``sensitivity_``).

    Returns
    -------
    types.SimpleNamespace
        ``mean`` and ``std``, each of shape (n_features,).

    Examples
    --------
    >>> out = spread_over_seeds([[1.0, -2.0], [3.0, -2.0]])
    >>> out.mean.tolist(), out.std.round(3).tolist()
    ([2.0, -2.0], [1.414, 0.0])
    >>> bool(np.isnan(spread_over_seeds([[1.0, 2.0]]).std).all())
    True
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    std = values.std(axis=0, ddof=1) if len(values) > 1 else np.full(values.shape[1], np.nan)
    return SimpleNamespace(mean=values.mean(axis=0), std=std)
