"""Join a label table onto spectra by ID, counting what matched (never dropping silently)."""

import logging
import re

import numpy as np
from astropy.table import Table

from stellar_relevance.exceptions import DataError, ParameterError

__all__ = ["join_labels", "DEFAULT_ID_COLUMNS"]

log = logging.getLogger(__name__)

#: Label-table columns tried, in order, when no ``id_column`` is named.
DEFAULT_ID_COLUMNS = ("ID", "id", "OBSID", "obsid", "SPECOBJID", "specobjid", "source_id", "SOURCE_ID",
                      "TARGETID", "APOGEE_ID", "apogee_id", "FILE", "file")


#: An integer written as a float (``900000000.0``), as spreadsheets and pandas write IDs.
_INTEGER_AS_FLOAT = re.compile(r"^([+-]?\d+)\.0*$")
#: File-name endings dropped before file names are compared (a table may list ``spec-1.fits`` or ``spec-1``).
_FILE_SUFFIXES = (".fits.gz", ".fit.gz", ".fits", ".fit", ".fts")


def _text(value):
    """An ID as comparable text: stripped; ``677503031.0`` (number or text) -> ``'677503031'``."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        value = int(value)
    text = str(value).strip()
    match = _INTEGER_AS_FLOAT.match(text)
    return match.group(1) if match else text


def _key(value):
    """What IDs are matched on: `_text`, and a file name without its folder and FITS ending."""
    text = _text(value)
    lower = text.lower()
    for suffix in _FILE_SUFFIXES:
        if lower.endswith(suffix):
            text = text[: -len(suffix)].rsplit("/", 1)[-1]
            break
    return text


def _names(values, limit=8):
    values = list(values)
    return ", ".join(values[:limit]) + (f" ... ({len(values)} in all)" if len(values) > limit else "")


def pick_id_column(table, id_column, source):
    """The label table's ID column: ``id_column``, or the first of `DEFAULT_ID_COLUMNS` present."""
    if id_column is not None:
        if id_column not in table.colnames:
            raise ParameterError("id_column", f"{id_column!r} is not a column of the label table {source} "
                                              f"(columns: {', '.join(table.colnames)})")
        return id_column
    for name in DEFAULT_ID_COLUMNS:
        if name in table.colnames:
            return name
    raise ParameterError("id_column", f"is needed: the label table {source} has none of the usual ID columns "
                                      f"({', '.join(DEFAULT_ID_COLUMNS)}); name the column that holds the "
                                      f"spectrum IDs (columns: {', '.join(table.colnames)})")


def join_labels(keys, table, id_column=None, source="labels", warn=None):
    """Align a label table with spectra.

    Parameters
    ----------
    keys : list of dict
        Per spectrum, the IDs it can be joined on (``{"OBSID": ..., "FILE": ...}``);
        the first value is the spectrum's own ID.
    table : `~astropy.table.Table`
        The label table: an ID column and the labels.
    id_column : str, optional
        The label table's ID column (default: the first of `DEFAULT_ID_COLUMNS`).
    source : str
        The label table's name for messages.
    warn : callable, optional
        Called with each warning text.

    Returns
    -------
    labels : `~astropy.table.Table`
        One row per spectrum: ``ID`` (the spectrum's own ID) and every label
        column; NaN / empty where the table has no row for the spectrum.
    counts : dict
        ``matched``, ``unmatched`` (spectra without a row), ``unused`` (rows
        without a spectrum), ``duplicated`` (IDs on more than one row), the
        ``key`` the IDs were matched on and the ``id_column``.

    Raises
    ------
    DataError
        No ID column; an ID on two rows with different labels (the rows are
        named); no spectrum matches any row (a few IDs from each side are
        listed).

    Examples
    --------
    >>> from astropy.table import Table
    >>> keys = [{"OBSID": "101", "FILE": "spec-101"}, {"OBSID": "102", "FILE": "spec-102"},
    ...         {"OBSID": "103", "FILE": "spec-103"}]
    >>> table = Table({"obsid": [102, 101, 999], "FEH": [0.1, -0.5, 0.0]})
    >>> messages = []
    >>> labels, counts = join_labels(keys, table, warn=messages.append)
    >>> labels["ID"].tolist(), labels["FEH"].tolist()
    (['101', '102', '103'], [-0.5, 0.1, nan])
    >>> counts["matched"], counts["key"], counts["id_column"]
    (2, 'OBSID', 'obsid')
    >>> for message in messages:
    ...     print(message)
    labels: 1 of 3 spectra have no row (matched on OBSID); their labels are NaN: 103
    labels: 1 rows have no spectrum and were not used: 999
    """
    warn = warn or (lambda text: log.warning(text))
    column = pick_id_column(table, id_column, source)
    label_ids = [_key(v) for v in np.ma.filled(table[column].astype(object), "")]
    rows = {}
    duplicated = {}
    others = [c for c in table.colnames if c != column]
    for i, value in enumerate(label_ids):
        if value in rows:
            first = rows[value]
            same = all(_text(table[c][first]) == _text(table[c][i]) for c in others)
            if not same:
                raise DataError(f"{source}: ID {value!r} is on rows {first + 1} and {i + 1} (1-based, after the "
                                f"header) with different labels; keep one")
            duplicated.setdefault(value, [first]).append(i)
            continue
        rows[value] = i
    if duplicated:
        warn(f"{source}: {len(duplicated)} IDs are on more than one row with the same labels; the first row "
             f"is used: {_names(f'{k} (rows {[r + 1 for r in v]})' for k, v in duplicated.items())}")
    kinds = list(dict.fromkeys(k for d in keys for k in d))
    hits = {kind: sum(1 for d in keys if kind in d and _key(d[kind]) in rows) for kind in kinds}
    kind = max(kinds, key=lambda k: hits[k]) if kinds else None
    if kind is None or hits[kind] == 0:
        spectra = [_text(next(iter(d.values()))) for d in keys[:5]]
        more = "; ".join(f"{k} {', '.join(_key(d[k]) for d in keys[:3] if k in d)}" for k in kinds[1:])
        raise DataError(f"{source}: no spectrum matches a row of column {column!r}: spectra have IDs "
                        f"{', '.join(spectra)}{' ...' if len(keys) > 5 else ''} "
                        f"({'/'.join(kinds) or 'none'}{'; also ' + more if more else ''}); the table has "
                        f"{', '.join(label_ids[:5])}{' ...' if len(label_ids) > 5 else ''}")
    index = np.array([rows.get(_key(d.get(kind, "")), -1) for d in keys], dtype=int)
    own = np.array([_text(next(iter(d.values()))) for d in keys], dtype=str)
    unmatched = own[index < 0]
    if unmatched.size:
        warn(f"{source}: {unmatched.size} of {len(keys)} spectra have no row (matched on {kind}); their "
             f"labels are NaN: {_names(unmatched)}")
    used = set(index[index >= 0].tolist())
    unused = [label_ids[i] for i in sorted(rows.values()) if i not in used]
    if unused:
        warn(f"{source}: {len(unused)} rows have no spectrum and were not used: {_names(unused)}")
    out = Table({"ID": own})
    found = index >= 0
    for name in others:
        col = table[name]
        data = np.ma.getdata(col)
        shape = (len(keys),) + data.shape[1:]
        if data.dtype.kind in "fc" or (data.dtype.kind in "iub" and not found.all()):
            values = np.full(shape, np.nan)
        else:
            values = np.zeros(shape, dtype=data.dtype)
        values[found] = data[index[found]]
        if np.ma.is_masked(col) and values.dtype.kind == "f":
            values[found & np.ma.getmaskarray(col)[np.where(found, index, 0)]] = np.nan
        out[name] = values
        out[name].unit = col.unit
        out[name].description = col.description
    counts = dict(matched=int(found.sum()), unmatched=int(unmatched.size), unused=len(unused),
                  duplicated=len(duplicated), key=kind, id_column=column)
    log.debug("labels %s: %d matched on %s, %d spectra without a row, %d rows without a spectrum, %d duplicated IDs",
             source, counts["matched"], kind, counts["unmatched"], counts["unused"], counts["duplicated"])
    return out, counts
