"""Pruning a fitted spectral estimator to its k most relevant inputs, with fine-tuning.

:func:`select_inputs` is what the estimators' ``select`` method runs: in a
few stages that halve the live inputs (e.g. 784 -> 392 -> 196 -> 98 -> 50),
keep the most relevant inputs still alive, set every other eigenvalue to 0
and hold it there (its gradient is masked), and fine-tune the network on the
training data. The result is a fitted copy whose ``support_`` marks exactly
the k inputs kept: its ``predict`` takes the full inputs, and the pruned ones
contribute nothing whatever their value.

An estimator that already has at least k inputs in its ``support_`` (a
``select`` result, or a fit with ``penalty="l1"`` / ``"group"``) is pruned
from its support: inputs already at exact zero stay there, so
``est.select(X, y, 100).select(X, y, 30)`` is one longer pruning in two
calls (each stage is seeded by its size, so the chain repeats the single
call's stages exactly when ``halving_schedule`` passes through 100), and the
second ranking lists the inputs the first pruned last.
"""

import copy
import logging
import numbers

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from stellar_relevance.estimators._checks import check_given, check_sample_index
from stellar_relevance.exceptions import ParameterError
from stellar_relevance.nn.proximal import penalty_strength
from stellar_relevance.nn.training import torch_threads, train

logger = logging.getLogger(__name__)


def halving_schedule(n_features, k, keep=0.5):
    """The live inputs after each pruning stage: ``keep`` of them per stage (halving by default) until ``k``.

    Parameters
    ----------
    n_features, k : int
        Inputs at the start and at the end.
    keep : float, default=0.5
        Share of the live inputs each stage keeps, in (0, 1) (rounded down).

    Examples
    --------
    >>> halving_schedule(784, 50)
    [392, 196, 98, 50]
    >>> halving_schedule(10, 8)
    [8]
    >>> halving_schedule(784, 50, keep=0.75)
    [588, 441, 330, 247, 185, 138, 103, 77, 57, 50]
    """
    if isinstance(keep, bool) or not isinstance(keep, numbers.Real) or not 0 < keep < 1:
        raise ParameterError("keep", f"must be a share of the live inputs in (0, 1), got {keep!r}")
    schedule, live = [], int(n_features)
    while int(live * keep) > k:
        live = int(live * keep)
        schedule.append(live)
    schedule.append(int(k))
    return schedule


def _check_k(estimator, k):
    n_features = estimator.n_features_in_
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= n_features:
        raise ParameterError("k", f"must be an integer in [1, {n_features}] (the number of inputs), got {k!r}")


def _starting_inputs(estimator, k):
    """The inputs the pruning starts from, and those already at exact zero (kept out, ranked last)."""
    if k <= estimator.n_selected_ < estimator.n_features_in_:
        ranking = np.asarray(estimator.ranking_)
        return np.flatnonzero(estimator.support_), ranking[~estimator.support_[ranking]]
    return np.arange(estimator.n_features_in_), np.empty(0, dtype=np.int64)


def pruning_schedule(estimator, k, keep=0.5):
    """The live inputs after each stage of ``estimator.select(X, y, k)`` (``select_inputs(..., keep=keep)``).

    The halving starts from all inputs, or from the ``support_`` when it
    already holds at least ``k`` inputs and some are at exact zero.

    Examples
    --------
    >>> import numpy as np
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 40))
    >>> reg = SpectralRelevanceRegressor((8,), max_epochs=2, random_state=0).fit(X, X[:, 0])
    >>> pruning_schedule(reg, 4)
    [20, 10, 5, 4]
    """
    check_is_fitted(estimator, "network_")
    _check_k(estimator, k)
    return halving_schedule(len(_starting_inputs(estimator, k)[0]), k, keep)


def select_inputs(estimator, X, y, k, *, given=None, sample_index=None, max_epochs=None, keep=0.5):
    """Prune ``estimator`` (fitted) to its ``k`` most relevant inputs and fine-tune; see ``select``.

    ``keep``: the share of the live inputs each stage keeps (``halving_schedule``); ``select`` halves.
    """
    check_is_fitted(estimator, "network_")
    _check_k(estimator, k)
    schedule = pruning_schedule(estimator, k, keep)
    n_features = estimator.n_features_in_
    if max_epochs is not None and (not isinstance(max_epochs, numbers.Integral) or max_epochs < 1):
        raise ParameterError("max_epochs", f"must be None or an integer >= 1, got {max_epochs!r}")
    epochs = int(max_epochs or max(1, estimator.max_epochs // 4))
    X, y = validate_data(estimator, X, y, reset=False, dtype=np.float32, multi_output=True)
    rows = check_sample_index(sample_index, len(X))
    y_rows = np.asarray(y)[rows]
    pruned = copy.deepcopy(estimator)
    seed = pruned._seed_
    prep = pruned._fitted_preparation(rows, check_given(given, len(X)), pruned._strata(y_rows))
    pruned.validation_stratified_ = prep.stratified
    network, spectral = pruned.network_, pruned.network_.spectral
    device = next(network.parameters()).device
    target = pruned._target_tensor(y_rows).to(device)
    loss_fn = pruned._loss_function()
    X_train, y_train = prep.part(X, prep.train_pos, target, device)
    X_val, y_val = prep.part(X, prep.val_pos, target, device) if len(prep.val_pos) else (None, None)
    # the fine-tuning keeps the k inputs: squared L2 (never exactly zero), at the l2 strength
    l2_strength = penalty_strength("l2", estimator.eigenvalue_penalty if estimator.penalty == "l2" else None)
    mask = torch.ones(n_features, device=device)
    handle = spectral.eigenvalues.register_hook(lambda grad: grad * mask)
    alive, dead = _starting_inputs(estimator, k)
    blocks = []
    try:
        with torch_threads(estimator.n_threads if device.type == "cpu" else None), \
                torch.random.fork_rng(devices=[]):
            for live in schedule:
                relevance = spectral.relevance().cpu().numpy()
                by_relevance = alive[np.argsort(-relevance[alive], kind="stable")]
                alive, dropped = by_relevance[:live], by_relevance[live:]
                blocks.append(dropped)
                mask.zero_()
                mask[torch.as_tensor(alive, device=device)] = 1.0
                with torch.no_grad():
                    spectral.eigenvalues.mul_(mask)
                # seeded by the stage's size, so a chain of select calls repeats one longer select exactly
                torch.default_generator.manual_seed(seed + live)
                train(network, X_train, y_train, X_val, y_val, loss_fn=loss_fn,
                      learning_rate=estimator.learning_rate, eigenvalue_penalty=l2_strength,
                      eigenvector_penalty=estimator.eigenvector_penalty, penalty="l2", max_epochs=epochs,
                      batch_size=estimator.batch_size, early_stopping=X_val is not None, n_iter_no_change=epochs,
                      generator=torch.Generator().manual_seed(seed + live))
                logger.info("select: %d inputs kept, fine-tuned %d epochs", live, epochs)
    finally:
        handle.remove()
    pruned._read_relevance()
    pruned._read_sensitivity(X, rows, prep.given)
    final = alive[np.argsort(-pruned.relevance_[alive], kind="stable")]
    pruned.ranking_ = np.concatenate([final] + blocks[::-1] + [dead]).astype(np.int64)
    if pruned.n_selected_ > k:  # a pruned eigenvalue away from zero would be a bug of the mask
        raise RuntimeError(f"select kept {pruned.n_selected_} inputs instead of {k}")
    return pruned
