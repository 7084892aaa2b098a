"""Absorption-index catalogues shipped with stellar_relevance (ECSV files).

One ``<subset>.ecsv`` per named subset (``all``, ``lick``, ``metallicity``,
``balmer``, ``optical``, ``bandhead``), generated from the reference
definition files by :mod:`stellar_relevance.catalogs.build_catalog` and read
with :func:`stellar_relevance.load_catalog`. Provenance: ``README.md`` here.
"""
