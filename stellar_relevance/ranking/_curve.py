"""The pipeline's error-vs-k curve: the trained model with all but the top-k pixels masked, and
models retrained on the top-k pixels alone, each beside random-k draws, merged into one row per k.
"""

import logging
import time

import numpy as np
from astropy.table import Table

from stellar_relevance.estimators.stacked import fit_predict_subsets
from stellar_relevance.ranking.evaluation import topk_curve

__all__ = ["error_curve", "curve_table"]

logger = logging.getLogger(__name__)


def _mae(y_true, y_pred):
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


def _retrain_params(params, p):
    retrain = dict(params, verbose=0)
    retrain["max_epochs"] = int(min(300, p.max_epochs) if p.retrain_max_epochs is None else p.retrain_max_epochs)
    if p.retrain_min_epochs is not None:
        retrain["min_epochs"] = int(p.retrain_min_epochs)
    retrain["min_epochs"] = min(retrain["min_epochs"], retrain["max_epochs"])
    return retrain


def _retrained_curve(order, retrain_list, data, retrain_params, seed, p):
    """The retrained top-k and random-k curve, every network trained in one stacked run
    (:func:`~stellar_relevance.estimators.stacked.fit_predict_subsets`); networks that never improved after
    epoch 1 are counted, not warned one by one."""
    from stellar_relevance.estimators import SpectralRelevanceRegressor

    logger.info("retraining on the top-k and random-k pixels: %d models of at most %d epochs",
                len(retrain_list) * (1 + p.n_random_retrained), retrain_params["max_epochs"])
    estimator = SpectralRelevanceRegressor(**retrain_params, random_state=seed)
    fits = []

    def fit_predict_many(keeps):
        fit = fit_predict_subsets(estimator, data.X, data.y, data.X_test, keeps, sample_index=data.train_idx,
                                  given=data.G, given_test=data.G_test)
        fits.append(fit)
        return fit.predictions

    curve = topk_curve(
        order, retrain_list, None, data.y_train, data.X_test, data.y_test,
        fit_predict_many=fit_predict_many, metric=_mae,
        n_random=p.n_random_retrained, random_state=p.random_state, protocols=("retrained",),
        verbose=1 if p.progress else 0,
    )
    untrained = sum(int(np.sum((f.best_epoch <= 1) & (f.stopped_epoch > 1) & (f.stopped_epoch < estimator.max_epochs)))
                    for f in fits)
    if untrained:
        logger.info("%d of the retrained models never improved after epoch 1 (expected for random pixels); "
                    "their errors are in the curve as they are", untrained)
    return curve


def error_curve(order, ks_int, retrain_list, data, ensemble, params, seeds, records, test_mae, unit, p, timings):
    """The error-vs-k curve of a ranking: masked (the trained ``ensemble``) and retrained, each with random-k draws.

    A step of :func:`~stellar_relevance.rank_spectra`, which passes its own
    state; the curve is the ``curve`` table of the
    :class:`~stellar_relevance.RankingResult`.

    Parameters
    ----------
    order : array-like of int
        The pixels, most relevant first.
    ks_int : sequence of int
        The numbers of pixels kept (the largest may be every pixel).
    retrain_list : sequence of int
        The ks at which new models are trained on the top-k and random-k pixels.
    data : types.SimpleNamespace
        ``X``, ``y``, ``G`` (every labelled spectrum; the training rows are
        ``train_idx``) and ``y_train``, ``X_test``, ``y_test``, ``G_test``
        (:func:`~stellar_relevance.ranking._prepare.split_train_test`).
    ensemble : fitted regressor
        The model whose masked error is measured (``predict`` and
        ``feature_means_``), e.g. a :class:`~stellar_relevance.report.model_file.SeedEnsemble`.
    params : dict
        The estimator's parameters (no ``random_state``); the retrained
        models use them with fewer epochs.
    seeds : sequence of int
        The retrained models use the first.
    records : list of dict
        Per-seed numbers; ``records[0]["test_mae"]`` is the first seed's
        error with every pixel.
    test_mae : float
        The ensemble's error with every pixel.
    unit : str
        The label's unit (of the MAE columns).
    p : types.SimpleNamespace
        ``n_random``, ``n_random_retrained``, ``random_state``, ``progress``,
        ``max_epochs``, ``retrain_max_epochs``, ``retrain_min_epochs``.
    timings : dict
        ``curve_masked`` and ``curve_retrained`` (seconds) are set here.

    Returns
    -------
    curve : astropy.table.Table
        One row per k (:func:`curve_table`).
    retrain_params : dict
        The parameters the retrained models were given.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 6))
    >>> data = SimpleNamespace(X=X, y=X[:, 0], G=None, train_idx=np.arange(60), y_train=X[:60, 0], X_test=X[60:],
    ...                        y_test=X[60:, 0], G_test=None)
    >>> params = {"hidden_layer_sizes": (4,), "max_epochs": 2}
    >>> model = SpectralRelevanceRegressor(**params, random_state=0).fit(X[:60], data.y_train)
    >>> mae = float(np.mean(np.abs(model.predict(data.X_test) - data.y_test)))
    >>> p = SimpleNamespace(n_random=2, n_random_retrained=1, random_state=0, progress=False, max_epochs=2,
    ...                     retrain_max_epochs=None, retrain_min_epochs=0)
    >>> timings = {}
    >>> curve, retrain_params = error_curve(model.ranking_, [2, 6], [2], data, model, params, [0],
    ...                                     [{"test_mae": mae}], mae, "dex", p, timings)
    >>> curve["k"].tolist(), sorted(timings), bool(curve["mae_masked"][-1] == mae)
    ([2, 6], ['curve_masked', 'curve_retrained'], True)
    """
    t0 = time.perf_counter()
    masked = topk_curve(
        order, ks_int, None, data.y_train, data.X_test, data.y_test,
        fitted=ensemble, metric=_mae, n_random=p.n_random, random_state=p.random_state, protocols=("masked",),
        verbose=1 if p.progress else 0,
    )
    timings["curve_masked"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    retrain_params = _retrain_params(params, p)
    retrained = _retrained_curve(order, retrain_list, data, retrain_params, seeds[0], p) if retrain_list else None
    timings["curve_retrained"] = time.perf_counter() - t0
    curve = curve_table(ks_int, masked, retrained, len(order), records[0]["test_mae"], test_mae,
                         p.n_random, p.n_random_retrained, unit)
    return curve, retrain_params


def _pick(table, k, selection, column):
    if table is None:
        return np.nan
    rows = table[(table["k"] == k) & (table["selection"] == selection)]
    return float(rows[column][0]) if len(rows) else np.nan


def curve_table(ks, masked, retrained, n_pixels, single_mae, ensemble_mae, n_random, n_random_retrained, unit):
    """Merge the topk_curve tables into one row per k.

    Parameters
    ----------
    ks : sequence of int
        The numbers of pixels kept.
    masked, retrained : astropy.table.Table or None
        :func:`~stellar_relevance.topk_curve` tables (``k``, ``selection``
        ``"ranked"`` or ``"random"``, ``score``, ``score_std``); None when
        that protocol was not run (its columns are NaN).
    n_pixels : int
        Every pixel: at this k the errors are the models' own.
    single_mae, ensemble_mae : float
        The first seed's and the ensemble's error with every pixel.
    n_random, n_random_retrained : int
        The random-k draws of each protocol (columns of the table).
    unit : str
        The label's unit, given to the MAE columns.

    Returns
    -------
    astropy.table.Table
        ``k``, ``mae_masked``, ``mae_masked_random``,
        ``mae_masked_random_std``, ``mae_retrained``, ``mae_random``,
        ``mae_random_std``, ``n_random``, ``n_random_retrained``.

    Examples
    --------
    >>> masked = Table({"k": [10, 10], "selection": ["ranked", "random"], "score": [0.2, 0.3],
    ...                 "score_std": [0.0, 0.05]})
    >>> curve = curve_table([10, 100], masked, None, 100, 0.12, 0.1, 5, 2, "dex")
    >>> curve["mae_masked"].tolist(), curve["mae_masked_random"].tolist(), curve["n_random"].tolist()
    ([0.2, 0.1], [0.3, 0.1], [5, 0])
    >>> bool(np.isnan(curve["mae_retrained"][0])), str(curve["mae_masked"].unit)
    (True, 'dex')
    """
    rows = []
    for k in ks:
        row = {
            "k": k,
            "mae_masked": _pick(masked, k, "ranked", "score"),
            "mae_masked_random": _pick(masked, k, "random", "score"),
            "mae_masked_random_std": _pick(masked, k, "random", "score_std"),
            "mae_retrained": _pick(retrained, k, "ranked", "score"),
            "mae_random": _pick(retrained, k, "random", "score"),
            "mae_random_std": _pick(retrained, k, "random", "score_std"),
        }
        if k == n_pixels:
            # every pixel: masking changes nothing and "retraining" is the first seed's model
            row["mae_masked"] = row["mae_masked_random"] = ensemble_mae
            row["mae_masked_random_std"] = 0.0
            row["mae_retrained"] = row["mae_random"] = single_mae
            row["mae_random_std"] = 0.0
        rows.append(row)
    table = Table(rows=rows, names=list(rows[0]))
    table["n_random"] = [n_random if k < n_pixels else 0 for k in ks]
    table["n_random_retrained"] = [n_random_retrained if k < n_pixels else 0 for k in ks]
    for name in table.colnames:
        if name.startswith("mae"):
            table[name].unit = unit or None
            table[name].format = ".4f"
    return table
