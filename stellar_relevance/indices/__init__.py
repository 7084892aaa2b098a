"""Absorption-line indices and features: the catalogue, measurement, matching, merged lines, the paper's claims.

- :mod:`.catalog` — :func:`load_catalog`, :func:`catalog_names`
- :mod:`.measure` — :func:`measure_indices`
- :mod:`.matching` — :func:`match_indices` and the one per-pixel band membership
- :mod:`.features` — :func:`find_features`: top pixels merged into lines, tested against shadow pixels
- :mod:`.claims` — the paper's statements checked with numbers
"""

from stellar_relevance.indices.catalog import catalog_names, load_catalog
from stellar_relevance.indices.features import find_features
from stellar_relevance.indices.matching import match_indices
from stellar_relevance.indices.measure import measure_indices

__all__ = ["load_catalog", "catalog_names", "measure_indices", "match_indices", "find_features"]
