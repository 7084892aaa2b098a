"""Readers and writers, one module per format.

- :mod:`.miles` — the MILES library folder (``read_miles``, ``load_miles``)
- :mod:`.packed` — the project's multi-spectrum FITS (``read_packed``, ``write_packed``);
  :mod:`.stream` writes it in chunks
- :mod:`.registry` — the one registry of formats: which format a file or folder is, and its
  reader; ours are registered with specutils too (``Spectrum.read``). One ``format_*`` module per
  format: :mod:`.format_lamost` (low and medium resolution), :mod:`.format_sdss` (SDSS, APOGEE,
  DESI through specutils), :mod:`.format_gaia_xp` (Gaia XP through gaiaxpy), :mod:`.format_packed`
  (packed files, FITS images), :mod:`.format_miles` (the MILES folder)
- :mod:`.ingest` — many survey files to one grid (rest frame, :mod:`.resample`, :mod:`.join`)
- :mod:`.inputs` — files, folders, globs and ``@list.txt`` to a list of files
- :mod:`.labels` — label tables (CSV / ECSV / FITS)
- :mod:`.dispatch` — ``read_spectra`` and ``pack_spectra``
- :mod:`.continuum` — continuum normalisation (running percentile), recorded as a rule and applied again
"""

import stellar_relevance.io.registry as registry  # noqa: F401  (finds the formats; registers ours with specutils)
from stellar_relevance.io.atomic import atomic_write
from stellar_relevance.io.continuum import (CONTINUUM_METHODS, apply_continuum, continuum_settings,
                                            normalise_continuum)
from stellar_relevance.io.dispatch import pack_spectra, read_spectra
from stellar_relevance.io.inputs import expand_inputs
from stellar_relevance.io.labels import read_label_table, read_labels
from stellar_relevance.io.miles import load_miles, read_miles, read_miles_params
from stellar_relevance.io.packed import read_packed, write_packed
from stellar_relevance.io.resample import parse_grid, resample
from stellar_relevance.io.surveys import read_lamost, read_sdss

__all__ = ["read_miles", "load_miles", "read_miles_params", "read_packed", "write_packed",
           "read_sdss", "read_lamost", "read_labels", "read_label_table", "read_spectra", "pack_spectra",
           "expand_inputs", "parse_grid", "resample", "atomic_write",
           "CONTINUUM_METHODS", "normalise_continuum", "continuum_settings", "apply_continuum"]
