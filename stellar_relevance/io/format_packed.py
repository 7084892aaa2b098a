"""The project's packed file, and a plain FITS image with a 1-D spectral axis, as registered formats.

Both are *sets*: read whole, on their own (never among survey files).

- ``"stelrel-packed"``: what :func:`~stellar_relevance.io.write_packed` and
  :func:`~stellar_relevance.io.pack_spectra` write (``FORMAT =
  'stelrel-spectra'``, or a ``WAVELENGTH`` HDU). Also registered with
  specutils (``Spectrum.read(path)`` gives a 2-D `~specutils.Spectrum`).
- ``"FITS-image"``: any other FITS image of 1 or 2 axes whose header gives
  a spectral axis (``CRVAL1`` and ``CDELT1`` or ``CD1_1``): one spectrum
  per row. It is tried after every survey format, so a LAMOST image (which
  also has such cards) is never taken for one.

This is the one test of "is this a packed file" in the package: the
registry, ``read_spectra``, ``pack_spectra`` and the specutils loader all
use it.
"""

from pathlib import Path

from stellar_relevance.io.packed import FORMAT_NAME, read_packed
from stellar_relevance.io.records import Format

__all__ = ["is_packed", "is_spectral_image", "FORMATS"]


def is_packed(path, hdul):
    """``"stelrel-packed"`` for a packed stelrel file (an open `~astropy.io.fits.HDUList`), else None.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> is_packed("s.fits", fits.HDUList([fits.PrimaryHDU(np.ones((2, 3)), fits.Header({"FORMAT": FORMAT_NAME}))]))
    'stelrel-packed'
    """
    if hdul[0].header.get("FORMAT") == FORMAT_NAME or "WAVELENGTH" in hdul:
        return "stelrel-packed"
    return None


def is_spectral_image(path, hdul):
    """``"FITS-image"`` for a 1-D or 2-D primary image with a linear spectral axis in its header, else None.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> header = fits.Header({"CRVAL1": 4000.0, "CDELT1": 1.0})
    >>> is_spectral_image("s.fits", fits.HDUList([fits.PrimaryHDU(np.ones((2, 3)), header)]))
    'FITS-image'
    """
    header = hdul[0].header
    if header.get("NAXIS", 0) in (1, 2) and header.get("CRVAL1") is not None and \
            header.get("CDELT1", header.get("CD1_1")) is not None:
        return "FITS-image"
    return None


def _read(path, **options):
    """The whole file, memory-mapped (a survey-sized store is mapped, not loaded)."""
    return read_packed(Path(path), memmap=True)


#: The registry's entries (:mod:`.registry`).
FORMATS = (
    Format("stelrel-packed", identify=is_packed, read=_read, kind="set", priority=10, specutils="Spectrum"),
    Format("FITS-image", identify=is_spectral_image, read=_read, kind="set", priority=90),
)
