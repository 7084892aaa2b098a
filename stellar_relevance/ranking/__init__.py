"""From spectra and a label to a ranked, matched, checked result.

- :mod:`.pipeline` — :func:`rank_spectra`, the steps in order (each in a private module of this room:
  checks, data preparation, training, the error curve, stability, features, the result's tables)
- :mod:`.evaluation` — top-k curves (:func:`topk_curve`) and overlaps (:func:`topk_overlap`)
- :mod:`.conditioning` — the ``given`` labels checked
"""

from stellar_relevance.ranking.evaluation import topk_curve, topk_overlap
from stellar_relevance.ranking.pipeline import DEFAULT_KS, rank_spectra

__all__ = ["rank_spectra", "topk_curve", "topk_overlap", "DEFAULT_KS"]
