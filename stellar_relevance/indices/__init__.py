"""Absorption-line indices: the catalogue, index measurement, matching, the paper's claims.

- :mod:`.catalog` — :func:`load_catalog`, :func:`catalog_names`, :func:`measure_indices`
- :mod:`.matching` — :func:`match_indices` and the one per-pixel band membership
- :mod:`.claims` — the paper's statements checked with numbers
"""

from stellar_relevance.indices.catalog import catalog_names, load_catalog, measure_indices
from stellar_relevance.indices.matching import match_indices

__all__ = ["load_catalog", "catalog_names", "measure_indices", "match_indices"]
