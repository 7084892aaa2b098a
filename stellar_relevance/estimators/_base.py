"""The machinery shared by the two estimators: the training hooks, fit, the read-outs, predict.

The public classes and their documentation are in
:mod:`stellar_relevance.estimators._spectral`. The protected methods marked
*hook* are what ``fit``, ``select`` and the stacked trainer
(:mod:`stellar_relevance.estimators.stacked`) build their trainings from, so
every training of an estimator prepares its data, seeds its network, groups
its optimiser and computes its loss one way:

- ``_check_params()``: every parameter checked; the hidden layer sizes
- ``_prepare(X, rows, given, seed, strata=None)``: rows, input and given
  scaling, validation split (a :class:`~stellar_relevance.estimators._prepare.Preparation`)
- ``_make_network(n_features, n_outputs, seed, n_given=0)``: the seeded network
- ``_optimizer_groups(eigenvalues, eigenvectors, others)``: Adam's groups
- ``_loss_function()``: ``fn(output, target, reduction="mean")``
- ``_target_tensor(y)``, ``_strata(y)`` and, for the regressor,
  ``_target_scaling(y2)``: the targets as trained on, what the split is
  stratified by, the target scaling
"""

import logging
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from stellar_relevance.estimators._checks import (FLOAT32S, check_given, check_hidden_layer_sizes, check_memory,
                                                  check_params, resolve_device)
from stellar_relevance.estimators._prepare import Preparation, prepare, split
from stellar_relevance.estimators._sensitivity import forward_sensitivity
from stellar_relevance.exceptions import ParameterError
from stellar_relevance.nn.batches import ArrayBatches, chunk_length
from stellar_relevance.nn.core import optimizer_groups
from stellar_relevance.nn.proximal import penalty_strength
from stellar_relevance.nn.network import SpectralNetwork
from stellar_relevance.nn.training import torch_threads, train

logger = logging.getLogger(__name__)


class _SpectralRelevanceBase(BaseEstimator):
    """Shared parameters, the training hooks, fit, the relevance and sensitivity read-outs, predict."""

    _is_classifier = False

    def __init__(
        self,
        hidden_layer_sizes=(100, 100, 50),
        activation="relu",
        *,
        eigenvalue_penalty=None,
        eigenvector_penalty=1e-4,
        penalty="l2",
        learning_rate=1e-3,
        max_epochs=200,
        batch_size=500,
        validation_fraction=0.1,
        early_stopping=False,
        n_iter_no_change=50,
        min_epochs=0,
        input_scaling="center",
        device="auto",
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.eigenvalue_penalty = eigenvalue_penalty
        self.eigenvector_penalty = eigenvector_penalty
        self.penalty = penalty
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.min_epochs = min_epochs
        self.input_scaling = input_scaling
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ hooks
    def _check_params(self):
        """Hook: check every parameter; the hidden layer sizes as a tuple of ints."""
        return check_params(self)

    def _prepare(self, X, rows, given, seed, strata=None):
        """Hook: the :class:`~stellar_relevance.estimators._prepare.Preparation` a fit on ``X[rows]`` makes.

        Input and given-label scaling over ``rows``, the seeded validation
        split (stratified by ``strata`` when given); ``given``: checked
        labels aligned with ``X`` or None. Changes nothing on ``self``.
        """
        return prepare(self, X, rows, given, seed, strata)

    def _make_network(self, n_features, n_outputs, seed, n_given=0):
        """Hook: the untrained network a fit starts from, its weights drawn from ``seed``.

        The weights are drawn on the CPU from torch's CPU generator, seeded
        inside ``fork_rng`` (the caller's CPU stream is restored afterwards)
        and seeded alone: ``torch.manual_seed`` would also reseed every CUDA
        generator of the caller.
        """
        sizes = check_hidden_layer_sizes(self.hidden_layer_sizes)
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            return SpectralNetwork(n_features, n_outputs, sizes, activation=self.activation, n_given=n_given)

    def _optimizer_groups(self, eigenvalues, eigenvectors, others):
        """Hook: Adam's parameter groups with this estimator's penalties (:func:`~stellar_relevance.nn.core.optimizer_groups`)."""
        return optimizer_groups(eigenvalues, eigenvectors, others, penalty_strength(self.penalty, self.eigenvalue_penalty),
                                self.eigenvector_penalty, self.penalty)

    def _fitted_preparation(self, rows, given, strata=None):
        """The :class:`~stellar_relevance.estimators._prepare.Preparation` of a fitted estimator on new ``rows``:
        its own scaling, a validation split from its seed (for fine-tuning)."""
        train_pos, val_pos, stratified = split(len(rows), self.validation_fraction, self._seed_, strata,
                                               type(self).__name__)
        return Preparation(rows, train_pos, val_pos, stratified, self.feature_means_, self.input_offset_,
                           self.input_scale_, self.given_offset_, self.given_scale_, self._scale_given(given))

    def _scale_given(self, given):
        n_given = getattr(self, "n_given_", 0)
        if given is None:
            if n_given:
                raise ParameterError("given", f"the estimator was fitted with {n_given} given column(s); pass them")
            return None
        if n_given != given.shape[1]:
            raise ParameterError("given", f"has {given.shape[1]} column(s); the estimator was fitted with {n_given}")
        return (given - self.given_offset_) / self.given_scale_

    # ------------------------------------------------------------------- fit
    def _fit(self, X, target, n_outputs, seed, rows, strata=None, given=None):
        """Train on ``X[rows]`` (X may be a memory map: batches are gathered per step).

        ``target`` (a tensor) and ``strata`` are aligned with ``rows``; ``given`` with ``X``.
        """
        sizes = self._check_params()
        self._seed_ = seed
        self._device = resolve_device(self.device)
        check_memory(X.shape[1], n_outputs, sizes, self.batch_size, self._device)
        prep = self._prepare(X, rows, given, seed, strata)
        self.feature_means_, self.input_offset_, self.input_scale_ = (prep.feature_means, prep.input_offset,
                                                                      prep.input_scale)
        self.n_given_ = 0 if given is None else given.shape[1]
        self.given_offset_, self.given_scale_ = prep.given_offset, prep.given_scale
        self.validation_stratified_ = prep.stratified
        # the whole training inside fork_rng: the caller's CPU stream is left as it was; the batch order
        # comes from a local torch.Generator
        with torch_threads(self.n_threads if self._device.type == "cpu" else None), torch.random.fork_rng(devices=[]):
            network = self._make_network(X.shape[1], n_outputs, seed, self.n_given_)
            network.to(self._device)
            generator = torch.Generator().manual_seed(seed)
            y_all = target.to(self._device)
            X_train, y_train = prep.part(X, prep.train_pos, y_all, self._device)
            X_val, y_val = prep.part(X, prep.val_pos, y_all, self._device) if len(prep.val_pos) else (None, None)
            result = train(
                network, X_train, y_train, X_val, y_val, loss_fn=self._loss_function(),
                learning_rate=self.learning_rate, eigenvalue_penalty=self.eigenvalue_penalty,
                eigenvector_penalty=self.eigenvector_penalty, penalty=self.penalty, max_epochs=self.max_epochs,
                batch_size=self.batch_size, early_stopping=self.early_stopping,
                n_iter_no_change=self.n_iter_no_change, min_epochs=self.min_epochs, generator=generator,
                verbose=self.verbose, description=type(self).__name__,
            )
        n_train, n_val = len(prep.train_pos), len(prep.val_pos)
        if self.early_stopping and n_val and result.best_epoch <= 1 < result.stopped_epoch < self.max_epochs:
            warnings.warn(
                f"{type(self).__name__}: the validation loss never improved after epoch 1 "
                f"(stopped at epoch {result.stopped_epoch}); the weights and relevance restored are those "
                "of an almost untrained network. Train longer without early stopping, or check the data.",
                UserWarning,
                stacklevel=3,
            )
        self.network_ = network
        self._read_relevance()
        self._read_sensitivity(X, rows, prep.given, mean=self.feature_means_)
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.n_epochs_ = result.stopped_epoch
        self.n_train_samples_, self.n_validation_samples_ = n_train, n_val
        logger.info("%s: %d epochs, best %d, %d/%d train/validation samples",
                    type(self).__name__, self.n_epochs_, self.best_epoch_, n_train, n_val)
        return self

    # --------------------------------------------------------------- read-outs
    def _read_relevance(self):
        """Set the learned relevance attributes from ``network_``'s spectral layer."""
        spectral = self.network_.spectral
        self.eigenvalues_ = spectral.eigenvalues.detach().cpu().numpy().astype(np.float64)
        self.signed_relevance_ = spectral.signed_relevance().cpu().numpy().astype(np.float64)
        self.relevance_ = np.abs(self.signed_relevance_)
        total = self.relevance_.sum()
        n = len(self.relevance_)
        self.feature_importances_ = self.relevance_ / total if total > 0 else np.full(n, 1.0 / n)
        # stable sort: ties keep feature order, so the ranking is reproducible
        self.ranking_ = np.argsort(-self.relevance_, kind="stable")
        self.support_ = self.eigenvalues_ != 0
        self.n_selected_ = int(self.support_.sum())

    def _read_sensitivity(self, X, rows, given=None, mean=None):
        """Set ``sensitivity_`` from the predictions of ``network_`` on ``X[rows]``.

        ``given``: the scaled given labels, aligned with ``X``; ``mean``: the
        mean of ``X[rows]`` when known (one pass fewer).
        """
        given = None if given is None else given[rows]
        # batches of at most CHUNK_BYTES: a memory-mapped X is read a chunk at a time
        prediction = self._sensitivity_target(self._predict_rows(X, rows, given, chunk_length(X.shape[1])))
        self.sensitivity_ = forward_sensitivity(X, prediction, given, rows, mean=mean)

    def _predict_rows(self, X, rows, given=None, step=8192):
        """The network's raw outputs on ``X[rows]`` (float64, (len(rows), n_outputs)), ``step`` rows at a time.

        ``given``: the scaled given labels of those rows, or None.
        """
        device = next(self.network_.parameters()).device
        outputs = []
        batches = ArrayBatches(X, rows, self.input_offset_, self.input_scale_, device, given)
        with torch_threads(self.n_threads if device.type == "cpu" else None), torch.no_grad():
            self.network_.eval()
            for start in range(0, len(rows), step):
                batch = batches[start : start + step]
                outputs.append((self.network_(*batch) if given is not None else self.network_(batch)).cpu())
        if not outputs:
            return np.empty((0, self._n_outputs))
        return torch.cat(outputs).numpy().astype(np.float64)

    def select(self, X, y, k, *, given=None, sample_index=None, max_epochs=None, keep=0.5):
        """A copy pruned to the ``k`` most relevant inputs and fine-tuned on (X, y).

        In stages that keep a share ``keep`` of the live inputs (halving by
        default; :func:`~stellar_relevance.estimators._selection.pruning_schedule` lists
        them) down to ``k``, the inputs of
        lowest relevance get eigenvalue 0 (held there) and the network is
        fine-tuned on the training rows (same seeded validation split,
        squared-L2 penalty, the estimator's learning rate and batch size).
        The copy's ``support_`` marks exactly the ``k`` inputs kept; its
        ``predict`` takes the full ``X`` (the pruned inputs contribute
        nothing); ``ranking_`` lists the kept inputs by their final relevance,
        then the pruned ones, latest pruned first. ``self`` is not modified.

        Parameters
        ----------
        X, y : array-like
            The training data (as given to ``fit``; X may be a memory map).
        k : int
            Inputs to keep, ``1 <= k <= n_features_in_``.
        given, sample_index : array-like, optional
            As in ``fit``.
        max_epochs : int, optional
            Fine-tuning epochs per stage (default ``max_epochs // 4``).
        keep : float, default=0.5
            Share of the live inputs each stage keeps, in (0, 1). Gentler
            pruning (``keep=0.75``, more stages, fewer epochs each) kept more
            accuracy on MNIST (docs/mnist.md). A copy that already has exact
            zeros (an earlier ``select``, an ``l1``/``group`` fit) prunes from
            its support, so ``select(X, y, 6).select(X, y, 3)`` equals
            ``select(X, y, 3)``.

        Returns
        -------
        estimator
            A fitted copy of the same class.

        Examples
        --------
        >>> import numpy as np
        >>> from stellar_relevance import SpectralRelevanceRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(400, 20))
        >>> y = X[:, 3] - 2 * X[:, 11]
        >>> reg = SpectralRelevanceRegressor((16,), max_epochs=20, batch_size=50, random_state=0).fit(X, y)
        >>> small = reg.select(X, y, 2)
        >>> small.n_selected_, np.flatnonzero(small.support_).tolist()
        (2, [3, 11])
        """
        from stellar_relevance.estimators._selection import select_inputs

        return select_inputs(self, X, y, k, given=given, sample_index=sample_index, max_epochs=max_epochs, keep=keep)

    def _forward(self, X, given=None):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=FLOAT32S)
        given = self._scale_given(check_given(given, len(X)))
        return self._predict_rows(X, np.arange(len(X)), given)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
