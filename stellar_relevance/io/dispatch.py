"""``read_spectra``: pick the reader from what the path holds."""

import logging

from astropy.io import fits

from ..exceptions import DataError
from ._common import existing_path, open_fits, require_fits

__all__ = ["read_spectra", "sniff_fits"]

log = logging.getLogger(__name__)


def sniff_fits(path):
    """Which reader a FITS file needs: ``"packed"``, ``"sdss"``, ``"lamost"``; DataError when none fits."""
    path = require_fits(path)
    with open_fits(path) as hdul:
        names = [h.name for h in hdul]
        primary = hdul[0].header
        if primary.get("FORMAT") == "stelrel-spectra" or "WAVELENGTH" in names:
            return "packed"
        if "COADD" in names:
            return "sdss"
        for hdu in hdul[1:]:
            if isinstance(hdu, fits.BinTableHDU):
                cols = {c.lower() for c in hdu.columns.names}
                if "loglam" in cols:
                    return "sdss"
                if {"wavelength", "flux"} <= cols:
                    return "lamost"
        naxis = primary.get("NAXIS", 0)
        if naxis == 2 and primary.get("NAXIS2") == 5 and "OBSID" in primary:
            return "lamost"
        if naxis in (1, 2) and primary.get("CRVAL1") is not None and \
                primary.get("CDELT1", primary.get("CD1_1")) is not None:
            return "packed"
    raise DataError(f"{path}: FITS without a spectral axis: the primary HDU has no CRVAL1/CDELT1 wavelength "
                    "keywords and there is no WAVELENGTH HDU, SDSS COADD table or LAMOST layout "
                    f"(HDUs: {', '.join(names)})")


def read_spectra(path, **kwargs):
    """Read spectra from a path, whatever the format.

    - a folder: the MILES library (:func:`read_miles`);
    - the project's ``spectra.fits`` (or any FITS with a 1-D/2-D flux image
      and a linear spectral WCS): :func:`read_packed`;
    - an SDSS ``spec-*.fits``: :func:`read_sdss`; a LAMOST low-resolution
      file: :func:`read_lamost` (``labels=`` etc. passed on).

    Raises
    ------
    DataError
        A missing path, a file that is not FITS, a FITS file without a
        spectral axis.
    """
    path = existing_path(path, "file or folder")
    if path.is_dir():
        from .miles import read_miles

        return read_miles(path, **kwargs)
    kind = sniff_fits(path)
    log.info("%s: reading as %s", path, kind)
    if kind == "packed":
        from .packed import read_packed

        if kwargs:
            raise TypeError(f"read_packed takes no options; got {sorted(kwargs)}")
        return read_packed(path)
    if kind == "sdss":
        from .sdss import read_sdss

        return read_sdss([path], **kwargs)
    from .lamost import read_lamost

    return read_lamost([path], **kwargs)
