"""The pipeline's training step: the network's parameters, one regressor per seed, their mean prediction.

Private to :mod:`stellar_relevance.ranking`; used by
:func:`~stellar_relevance.ranking.pipeline.rank_spectra`.
"""

import logging
import time

import numpy as np

from stellar_relevance.nn.distributed import spread, world
from stellar_relevance.report.model_file import SeedEnsemble

__all__ = ["mae", "network_params", "retrain_params", "fit_kwargs", "train_seeds", "GivenEnsemble"]

logger = logging.getLogger(__name__)


def mae(y_true, y_pred):
    """Mean absolute error (float)."""
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


def network_params(p):
    """The estimator's parameters (no ``random_state``) from the pipeline's settings ``p``."""
    return dict(
        penalty=p.penalty,
        hidden_layer_sizes=tuple(int(h) for h in p.hidden_layer_sizes),
        activation="relu",
        eigenvalue_penalty=p.eigenvalue_penalty,
        eigenvector_penalty=p.eigenvector_penalty,
        learning_rate=p.learning_rate,
        max_epochs=int(p.max_epochs),
        batch_size=int(p.batch_size),
        validation_fraction=p.validation_fraction,
        early_stopping=True,
        n_iter_no_change=int(p.n_iter_no_change),
        min_epochs=int(p.min_epochs),
        loss="mae",
        input_scaling=p.input_scaling,
        target_scaling="standard",
        device=p.device,
        n_threads=p.n_threads,
        verbose=1 if p.progress else 0,
    )


def retrain_params(params, max_epochs, retrain_max_epochs, retrain_min_epochs):
    """The parameters of the models retrained on k pixels: ``params`` with their own epoch limits.

    ``retrain_max_epochs`` None means ``min(300, max_epochs)``; ``retrain_min_epochs`` None keeps
    ``params["min_epochs"]``; the minimum never exceeds the maximum.

    Examples
    --------
    >>> retrain_params({"max_epochs": 1000, "min_epochs": 300, "verbose": 1}, 1000, None, 0)
    {'max_epochs': 300, 'min_epochs': 0, 'verbose': 0}
    """
    retrain = dict(params, verbose=0)
    retrain["max_epochs"] = int(min(300, max_epochs) if retrain_max_epochs is None else retrain_max_epochs)
    if retrain_min_epochs is not None:
        retrain["min_epochs"] = int(retrain_min_epochs)
    retrain["min_epochs"] = min(retrain["min_epochs"], retrain["max_epochs"])
    return retrain


def fit_kwargs(G):
    """``{"given": G}``, or nothing when no label is given (keyword arguments of ``fit`` and ``predict``).

    Examples
    --------
    >>> fit_kwargs(None), fit_kwargs(np.zeros((2, 1)))["given"].shape
    ({}, (2, 1))
    """
    return {} if G is None else {"given": G}


def _fit_seed(params, seed, data):
    """One fitted regressor and its record."""
    from stellar_relevance.estimators import SpectralRelevanceRegressor

    t_seed = time.perf_counter()
    est = SpectralRelevanceRegressor(**params, random_state=seed)
    est.fit(data.X, data.y, sample_index=data.train_idx, **fit_kwargs(data.G))  # training rows read, not copied
    record = {
        "seed": seed,
        "test_mae": mae(data.y_test, est.predict(data.X_test, **fit_kwargs(data.G_test))),
        "best_epoch": int(est.best_epoch_),
        "n_epochs": int(est.n_epochs_),
        "n_selected": int(getattr(est, "n_selected_", est.n_features_in_)),
        "seconds": round(time.perf_counter() - t_seed, 2),
    }
    logger.info("seed %d: test MAE %.4f (best epoch %d)", seed, record["test_mae"], est.best_epoch_)
    return est, record


def train_seeds(params, seeds, data):
    """One fitted regressor per seed, and a record of each.

    Under ``torch.distributed`` with at least as many seeds as processes, the
    seeds are dealt out over the processes and each trains its own alone
    (:func:`~stellar_relevance.nn.distributed.spread`: no gradient exchange, and
    each network is the one a single process would train); with fewer seeds
    than processes every seed is trained by all processes together (DDP).
    """
    if world()[1] > 1 and len(seeds) >= world()[1]:
        fitted = spread(seeds, lambda seed: _fit_seed(params, seed, data))
    else:
        fitted = [_fit_seed(params, seed, data) for seed in seeds]
    return [est for est, _ in fitted], [record for _, record in fitted]


class GivenEnsemble(SeedEnsemble):
    """Mean prediction of several fitted regressors on the test rows, each fed the test rows' given labels.

    The masked error curve calls ``predict(X)`` on (masked copies of) the
    test rows only; this ensemble supplies their given labels.

    Parameters
    ----------
    estimators : sequence of fitted regressors
    G_test : numpy.ndarray or None
        Given labels of the rows every ``predict`` is called with (None: none).

    Examples
    --------
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> rng = np.random.default_rng(0)
    >>> X, G = rng.normal(size=(60, 5)), rng.normal(size=(60, 1))
    >>> y = X[:, 0] + G[:, 0]
    >>> models = [SpectralRelevanceRegressor((4,), max_epochs=2, random_state=seed).fit(X[:50], y[:50], given=G[:50])
    ...           for seed in (0, 1)]
    >>> GivenEnsemble(models, G[50:]).predict(X[50:]).shape
    (10,)
    """

    def __init__(self, estimators, G_test):
        super().__init__(estimators)
        self.G_test = G_test

    def predict(self, X):
        """Mean of the estimators' predictions for the test rows ``X`` (whose given labels are ``G_test``)."""
        return np.mean([est.predict(X, **fit_kwargs(self.G_test)) for est in self.estimators], axis=0)
