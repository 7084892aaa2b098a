"""Absorption-index catalogues shipped with stellar_relevance (ECSV files)."""
