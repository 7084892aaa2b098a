"""Label tables (CSV, ECSV, FITS) with a unique ID column."""

import logging

import numpy as np
from astropy.io import ascii as astropy_ascii
from astropy.table import Table

from stellar_relevance.exceptions import DataError
from stellar_relevance.io._common import existing_path, is_fits

__all__ = ["read_labels", "read_label_table"]

log = logging.getLogger(__name__)

_FORMATS = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits", ".fit": "fits",
            ".fits.gz": "fits", ".txt": "ascii", ".dat": "ascii"}


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
    fmt = format or _guess_format(path)
    kwargs = {}
    if fmt in ("ascii.csv", "ascii", "ascii.basic", "ascii.commented_header"):
        kwargs["converters"] = {id_column: [astropy_ascii.convert_numpy(str)]}
    try:
        table = Table.read(path, format=fmt, **kwargs) if fmt else Table.read(path, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes a DataError
        raise DataError(f"{path}: cannot read a label table ({fmt or 'format unknown'}): {exc}") from exc
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
        return table
    path = existing_path(path)
    fmt = format or _guess_format(path)
    kwargs = {}
    if fmt in ("ascii.csv", "ascii", "ascii.basic", "ascii.commented_header"):
        names = {id_column, *DEFAULT_ID_COLUMNS} - {None}
        kwargs["converters"] = {name: [astropy_ascii.convert_numpy(str)] for name in names}
    try:
        table = Table.read(path, format=fmt, **kwargs) if fmt else Table.read(path, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes a DataError
        raise DataError(f"{path}: cannot read a label table ({fmt or 'format unknown'}): {exc}") from exc
    table.meta["source"] = str(path)
    return table
