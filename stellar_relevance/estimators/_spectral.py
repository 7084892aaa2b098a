"""scikit-learn estimators that learn a global input relevance while training.

:class:`SpectralRelevanceClassifier` and :class:`SpectralRelevanceRegressor`
train a :class:`~stellar_relevance.nn.network.SpectralNetwork` and expose the
relevance of every input feature as ``relevance_`` and
``feature_importances_`` (so :class:`sklearn.feature_selection.SelectFromModel`
works), and how every input responds to the label as ``sensitivity_``.

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

Relevance and sensitivity
-------------------------
``relevance_`` is a filter: what the network uses. ``sensitivity_`` is a
pattern: how each input responds to the label, measured from the fitted
network's predictions (:func:`~stellar_relevance.estimators.forward_sensitivity`).
For correlated inputs the two differ: a pixel that only carries noise shared
with a useful pixel can be used (relevant) without responding (sensitivity
near 0).
"""

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from stellar_relevance.estimators._base import _SpectralRelevanceBase
from stellar_relevance.estimators._checks import (DEVICES, FLOAT32S, INPUT_SCALINGS, LOSSES, TARGET_SCALINGS,
                                                  check_given, check_sample_index, seed_from)
from stellar_relevance.estimators._docs import (ATTRIBUTES_INPUTS, ATTRIBUTES_RELEVANCE, PARAMETER_INPUT_SCALING,
                                                PARAMETERS_NETWORK, PARAMETERS_RUN, PARAMETERS_STOPPING)
from stellar_relevance.estimators._prepare import standard_scaling
from stellar_relevance.exceptions import ParameterError
from stellar_relevance.nn.core import LOSSES as LOSS_FUNCTIONS
from stellar_relevance.nn.core import loss_function

__all__ = ["SpectralRelevanceClassifier", "SpectralRelevanceRegressor", "INPUT_SCALINGS", "TARGET_SCALINGS",
           "LOSSES", "DEVICES"]


class SpectralRelevanceClassifier(ClassifierMixin, _SpectralRelevanceBase):
    __doc__ = """Feed-forward classifier whose first layer ranks the input features.

    Parameters
    ----------
""" + PARAMETERS_NETWORK + """\
        Stratified by class (``train_test_split(stratify=y)``) when every
        class has at least two samples and the validation part has room for
        each; otherwise random (``validation_stratified_`` records which).
""" + PARAMETERS_STOPPING + PARAMETER_INPUT_SCALING + PARAMETERS_RUN + """
    Attributes
    ----------
""" + ATTRIBUTES_RELEVANCE + """\
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
""" + ATTRIBUTES_INPUTS + """
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
        rows = check_sample_index(sample_index, len(X))
        given = check_given(given, len(X))
        y = y[rows]
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has a single class ({self.classes_[0]!r}); a classifier needs at least two"
            )
        self._n_outputs = len(self.classes_)
        seed = seed_from(self.random_state)
        return self._fit(X, self._target_tensor(y), len(self.classes_), seed, rows, strata=self._strata(y),
                         given=given)

    def _loss_function(self):
        """Hook: the data loss, ``fn(output, target, reduction="mean")``: cross-entropy."""
        return LOSS_FUNCTIONS["cross_entropy"]

    def _target_tensor(self, y):
        """Hook: class labels ``y`` as a tensor of class indices."""
        index = np.searchsorted(self.classes_, y)
        if np.any(index >= len(self.classes_)) or np.any(self.classes_[np.minimum(index, len(self.classes_) - 1)] != y):
            raise ParameterError("y", f"holds classes not seen in fit; expected among {self.classes_.tolist()}")
        return torch.as_tensor(index, dtype=torch.long)

    @staticmethod
    def _strata(y):
        """Hook: what the validation split is stratified by: the class labels."""
        return y

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
    __doc__ = """Feed-forward regressor whose first layer ranks the input features.

    Parameters
    ----------
""" + PARAMETERS_NETWORK + PARAMETERS_STOPPING + """\
    loss : {"mae", "mse", "huber"}, default="mae"
        The data loss (the paper uses MAE for stellar spectra).
""" + PARAMETER_INPUT_SCALING + """\
    target_scaling : {"standard", "none"}, default="standard"
        ``"standard"`` trains on ``(y - mean) / std`` and maps predictions
        back, so penalties and learning rate mean the same for any label
        unit. The relevance is unaffected in its ranking.
""" + PARAMETERS_RUN + """
    Attributes
    ----------
""" + ATTRIBUTES_RELEVANCE + """\
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
""" + ATTRIBUTES_INPUTS + """
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

    def _loss_function(self):
        """Hook: the data loss ``loss`` from :data:`stellar_relevance.nn.core.LOSSES`."""
        return loss_function(self.loss)

    def _target_scaling(self, y2):
        """Hook: ``(offset, scale)`` of the targets ``y2`` (n, n_outputs) under ``target_scaling``."""
        if self.target_scaling not in TARGET_SCALINGS:
            raise ParameterError("target_scaling", f"must be one of {TARGET_SCALINGS}, got {self.target_scaling!r}")
        if self.target_scaling == "standard":
            return standard_scaling(y2)
        return np.zeros(y2.shape[1]), np.ones(y2.shape[1])

    def fit(self, X, y, *, given=None, sample_index=None):
        """Train on ``X`` (n_samples, n_features) and targets ``y``; returns self.

        ``given`` (n_samples, n_given): known labels fed after the spectral
        layer; ``sample_index``: train on these rows only (``X`` may be a
        memory map; it is read batch by batch, never copied whole).
        """
        self._loss_function()  # an unknown loss is refused before the data are read
        X, y = validate_data(
            self, X, y, dtype=FLOAT32S, y_numeric=True, multi_output=True, ensure_min_samples=2
        )
        rows = check_sample_index(sample_index, len(X))
        given = check_given(given, len(X))
        self._y_ndim = y.ndim
        y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[rows]
        self.target_offset_, self.target_scale_ = self._target_scaling(y2)
        self._n_outputs = y2.shape[1]
        seed = seed_from(self.random_state)
        return self._fit(X, self._target_tensor(y2), y2.shape[1], seed, rows, given=given)

    def _target_tensor(self, y):
        """Hook: targets ``y`` scaled (``target_offset_``, ``target_scale_``) as a float32 tensor."""
        y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        return torch.as_tensor((y2 - self.target_offset_) / self.target_scale_, dtype=torch.float32)

    @staticmethod
    def _strata(y):
        """Hook: what the validation split is stratified by: nothing (random)."""
        return None

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
