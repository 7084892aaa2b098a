"""Label tables (CSV, ECSV, FITS) with a unique ID column.

Text tables are read tolerantly: a UTF-8 byte-order mark does not hide the
first column, ID columns are read as text (leading zeros and 64-bit IDs
survive), and a column of numbers with ``n/a``, ``NaN``, ``null``, ``-``,
``--``, ``?`` or blank cells is a float column with those cells missing
(NaN), counted in ``table.meta["missing"]`` and named in one `DataWarning`,
never a text column.
"""

import logging
import warnings

import numpy as np
from astropy.io import ascii as astropy_ascii
from astropy.table import Table

from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.io._common import existing_path, is_fits

__all__ = ["read_labels", "read_label_table"]

log = logging.getLogger(__name__)

_FORMATS = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits", ".fit": "fits",
            ".fits.gz": "fits", ".txt": "ascii", ".dat": "ascii"}


#: Cells of a number column read as a missing value (compared lower-case, stripped).
MISSING_MARKERS = ("", "n/a", "na", "nan", "null", "none", "-", "--", "?")
_TEXT_FORMATS = ("ascii.csv", "ascii", "ascii.basic", "ascii.commented_header")


def _read_table(path, fmt, text_columns):
    """``Table.read`` of a label file; ``text_columns`` read as text from text formats; errors name the file."""
    kwargs = {}
    if fmt in _TEXT_FORMATS:
        kwargs["converters"] = {name: [astropy_ascii.convert_numpy(str)] for name in text_columns}
        kwargs["encoding"] = "utf-8-sig"  # a byte-order mark is not part of the first column's name
    try:
        table = Table.read(path, format=fmt, **kwargs) if fmt else Table.read(path, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes a DataError
        raise DataError(f"{path}: cannot read a label table ({fmt or 'format unknown'}): {exc}") from exc
    for name in table.colnames:
        clean = name.lstrip("\ufeff").strip()
        if clean != name and clean and clean not in table.colnames:
            table.rename_column(name, clean)
    return _numbers_with_gaps(table, path, text_columns)


def _numbers_with_gaps(table, path, text_columns):
    """Number columns with missing-value cells as float (NaN); the gaps counted and warned about once."""
    missing = {}
    for name in table.colnames:
        if name in text_columns:
            continue
        column = table[name]
        gaps = np.ma.getmaskarray(column).copy()
        if column.dtype.kind in "US":
            cells = np.char.lower(np.char.strip(np.asarray(np.ma.filled(column, ""), dtype=str)))
            gaps |= np.isin(cells, MISSING_MARKERS)
            try:
                numbers = np.array([float(v) if not g else np.nan for v, g in zip(cells, gaps)])
            except ValueError:
                continue  # real text (spectral types, names)
            table[name] = numbers
            table[name].unit, table[name].description = column.unit, column.description
        elif np.ma.is_masked(column) and column.dtype.kind in "iuf":
            table[name] = np.ma.filled(column.astype(float), np.nan)
            table[name].unit, table[name].description = column.unit, column.description
        if gaps.any():
            missing[name] = np.flatnonzero(gaps)
    if missing:
        table.meta["missing"] = {name: int(rows.size) for name, rows in missing.items()}
        parts = [f"{name} {rows.size} (rows {', '.join(str(r + 1) for r in rows[:5])}"
                 f"{' ...' if rows.size > 5 else ''})" for name, rows in missing.items()]
        warnings.warn(f"{path}: missing values ({', '.join(repr(m) for m in MISSING_MARKERS[1:4])}, blank ...) "
                      f"read as NaN: {'; '.join(parts)} (rows counted from 1 after the header)", DataWarning,
                      stacklevel=4)
    return table


def _guess_format(path):
    name = path.name.lower()
    for suffix in sorted(_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return _FORMATS[suffix]
    return "fits" if is_fits(path) else None


def read_labels(path, id_column="ID", format=None):
    """Read a label table and check its ID column.

    Parameters
    ----------
    path : str or Path
        A CSV, ECSV or FITS (binary table) file.
    id_column : str
        The column that names each spectrum; renamed ``ID`` and converted to
        str (in CSV files it is read as text, so leading zeros survive).
    format : str, optional
        An astropy ``Table.read`` format; guessed from the file name.

    Returns
    -------
    `~astropy.table.Table`
        With a unique str ``ID`` column first; units as stored (ECSV, FITS
        TUNIT).

    Raises
    ------
    DataError
        A missing or unreadable file, no ``id_column``, empty or duplicate IDs.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from stellar_relevance import read_labels
    >>> path = Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = path.write_text("ID,TEFF,FEH\\nstar1,5800,0.02\\nstar2,4500,-0.71\\n")
    >>> table = read_labels(path)
    >>> list(table.colnames), float(table["FEH"][1])
    (['ID', 'TEFF', 'FEH'], -0.71)
    """
    path = existing_path(path)
    table = _read_table(path, format or _guess_format(path), {id_column})
    if id_column not in table.colnames:
        raise DataError(f"{path}: the label table has no {id_column!r} column "
                        f"(columns: {', '.join(table.colnames) or 'none'})")
    ids = np.array([str(v).strip() for v in np.ma.filled(table[id_column].astype(str), "")], dtype=str)
    empty = np.flatnonzero(ids == "")
    if empty.size:
        raise DataError(f"{path}: column {id_column!r} is empty in rows {empty[:10].tolist()}")
    unique, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dups = {str(d): np.flatnonzero(ids == d).tolist() for d in unique[counts > 1][:5]}
        raise DataError(f"{path}: duplicate IDs in column {id_column!r}: {dups} (ID -> rows, 0-based)")
    if id_column != "ID":
        if "ID" in table.colnames:
            raise DataError(f"{path}: has both an 'ID' column and the ID column {id_column!r}")
        table.rename_column(id_column, "ID")
    table.replace_column("ID", ids)
    table = table[["ID"] + [c for c in table.colnames if c != "ID"]]
    table.meta["source"] = str(path)
    log.info("read %d label rows (%s) from %s", len(table), ", ".join(table.colnames[1:]), path)
    return table


def read_label_table(path, id_column=None, format=None):
    """Read a label table as it is (no renaming, duplicates allowed: :func:`~stellar_relevance.io.join.join_labels` counts them).

    ID-like columns (``id_column`` and the usual names ``OBSID``,
    ``source_id`` ...) are read as text from CSV so that leading zeros and
    64-bit IDs survive. A `~astropy.table.Table` is returned as a copy.

    Raises
    ------
    DataError
        A missing or unreadable file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from stellar_relevance.io import read_label_table
    >>> path = Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = path.write_text("OBSID,FEH\\n359910161,-0.2\\n677503031,0.1\\n")
    >>> table = read_label_table(path)
    >>> table["OBSID"].dtype.kind, len(table)  # IDs are kept as text, not numbers
    ('U', 2)
    """
    from stellar_relevance.io.join import DEFAULT_ID_COLUMNS

    if isinstance(path, Table):
        table = path.copy()
        table.meta.setdefault("source", "label table")
        return _numbers_with_gaps(table, table.meta["source"], {id_column, *DEFAULT_ID_COLUMNS} - {None})
    path = existing_path(path)
    table = _read_table(path, format or _guess_format(path), {id_column, *DEFAULT_ID_COLUMNS} - {None})
    table.meta["source"] = str(path)
    return table
