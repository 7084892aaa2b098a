"""SDSS / BOSS ``spec-PLATE-MJD-FIBER.fits`` files (vacuum wavelengths)."""

import logging

import numpy as np
from astropy import units as u
from astropy.io import fits

from ..exceptions import DataError
from ._common import open_fits, require_fits
from .inputs import expand_inputs
from ._survey import OneSpectrum, as_label_table, check_one, combine

__all__ = ["read_sdss", "SDSS_FLUX_UNIT"]

log = logging.getLogger(__name__)

#: Flux unit of SDSS spectra.
SDSS_FLUX_UNIT = 1e-17 * u.erg / u.s / u.cm ** 2 / u.AA


def _columns(hdu):
    return {name.lower(): name for name in hdu.columns.names}


def read_one_sdss(path):
    """One SDSS spectrum from the ``COADD`` HDU (``loglam``, ``flux``, ``ivar``, ``and_mask``)."""
    path = require_fits(path)
    with open_fits(path, "SDSS spectrum") as hdul:
        hdu = None
        if "COADD" in hdul:
            hdu = hdul["COADD"]
        elif len(hdul) > 1 and isinstance(hdul[1], fits.BinTableHDU):
            hdu = hdul[1]
        if hdu is None or not isinstance(hdu, fits.BinTableHDU):
            raise DataError(f"{path}: no COADD binary table (HDU 1); not an SDSS spec-*.fits file")
        where = f"{path}[{hdu.name or 1}]"
        cols = _columns(hdu)
        for needed in ("loglam", "flux"):
            if needed not in cols:
                what = "no spectral axis: " if needed == "loglam" else ""
                raise DataError(f"{where}: {what}no '{needed}' column (columns: {', '.join(hdu.columns.names)})")
        data = hdu.data
        loglam = np.asarray(data[cols["loglam"]], dtype=float)
        flux = np.asarray(data[cols["flux"]], dtype=float)
        ivar = np.asarray(data[cols["ivar"]], dtype=float) if "ivar" in cols else np.ones_like(flux)
        mask = np.asarray(data[cols["and_mask"]]) != 0 if "and_mask" in cols else np.zeros(flux.shape, bool)
        header = hdul[0].header
        info = {k: header[k] for k in ("PLATEID", "MJD", "FIBERID", "RA", "DEC", "RUN2D") if k in header}
    mask = mask | (ivar <= 0)
    spec = OneSpectrum(id=path.name.split(".fits")[0], wavelength=10.0 ** loglam * u.AA, flux=flux,
                       ivar=ivar, mask=mask, source=str(path), info=info)
    check_one(spec, where)
    return spec


def read_sdss(files, labels=None, id_column="ID", grid=None):
    """Read SDSS ``spec-*.fits`` files into one `SpectralSet`.

    Parameters
    ----------
    files : path, folder or list of paths
        ``spec-PLATE-MJD-FIBER.fits`` files (a folder: every ``spec-*.fits`` in it).
    labels : path or `~astropy.table.Table`, optional
        Label table (CSV / ECSV / FITS, see :func:`read_labels`); its
        ``id_column`` holds the file name without ``.fits``
        (e.g. ``spec-0266-51602-0001``).
    id_column : str
        The label table's ID column.
    grid : `~astropy.units.Quantity`, optional
        Common wavelength grid (vacuum); default: the spectra's own grid when
        they all share it, else a log-linear grid (step 1e-4 dex for SDSS)
        inside their overlap.

    Returns
    -------
    SpectralSet
        Vacuum wavelengths; flux in 1e-17 erg / (s cm2 Angstrom); ``ivar``;
        ``mask`` from ``and_mask`` != 0 or ivar <= 0. Spectra on different
        grids are resampled with specutils' ``FluxConservingResampler`` and a
        `DataWarning` says so.
    """
    spectra = [read_one_sdss(p) for p in expand_inputs(files)]
    table = as_label_table(labels, id_column)
    return combine(spectra, table, reader="read_sdss", wave_frame="vacuum", flux_unit=SDSS_FLUX_UNIT,
                   grid=grid, meta={"survey": "SDSS", "FWHM_note": "resolution R ~ 1800-2200 (varies)"})
