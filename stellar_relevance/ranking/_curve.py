"""The pipeline's error-vs-k curve: the trained model with all but the top-k pixels masked, and
models retrained on the top-k pixels alone, each beside random-k draws, merged into one row per k.
"""

import logging
import time

import numpy as np
from astropy.table import Table

from stellar_relevance.estimators.stacked import fit_predict_subsets
from stellar_relevance.ranking._train import fit_kwargs, mae
from stellar_relevance.ranking.evaluation import topk_curve

__all__ = ["error_curve", "curve_table"]

logger = logging.getLogger(__name__)


def _retrained_curve(order, retrain_ks, data, params, n_random, random_state, progress):
    """The retrained top-k and random-k curve, every network trained in one stacked run
    (:func:`~stellar_relevance.estimators.stacked.fit_predict_subsets`); networks that never improved after
    epoch 1 are counted, not warned one by one."""
    from stellar_relevance.estimators import SpectralRelevanceRegressor

    logger.info("retraining on the top-k and random-k pixels: %d models of at most %d epochs",
                len(retrain_ks) * (1 + n_random), params["max_epochs"])
    estimator = SpectralRelevanceRegressor(**params, random_state=random_state)
    fits = []

    def fit_predict_many(keeps):
        fit = fit_predict_subsets(estimator, data.X, data.y, data.X_test, keeps, sample_index=data.train_idx,
                                  given=data.G, given_test=data.G_test, progress=progress)
        fits.append(fit)
        return fit.predictions

    curve = topk_curve(
        order, retrain_ks, None, data.y_train, data.X_test, data.y_test,
        fit_predict_many=fit_predict_many, metric=mae,
        n_random=n_random, random_state=random_state, protocols=("retrained",),
        verbose=1 if progress else 0,
    )
    untrained = sum(int(np.sum((f.best_epoch <= 1) & (f.stopped_epoch > 1) & (f.stopped_epoch < estimator.max_epochs)))
                    for f in fits)
    if untrained:
        logger.info("%d of the retrained models never improved after epoch 1 (expected for random pixels); "
                    "their errors are in the curve as they are", untrained)
    return curve


def error_curve(order, data, ensemble, retrain_params, *, ks, retrain_ks, n_random=5, n_random_retrained=2,
                random_state=0, unit="", progress=False):
    """The error-vs-k curve of a ranking: masked (the trained ``ensemble``) and retrained, each with random-k draws.

    Parameters
    ----------
    order : array-like of int
        The pixels, most relevant first.
    data : types.SimpleNamespace
        ``X``, ``y``, ``G`` (every labelled spectrum; the training rows are
        ``train_idx``) and ``y_train``, ``X_test``, ``y_test``, ``G_test``
        (:func:`~stellar_relevance.ranking._prepare.split_train_test`).
    ensemble : GivenEnsemble
        The trained models (``predict`` on the test rows, ``feature_means_``,
        ``estimators``): its masked error is measured; at every pixel the
        retrained error is its first model's.
    retrain_params : dict
        The parameters of the models retrained on k pixels (no ``random_state``).
    ks : sequence of int
        The numbers of pixels kept (the largest may be every pixel).
    retrain_ks : sequence of int
        The ks at which new models are trained on the top-k and random-k
        pixels (empty: none).
    n_random, n_random_retrained : int
        Random-k draws of the masked and of the retrained curve.
    random_state : int
        Seeds the random draws and the retrained models.
    unit : str
        The label's unit (of the MAE columns).
    progress : bool
        Show tqdm bars.

    Returns
    -------
    curve : astropy.table.Table
        One row per k (:func:`curve_table`).
    seconds : dict
        ``curve_masked`` and ``curve_retrained``: the time each protocol took.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> from stellar_relevance.ranking._train import GivenEnsemble
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 6))
    >>> data = SimpleNamespace(X=X, y=X[:, 0], G=None, train_idx=np.arange(60), y_train=X[:60, 0], X_test=X[60:],
    ...                        y_test=X[60:, 0], G_test=None)
    >>> params = {"hidden_layer_sizes": (4,), "max_epochs": 2}
    >>> model = SpectralRelevanceRegressor(**params, random_state=0).fit(X[:60], data.y_train)
    >>> curve, seconds = error_curve(model.ranking_, data, GivenEnsemble([model], None), params, ks=[2, 6],
    ...                              retrain_ks=[2], n_random=2, n_random_retrained=1, unit="dex")
    >>> curve["k"].tolist(), sorted(seconds)
    ([2, 6], ['curve_masked', 'curve_retrained'])
    >>> bool(curve["mae_masked"][-1] == mae(data.y_test, model.predict(data.X_test)))
    True
    """
    seconds = {}
    t0 = time.perf_counter()
    masked = topk_curve(
        order, ks, None, data.y_train, data.X_test, data.y_test,
        fitted=ensemble, metric=mae, n_random=n_random, random_state=random_state, protocols=("masked",),
        verbose=1 if progress else 0,
    )
    seconds["curve_masked"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    retrained = (_retrained_curve(order, retrain_ks, data, retrain_params, n_random_retrained, random_state,
                                  progress) if len(retrain_ks) else None)
    seconds["curve_retrained"] = time.perf_counter() - t0
    first = ensemble.estimators[0]
    single_mae = mae(data.y_test, first.predict(data.X_test, **fit_kwargs(data.G_test)))
    every_pixel = (single_mae, mae(data.y_test, ensemble.predict(data.X_test)))
    curve = curve_table(ks, masked, retrained, len(order), every_pixel, (n_random, n_random_retrained), unit)
    return curve, seconds


def _pick(table, k, selection, column):
    if table is None:
        return np.nan
    rows = table[(table["k"] == k) & (table["selection"] == selection)]
    return float(rows[column][0]) if len(rows) else np.nan


def curve_table(ks, masked, retrained, n_pixels, every_pixel, n_random, unit):
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
    every_pixel : tuple of float
        The first seed's and the ensemble's error with every pixel.
    n_random : tuple of int
        The random-k draws of the masked and of the retrained curve (columns of the table).
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
    >>> curve = curve_table([10, 100], masked, None, 100, (0.12, 0.1), (5, 2), "dex")
    >>> curve["mae_masked"].tolist(), curve["mae_masked_random"].tolist(), curve["n_random"].tolist()
    ([0.2, 0.1], [0.3, 0.1], [5, 0])
    >>> bool(np.isnan(curve["mae_retrained"][0])), str(curve["mae_masked"].unit)
    (True, 'dex')
    """
    single_mae, ensemble_mae = every_pixel
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
    table["n_random"] = [n_random[0] if k < n_pixels else 0 for k in ks]
    table["n_random_retrained"] = [n_random[1] if k < n_pixels else 0 for k in ks]
    for name in table.colnames:
        if name.startswith("mae"):
            table[name].unit = unit or None
            table[name].format = ".4f"
    return table
