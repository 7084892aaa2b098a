"""MILES stellar library as distributed: one 1-D FITS per star + a parameter table.

Sánchez-Blázquez et al. 2006 (spectra), Cenarro et al. 2007 (Teff, log g,
[Fe/H]). Two namings are read: ``MILES_res2.50_star_m0272V.fits`` (the
``sdss-mangadap`` copy) and ``s0272.fits`` (the official IAC tarball). Two
parameter tables: the official fixed-width ``paramsMILES_v9.1.txt`` and the
redistributor's reduced ``MILES_params.db`` (sentinels 99999 / 9999).
"""

import logging
import re
from collections import Counter
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import Table

from .. import _paths
from ..exceptions import DataError
from ..spectra import SpectralSet, as_wavelength
from ._common import WarningLog, existing_path, header_unit, linear_grid, open_fits

__all__ = ["read_miles", "load_miles", "read_miles_params"]

log = logging.getLogger(__name__)

#: File-name patterns -> MILES number (group 1).
FILE_PATTERNS = (
    re.compile(r"^MILES_res[\d.]+_star_m(\d{4})V\.fits?$", re.IGNORECASE),
    re.compile(r"^s(\d{4})\.fits?$", re.IGNORECASE),
)
PARAM_FILES = ("paramsMILES_v9.1.txt", "MILES_params.db")
OMIT_FOLDER = "omit"

#: Units of the labels.
LABEL_UNITS = {"TEFF": u.K, "LOGG": u.dex(u.cm / u.s ** 2), "FEH": u.dex}
#: Missing-value sentinels of MILES_params.db.
SENTINELS = {"TEFF": 99999.0, "LOGG": 9999.0, "FEH": 9999.0}
#: MILES resolution when a header has no FWHM keyword (Falcón-Barroso et al. 2011).
DEFAULT_FWHM = 2.51 * u.AA

#: Up to this many parameter rows without a spectrum are named in the warning; more get one summary line.
ORPHAN_NAMES_MAX = 25
#: The header cards that define a file's grid (and its FWHM).
AXIS_CARDS = ("CTYPE1", "CRVAL1", "CDELT1", "CD1_1", "CRPIX1", "CUNIT1", "DC-FLAG", "FWHM")

_LABEL_NAMES = {"TEFF": "Teff", "LOGG": "log g", "FEH": "[Fe/H]"}


def _star_number(name):
    for pattern in FILE_PATTERNS:
        match = pattern.match(name)
        if match:
            return int(match.group(1))
    return None


def _list(items, limit=25):
    items = list(items)
    text = ", ".join(str(i) for i in items[:limit])
    return text + (f" ... ({len(items)} in all)" if len(items) > limit else "")


# ------------------------------------------------------------ parameter table
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

    Returns
    -------
    `~astropy.table.Table`
        Columns ``LINE`` (1-based line in the file), ``MILES`` (int, -1 when
        malformed), ``MILES_RAW`` (the text), ``NAME``, ``CLUSTER``, ``SPT``,
        ``TEFF`` (K), ``LOGG`` (dex(cm/s2)), ``FEH`` (dex); ``meta["warned_lines"]``.
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
                warn(f"{path.name}: {who}: {_LABEL_NAMES[key]} = {row[key].strip()!r} is not a number; set to NaN")
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
            warn(f"{path.name}: {len(missing[key])} stars have no {_LABEL_NAMES[key]} ('--' or blank); "
                 f"set to NaN: {_list(missing[key], 8)}")
        if sentinel[key]:
            warn(f"{path.name}: {len(sentinel[key])} stars have the missing-value sentinel "
                 f"{SENTINELS[key]:g} for {_LABEL_NAMES[key]}; set to NaN: {_list(sentinel[key], 8)}")
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


def _resolve_malformed(params, spectrum_numbers, path, warn):
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


# ------------------------------------------------------------------ spectra
def _find_files(folder, include_omitted, warn):
    found, skipped, omitted = [], [], []
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            if path.name == OMIT_FOLDER:
                for sub in sorted(path.iterdir()):
                    number = _star_number(sub.name)
                    if number is not None:
                        omitted.append((number, sub))
            continue
        if not path.name.lower().endswith((".fits", ".fit")):
            continue
        number = _star_number(path.name)
        if number is None:
            skipped.append(path.name)
        else:
            found.append((number, path))
    if skipped:
        warn(f"{folder}: {len(skipped)} FITS files do not follow the MILES naming "
             f"(MILES_res2.50_star_mNNNNV.fits or sNNNN.fits) and were skipped: {_list(skipped)}")
    if omitted:
        names = [f"{OMIT_FOLDER}/{p.name}" for _, p in omitted]
        if include_omitted:
            warn(f"{folder}: including {len(omitted)} spectra that the redistributor set aside in "
                 f"{OMIT_FOLDER}/ (shortened range, red-end artefact): {_list(names)}")
            found.extend(omitted)
        else:
            warn(f"{folder}: {len(omitted)} spectra in {OMIT_FOLDER}/ were excluded (the redistributor set them "
                 f"aside: shortened wavelength range, artefact at the red end); pass include_omitted=True to "
                 f"read them: {_list(names)}")
    numbers = Counter(n for n, _ in found)
    dup = sorted(n for n, c in numbers.items() if c > 1)
    if dup:
        first = {}
        kept = []
        for n, p in found:
            if n in first:
                warn(f"{p}: a second file for MILES star {n:04d} (first: {first[n].name}); skipped")
                continue
            first[n] = p
            kept.append((n, p))
        found = kept
    return sorted(found)


def _read_files(files, warn):
    """Read every file once (header + data, no memmap).

    Returns the grid key of each file (None when unusable), the grid and FWHM
    header cards, and the flux arrays.
    """
    grids, headers, data = [], [], []
    for number, path in files:
        try:
            with open_fits(path, "MILES spectrum") as hdul:
                header = hdul[0].header
                flux = hdul[0].data
        except DataError as exc:  # one bad file must not stop the library
            warn(f"{exc}; skipped")
            grids.append(None), headers.append(None), data.append(None)
            continue
        key = None
        cards = {k: header.get(k) for k in AXIS_CARDS}
        cdelt = cards["CDELT1"] if cards["CDELT1"] is not None else cards["CD1_1"]
        if flux is None or flux.ndim != 1:
            warn(f"{path}: primary HDU holds {None if flux is None else flux.shape}, not a 1-D spectrum; skipped")
        elif cards["CRVAL1"] is None or cdelt is None:
            warn(f"{path}: no wavelength grid in the header (CRVAL1/CDELT1); skipped")
        else:
            try:
                unit = header_unit(cards, "CUNIT1", where=str(path))
            except DataError as exc:
                warn(f"{exc}; skipped")
            else:
                crpix = cards["CRPIX1"] if cards["CRPIX1"] is not None else 1.0
                key = (float(cards["CRVAL1"]), float(cdelt), float(crpix), int(flux.size), unit.to_string(),
                       str(cards["CTYPE1"] or "").strip().upper(), cards["DC-FLAG"])
        grids.append(key), headers.append(cards), data.append(flux)
    return grids, headers, data


def read_miles(folder, params=None, include_omitted=False):
    """Read the MILES library from a folder of 1-D FITS files and a parameter table.

    Parameters
    ----------
    folder : str or Path
        The folder with ``MILES_res2.50_star_mNNNNV.fits`` or ``sNNNN.fits``
        files. Files in its ``omit/`` subfolder are excluded (with a warning)
        unless ``include_omitted``.
    params : str or Path, optional
        The parameter table; default ``folder/paramsMILES_v9.1.txt``, else
        ``folder/MILES_params.db``. Without one, a DataError.
    include_omitted : bool
        Also read the spectra in ``omit/``.

    Returns
    -------
    SpectralSet
        Air wavelengths from the headers (CRVAL1, CDELT1, CRPIX1, CUNIT1,
        default Angstrom), normalised (dimensionless) flux, ``mask`` True on
        exact-zero padding at either end of a spectrum, labels ``ID``
        (``"m0272"``), ``MILES`` (number), ``NAME``, ``CLUSTER``, ``SPT``,
        ``TEFF`` [K], ``LOGG`` [dex(cm/s2)], ``FEH`` [dex], ``FILE``.
        ``meta``: ``FWHM``, ``reader``, ``source``, ``params``, ``counts``,
        ``warnings``.

    Notes
    -----
    Every quirk gives a `DataWarning` naming the line / star / file and what
    was done: malformed MILES numbers (resolved only when unique), missing
    values and sentinels (NaN), spectra without parameters (labels NaN),
    parameters without spectra (ignored), spectra on another grid or
    unreadable (excluded), zero padding (masked).
    """
    folder = existing_path(folder, "folder")
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; read_miles expects the MILES folder of 1-D FITS files")
    warn = WarningLog()
    if params is None:
        for name in PARAM_FILES:
            if (folder / name).exists():
                params = folder / name
                break
        else:
            raise DataError(f"{folder}: no MILES parameter table ({' or '.join(PARAM_FILES)}); pass params=")
    params = existing_path(params)

    files = _find_files(folder, include_omitted, warn)
    if not files:
        raise DataError(f"{folder}: no MILES spectra (MILES_res2.50_star_mNNNNV.fits or sNNNN.fits)")
    grids, headers, data = _read_files(files, warn)
    valid = Counter(g for g in grids if g is not None)
    if not valid:
        raise DataError(f"{folder}: none of the {len(files)} MILES files has a readable 1-D spectrum with a grid")
    reference = valid.most_common(1)[0][0]
    for (number, path), grid in zip(files, grids):
        if grid is not None and grid != reference:
            warn(f"{path}: grid (CRVAL1, CDELT1, CRPIX1, NAXIS1, CUNIT1, CTYPE1, DC-FLAG) = {grid} differs from the "
                 f"library's {reference}; excluded")
    selected = [i for i, g in enumerate(grids) if g == reference]
    crval, cdelt, crpix, n_pixels, unit, _, _ = reference
    first = selected[0]
    try:  # every selected file shares these cards: the grid is read once, with astropy.wcs (see linear_grid)
        wavelength, _ = linear_grid(headers[first], n_pixels, str(files[first][1]))
        wavelength = as_wavelength(wavelength, str(files[first][1]))
    except DataError as exc:
        raise DataError(f"{folder}: the library's common grid cannot be used: {exc}") from exc

    flux = np.empty((len(selected), n_pixels), dtype=float)
    for row, i in enumerate(selected):
        flux[row] = data[i]
    numbers = np.array([files[i][0] for i in selected], dtype=int)
    file_names = [str(files[i][1].relative_to(folder)) for i in selected]

    keep_rows = np.ones(len(selected), dtype=bool)
    finite = np.isfinite(flux)
    for row in np.flatnonzero(~finite.any(axis=1)):
        warn(f"{file_names[row]}: flux is all NaN/inf; excluded")
        keep_rows[row] = False
    mask = ~finite
    padded = []
    nonzero = flux != 0
    first = nonzero.argmax(axis=1)
    last = n_pixels - 1 - nonzero[:, ::-1].argmax(axis=1)
    for row in np.flatnonzero(nonzero.any(axis=1) & ((first > 0) | (last < n_pixels - 1))):
        mask[row, : first[row]] = True
        mask[row, last[row] + 1:] = True
        padded.append(f"{file_names[row]} ({first[row] + n_pixels - 1 - last[row]} px)")
    if padded:
        warn(f"{folder}: {len(padded)} spectra have exact-zero padding at an end of the grid; "
             f"those pixels are masked: {_list(padded)}")

    table = read_miles_params(params, warn)
    n_param_rows = len(table)
    table, malformed_lines = _resolve_malformed(table, set(numbers.tolist()), params, warn)
    warned_lines = set(table.meta.get("warned_lines", [])) | malformed_lines
    # duplicates among the parameter rows
    counts = Counter(table["MILES"].tolist())
    dup = sorted(n for n, c in counts.items() if c > 1)
    if dup:
        rows = [f"{n:04d} (lines {table['LINE'][table['MILES'] == n].tolist()})" for n in dup]
        warn(f"{params.name}: MILES numbers on more than one line; the first line is used: {_list(rows)}")
        first_rows = np.unique(table["MILES"], return_index=True)[1]
        warned_lines |= {int(x) for n in dup for x in table["LINE"][table["MILES"] == n][1:]}
        table = table[np.sort(first_rows)]
    by_number = {int(n): i for i, n in enumerate(table["MILES"])}
    loaded = set(numbers[keep_rows].tolist())
    orphan_params = [f"{table['MILES'][i]:04d} (line {table['LINE'][i]}"
                     f"{', ' + table['NAME'][i] if table['NAME'][i] else ''})"
                     for i in range(len(table)) if int(table["MILES"][i]) not in loaded]
    if orphan_params:
        warned_lines |= {int(table["LINE"][i]) for i in range(len(table)) if int(table["MILES"][i]) not in loaded}
        if len(orphan_params) <= ORPHAN_NAMES_MAX:
            warn(f"{params.name}: {len(orphan_params)} parameter rows have no spectrum loaded and were ignored: "
                 f"{_list(orphan_params)}")
        else:  # a subset folder: one summary line, not hundreds of star numbers
            warn(f"{params.name}: {len(orphan_params)} of {len(table)} parameter rows have no spectrum in "
                 f"{folder.name}/ (a subset of the library?) and were ignored")
            log.debug("parameter rows without a spectrum: %s", ", ".join(orphan_params))
    orphan_spectra = [file_names[r] for r in range(len(numbers)) if keep_rows[r] and int(numbers[r]) not in by_number]
    if orphan_spectra:
        warn(f"{params.name}: {len(orphan_spectra)} spectra have no parameter row; their labels are NaN: "
             f"{_list(orphan_spectra)}")

    idx = np.array([by_number.get(int(n), -1) for n in numbers], dtype=int)
    has = idx >= 0
    labels = Table()
    labels["ID"] = np.array([f"m{n:04d}" for n in numbers], dtype=str)
    labels["MILES"] = numbers
    for name, dtype in (("NAME", str), ("CLUSTER", bool), ("SPT", str)):
        values = np.array(table[name])[np.where(has, idx, 0)] if len(table) else np.zeros(len(numbers), dtype)
        values = np.where(has, values, dtype())
        labels[name] = np.asarray(values, dtype=dtype)
    for key, label_unit in LABEL_UNITS.items():
        values = np.full(len(numbers), np.nan)
        values[has] = np.asarray(table[key])[idx[has]]
        labels[key] = values
        labels[key].unit = label_unit
    labels["FILE"] = np.array(file_names, dtype=str)
    labels["TEFF"].description = "effective temperature (Cenarro et al. 2007)"
    labels["LOGG"].description = "log10 surface gravity in cm s^-2 (Cenarro et al. 2007)"
    labels["FEH"].description = "iron abundance [Fe/H] (Cenarro et al. 2007)"

    fwhms = {headers[i].get("FWHM") for i in selected}
    if len(fwhms) == 1 and None not in fwhms:
        fwhm = float(fwhms.pop()) * u.AA
    else:
        fwhm = DEFAULT_FWHM
        warn(f"{folder}: the headers give FWHM values {sorted(map(str, fwhms))}, not one; "
             f"meta['FWHM'] set to {DEFAULT_FWHM} (Falcón-Barroso et al. 2011)")

    counts = dict(
        files=len(files), spectra=int(keep_rows.sum()),
        with_params=int((has & keep_rows).sum()),
        with_teff=int(np.isfinite(labels["TEFF"][keep_rows]).sum()),
        with_logg=int(np.isfinite(labels["LOGG"][keep_rows]).sum()),
        with_feh=int(np.isfinite(labels["FEH"][keep_rows]).sum()),
        param_rows=n_param_rows,
        warned_rows=len(warned_lines),
        spectra_without_params=len(orphan_spectra), params_without_spectra=len(orphan_params),
        masked_padding=len(padded),
    )
    meta = dict(FWHM=fwhm, reader="read_miles", source=str(folder), params=str(params),
                library="MILES v9.1 (Sánchez-Blázquez et al. 2006; Cenarro et al. 2007)",
                grid=dict(crval1=crval, cdelt1=cdelt, crpix1=crpix, n_pixels=n_pixels, cunit1=unit),
                counts=counts, warnings=list(warn.messages))
    log.info("MILES: %(spectra)d spectra from %(files)d files, %(with_params)d with parameters, "
             "%(with_feh)d with [Fe/H], %(warned_rows)d warned parameter rows", counts)
    labels = labels[keep_rows]
    mask = mask[keep_rows]
    return SpectralSet(wavelength, flux[keep_rows], mask=mask if mask.any() else None,
                       labels=labels, wave_frame="air", meta=meta)


def load_miles(path=None, **kwargs):
    """Find and read the MILES library.

    Looks in ``path``, then ``$STELREL_MILES_DIR``, then the data of an
    installed ``sdss-mangadap`` (``mangadap/data/spectral_templates/miles``,
    found without importing mangadap).

    Parameters
    ----------
    path : str or Path, optional
    **kwargs
        Passed to :func:`read_miles` (``params``, ``include_omitted``).

    Raises
    ------
    DataError
        When none of these holds the library, with how to get it.
    """
    if path is not None:
        return read_miles(path, **kwargs)
    env = _paths.env_dir(_paths.MILES_ENV)
    if env is not None:
        if not env.is_dir():
            raise DataError(f"${_paths.MILES_ENV} = {env}: no such folder")
        return read_miles(env, **kwargs)
    installed = _paths.mangadap_miles_dir()
    if installed is not None:
        return read_miles(installed, **kwargs)
    raise DataError(
        "MILES library not found: pass a path, set $" + _paths.MILES_ENV + " to a folder of MILES FITS "
        "files with paramsMILES_v9.1.txt or MILES_params.db, or install the copy in sdss-mangadap "
        "(`pip install --no-deps sdss-mangadap`; the files land in mangadap/data/spectral_templates/miles/). "
        "The official tarball is at http://miles.iac.es/ (MILES_library_v9.1)."
    )
