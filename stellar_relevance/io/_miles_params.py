"""The MILES parameter tables: the official ``paramsMILES_v9.1.txt`` and the reduced ``MILES_params.db``.

Private to :mod:`stellar_relevance.io.miles`, which re-exports
:func:`read_miles_params` and joins the table to the spectra.
"""

import re
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import Table

from stellar_relevance.exceptions import DataError
from stellar_relevance.io._common import WarningLog, existing_path

#: Units of the labels.
LABEL_UNITS = {"TEFF": u.K, "LOGG": u.dex(u.cm / u.s ** 2), "FEH": u.dex}
#: Missing-value sentinels of MILES_params.db.
SENTINELS = {"TEFF": 99999.0, "LOGG": 9999.0, "FEH": 9999.0}
#: How the warnings name the labels.
LABEL_NAMES = {"TEFF": "Teff", "LOGG": "log g", "FEH": "[Fe/H]"}


def short_list(items, limit=25):
    """``items`` as comma-separated text, the first ``limit`` of them and how many there are in all."""
    items = list(items)
    text = ", ".join(str(i) for i in items[:limit])
    return text + (f" ... ({len(items)} in all)" if len(items) > limit else "")


def _columns_from_header(header, path):
    """Fixed-width fields ``{title: (start, end)}``: each title starts a field that ends where the next begins."""
    starts = {m.group(): m.start() for m in re.finditer(r"\S+(?: g)?", header)}  # 'log g' is one title
    needed = ["Name", "MILES", "CaT", "SpT", "Teff", "log g", "[Fe/H]"]
    missing = [n for n in needed if n not in starts]
    if missing:
        raise DataError(f"{path}: line 1 is not the MILES header (no column titles {missing}): {header!r}")
    titles = sorted(starts.items(), key=lambda kv: kv[1])
    return {title: (start, nxt[1]) for (title, start), nxt in zip(titles, titles[1:] + [(None, None)])}


def _parse_value(text):
    text = text.strip()
    if text in ("", "--"):
        return np.nan, "missing"
    try:
        return float(text), None
    except ValueError:
        return np.nan, "malformed"


def _parse_txt(path, lines, warn):
    """Cut each line of ``paramsMILES_v9.1.txt`` at the header's column positions."""
    spans = _columns_from_header(lines[0], path)
    boundaries = sorted(start for start, _ in spans.values() if start > 0)
    rows = []
    for lineno, line in enumerate(lines, start=1):
        if lineno <= 3 or not line.strip():  # titles, 's????' and the dashed rule
            continue
        crossing = [b for b in boundaries if 0 < b < len(line) and line[b - 1] != " " and line[b] != " "]
        if crossing:
            warn(f"{path.name}: line {lineno}: a value runs across the column boundary at character "
                 f"{crossing[0]}; the fields were still cut at the header positions: {line!r}")
        cells = {title: line[start:end] for title, (start, end) in spans.items()}
        name = cells["Name"].strip()
        match = re.match(r"^(.*\S)\s+Cl$", name)  # globular/open-cluster stars carry a 'Cl' flag
        cluster = bool(match)
        if match:
            name = match.group(1)
        rows.append(dict(line=lineno, name=name, cluster=cluster, number=cells["MILES"].strip(),
                         spt=cells["SpT"].strip(), TEFF=cells["Teff"], LOGG=cells["log g"],
                         FEH=cells["[Fe/H]"]))
    return rows


def _parse_db(path, lines):
    rows = []
    for lineno, line in enumerate(lines, start=1):
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4:
            raise DataError(f"{path}: line {lineno}: expected 4 columns (MILES Teff logg [Fe/H]); got {line!r}")
        rows.append(dict(line=lineno, name="", cluster=False, number=parts[0], spt="",
                         TEFF=parts[1], LOGG=parts[2], FEH=parts[3]))
    return rows


def read_miles_params(path, warn=None):
    """Read a MILES parameter table (``paramsMILES_v9.1.txt`` or ``MILES_params.db``).

    The official table is fixed-width: columns are cut at the positions of
    the titles in its first line (cluster stars have names with spaces and a
    ``Cl`` flag, so a whitespace split would misread them). Missing values
    (``--``) and the reduced table's sentinels (99999 / 9999) become NaN with
    one `DataWarning` each listing the rows.

    Parameters
    ----------
    path : str or Path
        The parameter table.
    warn : callable, optional
        Called with each warning's text (by default a `DataWarning` is
        issued).

    Returns
    -------
    `~astropy.table.Table`
        Columns ``LINE`` (1-based line in the file), ``MILES`` (int, -1 when
        malformed), ``MILES_RAW`` (the text), ``NAME``, ``CLUSTER``, ``SPT``,
        ``TEFF`` (K), ``LOGG`` (dex(cm/s2)), ``FEH`` (dex); ``meta["warned_lines"]``.

    Raises
    ------
    DataError
        An empty file, or one that is neither table.

    Examples
    --------
    >>> import tempfile, warnings
    >>> from pathlib import Path
    >>> from stellar_relevance.io import read_miles_params
    >>> path = Path(tempfile.mkdtemp()) / "MILES_params.db"
    >>> _ = path.write_text("#MILES  Teff  log g  [Fe/H]\\n  0272  6024   4.50   -1.44\\n  0081  5650   4.40  9999\\n")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     table = read_miles_params(path)
    >>> table["MILES", "TEFF", "FEH"]
    <Table length=2>
    MILES   TEFF    FEH
             K      dex
    int64 float64 float64
    ----- ------- -------
      272  6024.0   -1.44
       81  5650.0     nan
    >>> print(caught[0].message)
    MILES_params.db: 1 stars have the missing-value sentinel 9999 for [Fe/H]; set to NaN: line 3 (MILES 0081)
    """
    path = existing_path(path)
    warn = warn or WarningLog()
    lines = path.read_text(encoding="latin-1").splitlines()
    if not lines:
        raise DataError(f"{path}: empty parameter table")
    if lines[0].lstrip().startswith("#"):
        rows, kind = _parse_db(path, lines), "db"
    elif lines[0].startswith("Name"):
        rows, kind = _parse_txt(path, lines, warn), "txt"
    else:
        raise DataError(f"{path}: not a MILES parameter table: line 1 starts with neither 'Name' "
                        f"(paramsMILES_v9.1.txt) nor '#' (MILES_params.db): {lines[0]!r}")
    warned = set()
    missing = {k: [] for k in LABEL_UNITS}
    sentinel = {k: [] for k in LABEL_UNITS}
    for row in rows:
        who = f"line {row['line']} ({row['name'] + ', ' if row['name'] else ''}MILES {row['number']})"
        for key in LABEL_UNITS:
            value, problem = _parse_value(row[key])
            if problem == "malformed":
                warn(f"{path.name}: {who}: {LABEL_NAMES[key]} = {row[key].strip()!r} is not a number; set to NaN")
                warned.add(row["line"])
            elif problem == "missing":
                missing[key].append(who)
                warned.add(row["line"])
            elif value == SENTINELS[key]:
                sentinel[key].append(who)
                warned.add(row["line"])
                value = np.nan
            row[key] = value
        number = row["number"]
        row["raw"] = number
        row["number"] = int(number) if re.fullmatch(r"\d{1,4}", number) else -1
    for key in LABEL_UNITS:
        if missing[key]:
            warn(f"{path.name}: {len(missing[key])} stars have no {LABEL_NAMES[key]} ('--' or blank); "
                 f"set to NaN: {short_list(missing[key], 8)}")
        if sentinel[key]:
            warn(f"{path.name}: {len(sentinel[key])} stars have the missing-value sentinel "
                 f"{SENTINELS[key]:g} for {LABEL_NAMES[key]}; set to NaN: {short_list(sentinel[key], 8)}")
    table = Table()
    table["LINE"] = np.array([r["line"] for r in rows], dtype=int)
    table["MILES"] = np.array([r["number"] for r in rows], dtype=int)
    table["MILES_RAW"] = np.array([r["raw"] for r in rows], dtype=str)
    table["NAME"] = np.array([r["name"] for r in rows], dtype=str)
    table["CLUSTER"] = np.array([r["cluster"] for r in rows], dtype=bool)
    table["SPT"] = np.array([r["spt"] for r in rows], dtype=str)
    for key, unit in LABEL_UNITS.items():
        table[key] = np.array([r[key] for r in rows], dtype=float)
        table[key].unit = unit
    table.meta.update(source=str(path), kind=kind, warned_lines=sorted(warned))
    return table


def resolve_malformed(params, spectrum_numbers, path, warn):
    """Give malformed MILES numbers (e.g. ``022.``) the one number that fits, if unique.

    A malformed number is read as a pattern ('.' = any digit). It is resolved
    only when exactly one number fits the pattern, is used by no other row of
    the table and has a spectrum; otherwise the row is dropped. Either way a
    `DataWarning` names the line, star and what was done.
    """
    used = set(params["MILES"][params["MILES"] >= 0].tolist())
    keep = np.ones(len(params), dtype=bool)
    warned = set()
    for i in np.flatnonzero(params["MILES"] < 0):
        raw, line, name = str(params["MILES_RAW"][i]), int(params["LINE"][i]), str(params["NAME"][i])
        who = f"{Path(path).name}: line {line}{' (' + name + ')' if name else ''}"
        warned.add(int(line))
        pattern = re.compile("^" + re.escape(raw.strip()).replace(r"\.", r"\d").replace(".", r"\d") + "$")
        candidates = sorted(n for n in spectrum_numbers - used if pattern.match(f"{n:04d}"))
        if len(raw.strip()) == 4 and len(candidates) == 1:
            params["MILES"][i] = candidates[0]
            used.add(candidates[0])
            warn(f"{who}: malformed MILES number {raw!r}; assigned to {candidates[0]:04d}, the only number "
                 f"matching '{raw}' that has a spectrum (m{candidates[0]:04d}) and no other parameter row")
        else:
            keep[i] = False
            warn(f"{who}: malformed MILES number {raw!r}; no unique star fits it "
                 f"(candidates {candidates}); the row was dropped")
    return params[keep], warned
