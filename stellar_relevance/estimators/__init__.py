"""The scikit-learn faces of the method.

- :class:`SpectralRelevanceRegressor`, :class:`SpectralRelevanceClassifier`
  (``fit``, ``predict``, ``relevance_``, ``ranking_``, ``select``)
- :mod:`.stacked` — many small networks (one per input subset) trained as one
  stacked training, each equal to its own ``fit``
"""

from stellar_relevance.estimators._spectral import SpectralRelevanceClassifier, SpectralRelevanceRegressor

__all__ = ["SpectralRelevanceRegressor", "SpectralRelevanceClassifier"]
