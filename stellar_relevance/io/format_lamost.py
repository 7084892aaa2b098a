"""LAMOST spectra: low resolution (image and table layouts) and medium resolution (two arms).

specutils has no LAMOST loader; the two formats here (``FORMATS``) are in
stelrel's registry (:mod:`.registry`), which also registers them with
specutils', so ``Spectrum.read(path)`` works for LAMOST files once
``stellar_relevance.io`` is imported. The survey pipeline
(:func:`read_spectra`) calls the array-level readers here directly (no
`Spectrum` object per file: it is the fast path for tens of thousands of
files).

A file is LAMOST when its primary header has ``OBSID`` or names LAMOST
(``TELESCOP``, ``ORIGIN``, ``DATA_V``), or when its primary image has the
DR1-DR7 rows (the third an increasing optical wavelength grid). Without
``OBSID`` it is refused by name: its rows are not five spectra.

- **Low resolution** (LRS). DR1-DR7: the primary HDU is a 5 x N image,
  rows flux, ivar, wavelength, andmask, ormask. DR8 and later: a binary
  table (``COADD``) with one row of vector columns ``FLUX``, ``IVAR``,
  ``WAVELENGTH``, ``ANDMASK``, ``ORMASK``. Vacuum wavelengths unless the
  header says ``VACUUM = F``; redshift ``Z`` in the primary header.
- **Medium resolution** (MRS): tables ``COADD_B`` and ``COADD_R`` (one pixel
  per row: ``FLUX``, ``IVAR``, ``LOGLAM`` or ``WAVELENGTH``, ``ANDMASK``,
  ``ORMASK``), the two arms of one spectrum; the single exposures
  (``B-<id>``, ``R-<id>``) are read only when asked (``exposures=True``).
  The header has no stellar radial velocity (``HELIO_RV`` is the
  heliocentric correction): the rest frame needs a catalogue RV.
"""

import logging
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

from stellar_relevance.exceptions import DataError
from stellar_relevance.io._common import header_unit
from stellar_relevance.io.records import Format, Record, arm_from_arrays

__all__ = ["IMAGE_ROWS", "is_lamost_lrs", "is_lamost_mrs", "lrs_records", "mrs_records", "FORMATS"]

log = logging.getLogger(__name__)

#: Rows of the image layout (LAMOST DR1-DR7 low-resolution files).
IMAGE_ROWS = ("FLUX", "IVAR", "WAVELENGTH", "ANDMASK", "ORMASK")
#: Primary-header cards kept in ``Record.info`` (few: astropy parses each card value it is asked for,
#: about 0.1 ms a card, a noticeable share of the time per file in a pack of many files).
INFO_CARDS = ("CLASS", "SUBCLASS")
#: The two arms of a medium-resolution file.
MRS_ARMS = ("COADD_B", "COADD_R")


def _vector_table(hdul):
    for hdu in hdul[1:]:
        if isinstance(hdu, fits.BinTableHDU):
            names = {n.upper() for n in hdu.columns.names}
            if {"FLUX", "WAVELENGTH"} <= names and hdu.header.get("NAXIS2") == 1:
                return hdu
    return None


def is_lamost_mrs(hdul):
    """True for a LAMOST medium-resolution file (a ``COADD_B`` or ``COADD_R`` table).

    Parameters
    ----------
    hdul : astropy.io.fits.HDUList
        An open FITS file.

    Returns
    -------
    bool
        Whether :func:`mrs_records` reads it.

    Examples
    --------
    >>> from pathlib import Path
    >>> from astropy.io import fits
    >>> from astropy.table import Table
    >>> def arm(name, start):  # one pixel per row, as COADD_B and COADD_R are
    ...     return fits.BinTableHDU(Table({"FLUX": np.ones(40), "IVAR": np.ones(40),
    ...                                    "WAVELENGTH": np.linspace(start, start + 40, 40)}), name=name)
    >>> mrs = fits.HDUList([fits.PrimaryHDU(header=fits.Header({"OBSID": 202})), arm("COADD_B", 4950.0),
    ...                    arm("COADD_R", 6300.0)])
    >>> is_lamost_mrs(mrs), is_lamost_lrs(mrs)
    (True, False)
    """
    names = {h.name for h in hdul}
    return bool(names & set(MRS_ARMS)) and (_lamost_header(hdul[0].header) or len(names & set(MRS_ARMS)) == 2)


def _lamost_header(header):
    """True when a primary header says LAMOST: ``OBSID``, or LAMOST in ``TELESCOP``, ``ORIGIN`` or ``DATA_V``."""
    return "OBSID" in header or any("LAMOST" in str(header.get(k, "")).upper() for k in ("TELESCOP", "ORIGIN",
                                                                                          "DATA_V"))


def _image_layout(hdul):
    """A DR1-DR7 primary image: 3-5 rows, and a LAMOST header or a third row that is an optical grid."""
    header = hdul[0].header
    if header.get("NAXIS") != 2 or not 3 <= (header.get("NAXIS2") or 0) <= 5:
        return False
    if _lamost_header(header):
        return True
    try:
        row = np.asarray(hdul[0].data[2], dtype=float)
    except (TypeError, ValueError, IndexError):
        return False
    return bool(row.size > 2 and np.all(np.isfinite(row)) and np.all(np.diff(row) > 0)
                and 3000.0 < row[0] and row[-1] < 11000.0)


def is_lamost_lrs(hdul):
    """True for a LAMOST low-resolution file (5 x N primary image, or one-row vector table).

    Parameters
    ----------
    hdul : astropy.io.fits.HDUList
        An open FITS file.

    Returns
    -------
    bool
        Whether :func:`lrs_records` reads it.

    Examples
    --------
    >>> from pathlib import Path
    >>> from astropy.io import fits
    >>> wave = np.linspace(4000.0, 4100.0, 50)  # a DR1-DR7 file: rows flux, ivar, wavelength
    >>> lrs = fits.HDUList([fits.PrimaryHDU(np.vstack([np.ones(50), np.ones(50), wave]),
    ...                                     fits.Header({"OBSID": 101, "Z": 1e-4}))])
    >>> is_lamost_lrs(lrs), is_lamost_mrs(lrs)
    (True, False)
    """
    if is_lamost_mrs(hdul):
        return False
    if _image_layout(hdul):
        return True
    return _lamost_header(hdul[0].header) and _vector_table(hdul) is not None


def _keys(header, path):
    obsid = header.get("OBSID")
    if obsid is None or not str(obsid).strip():
        raise DataError(f"{path}: a LAMOST file without the OBSID keyword in its primary header (every LAMOST "
                        "spectrum is named by its OBSID); the file was edited or is not as the archive serves it")
    return {"OBSID": str(obsid).strip(), "FILE": path.name.split(".fit")[0]}


def _frame(header):
    return "vacuum" if header.get("VACUUM", True) else "air"


def lrs_records(hdul, path):
    """The one `Record` of a LAMOST low-resolution file (open `HDUList`).

    Parameters
    ----------
    hdul : astropy.io.fits.HDUList
        The open file.
    path : pathlib.Path
        Its path (for the ``FILE`` ID and messages).

    Returns
    -------
    list of Record
        One record: IDs ``OBSID`` and ``FILE``, the header redshift ``Z``,
        vacuum wavelengths unless ``VACUUM = F``.

    Raises
    ------
    DataError
        Neither layout of a low-resolution file.

    Examples
    --------
    >>> from pathlib import Path
    >>> from astropy.io import fits
    >>> wave = np.linspace(4000.0, 4100.0, 50)  # a DR1-DR7 file: rows flux, ivar, wavelength
    >>> lrs = fits.HDUList([fits.PrimaryHDU(np.vstack([np.ones(50), np.ones(50), wave]),
    ...                                     fits.Header({"OBSID": 101, "Z": 1e-4}))])
    >>> [record] = lrs_records(lrs, Path("spec-101.fits"))
    >>> record.keys, record.z, record.frame, record.arms[0].flux.size
    ({'OBSID': '101', 'FILE': 'spec-101'}, 0.0001, 'vacuum', 50)
    """
    header = hdul[0].header
    if header.get("NAXIS") == 2 and hdul[0].data is not None:
        where = f"{path}[PRIMARY]"
        data = np.asarray(hdul[0].data, dtype=float)
        if data.ndim != 2 or data.shape[0] < 3:
            raise DataError(f"{where}: expected a 5 x N image (flux, ivar, wavelength, andmask, ormask); "
                            f"got shape {data.shape}")
        rows = {name: data[i] for i, name in enumerate(IMAGE_ROWS[: data.shape[0]])}
    else:
        table = _vector_table(hdul)
        if table is None:
            raise DataError(f"{path}: neither a 5 x N primary image nor a one-row table with FLUX and "
                            "WAVELENGTH vector columns; not a LAMOST low-resolution file")
        where = f"{path}[{table.name or 1}]"
        names = {n.upper(): n for n in table.columns.names}
        rows = {key: np.asarray(table.data[name][0], dtype=float).ravel() for key, name in names.items()
                if key in IMAGE_ROWS}
    unit = header_unit(header, "WAVEUNIT", default=u.AA, where=str(path))
    arm = arm_from_arrays("LRS", rows["WAVELENGTH"], rows["FLUX"], rows.get("IVAR"), rows.get("ANDMASK"),
                          where=where, unit=unit)
    z = header.get("Z")
    z = float(z) if isinstance(z, (int, float)) and np.isfinite(z) and z > -1 else None
    return [Record(keys=_keys(header, path), source=str(path), format="LAMOST-LRS", arms=[arm],
                   frame=_frame(header), z=z, info={k: header[k] for k in INFO_CARDS if k in header})]


def _mrs_arm(hdu, path, name):
    where = f"{path}[{hdu.name}]"
    cols = {n.upper(): n for n in hdu.columns.names}
    if "FLUX" not in cols:
        raise DataError(f"{where}: no FLUX column (columns: {', '.join(hdu.columns.names)})")
    data = hdu.data
    if "WAVELENGTH" in cols:
        wave = np.asarray(data[cols["WAVELENGTH"]], dtype=float)
    elif "LOGLAM" in cols:
        wave = 10.0 ** np.asarray(data[cols["LOGLAM"]], dtype=float)
    else:
        raise DataError(f"{where}: no spectral axis: no LOGLAM or WAVELENGTH column "
                        f"(columns: {', '.join(hdu.columns.names)})")
    mask_col = cols.get("ANDMASK", cols.get("PIXMASK"))
    return arm_from_arrays(name, wave, data[cols["FLUX"]], data[cols["IVAR"]] if "IVAR" in cols else None,
                           None if mask_col is None else data[mask_col], where=where, allow_empty=True)


def mrs_records(hdul, path, exposures=False):
    """The `Record`s of a LAMOST medium-resolution file: the coadd (both arms), or each exposure.

    Parameters
    ----------
    hdul : astropy.io.fits.HDUList
        The open file.
    path : pathlib.Path
        Its path (for the ``FILE`` ID and messages).
    exposures : bool, default=False
        One record per single exposure (``B-<id>``, ``R-<id>`` tables)
        instead of the coadd.

    Returns
    -------
    list of Record
        The coadd (arms ``B`` and ``R``), or one record per exposure (IDs
        suffixed with the exposure's).

    Raises
    ------
    DataError
        No FLUX column or no spectral axis in an arm; no single-exposure
        tables when ``exposures``.

    Examples
    --------
    >>> from pathlib import Path
    >>> from astropy.io import fits
    >>> from astropy.table import Table
    >>> def arm(name, start):  # one pixel per row, as COADD_B and COADD_R are
    ...     return fits.BinTableHDU(Table({"FLUX": np.ones(40), "IVAR": np.ones(40),
    ...                                    "WAVELENGTH": np.linspace(start, start + 40, 40)}), name=name)
    >>> mrs = fits.HDUList([fits.PrimaryHDU(header=fits.Header({"OBSID": 202})), arm("COADD_B", 4950.0),
    ...                    arm("COADD_R", 6300.0)])
    >>> [record] = mrs_records(mrs, Path("med-202.fits"))
    >>> record.keys, [(name, first, last) for name, first, last, _ in record.extent()]
    ({'OBSID': '202', 'FILE': 'med-202'}, [('B', 4950.0, 4990.0), ('R', 6300.0, 6340.0)])
    """
    header = hdul[0].header
    keys = _keys(header, path)
    info = {k: header[k] for k in INFO_CARDS if k in header}
    if not exposures:
        arms = [_mrs_arm(hdul[name], path, name[-1]) for name in MRS_ARMS if name in hdul]
        return [Record(keys=keys, source=str(path), format="LAMOST-MRS", arms=arms, frame=_frame(header),
                       z=None, info=info)]
    out = []
    for hdu in hdul[1:]:
        if hdu.name.startswith("B-"):
            ident = hdu.name[2:]
            arms = [_mrs_arm(hdu, path, "B")]
            if f"R-{ident}" in hdul:
                arms.append(_mrs_arm(hdul[f"R-{ident}"], path, "R"))
            exposure_keys = {k: f"{v}-{ident}" for k, v in keys.items()}
            out.append(Record(keys=exposure_keys, source=str(path), format="LAMOST-MRS", arms=arms,
                              frame=_frame(header), z=None, info=dict(info, EXPOSURE=ident)))
    if not out:
        raise DataError(f"{path}: no single-exposure tables (B-<id>, R-<id>)")
    return out


def _read_lrs(path, hdul, label, **options):
    return lrs_records(hdul, Path(path))


def _read_mrs(path, hdul, label, exposures=False, **options):
    return mrs_records(hdul, Path(path), exposures=exposures)


#: The registry's entries (:mod:`.registry`): medium resolution first (its files also have an OBSID).
FORMATS = (
    Format("LAMOST-MRS", identify=lambda path, hdul: "LAMOST-MRS" if is_lamost_mrs(hdul) else None,
           read=_read_mrs, family="LAMOST-MRS", priority=20, specutils="SpectrumList",
           note="a LAMOST medium-resolution file holds two arms (COADD_B, COADD_R)"),
    Format("LAMOST-LRS", identify=lambda path, hdul: "LAMOST-LRS" if is_lamost_lrs(hdul) else None,
           read=_read_lrs, family="LAMOST", priority=21, specutils="Spectrum"),
)
