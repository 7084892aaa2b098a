"""Helpers shared by the readers: file checks, FITS grids, label joins, warnings."""

import logging
import warnings
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import Table

from ..atomic import atomic_write  # noqa: F401  (re-exported for the readers)
from ..exceptions import DataError, DataWarning

log = logging.getLogger(__name__)

FITS_MAGIC = b"SIMPLE  ="


class WarningLog:
    """Emit `DataWarning`s and remember their text for ``meta["warnings"]``."""

    def __init__(self):
        self.messages = []

    def __call__(self, message, stacklevel=3):
        self.messages.append(message)
        warnings.warn(message, DataWarning, stacklevel=stacklevel)


def existing_path(path, what="file"):
    """``Path(path)``, or a DataError when it does not exist."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such {what}")
    return path


def is_fits(path):
    """True when the file starts like a FITS file (also gzip-compressed FITS)."""
    with open(path, "rb") as handle:
        start = handle.read(len(FITS_MAGIC))
    if start[:2] == b"\x1f\x8b":  # gzip: let astropy decide
        import gzip

        with gzip.open(path, "rb") as handle:
            start = handle.read(len(FITS_MAGIC))
    return start == FITS_MAGIC


def require_fits(path):
    """Raise a DataError unless ``path`` is an existing FITS file."""
    path = existing_path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a FITS file")
    if not is_fits(path):
        raise DataError(f"{path}: not a FITS file (it does not start with 'SIMPLE  =')")
    return path


def header_unit(header, key, default=u.AA, where=""):
    """The unit in header ``key`` (e.g. CUNIT1), ``default`` when absent."""
    text = header.get(key)
    if text is None or not str(text).strip():
        return default
    text = str(text).strip()
    aliases = {"angstrom": u.AA, "angstroms": u.AA, "a": u.AA, "ang": u.AA}
    if text.lower() in aliases:
        return aliases[text.lower()]
    try:
        return u.Unit(text, format="fits")
    except ValueError:
        try:
            return u.Unit(text)
        except ValueError as exc:
            raise DataError(f"{where}: {key} = {text!r} is not a unit astropy understands") from exc


def linear_grid(header, n_pixels, where, axis=1):
    """The wavelength grid of a FITS axis from CRVAL/CDELT (or CD)/CRPIX/CUNIT/CTYPE.

    Handles linear grids and log-linear ones (``CTYPE = 'WAVE-LOG'`` or
    ``DC-FLAG = 1``: CRVAL/CDELT in log10 of the wavelength).

    Returns
    -------
    (wavelength Quantity, description dict) or raises DataError when the
    header has no spectral axis.
    """
    crval = header.get(f"CRVAL{axis}")
    cdelt = header.get(f"CDELT{axis}", header.get(f"CD{axis}_{axis}"))
    if crval is None or cdelt is None:
        raise DataError(
            f"{where}: no spectral axis: the header has no CRVAL{axis}/CDELT{axis} (or CD{axis}_{axis}) "
            "keywords and there is no wavelength column or HDU"
        )
    crpix = header.get(f"CRPIX{axis}", 1.0)
    unit = header_unit(header, f"CUNIT{axis}", where=where)
    if unit.physical_type != "length":
        raise DataError(f"{where}: CUNIT{axis} = {unit!s} is not a length unit")
    ctype = str(header.get(f"CTYPE{axis}", "")).upper()
    loglin = ctype.endswith("-LOG") or header.get("DC-FLAG", 0) == 1
    pixels = np.arange(n_pixels, dtype=float) + 1.0 - float(crpix)
    values = float(crval) + float(cdelt) * pixels
    if loglin:
        values = 10.0 ** values
    grid = dict(crval=float(crval), cdelt=float(cdelt), crpix=float(crpix), n_pixels=int(n_pixels),
                unit=unit.to_string(), log=bool(loglin))
    return values * unit, grid


def wave_frame_from_ctype(ctype, default):
    """'air' for CTYPE 'AWAV', 'vacuum' for 'WAVE', else ``default``."""
    ctype = str(ctype or "").upper()
    if ctype.startswith("AWAV"):
        return "air"
    if ctype.startswith("WAVE"):
        return "vacuum"
    return default


def join_labels(ids, labels, source, warn, id_column="ID"):
    """Align a label table with spectrum IDs.

    Returns a Table with one row per ID (in that order): the label row, or
    NaN / empty values when the label table has no row for it. Spectra without
    labels and labels without spectra each give one `DataWarning`.
    """
    ids = np.asarray(ids, dtype=str)
    if labels is None:
        return Table({"ID": ids})
    if id_column not in labels.colnames:
        raise DataError(f"{source}: the label table has no {id_column!r} column "
                        f"(columns: {', '.join(labels.colnames)})")
    label_ids = np.array([str(v).strip() for v in labels[id_column]], dtype=str)
    lookup = {}
    for row, value in enumerate(label_ids):
        if value in lookup:
            raise DataError(f"{source}: duplicate ID {value!r} in the label table (rows {lookup[value]} and {row})")
        lookup[value] = row
    rows = np.array([lookup.get(i, -1) for i in ids], dtype=int)
    missing = ids[rows < 0]
    if missing.size:
        warn(f"{source}: {missing.size} spectra have no row in the label table; their labels are NaN/empty: "
             f"{', '.join(missing[:20])}{' ...' if missing.size > 20 else ''}")
    unused = sorted(set(label_ids) - set(ids.tolist()))
    if unused:
        warn(f"{source}: {len(unused)} label rows have no spectrum and were ignored: "
             f"{', '.join(unused[:20])}{' ...' if len(unused) > 20 else ''}")
    out = Table({"ID": ids})
    for name in labels.colnames:
        if name == id_column:
            continue
        column = labels[name]
        data = np.ma.getdata(column)
        if data.dtype.kind in "fc":
            values = np.full((len(ids),) + data.shape[1:], np.nan, dtype=data.dtype)
        elif data.dtype.kind in "iub":
            values = np.full((len(ids),) + data.shape[1:], np.nan, dtype=float) if missing.size else \
                np.zeros((len(ids),) + data.shape[1:], dtype=data.dtype)
        else:
            values = np.zeros((len(ids),) + data.shape[1:], dtype=data.dtype)
        found = rows >= 0
        values[found] = data[rows[found]]
        if np.ma.is_masked(column) and data.dtype.kind in "fc":
            values[found & np.ma.getmaskarray(column)[np.where(found, rows, 0)]] = np.nan
        out[name] = values
        out[name].unit = column.unit
        out[name].description = column.description
    return out
