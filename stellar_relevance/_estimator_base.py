"""The machinery shared by the two estimators: parameter checks, scaling, the split, training, read-out.

The public classes and their documentation are in
:mod:`stellar_relevance.estimators`.
"""

import logging
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .exceptions import ParameterError
from .network import ACTIVATIONS, SpectralNetwork, count_parameters
from .training import available_memory_bytes, torch_threads, train, training_memory_bytes

logger = logging.getLogger("stellar_relevance.estimators")

INPUT_SCALINGS = ("center", "standard", "none")
TARGET_SCALINGS = ("standard", "none")
LOSSES = ("mae", "mse", "huber")
DEVICES = ("auto", "cpu", "cuda")


def _resolve_device(device):
    if device not in DEVICES:
        raise ParameterError("device", f"must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device", "'cuda' was asked for but torch sees no CUDA device; use 'auto' or 'cpu'")
    return torch.device(device)


def _seed_from(random_state):
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


def _check_memory(n_features, n_outputs, sizes, batch_size, device):
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


class _SpectralRelevanceBase(BaseEstimator):
    """Shared parameters, validation, scaling, training and relevance read-out."""

    _is_classifier = False

    def __init__(
        self,
        hidden_layer_sizes=(100, 100, 50),
        activation="relu",
        *,
        eigenvalue_penalty=1e-2,
        eigenvector_penalty=1e-4,
        learning_rate=1e-3,
        max_epochs=200,
        batch_size=500,
        validation_fraction=0.1,
        early_stopping=False,
        n_iter_no_change=50,
        min_epochs=0,
        input_scaling="center",
        device="auto",
        n_threads=1,
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.eigenvalue_penalty = eigenvalue_penalty
        self.eigenvector_penalty = eigenvector_penalty
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

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        for name in ("eigenvalue_penalty", "eigenvector_penalty"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
                raise ParameterError(name, f"must be a finite number >= 0, got {value!r}")
        if not isinstance(self.learning_rate, numbers.Real) or not self.learning_rate > 0:
            raise ParameterError("learning_rate", f"must be > 0, got {self.learning_rate!r}")
        for name in ("max_epochs", "batch_size", "n_iter_no_change"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ParameterError(name, f"must be an integer >= 1, got {value!r}")
        if not isinstance(self.min_epochs, numbers.Integral) or self.min_epochs < 0:
            raise ParameterError("min_epochs", f"must be an integer >= 0, got {self.min_epochs!r}")
        if not isinstance(self.validation_fraction, numbers.Real) or not 0 <= self.validation_fraction < 1:
            raise ParameterError("validation_fraction", f"must be in [0, 1), got {self.validation_fraction!r}")
        if self.activation not in ACTIVATIONS:
            raise ParameterError(
                "activation", f"{self.activation!r}: unknown activation; expected one of {sorted(ACTIVATIONS)}"
            )
        if self.input_scaling not in INPUT_SCALINGS:
            raise ParameterError("input_scaling", f"must be one of {INPUT_SCALINGS}, got {self.input_scaling!r}")
        if self.n_threads is not None and (not isinstance(self.n_threads, numbers.Integral) or self.n_threads < 1):
            raise ParameterError("n_threads", f"must be None or an integer >= 1, got {self.n_threads!r}")
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        try:
            sizes = tuple(int(s) for s in sizes)
        except (TypeError, ValueError):
            raise ParameterError("hidden_layer_sizes", f"must be a sequence of positive ints, got {sizes!r}") from None
        if not sizes or min(sizes) < 1:
            raise ParameterError("hidden_layer_sizes", f"must be a non-empty sequence of positive ints, got {sizes!r}")
        return sizes

    # ---------------------------------------------------------------- scaling
    def _fit_input_scaling(self, X):
        self.feature_means_ = X.mean(axis=0)
        if self.input_scaling == "none":
            offset, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        else:
            offset = self.feature_means_.copy()
            scale = np.ones(X.shape[1])
            if self.input_scaling == "standard":
                std = X.std(axis=0)
                scale = np.where(std > 0, std, 1.0)
        self.input_offset_, self.input_scale_ = offset, scale

    def _to_tensor(self, X):
        scaled = (np.asarray(X, dtype=np.float64) - self.input_offset_) / self.input_scale_
        return torch.as_tensor(scaled, dtype=torch.float32, device=self._device)

    def _split(self, n_samples, seed, y=None):
        """Indices of the training and validation parts (seeded, shuffled).

        With class labels ``y`` the split is stratified (every class keeps its
        share in both parts) when each class has at least two samples and the
        validation part has room for every class; otherwise it is random, and
        ``validation_stratified_`` says so.
        """
        n_val = int(round(self.validation_fraction * n_samples))
        if self.validation_fraction > 0 and n_val < 1:
            raise ParameterError(
                "validation_fraction",
                f"{self.validation_fraction} of {n_samples} samples leaves no validation sample; "
                "give more samples or set validation_fraction=0",
            )
        if n_samples - n_val < 2:
            raise ParameterError(
                "validation_fraction",
                f"{self.validation_fraction} of {n_samples} samples leaves {n_samples - n_val} for training; "
                "at least 2 are needed",
            )
        self.validation_stratified_ = False
        if y is not None and n_val > 0:
            counts = np.unique(y, return_counts=True)[1]
            if counts.min() >= 2 and len(counts) <= min(n_val, n_samples - n_val):
                train_index, val_index = train_test_split(
                    np.arange(n_samples), test_size=n_val, random_state=seed, stratify=y
                )
                self.validation_stratified_ = True
                return train_index, val_index
            logger.info(
                "%s: validation split not stratified (a class has %d sample(s), or %d validation samples "
                "for %d classes); split at random", type(self).__name__, counts.min(), n_val, len(counts),
            )
        order = np.random.default_rng(seed).permutation(n_samples)
        return order[n_val:], order[:n_val]

    # ------------------------------------------------------------------- fit
    def _fit(self, X, y_tensor, n_outputs, loss_fn, seed, strata=None):
        sizes = self._check_params()
        self._device = _resolve_device(self.device)
        _check_memory(X.shape[1], n_outputs, sizes, self.batch_size, self._device)
        self._fit_input_scaling(X)
        train_index, val_index = self._split(len(X), seed, strata)
        # The weights are drawn on the CPU from torch's CPU generator, seeded inside fork_rng (so the
        # caller's CPU stream is restored afterwards) and seeded alone: torch.manual_seed would also reseed
        # every CUDA generator of the caller. The batch order comes from a local torch.Generator.
        with torch_threads(self.n_threads if self._device.type == "cpu" else None), torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            network = SpectralNetwork(X.shape[1], n_outputs, sizes, activation=self.activation)
            network.to(self._device)
            generator = torch.Generator().manual_seed(seed)
            X_all = self._to_tensor(X)
            y_all = y_tensor.to(self._device)
            train_t = torch.as_tensor(train_index, device=self._device)
            val_t = torch.as_tensor(val_index, device=self._device)
            result = train(
                network,
                X_all[train_t],
                y_all[train_t],
                X_all[val_t] if len(val_index) else None,
                y_all[val_t] if len(val_index) else None,
                loss_fn=loss_fn,
                learning_rate=self.learning_rate,
                eigenvalue_penalty=self.eigenvalue_penalty,
                eigenvector_penalty=self.eigenvector_penalty,
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                early_stopping=self.early_stopping,
                n_iter_no_change=self.n_iter_no_change,
                min_epochs=self.min_epochs,
                generator=generator,
                verbose=self.verbose,
                description=type(self).__name__,
            )
        if self.early_stopping and len(val_index) and result.best_epoch <= 1 < result.stopped_epoch < self.max_epochs:
            warnings.warn(
                f"{type(self).__name__}: the validation loss never improved after epoch 1 "
                f"(stopped at epoch {result.stopped_epoch}); the weights and relevance restored are those "
                "of an almost untrained network. Train longer without early stopping, or check the data.",
                UserWarning,
                stacklevel=3,
            )
        self.network_ = network
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.n_epochs_ = result.stopped_epoch
        self.n_train_samples_, self.n_validation_samples_ = len(train_index), len(val_index)
        spectral = network.spectral
        self.eigenvalues_ = spectral.eigenvalues.detach().cpu().numpy().astype(np.float64)
        self.signed_relevance_ = spectral.signed_relevance().cpu().numpy().astype(np.float64)
        self.relevance_ = np.abs(self.signed_relevance_)
        total = self.relevance_.sum()
        self.feature_importances_ = self.relevance_ / total if total > 0 else np.full(X.shape[1], 1.0 / X.shape[1])
        # stable sort: ties keep feature order, so the ranking is reproducible
        self.ranking_ = np.argsort(-self.relevance_, kind="stable")
        logger.info(
            "%s: %d epochs, best %d, %d/%d train/validation samples",
            type(self).__name__, self.n_epochs_, self.best_epoch_, len(train_index), len(val_index),
        )
        return self

    def _forward(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        device = next(self.network_.parameters()).device
        self._device = device
        outputs = []
        with torch_threads(self.n_threads if device.type == "cpu" else None), torch.no_grad():
            self.network_.eval()
            tensor = self._to_tensor(X)
            for start in range(0, len(tensor), 8192):
                outputs.append(self.network_(tensor[start : start + 8192]).cpu())
        if not outputs:
            return np.empty((0, self._n_outputs))
        return torch.cat(outputs).numpy().astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
