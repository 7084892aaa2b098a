"""Judging a ranking: top-k curves (masked and retrained) and top-k stability.

Two protocols answer "how much of the task do the top-k features carry?":

``masked``
    Keep the fitted model and replace every other feature by its training
    mean (the estimator's ``feature_means_``), the neutral value of a centred input.
    The paper's code set them to zero instead; zero is not "absent" for raw
    flux or pixel intensities, so that choice measures an off-distribution
    input rather than the selection.
``retrained``
    Train a fresh model (``make_model()``) on the top-k features alone.

Each is set beside random draws of k features, with their spread.
"""

import logging
from itertools import combinations

import numpy as np
from astropy.table import Table
from tqdm.auto import tqdm

from stellar_relevance.exceptions import ParameterError

logger = logging.getLogger(__name__)

PROTOCOLS = ("masked", "retrained")


def mask_features(X, keep, fill):
    """A copy of ``X`` in which every feature not in ``keep`` is set to ``fill``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    keep : array-like of int
        Indices of the features to keep.
    fill : array-like of shape (n_features,) or float
        The value of each masked feature (usually the training mean).

    Returns
    -------
    ndarray of shape (n_samples, n_features)
    """
    X = np.asarray(X, dtype=np.float64)
    masked = np.empty_like(X)
    masked[:] = np.broadcast_to(np.asarray(fill, dtype=np.float64), (X.shape[1],))
    keep = np.asarray(keep, dtype=int)
    masked[:, keep] = X[:, keep]
    return masked


def resolve_ks(ks, n_features, parameter="ks"):
    """The k values of a top-k curve as sorted, distinct ints.

    The one rule for k values, used by :func:`topk_curve` and the pipeline:
    ``"all"`` (or None) means every feature; any other k must be an integer
    between 1 and ``n_features``. A k above the number of features is an
    error, never clipped.

    Parameters
    ----------
    ks : iterable of int or "all"
    n_features : int
    parameter : str, default="ks"
        Name of the parameter in the error message.

    Returns
    -------
    list of int

    Raises
    ------
    ParameterError
        For a k that is not a positive integer, above ``n_features``, or an
        unknown word.

    Examples
    --------
    >>> resolve_ks([30, "all", 5, 30], 100)
    [5, 30, 100]
    """
    resolved = []
    for k in ks:
        if k is None or (isinstance(k, str) and k.strip().lower() == "all"):
            k = n_features
        elif isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise ParameterError(parameter, f"must hold positive integers or 'all', got {k!r}")
        k = int(k)
        if k < 1:
            raise ParameterError(parameter, f"must hold positive integers or 'all', got {k}")
        if k > n_features:
            raise ParameterError(parameter, f"holds k={k}, above the {n_features} pixels (features) of the data; "
                                 "use 'all' for every pixel")
        resolved.append(k)
    return sorted(set(resolved))


def topk_curve(
    ranking,
    ks,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    metric,
    fitted=None,
    make_model=None,
    fit_predict_many=None,
    n_random=5,
    random_state=0,
    protocols=PROTOCOLS,
    verbose=0,
):
    """Score the top-k features of a ranking, and random k, for several k.

    Parameters
    ----------
    ranking : array-like of int
        Feature indices, most relevant first.
    ks : iterable of int or "all"
    X_train, y_train, X_test, y_test : array-like
        ``X_train`` may be None when nothing needs it: ``fit_predict_many``
        for the retrained protocol and a ``fitted`` model with
        ``feature_means_`` for the masked one (no copy of a large training set).
    metric : callable
        ``metric(y_true, y_pred) -> float`` (accuracy, MAE, ...).
    fitted : estimator, optional
        Needed for the ``"masked"`` protocol; must have ``feature_means_``
        (or masked features are filled with the mean of ``X_train``).
    make_model : callable, optional
        ``make_model() -> unfitted estimator``; needed for ``"retrained"``
        unless ``fit_predict_many`` is given.
    fit_predict_many : callable, optional
        ``fit_predict_many(keeps) -> list of predictions on X_test[:, keep]``:
        trains every retrained model of the curve in one call (for example
        :func:`stellar_relevance.estimators.stacked.fit_predict_subsets`, which trains
        them as one stacked network); replaces ``make_model``.
    n_random : int, default=5
        Random draws of k features for each k and protocol.
    random_state : int, default=0
        Seeds the random draws.
    protocols : tuple of str, default=("masked", "retrained")
    verbose : int, default=0
        Shows a progress bar when >= 1.

    Returns
    -------
    astropy.table.Table
        One row per (protocol, k, selection): columns ``k``, ``protocol``,
        ``selection`` (``"ranked"`` or ``"random"``), ``score`` (mean),
        ``score_std``, ``n_draws``.

    Raises
    ------
    ParameterError
        For k values outside 1..n_features (see :func:`resolve_ks`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from stellar_relevance import topk_curve
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 10))
    >>> y = X[:, 3] - 2 * X[:, 7]
    >>> curve = topk_curve([7, 3, 0, 1, 2, 4, 5, 6, 8, 9], [1, 2, "all"], X[:150], y[:150], X[150:], y[150:],
    ...                    metric=lambda t, p: float(np.mean(np.abs(t - p))), make_model=Ridge,
    ...                    protocols=("retrained",), n_random=2)
    >>> [int(k) for k in sorted(set(curve["k"]))]
    [1, 2, 10]
    >>> ranked = curve[(curve["selection"] == "ranked") & (curve["k"] == 2)]
    >>> float(ranked["score"][0]) < 0.05  # the two true features explain y
    True
    """
    X_test = np.asarray(X_test, dtype=np.float64)
    n_features = X_test.shape[1]
    ranking = np.asarray(ranking, dtype=int)
    if ranking.shape != (n_features,) or len(np.unique(ranking)) != n_features:
        raise ValueError(f"ranking must be a permutation of the {n_features} feature indices")
    unknown = set(protocols) - set(PROTOCOLS)
    if unknown:
        raise ValueError(f"unknown protocols {sorted(unknown)}; expected some of {PROTOCOLS}")
    if "masked" in protocols and fitted is None:
        raise ValueError("the 'masked' protocol needs the fitted model (fitted=...)")
    if "retrained" in protocols and make_model is None and fit_predict_many is None:
        raise ValueError("the 'retrained' protocol needs make_model=... or fit_predict_many=...")
    fill = getattr(fitted, "feature_means_", None)
    needs_train = ("retrained" in protocols and fit_predict_many is None) or ("masked" in protocols and fill is None)
    if needs_train and X_train is None:
        raise ValueError("X_train is needed (make_model, or a fitted model without feature_means_)")
    X_train = np.asarray(X_train, dtype=np.float64) if needs_train else None
    ks = resolve_ks(ks, n_features)
    rng = np.random.default_rng(random_state)
    if fill is None and "masked" in protocols:
        fill = X_train.mean(axis=0)

    def score(protocol, keep):
        if protocol == "masked":
            return float(metric(y_test, fitted.predict(mask_features(X_test, keep, fill))))
        model = make_model()
        model.fit(X_train[:, keep], y_train)
        return float(metric(y_test, model.predict(X_test[:, keep])))

    tasks = []
    for protocol in protocols:
        for k in ks:
            tasks.append((protocol, k, "ranked", [ranking[:k]]))
            if k < n_features and n_random > 0:
                draws = [np.sort(rng.choice(n_features, size=k, replace=False)) for _ in range(n_random)]
                tasks.append((protocol, k, "random", draws))
    batched = {}
    if fit_predict_many is not None:
        keeps = [keep for protocol, _, _, draws in tasks if protocol == "retrained" for keep in draws]
        predictions = iter(fit_predict_many(keeps) if keeps else [])
        batched = {(i, j): float(metric(y_test, next(predictions)))
                   for i, (protocol, _, _, draws) in enumerate(tasks) if protocol == "retrained"
                   for j in range(len(draws))}
    rows = []
    for i, (protocol, k, selection, draws) in enumerate(
        tqdm(tasks, desc="top-k curve", disable=not verbose, leave=False)
    ):
        scores = [batched[i, j] if (i, j) in batched else score(protocol, keep) for j, keep in enumerate(draws)]
        rows.append(
            {
                "k": k,
                "protocol": protocol,
                "selection": selection,
                "score": float(np.mean(scores)),
                "score_std": float(np.std(scores)),
                "n_draws": len(scores),
            }
        )
        logger.debug("top-k %s k=%d %s: %.4g", protocol, k, selection, rows[-1]["score"])
    names = ["k", "protocol", "selection", "score", "score_std", "n_draws"]
    if not rows:
        return Table(names=names, dtype=[int, str, str, float, float, int])
    return Table(rows=[[row[n] for n in names] for row in rows], names=names)


def topk_overlap(rankings, k, tolerance=0):
    """Mean pairwise overlap of the top-k sets of several rankings.

    For each pair of rankings, the share of the first one's top-k features
    that lie within ``tolerance`` positions (feature index distance, e.g.
    pixels) of some top-k feature of the other; averaged over both
    directions and all pairs.

    Parameters
    ----------
    rankings : sequence of array-like of int
        At least two rankings (feature indices, most relevant first).
    k : int
    tolerance : int, default=0
        0 is exact set overlap; 2 counts neighbours within two pixels.

    Returns
    -------
    float
        1 when every top-k agrees, near ``k / n_features`` for random ones.

    Examples
    --------
    >>> from stellar_relevance import topk_overlap
    >>> topk_overlap([[0, 1, 2, 3], [1, 0, 3, 2]], k=2)
    1.0
    >>> topk_overlap([[0, 1, 2, 3], [2, 3, 0, 1]], k=2)
    0.0
    >>> topk_overlap([[0, 10, 20], [1, 11, 30]], k=2, tolerance=1)  # neighbours within 1 count
    1.0
    """
    rankings = [np.asarray(r, dtype=int) for r in rankings]
    if len(rankings) < 2:
        raise ValueError("topk_overlap needs at least two rankings")
    if k < 1 or any(k > len(r) for r in rankings):
        raise ValueError(f"k={k} must be between 1 and the length of every ranking")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    tops = [r[:k] for r in rankings]

    def share(a, b):
        distance = np.abs(a[:, None] - b[None, :]).min(axis=1)
        return float(np.mean(distance <= tolerance))

    values = [(share(a, b) + share(b, a)) / 2 for a, b in combinations(tops, 2)]
    return float(np.mean(values))
