"""scikit-learn estimators that learn a global input relevance while training.

:class:`SpectralRelevanceClassifier` and :class:`SpectralRelevanceRegressor`
train a :class:`~stellar_relevance.nn.network.SpectralNetwork` and expose the
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

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from stellar_relevance.estimators._base import (DEVICES, FLOAT32S, INPUT_SCALINGS, LOSSES, TARGET_SCALINGS, _seed_from,
                              _SpectralRelevanceBase)
from stellar_relevance.exceptions import ParameterError

__all__ = ["SpectralRelevanceClassifier", "SpectralRelevanceRegressor", "INPUT_SCALINGS", "TARGET_SCALINGS",
           "LOSSES", "DEVICES"]


class SpectralRelevanceClassifier(ClassifierMixin, _SpectralRelevanceBase):
    """Feed-forward classifier whose first layer ranks the input features.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default=(100, 100, 50)
        Widths of the hidden layers; the first is the output of the spectral
        layer (the paper's 100-100-50).
    activation : {"relu", "tanh", "elu", "gelu", "sigmoid", "identity"}, default="relu"
        Activation after every hidden layer.
    eigenvalue_penalty : float, default=1e-2
        ``c_lambda``: the strength of the eigenvalue penalty (see ``penalty``).
    eigenvector_penalty : float, default=1e-4
        ``c_psi`` in ``c_psi * sum(psi**2)``.
    penalty : {"l2", "l1", "group"}, default="l2"
        The eigenvalue penalty. ``"l2"``: the paper's ``c_lambda *
        sum(lambda**2)`` (Adam's weight decay); it shrinks irrelevant
        eigenvalues but never to exactly zero. ``"l1"``: ``c_lambda *
        sum(|lambda|)`` applied as soft-thresholding of the eigenvalues
        after every optimiser step (threshold ``learning_rate *
        c_lambda``); ``"group"``: ``c_lambda * sum_i ||W[:, i]||``,
        group soft-thresholding of the first layer's columns. Both set
        eigenvalues exactly to zero (``support_``). Their ``c_lambda`` is on
        another scale than the l2 one: the total shrinkage is ``learning_rate
        * c_lambda`` times the number of steps (docs/method.md, "Penalties").
    learning_rate : float, default=1e-3
        Adam's step size.
    max_epochs : int, default=200
        Most passes over the training data.
    batch_size : int, default=500
        Samples per mini-batch (at most the number of training samples).
    validation_fraction : float, default=0.1
        Share of the training data held out (seeded) for early stopping.
        Stratified by class (``train_test_split(stratify=y)``) when every
        class has at least two samples and the validation part has room for
        each; otherwise random (``validation_stratified_`` records which).
    early_stopping : bool, default=False
        Keep the weights of the best validation epoch (at or after
        ``min_epochs``) and stop after ``n_iter_no_change`` epochs without
        improvement. Off by default: the relevance is read at the end of
        training, as in the paper, and it becomes sparse long after the
        validation loss stops improving (restoring an early checkpoint hands
        back a dense, uninformative relevance; docs/synthetic.md).
    n_iter_no_change : int, default=50
        Epochs without improvement of the validation loss before stopping
        (with ``early_stopping``).
    min_epochs : int, default=0
        Epochs before any checkpoint or stop: gives the penalty time to make
        the relevance sparse.
    input_scaling : {"center", "standard", "none"}, default="center"
        See the module docstring for what each does to the meaning of
        relevance.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the network trains ("auto": CUDA when torch sees a GPU). The
        network must fit in the memory free there; a larger one is refused
        with a :class:`~stellar_relevance.exceptions.ParameterError` naming
        ``hidden_layer_sizes`` before anything is allocated.
    n_threads : int or None, default=None
        torch threads while fitting and predicting on the CPU. None leaves
        torch's own setting (one thread per core): on an idle 2-core machine
        a MILES-sized fit (4300 inputs) is 1.3x faster with 2 threads than
        with 1, and small networks are no slower (docs/scale.md). On a
        machine shared with other jobs, 1 can be faster.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the validation split and the batch order
        (through :func:`sklearn.utils.check_random_state`). Pass an int for
        reproducible results. The caller's torch random streams (CPU and
        CUDA) are left as they were.
    verbose : int, default=0
        1 or more shows a tqdm bar over epochs with the losses.

    Attributes
    ----------
    relevance_ : ndarray of shape (n_features,)
        ``|lambda_i| * ||psi[:, i]||_2`` at the end of training.
    signed_relevance_ : ndarray of shape (n_features,)
        The same with the sign of the eigenvalue.
    feature_importances_ : ndarray of shape (n_features,)
        ``relevance_`` normalised to sum to one.
    ranking_ : ndarray of shape (n_features,)
        Feature indices, most relevant first (ties keep feature order).
    eigenvalues_ : ndarray of shape (n_features,)
        The first layer's eigenvalues ``lambda``.
    support_ : ndarray of bool, shape (n_features,)
        Inputs whose eigenvalue is not zero: the others contribute nothing
        to any prediction (with ``penalty="l1"`` or ``"group"``, or after
        :meth:`select`).
    n_selected_ : int
        ``support_.sum()``.
    n_given_ : int
        Number of given label columns fitted with (0 without).
    given_offset_, given_scale_ : ndarray of shape (n_given_,)
        What is subtracted from, and then divided into, each given column.
    network_ : SpectralNetwork
        The trained network.
    history_ : list of dict
        Per-epoch records (see :class:`stellar_relevance.nn.training.TrainingResult`).
    best_epoch_, n_epochs_ : int
        The epoch whose weights are kept, and the last epoch run.
    n_train_samples_, n_validation_samples_ : int
        Sizes of the two parts of the training data.
    sensitivity_ : ndarray of shape (n_features,) or (n_classes, n_features)
        How each input responds to the class (the pattern; ``relevance_`` is
        the filter, what the network uses), as for the regressor with the
        predicted probability in place of the label: of ``classes_[1]`` for
        two classes (shape (n_features,)), of each class for more (one row
        per class). Residualised on ``[1, given]`` over the rows trained on;
        ``a_i = cov(x~_i, p~) / var(p~)``, ``sensitivity_i = a_i / std(x~_i
        - a_i p~)``; 0 for an input without residual scatter
        (:func:`~stellar_relevance.estimators.forward_sensitivity`).
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    validation_stratified_ : bool
        Whether the validation split was stratified by class.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when fitted on a DataFrame with string column names.
    feature_means_ : ndarray of shape (n_features,)
        Training mean of each feature: the neutral value of a masked feature.
    input_offset_, input_scale_ : ndarray of shape (n_features,)
        What is subtracted from, and then divided into, each feature.

    See Also
    --------
    SpectralRelevanceRegressor : The same network for continuous targets.

    Examples
    --------
    >>> from stellar_relevance import SpectralRelevanceClassifier
    >>> from stellar_relevance.datasets import make_independent_gaussian
    >>> X, y, truth = make_independent_gaussian(n_samples=1000, n_features=10, n_relevant=3, random_state=0)
    >>> truth.relevant.nonzero()[0]
    array([2, 4, 8])
    >>> clf = SpectralRelevanceClassifier((20, 10), max_epochs=30, random_state=0).fit(X, y)
    >>> sorted(clf.ranking_[:3].tolist())
    [2, 4, 8]
    >>> clf.score(X, y) > 0.9
    True
    """

    _is_classifier = True

    def fit(self, X, y, *, given=None, sample_index=None):
        """Train on ``X`` (n_samples, n_features) and class labels ``y``; returns self.

        ``given`` (n_samples, n_given): known labels fed after the spectral
        layer; ``sample_index``: train on these rows only (``X`` may be a
        memory map; it is read batch by batch, never copied whole).
        """
        X, y = validate_data(self, X, y, dtype=FLOAT32S, ensure_min_samples=2)
        rows = self._check_sample_index(sample_index, len(X))
        given = self._check_given(given, len(X))
        y = y[rows]
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has a single class ({self.classes_[0]!r}); a classifier needs at least two"
            )
        self._n_outputs = len(self.classes_)
        target = self._target_tensor(y)[0]
        seed = _seed_from(self.random_state)
        return self._fit(X, target, len(self.classes_), torch.nn.CrossEntropyLoss(), seed, rows, strata=y,
                         given=given)

    def _target_tensor(self, y):
        """(class indices as a tensor, the loss, the strata of the split) for labels ``y``."""
        index = np.searchsorted(self.classes_, y)
        if np.any(index >= len(self.classes_)) or np.any(self.classes_[np.minimum(index, len(self.classes_) - 1)] != y):
            raise ParameterError("y", f"holds classes not seen in fit; expected among {self.classes_.tolist()}")
        return torch.as_tensor(index, dtype=torch.long), torch.nn.CrossEntropyLoss(), y

    @staticmethod
    def _softmax(logits):
        logits = logits - logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def _sensitivity_target(self, outputs):
        """What ``sensitivity_`` is the response to: P(classes_[1]) for two classes, else every P(class)."""
        proba = self._softmax(outputs)
        return proba[:, 1] if len(self.classes_) == 2 else proba

    def predict_proba(self, X, *, given=None):
        """Class probabilities, shape (n_samples, n_classes)."""
        return self._softmax(self._forward(X, given))

    def predict(self, X, *, given=None):
        """Most probable class for each sample (``given``: as in ``fit``)."""
        logits = self._forward(X, given)
        return self.classes_[np.argmax(logits, axis=1)]


class SpectralRelevanceRegressor(RegressorMixin, _SpectralRelevanceBase):
    """Feed-forward regressor whose first layer ranks the input features.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default=(100, 100, 50)
        Widths of the hidden layers; the first is the output of the spectral
        layer (the paper's 100-100-50).
    activation : {"relu", "tanh", "elu", "gelu", "sigmoid", "identity"}, default="relu"
        Activation after every hidden layer.
    eigenvalue_penalty : float, default=1e-2
        ``c_lambda``: the strength of the eigenvalue penalty (see ``penalty``).
    eigenvector_penalty : float, default=1e-4
        ``c_psi`` in ``c_psi * sum(psi**2)``.
    penalty : {"l2", "l1", "group"}, default="l2"
        The eigenvalue penalty. ``"l2"``: the paper's ``c_lambda *
        sum(lambda**2)`` (Adam's weight decay); it shrinks irrelevant
        eigenvalues but never to exactly zero. ``"l1"``: ``c_lambda *
        sum(|lambda|)`` applied as soft-thresholding of the eigenvalues
        after every optimiser step (threshold ``learning_rate *
        c_lambda``); ``"group"``: ``c_lambda * sum_i ||W[:, i]||``,
        group soft-thresholding of the first layer's columns. Both set
        eigenvalues exactly to zero (``support_``). Their ``c_lambda`` is on
        another scale than the l2 one: the total shrinkage is ``learning_rate
        * c_lambda`` times the number of steps (docs/method.md, "Penalties").
    learning_rate : float, default=1e-3
        Adam's step size.
    max_epochs : int, default=200
        Most passes over the training data.
    batch_size : int, default=500
        Samples per mini-batch (at most the number of training samples).
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
        Epochs without improvement of the validation loss before stopping
        (with ``early_stopping``).
    min_epochs : int, default=0
        Epochs before any checkpoint or stop: gives the penalty time to make
        the relevance sparse.
    loss : {"mae", "mse", "huber"}, default="mae"
        The data loss (the paper uses MAE for stellar spectra).
    input_scaling : {"center", "standard", "none"}, default="center"
        See the module docstring for what each does to the meaning of
        relevance.
    target_scaling : {"standard", "none"}, default="standard"
        ``"standard"`` trains on ``(y - mean) / std`` and maps predictions
        back, so penalties and learning rate mean the same for any label
        unit. The relevance is unaffected in its ranking.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the network trains ("auto": CUDA when torch sees a GPU). The
        network must fit in the memory free there; a larger one is refused
        with a :class:`~stellar_relevance.exceptions.ParameterError` naming
        ``hidden_layer_sizes`` before anything is allocated.
    n_threads : int or None, default=None
        torch threads while fitting and predicting on the CPU. None leaves
        torch's own setting (one thread per core): on an idle 2-core machine
        a MILES-sized fit (4300 inputs) is 1.3x faster with 2 threads than
        with 1, and small networks are no slower (docs/scale.md). On a
        machine shared with other jobs, 1 can be faster.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the validation split and the batch order
        (through :func:`sklearn.utils.check_random_state`). Pass an int for
        reproducible results. The caller's torch random streams (CPU and
        CUDA) are left as they were.
    verbose : int, default=0
        1 or more shows a tqdm bar over epochs with the losses.

    Attributes
    ----------
    relevance_ : ndarray of shape (n_features,)
        ``|lambda_i| * ||psi[:, i]||_2`` at the end of training.
    signed_relevance_ : ndarray of shape (n_features,)
        The same with the sign of the eigenvalue.
    feature_importances_ : ndarray of shape (n_features,)
        ``relevance_`` normalised to sum to one.
    ranking_ : ndarray of shape (n_features,)
        Feature indices, most relevant first (ties keep feature order).
    eigenvalues_ : ndarray of shape (n_features,)
        The first layer's eigenvalues ``lambda``.
    support_ : ndarray of bool, shape (n_features,)
        Inputs whose eigenvalue is not zero: the others contribute nothing
        to any prediction (with ``penalty="l1"`` or ``"group"``, or after
        :meth:`select`).
    n_selected_ : int
        ``support_.sum()``.
    n_given_ : int
        Number of given label columns fitted with (0 without).
    given_offset_, given_scale_ : ndarray of shape (n_given_,)
        What is subtracted from, and then divided into, each given column.
    network_ : SpectralNetwork
        The trained network.
    history_ : list of dict
        Per-epoch records (see :class:`stellar_relevance.nn.training.TrainingResult`).
    best_epoch_, n_epochs_ : int
        The epoch whose weights are kept, and the last epoch run.
    n_train_samples_, n_validation_samples_ : int
        Sizes of the two parts of the training data.
    sensitivity_ : ndarray of shape (n_features,) or (n_outputs, n_features)
        How each input responds to the label (the pattern; ``relevance_`` is
        the filter, what the network uses): from the fitted network's
        predictions ``yhat`` on the rows trained on (``sample_index``),
        each input ``x_i`` and ``yhat`` are residualised on ``[1, given]``
        by least squares (centred without ``given``); ``a_i = cov(x~_i,
        yhat~) / var(yhat~)`` (input units per label unit, the forward
        pattern of Haufe et al. 2014) and ``sensitivity_i = a_i /
        std(x~_i - a_i yhat~)``. Signed, per label unit; rank by its absolute
        value. 0 for an input without residual scatter.
        :func:`~stellar_relevance.estimators.forward_sensitivity` computes it
        from any prediction.
    target_offset_, target_scale_ : ndarray of shape (n_outputs,)
        What is subtracted from, and then divided into, each target.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when fitted on a DataFrame with string column names.
    feature_means_ : ndarray of shape (n_features,)
        Training mean of each feature: the neutral value of a masked feature.
    input_offset_, input_scale_ : ndarray of shape (n_features,)
        What is subtracted from, and then divided into, each feature.

    See Also
    --------
    SpectralRelevanceClassifier : The same network for class labels.

    Examples
    --------
    >>> import numpy as np
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 8))
    >>> y = 2 * X[:, 1] - X[:, 5]
    >>> reg = SpectralRelevanceRegressor((20, 10), max_epochs=30, batch_size=50, random_state=0).fit(X, y)
    >>> reg.ranking_[:2].tolist()
    [1, 5]
    >>> reg.score(X, y) > 0.95
    True
    """

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
        loss="mae",
        input_scaling="center",
        target_scaling="standard",
        device="auto",
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            eigenvalue_penalty=eigenvalue_penalty,
            eigenvector_penalty=eigenvector_penalty,
            penalty=penalty,
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
        raise ParameterError("loss", f"{self.loss!r}: unknown loss; expected one of {LOSSES}")

    def fit(self, X, y, *, given=None, sample_index=None):
        """Train on ``X`` (n_samples, n_features) and targets ``y``; returns self.

        ``given`` (n_samples, n_given): known labels fed after the spectral
        layer; ``sample_index``: train on these rows only (``X`` may be a
        memory map; it is read batch by batch, never copied whole).
        """
        loss_fn = self._loss_fn()
        if self.target_scaling not in TARGET_SCALINGS:
            raise ParameterError("target_scaling", f"must be one of {TARGET_SCALINGS}, got {self.target_scaling!r}")
        X, y = validate_data(
            self, X, y, dtype=FLOAT32S, y_numeric=True, multi_output=True, ensure_min_samples=2
        )
        rows = self._check_sample_index(sample_index, len(X))
        given = self._check_given(given, len(X))
        self._y_ndim = y.ndim
        y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[rows]
        if self.target_scaling == "standard":
            self.target_offset_ = y2.mean(axis=0)
            std = y2.std(axis=0)
            self.target_scale_ = np.where(std > 0, std, 1.0)
        else:
            self.target_offset_ = np.zeros(y2.shape[1])
            self.target_scale_ = np.ones(y2.shape[1])
        self._n_outputs = y2.shape[1]
        target = self._target_tensor(y2)[0]
        seed = _seed_from(self.random_state)
        return self._fit(X, target, y2.shape[1], loss_fn, seed, rows, given=given)

    def _target_tensor(self, y):
        """(scaled targets as a float32 tensor, the loss, no strata) for targets ``y``."""
        y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        return torch.as_tensor((y2 - self.target_offset_) / self.target_scale_, dtype=torch.float32), \
            self._loss_fn(), None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _sensitivity_target(self, outputs):
        """The prediction in label units, (n,) or (n, n_outputs) as ``y`` was given."""
        out = outputs * self.target_scale_ + self.target_offset_
        return out.ravel() if self._y_ndim == 1 else out

    def predict(self, X, *, given=None):
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs) (``given``: as in ``fit``)."""
        return self._sensitivity_target(self._forward(X, given))
