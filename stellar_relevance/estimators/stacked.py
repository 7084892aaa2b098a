"""Many small spectral regressors trained as one: the retrained networks of the error-vs-k curve.

The error-vs-k curve retrains a fresh
:class:`~stellar_relevance.SpectralRelevanceRegressor` on the
top-k pixels, and on random k, for every k: about two dozen small networks
that are independent of one another. Trained one after the other, each
spends most of its time in Python (a MILES network sees two mini-batches per
epoch). :func:`fit_predict_subsets` trains them together: the weights of the
networks are stacked along a leading axis and every layer becomes one
batched matrix product (:func:`torch.baddbmm`), so an epoch costs one pass
of Python for all of them.

Each network is the one the estimator would train on ``X[:, keep]`` alone:
the same weight initialisation (drawn from the same seed, for its own number
of inputs), the same validation split, the same mini-batch order, the same
per-network loss, penalty, proximal step and early stopping. Adam works
element by element, so one optimiser over the stacked weights is one
optimiser per network. Networks of different k are padded to the widest k
of their group with inputs, eigenvalues and eigenvectors that are exactly
zero, and stay zero (their gradients are zero); networks are grouped by k so
that padding costs little (:data:`BUCKET_RATIO`). The predictions agree with
the sequential fits to float tolerance (tested).
"""

import logging
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch
from tqdm.auto import tqdm

from stellar_relevance.estimators._checks import check_given, check_sample_index, resolve_device, seed_from
from stellar_relevance.estimators._stacked_loop import train_group
from stellar_relevance.nn.distributed import is_main_process, spread, world
from stellar_relevance.nn.training import torch_threads

__all__ = ["fit_predict_subsets", "BatchedFit", "BUCKET_RATIO"]

logger = logging.getLogger(__name__)

#: networks share a group (one stacked training) while the smallest k of the group is at least
#: the largest divided by this ratio: padding then costs at most this factor on the first layer
BUCKET_RATIO = 4


@dataclass
class BatchedFit:
    """What :func:`fit_predict_subsets` returns.

    Attributes
    ----------
    predictions : list of ndarray
        One per subset, in the order given: the predictions on ``X_test``,
        shape (n_test,) or (n_test, n_outputs) as ``y`` was given.
    best_epoch, stopped_epoch : ndarray of int
        Per subset: the epoch whose weights made the predictions, and the
        last epoch the network trained (as :class:`~stellar_relevance.nn.training.TrainingResult`).
    n_groups : int
        How many stacked trainings were run.

    Examples
    --------
    >>> import numpy as np
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> X = np.random.default_rng(1).normal(size=(80, 6))
    >>> est = SpectralRelevanceRegressor(hidden_layer_sizes=(4,), max_epochs=3, random_state=0)
    >>> fit = fit_predict_subsets(est, X[:60], X[:60, 0], X[60:], [[0], [1, 2], [3, 4, 5]])
    >>> len(fit.predictions), fit.predictions[0].shape, fit.n_groups
    (3, (20,), 1)
    """

    predictions: list
    best_epoch: np.ndarray
    stopped_epoch: np.ndarray
    n_groups: int


def _buckets(sizes, ratio=BUCKET_RATIO):
    """Groups of subset positions, widest first, each within ``ratio`` of its widest member."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    groups = []
    for i in order:
        if groups and sizes[i] * ratio >= sizes[groups[-1][0]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def fit_predict_subsets(estimator, X_train, y_train, X_test, subsets, *, given=None, given_test=None,
                        sample_index=None, progress=None):
    """Train one copy of ``estimator`` per column subset, all at once, and predict ``X_test``.

    Equivalent (to float tolerance) to::

        [clone(estimator).fit(X_train[:, keep], y_train, given=given)
                         .predict(X_test[:, keep], given=given_test) for keep in subsets]

    with the networks trained together as stacked tensors (see the module
    docstring): the retrained error-vs-k curve uses it.

    Parameters
    ----------
    estimator : SpectralRelevanceRegressor
        Unfitted (and left so); its parameters (network, penalty, epochs,
        early stopping, scaling, ``random_state`` ...) define every network.
        ``device`` and ``n_threads`` are honoured.
    X_train : array-like of shape (n_samples, n_features)
    y_train : array-like of shape (n_samples,) or (n_samples, n_outputs)
    X_test : array-like of shape (n_test, n_features)
    subsets : sequence of array-like of int
        The columns of each network (each non-empty, within ``n_features``).
    given, given_test : array-like of shape (n_samples, n_given) / (n_test, n_given), optional
        Known labels fed after the spectral layer, as in the estimator's ``fit``.
    sample_index : array-like of int, optional
        Train on these rows of ``X_train`` (and of ``y_train``, ``given``)
        only, as the estimator's ``fit(..., sample_index=)``: the rows are
        gathered batch by batch, never copied whole.
    progress : bool or None, default=None
        Show a tqdm bar of the network-epochs trained (with the networks
        done), so that a long run is seen to move; None: when the
        estimator's ``verbose`` is 1 or more. Only the main process shows it.

    Returns
    -------
    BatchedFit

    Raises
    ------
    ValueError
        For an empty subset, a column outside ``X_train``, ``given`` without
        ``given_test``, or a classifier.

    Notes
    -----
    Under ``torch.distributed`` (``stelrel rank --nproc``, ``torchrun``) the
    networks are dealt out over the processes, each trains its share alone
    (:func:`~stellar_relevance.nn.distributed.spread`) and every process gets
    every prediction: the same networks as in one process.

    Examples
    --------
    >>> import numpy as np
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> from stellar_relevance.estimators.stacked import fit_predict_subsets
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 12))
    >>> y = X[:, 0] - X[:, 1]
    >>> est = SpectralRelevanceRegressor(hidden_layer_sizes=(16,), max_epochs=30, batch_size=64, random_state=0)
    >>> fit = fit_predict_subsets(est, X[:250], y[:250], X[250:], [[0, 1], [5, 6, 7, 8]])
    >>> err = [float(np.mean(np.abs(p - y[250:]))) for p in fit.predictions]
    >>> err[0] < err[1]  # the two columns that make y beat four that do not
    True
    """
    if getattr(estimator, "_is_classifier", False):
        raise ValueError("the stacked training trains regressors; fit a classifier per subset instead")
    sizes = estimator._check_params()
    estimator._loss_function()  # an unknown loss is refused before any work
    X_train, X_test = _as_2d(X_train), _as_2d(X_test)  # a memory map stays one (read batch by batch)
    n_features = X_train.shape[1]
    subsets = [np.asarray(keep, dtype=np.int64).ravel() for keep in subsets]
    for position, keep in enumerate(subsets):
        if keep.size == 0 or keep.min() < 0 or keep.max() >= n_features:
            raise ValueError(f"subset {position} must hold 1 or more column indices in 0..{n_features - 1}")
    if (given is None) != (given_test is None):
        raise ValueError("given and given_test go together")
    rows = check_sample_index(sample_index, len(X_train))
    show = bool(estimator.verbose) if progress is None else bool(progress)
    rank, size = world()
    if size == 1:
        return _fit_subsets(estimator, X_train, y_train, X_test, subsets, given, given_test, rows, show)
    # several processes: each trains its share of the networks alone (widest first, dealt round-robin)
    order = np.argsort([-len(keep) for keep in subsets], kind="stable")
    shares = [order[r::size] for r in range(size)]
    parts = spread(shares, lambda share: _fit_subsets(estimator, X_train, y_train, X_test,
                                                      [subsets[i] for i in share], given, given_test, rows, show)
                   if len(share) else None)
    predictions = [None] * len(subsets)
    best = np.zeros(len(subsets), dtype=int)
    stopped = np.zeros(len(subsets), dtype=int)
    for share, part in zip(shares, parts):
        for m, i in enumerate(share):
            predictions[i], best[i], stopped[i] = part.predictions[m], part.best_epoch[m], part.stopped_epoch[m]
    return BatchedFit(predictions, best, stopped, sum(part.n_groups for part in parts if part is not None))


def _as_2d(X):
    X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-d array of spectra (n_samples, n_features), got shape {X.shape}")
    return X


def _fit_subsets(estimator, X_train, y_train, X_test, subsets, given, given_test, rows, show):
    """:func:`fit_predict_subsets` in this process alone (arguments checked), on the rows ``rows``."""
    y2 = np.asarray(y_train, dtype=np.float64).reshape(len(y_train), -1)[rows]
    seed = seed_from(estimator.random_state)
    device = resolve_device(estimator.device)
    # the preparation and target scaling a fit makes, through the estimator's hooks (nothing is set on it)
    prep = estimator._prepare(X_train, rows, check_given(given, len(X_train)), seed)
    offset, scale = estimator._target_scaling(y2)
    data = SimpleNamespace(
        X=prep.batches(X_train, np.arange(len(rows)), device, with_given=False),  # gathered per batch
        y=torch.as_tensor((y2 - offset) / scale, dtype=torch.float32, device=device),
        G=None if prep.given is None else torch.as_tensor(prep.given[rows], dtype=torch.float32, device=device),
        train_pos=prep.train_pos, val_pos=prep.val_pos,
        X_test=prep.view(X_test, np.arange(len(X_test)), device),
        G_test=None if given_test is None else torch.as_tensor(
            prep.scale_given(check_given(given_test, len(X_test))), dtype=torch.float32, device=device),
    )
    n_given = 0 if data.G is None else data.G.shape[1]
    predictions = [None] * len(subsets)
    best = np.zeros(len(subsets), dtype=int)
    stopped = np.zeros(len(subsets), dtype=int)
    groups = _buckets([len(keep) for keep in subsets])
    logger.info("training %d networks in %d stacked group(s)", len(subsets), len(groups))
    bar = tqdm(total=len(subsets) * int(estimator.max_epochs), desc=f"training {len(subsets)} networks",
               unit="network-epoch", disable=not (show and is_main_process()), leave=False)
    with torch_threads(estimator.n_threads if device.type == "cpu" else None), bar:
        for done, group in enumerate(groups):
            bar.set_postfix(group=f"{done + 1}/{len(groups)}", k=f"<={max(len(subsets[i]) for i in group)}")
            networks = [estimator._make_network(len(subsets[i]), y2.shape[1], seed, n_given) for i in group]
            out, best_g, stopped_g = train_group(estimator, networks, [subsets[i] for i in group], data, seed,
                                                 device, bar)
            for m, i in enumerate(group):
                prediction = out[m] * scale + offset
                predictions[i] = prediction.ravel() if np.ndim(y_train) == 1 else prediction
                best[i], stopped[i] = best_g[m], stopped_g[m]
    return BatchedFit(predictions, best, stopped, len(groups))
