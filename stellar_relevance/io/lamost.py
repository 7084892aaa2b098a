"""LAMOST low-resolution spectra: the 5 x N image layout and the one-row table layout."""

import logging

import numpy as np
from astropy import units as u
from astropy.io import fits

from ..exceptions import DataError
from ._common import open_fits, header_unit, require_fits
from .inputs import expand_inputs
from ._survey import OneSpectrum, as_label_table, check_one, combine

__all__ = ["read_lamost"]

log = logging.getLogger(__name__)

#: Rows of the image layout (LAMOST DR1-DR7 low-resolution files).
IMAGE_ROWS = ("FLUX", "IVAR", "WAVELENGTH", "ANDMASK", "ORMASK")


def _from_image(hdu, where):
    data = np.asarray(hdu.data, dtype=float)
    if data.ndim != 2 or data.shape[0] < 3:
        raise DataError(f"{where}: expected a 5 x N image (flux, ivar, wavelength, andmask, ormask); "
                        f"got shape {data.shape}")
    rows = {name: data[i] for i, name in enumerate(IMAGE_ROWS[: data.shape[0]])}
    return rows


def _from_table(hdu, where):
    names = {n.upper(): n for n in hdu.columns.names}
    if "WAVELENGTH" not in names:
        raise DataError(f"{where}: no spectral axis: no WAVELENGTH column (columns: {', '.join(hdu.columns.names)})")
    if "FLUX" not in names:
        raise DataError(f"{where}: no FLUX column (columns: {', '.join(hdu.columns.names)})")
    if len(hdu.data) != 1:
        raise DataError(f"{where}: expected one row with vector columns; got {len(hdu.data)} rows")
    return {key: np.asarray(hdu.data[name][0], dtype=float).ravel() for key, name in names.items()
            if key in IMAGE_ROWS}


def read_one_lamost(path):
    """One LAMOST low-resolution spectrum (either layout)."""
    path = require_fits(path)
    with open_fits(path, "LAMOST spectrum") as hdul:
        primary = hdul[0]
        header = primary.header
        if primary.data is not None and primary.data.ndim == 2:
            rows = _from_image(primary, f"{path}[PRIMARY]")
            where = f"{path}[PRIMARY]"
        else:
            table = next((h for h in hdul[1:] if isinstance(h, fits.BinTableHDU)), None)
            if table is None:
                raise DataError(f"{path}: neither a 5 x N primary image nor a binary table with vector columns; "
                                "not a LAMOST low-resolution file")
            where = f"{path}[{table.name or 1}]"
            rows = _from_table(table, where)
        if "WAVELENGTH" not in rows:
            raise DataError(f"{where}: no spectral axis (no wavelength row/column)")
        unit = header_unit(header, "WAVEUNIT", default=u.AA, where=str(path))
        vacuum = header.get("VACUUM", True)
        obsid = header.get("OBSID")
        info = {k: header[k] for k in ("OBSID", "DESIG", "RA", "DEC", "Z", "CLASS", "SUBCLASS") if k in header}
    flux = rows["FLUX"]
    ivar = rows.get("IVAR", np.ones_like(flux))
    mask = (rows["ANDMASK"] != 0) if "ANDMASK" in rows else np.zeros(flux.shape, bool)
    mask = mask | (ivar <= 0)
    ident = str(obsid).strip() if obsid not in (None, "") else path.name.split(".fit")[0]
    spec = OneSpectrum(id=ident, wavelength=rows["WAVELENGTH"] * unit, flux=flux, ivar=ivar, mask=mask,
                       source=str(path), info=dict(info, vacuum=bool(vacuum)))
    check_one(spec, where)
    return spec


def read_lamost(files, labels=None, id_column="ID", grid=None):
    """Read LAMOST low-resolution FITS files into one `SpectralSet`.

    Parameters
    ----------
    files : path, folder or list of paths
        Either layout: the primary HDU a 5 x N image (rows flux, ivar,
        wavelength, andmask, ormask; DR1-DR7), or a binary table with one row
        of vector columns ``FLUX``, ``IVAR``, ``WAVELENGTH``, ``ANDMASK``,
        ``ORMASK`` (DR8 and later).
    labels : path or `~astropy.table.Table`, optional
        Label table joined on ``id_column``; a spectrum's ID is the header
        ``OBSID`` (as text), or the file name without ``.fits`` when absent.
    id_column : str
    grid : `~astropy.units.Quantity`, optional
        Common grid; default as in :func:`read_sdss`.

    Returns
    -------
    SpectralSet
        Vacuum wavelengths (LAMOST; a header ``VACUUM = F`` makes it air),
        relative flux (LAMOST fluxes are not absolutely calibrated; the unit
        is dimensionless), ``ivar``, ``mask`` (andmask != 0 or ivar <= 0).
    """
    spectra = [read_one_lamost(p) for p in expand_inputs(files)]
    frames = {"vacuum" if s.info.get("vacuum", True) else "air" for s in spectra}
    if len(frames) > 1:
        raise DataError("read_lamost: some files are in air (VACUUM = F) and some in vacuum; read them apart")
    table = as_label_table(labels, id_column)
    return combine(spectra, table, reader="read_lamost", wave_frame=frames.pop(),
                   flux_unit=u.dimensionless_unscaled, grid=grid,
                   meta={"survey": "LAMOST", "FWHM_note": "resolution R ~ 1800"})
