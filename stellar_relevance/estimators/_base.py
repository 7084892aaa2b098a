"""The machinery shared by the two estimators: parameter checks, scaling, the split, training, read-out.

The public classes and their documentation are in
:mod:`stellar_relevance.estimators._spectral`.
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

from stellar_relevance.nn.batches import ArrayBatches, chunk_length, column_moments
from stellar_relevance.estimators._sensitivity import forward_sensitivity
from stellar_relevance.exceptions import ParameterError
from stellar_relevance.nn.network import ACTIVATIONS, SpectralNetwork, count_parameters
from stellar_relevance.nn.proximal import PENALTIES
from stellar_relevance.nn.training import available_memory_bytes, torch_threads, train, training_memory_bytes

logger = logging.getLogger("stellar_relevance.estimators._spectral")

INPUT_SCALINGS = ("center", "standard", "none")
#: float32 in either byte order is used as it is (FITS is big-endian: a memory-mapped packed store is
#: read batch by batch, never converted whole); anything else becomes native float32
FLOAT32S = [np.float32, np.dtype(">f4")]
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

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        for name in ("eigenvalue_penalty", "eigenvector_penalty"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
                raise ParameterError(name, f"must be a finite number >= 0, got {value!r}")
        if not isinstance(self.penalty, str) or self.penalty not in PENALTIES:
            raise ParameterError("penalty", f"must be one of {PENALTIES}, got {self.penalty!r}")
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
    def _fit_input_scaling(self, X, rows):
        """Per-feature statistics over ``rows`` from one chunked pass (X may be a memory map)."""
        mean, std = column_moments(X, rows)
        self.feature_means_ = mean
        if self.input_scaling == "none":
            offset, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        else:
            offset = mean.copy()
            scale = np.ones(X.shape[1])
            if self.input_scaling == "standard":
                scale = np.where(std > 0, std, 1.0)
        self.input_offset_, self.input_scale_ = offset, scale

    @staticmethod
    def _check_sample_index(sample_index, n_samples):
        """The rows to train on, as an int64 array (all rows when None)."""
        if sample_index is None:
            return np.arange(n_samples)
        rows = np.asarray(sample_index)
        if rows.ndim != 1 or (rows.size and not np.issubdtype(rows.dtype, np.integer)):
            raise ParameterError("sample_index", f"must be a 1-D array of row numbers, got shape {rows.shape} "
                                 f"of {rows.dtype}")
        rows = rows.astype(np.int64)
        if rows.size < 2:
            raise ParameterError("sample_index", f"selects {rows.size} row(s); at least 2 are needed")
        if rows.min() < 0 or rows.max() >= n_samples:
            raise ParameterError("sample_index", f"row numbers must be in [0, {n_samples - 1}], got "
                                 f"{rows.min()}..{rows.max()}")
        if len(np.unique(rows)) != len(rows):
            raise ParameterError("sample_index", "has repeated row numbers")
        return rows

    @staticmethod
    def _check_given(given, n_samples):
        """``given`` as a float (n_samples, n_given) array, or None."""
        if given is None:
            return None
        try:
            values = np.asarray(given, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError("given", "must be numeric (n_samples, n_given) values") from None
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[1] < 1:
            raise ParameterError("given", f"must have shape (n_samples, n_given), got {values.shape}")
        if len(values) != n_samples:
            raise ParameterError("given", f"has {len(values)} rows for {n_samples} samples")
        if not np.all(np.isfinite(values)):
            bad = np.argwhere(~np.isfinite(values))[0]
            raise ParameterError("given", f"row {bad[0]}, column {bad[1]} is not finite ({values[tuple(bad)]})")
        return values

    def _fit_given(self, given, rows):
        if given is None:
            self.n_given_ = 0
            self.given_offset_ = self.given_scale_ = np.empty(0)
            return None
        self.n_given_ = given.shape[1]
        self.given_offset_ = given[rows].mean(axis=0)
        std = given[rows].std(axis=0)
        self.given_scale_ = np.where(std > 0, std, 1.0)
        return self._scale_given(given)

    def _scale_given(self, given):
        n_given = getattr(self, "n_given_", 0)
        if given is None:
            if n_given:
                raise ParameterError("given", f"the estimator was fitted with {n_given} given column(s); pass them")
            return None
        if n_given != given.shape[1]:
            raise ParameterError("given", f"has {given.shape[1]} column(s); the estimator was fitted with {n_given}")
        return (given - self.given_offset_) / self.given_scale_

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
    def _fit(self, X, y_tensor, n_outputs, loss_fn, seed, rows, strata=None, given=None):
        """Train on ``X[rows]`` (X may be a memory map: batches are gathered per step).

        ``y_tensor`` and ``strata`` are aligned with ``rows``; ``given`` with ``X``.
        """
        sizes = self._check_params()
        self._seed_ = seed
        self._device = _resolve_device(self.device)
        _check_memory(X.shape[1], n_outputs, sizes, self.batch_size, self._device)
        self._fit_input_scaling(X, rows)
        given = self._fit_given(given, rows)
        train_pos, val_pos = self._split(len(rows), seed, strata)
        # The weights are drawn on the CPU from torch's CPU generator, seeded inside fork_rng (so the
        # caller's CPU stream is restored afterwards) and seeded alone: torch.manual_seed would also reseed
        # every CUDA generator of the caller. The batch order comes from a local torch.Generator.
        with torch_threads(self.n_threads if self._device.type == "cpu" else None), torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            network = SpectralNetwork(X.shape[1], n_outputs, sizes, activation=self.activation,
                                      n_given=self.n_given_)
            network.to(self._device)
            generator = torch.Generator().manual_seed(seed)
            y_all = y_tensor.to(self._device)

            def part(positions):
                g = None if given is None else given[rows[positions]]
                batches = ArrayBatches(X, rows[positions], self.input_offset_, self.input_scale_, self._device, g)
                return batches, y_all[torch.as_tensor(positions, device=self._device)]

            X_train, y_train = part(train_pos)
            X_val, y_val = part(val_pos) if len(val_pos) else (None, None)
            result = train(
                network,
                X_train,
                y_train,
                X_val,
                y_val,
                loss_fn=loss_fn,
                learning_rate=self.learning_rate,
                eigenvalue_penalty=self.eigenvalue_penalty,
                eigenvector_penalty=self.eigenvector_penalty,
                penalty=self.penalty,
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                early_stopping=self.early_stopping,
                n_iter_no_change=self.n_iter_no_change,
                min_epochs=self.min_epochs,
                generator=generator,
                verbose=self.verbose,
                description=type(self).__name__,
            )
        train_index, val_index = rows[train_pos], rows[val_pos]
        if self.early_stopping and len(val_index) and result.best_epoch <= 1 < result.stopped_epoch < self.max_epochs:
            warnings.warn(
                f"{type(self).__name__}: the validation loss never improved after epoch 1 "
                f"(stopped at epoch {result.stopped_epoch}); the weights and relevance restored are those "
                "of an almost untrained network. Train longer without early stopping, or check the data.",
                UserWarning,
                stacklevel=3,
            )
        self.network_ = network
        self._read_relevance()
        self._read_sensitivity(X, rows, given, mean=self.feature_means_)
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.n_epochs_ = result.stopped_epoch
        self.n_train_samples_, self.n_validation_samples_ = len(train_index), len(val_index)
        logger.info(
            "%s: %d epochs, best %d, %d/%d train/validation samples",
            type(self).__name__, self.n_epochs_, self.best_epoch_, len(train_index), len(val_index),
        )
        return self

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
        given = self._scale_given(self._check_given(given, len(X)))
        return self._predict_rows(X, np.arange(len(X)), given)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
