"""scikit-learn estimators that learn a global input relevance while training.

:class:`SpectralRelevanceClassifier` and :class:`SpectralRelevanceRegressor`
train a :class:`~stellar_relevance.network.SpectralNetwork` and expose the
relevance of every input feature as ``relevance_`` and
``feature_importances_`` (so :class:`sklearn.feature_selection.SelectFromModel`
works).

Scaling and the meaning of relevance
------------------------------------
``relevance_`` is read off the first layer, so it is measured in the units of
the inputs the network sees. ``input_scaling="center"`` (the default)
subtracts the training mean of every feature and leaves its scale alone: the
relevance of a feature is then its sensitivity per unit of the input as
given (for normalised spectra, per unit of normalised flux), and a feature
filled with its training mean contributes exactly nothing.
``"standard"`` also divides by the standard deviation, so relevance becomes
"per standard deviation": features with very small spread (such as the
pixels of a flux-normalisation window) are blown up and can dominate the
ranking. ``"none"`` feeds the inputs unchanged.
"""

import logging
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .network import ACTIVATIONS, SpectralNetwork
from .training import torch_threads, train

logger = logging.getLogger(__name__)

INPUT_SCALINGS = ("center", "standard", "none")
TARGET_SCALINGS = ("standard", "none")
LOSSES = ("mae", "mse", "huber")
DEVICES = ("auto", "cpu", "cuda")


def _resolve_device(device):
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but torch sees no CUDA device; use 'auto' or 'cpu'")
    return torch.device(device)


def _seed_from(random_state):
    """An int seed from ``random_state`` (None draws one from numpy's global state)."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if random_state is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    raise ValueError(f"random_state must be None, an int or a numpy RandomState, got {random_state!r}")


class _SpectralRelevanceBase(BaseEstimator):
    """Shared parameters, validation, scaling, training and relevance read-out."""

    _is_classifier = False

    def __init__(
        self,
        hidden_layer_sizes=(100, 100, 50),
        activation="relu",
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
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not isinstance(self.learning_rate, numbers.Real) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        for name in ("max_epochs", "batch_size", "n_iter_no_change"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.min_epochs, numbers.Integral) or self.min_epochs < 0:
            raise ValueError(f"min_epochs must be an integer >= 0, got {self.min_epochs!r}")
        if not isinstance(self.validation_fraction, numbers.Real) or not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; expected one of {sorted(ACTIVATIONS)}")
        if self.input_scaling not in INPUT_SCALINGS:
            raise ValueError(f"input_scaling must be one of {INPUT_SCALINGS}, got {self.input_scaling!r}")
        if self.n_threads is not None and (not isinstance(self.n_threads, numbers.Integral) or self.n_threads < 1):
            raise ValueError(f"n_threads must be None or an integer >= 1, got {self.n_threads!r}")
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        try:
            sizes = tuple(int(s) for s in sizes)
        except TypeError:
            raise ValueError(f"hidden_layer_sizes must be a sequence of positive ints, got {sizes!r}") from None
        if not sizes or min(sizes) < 1:
            raise ValueError(f"hidden_layer_sizes must be a non-empty sequence of positive ints, got {sizes!r}")
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
        """Indices of the training and validation parts (seeded, shuffled)."""
        rng = np.random.default_rng(seed)
        order = rng.permutation(n_samples)
        n_val = int(round(self.validation_fraction * n_samples))
        if self.validation_fraction > 0 and n_val < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {n_samples} samples leaves no "
                "validation sample; give more samples or set validation_fraction=0"
            )
        if n_samples - n_val < 2:
            raise ValueError(
                f"{n_samples} samples with validation_fraction={self.validation_fraction} leave "
                f"{n_samples - n_val} for training; at least 2 are needed"
            )
        return order[n_val:], order[:n_val]

    # ------------------------------------------------------------------- fit
    def _fit(self, X, y_tensor, n_outputs, loss_fn, seed):
        sizes = self._check_params()
        self._device = _resolve_device(self.device)
        self._fit_input_scaling(X)
        train_index, val_index = self._split(len(X), seed)
        with torch_threads(self.n_threads if self._device.type == "cpu" else None), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
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


class SpectralRelevanceClassifier(ClassifierMixin, _SpectralRelevanceBase):
    """Feed-forward classifier whose first layer ranks the input features.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default=(100, 100, 50)
        Widths of the hidden layers; the first is the output of the spectral
        layer (the paper's 100-100-50).
    activation : {"relu", "tanh", "elu", "gelu", "sigmoid", "identity"}, default="relu"
    eigenvalue_penalty : float, default=1e-2
        ``c_lambda`` in ``c_lambda * sum(lambda**2)``.
    eigenvector_penalty : float, default=1e-4
        ``c_psi`` in ``c_psi * sum(psi**2)``.
    learning_rate : float, default=1e-3
        Adam's step size.
    max_epochs : int, default=200
    batch_size : int, default=500
    validation_fraction : float, default=0.1
        Share of the training data held out (seeded) for early stopping.
    early_stopping : bool, default=False
        Keep the weights of the best validation epoch (at or after
        ``min_epochs``) and stop after ``n_iter_no_change`` epochs without
        improvement. Off by default: the relevance is read at the end of
        training, as in the paper, and it becomes sparse long after the
        validation loss stops improving (restoring an early checkpoint hands
        back a dense, uninformative relevance; docs/synthetic.md).
    n_iter_no_change : int, default=50
    min_epochs : int, default=0
        Epochs before any checkpoint or stop: gives the penalty time to make
        the relevance sparse.
    input_scaling : {"center", "standard", "none"}, default="center"
        See the module docstring for what each does to the meaning of
        relevance.
    device : {"auto", "cpu", "cuda"}, default="auto"
    n_threads : int or None, default=1
        torch threads while fitting and predicting on the CPU (None: leave
        torch's setting alone). One thread is the measured fastest on small
        shared machines; see docs/method.md.
    random_state : int, RandomState or None, default=None
        Seeds the initialisation, the validation split and the batch order.
    verbose : int, default=0
        1 or more shows a tqdm bar over epochs with the losses.

    Attributes
    ----------
    relevance_ : ndarray of shape (n_features,)
        ``|lambda_i| * ||psi[:, i]||_2`` at the end of training.
    signed_relevance_ : ndarray of shape (n_features,)
    feature_importances_ : ndarray of shape (n_features,)
        ``relevance_`` normalised to sum to one.
    ranking_ : ndarray of shape (n_features,)
        Feature indices, most relevant first.
    eigenvalues_ : ndarray of shape (n_features,)
    network_ : SpectralNetwork
    history_ : list of dict
        Per-epoch records (see :class:`stellar_relevance.training.TrainingResult`).
    best_epoch_, n_epochs_ : int
    classes_ : ndarray
    n_features_in_ : int
    feature_names_in_ : ndarray
        Only when fitted on a DataFrame with string column names.
    feature_means_ : ndarray of shape (n_features,)
        Training mean of each feature: the neutral value of a masked feature.
    input_offset_, input_scale_ : ndarray of shape (n_features,)

    Examples
    --------
    >>> from stellar_relevance import SpectralRelevanceClassifier
    >>> from stellar_relevance.datasets import make_independent_gaussian
    >>> X, y, truth = make_independent_gaussian(n_samples=2000, random_state=0)
    >>> clf = SpectralRelevanceClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> clf.ranking_[:3]  # doctest: +SKIP
    """

    _is_classifier = True

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and class labels ``y``; returns self."""
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has a single class ({self.classes_[0]!r}); a classifier needs at least two"
            )
        self._n_outputs = len(self.classes_)
        target = torch.as_tensor(encoder.transform(y), dtype=torch.long)
        seed = _seed_from(self.random_state)
        return self._fit(X, target, len(self.classes_), torch.nn.CrossEntropyLoss(), seed)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""
        logits = self._forward(X)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Most probable class for each sample."""
        logits = self._forward(X)
        return self.classes_[np.argmax(logits, axis=1)]


class SpectralRelevanceRegressor(RegressorMixin, _SpectralRelevanceBase):
    """Feed-forward regressor whose first layer ranks the input features.

    Takes every parameter of :class:`SpectralRelevanceClassifier`, and:

    Parameters
    ----------
    loss : {"mae", "mse", "huber"}, default="mae"
        The data loss (the paper uses MAE for stellar spectra).
    target_scaling : {"standard", "none"}, default="standard"
        ``"standard"`` trains on ``(y - mean) / std`` and maps predictions
        back, so penalties and learning rate mean the same for any label
        unit. The relevance is unaffected in its ranking.

    Attributes
    ----------
    target_offset_, target_scale_ : ndarray of shape (n_outputs,)
        Plus every attribute listed for the classifier except ``classes_``.
    """

    def __init__(
        self,
        hidden_layer_sizes=(100, 100, 50),
        activation="relu",
        eigenvalue_penalty=1e-2,
        eigenvector_penalty=1e-4,
        learning_rate=1e-3,
        max_epochs=200,
        batch_size=500,
        validation_fraction=0.1,
        early_stopping=False,
        n_iter_no_change=50,
        min_epochs=0,
        loss="mae",
        input_scaling="center",
        target_scaling="standard",
        device="auto",
        n_threads=1,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            eigenvalue_penalty=eigenvalue_penalty,
            eigenvector_penalty=eigenvector_penalty,
            learning_rate=learning_rate,
            max_epochs=max_epochs,
            batch_size=batch_size,
            validation_fraction=validation_fraction,
            early_stopping=early_stopping,
            n_iter_no_change=n_iter_no_change,
            min_epochs=min_epochs,
            input_scaling=input_scaling,
            device=device,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
        )
        self.loss = loss
        self.target_scaling = target_scaling

    def _loss_fn(self):
        if self.loss == "mae":
            return torch.nn.L1Loss()
        if self.loss == "mse":
            return torch.nn.MSELoss()
        if self.loss == "huber":
            return torch.nn.HuberLoss()
        raise ValueError(f"unknown loss {self.loss!r}; expected one of {LOSSES}")

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and targets ``y``; returns self."""
        loss_fn = self._loss_fn()
        if self.target_scaling not in TARGET_SCALINGS:
            raise ValueError(f"target_scaling must be one of {TARGET_SCALINGS}, got {self.target_scaling!r}")
        X, y = validate_data(
            self, X, y, dtype=np.float64, y_numeric=True, multi_output=True, ensure_min_samples=2
        )
        self._y_ndim = y.ndim
        y2 = y.reshape(len(y), -1)
        if self.target_scaling == "standard":
            self.target_offset_ = y2.mean(axis=0)
            std = y2.std(axis=0)
            self.target_scale_ = np.where(std > 0, std, 1.0)
        else:
            self.target_offset_ = np.zeros(y2.shape[1])
            self.target_scale_ = np.ones(y2.shape[1])
        self._n_outputs = y2.shape[1]
        target = torch.as_tensor((y2 - self.target_offset_) / self.target_scale_, dtype=torch.float32)
        seed = _seed_from(self.random_state)
        return self._fit(X, target, y2.shape[1], loss_fn, seed)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X):
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs)."""
        out = self._forward(X) * self.target_scale_ + self.target_offset_
        return out.ravel() if self._y_ndim == 1 else out
