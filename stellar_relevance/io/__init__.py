"""Readers and writers, one module per format.

- :mod:`.miles` — the MILES library folder (``read_miles``, ``load_miles``)
- :mod:`.packed` — the project's multi-spectrum FITS (``read_packed``, ``write_packed``)
- :mod:`.sdss`, :mod:`.lamost` — survey spectra (SDSS ``spec-*.fits``, LAMOST low-resolution FITS)
- :mod:`.labels` — label tables (CSV / ECSV / FITS)
- :mod:`.dispatch` — ``read_spectra``: pick the reader from the path
"""

from .dispatch import read_spectra
from .labels import read_labels
from .lamost import read_lamost
from .miles import load_miles, read_miles, read_miles_params
from .packed import read_packed, write_packed
from .sdss import read_sdss

__all__ = ["read_miles", "load_miles", "read_miles_params", "read_packed", "write_packed",
           "read_sdss", "read_lamost", "read_labels", "read_spectra"]
