"""The scikit-learn faces of the method.

- :class:`SpectralRelevanceRegressor`, :class:`SpectralRelevanceClassifier`
  (``fit``, ``predict``, ``relevance_``, ``sensitivity_``, ``ranking_``, ``select``)
- :func:`forward_sensitivity` — how each input responds to a prediction
  (the pattern beside the relevance, the filter)
- :mod:`.stacked` — many small networks (one per input subset) trained as one
  stacked training, each equal to its own ``fit``
"""

from stellar_relevance.estimators._sensitivity import forward_sensitivity
from stellar_relevance.estimators._spectral import SpectralRelevanceClassifier, SpectralRelevanceRegressor

__all__ = ["SpectralRelevanceRegressor", "SpectralRelevanceClassifier", "forward_sensitivity"]
