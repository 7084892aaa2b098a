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

import numpy as np
from astropy import units as u
from astropy.table import Table

import stellar_relevance.io.data_paths as _paths
from stellar_relevance.exceptions import DataError
from stellar_relevance.spectra import SpectralSet, as_wavelength
from stellar_relevance.io._common import WarningLog, existing_path, header_unit, linear_grid, open_fits
from stellar_relevance.io._miles_params import LABEL_UNITS, read_miles_params, resolve_malformed, short_list

__all__ = ["read_miles", "load_miles", "read_miles_params"]

log = logging.getLogger(__name__)

#: File-name patterns -> MILES number (group 1).
FILE_PATTERNS = (
    re.compile(r"^MILES_res[\d.]+_star_m(\d{4})V\.fits?$", re.IGNORECASE),
    re.compile(r"^s(\d{4})\.fits?$", re.IGNORECASE),
)
PARAM_FILES = ("paramsMILES_v9.1.txt", "MILES_params.db")
OMIT_FOLDER = "omit"

#: MILES resolution when a header has no FWHM keyword (Falcón-Barroso et al. 2011).
DEFAULT_FWHM = 2.51 * u.AA

#: Up to this many parameter rows without a spectrum are named in the warning; more get one summary line.
ORPHAN_NAMES_MAX = 25
#: The header cards that define a file's grid (and its FWHM).
AXIS_CARDS = ("CTYPE1", "CRVAL1", "CDELT1", "CD1_1", "CRPIX1", "CUNIT1", "DC-FLAG", "FWHM")


def _star_number(name):
    for pattern in FILE_PATTERNS:
        match = pattern.match(name)
        if match:
            return int(match.group(1))
    return None


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
             f"(MILES_res2.50_star_mNNNNV.fits or sNNNN.fits) and were skipped: {short_list(skipped)}")
    if omitted:
        names = [f"{OMIT_FOLDER}/{p.name}" for _, p in omitted]
        if include_omitted:
            warn(f"{folder}: including {len(omitted)} spectra that the redistributor set aside in "
                 f"{OMIT_FOLDER}/ (shortened range, red-end artefact): {short_list(names)}")
            found.extend(omitted)
        else:
            warn(f"{folder}: {len(omitted)} spectra in {OMIT_FOLDER}/ were excluded (the redistributor set them "
                 f"aside: shortened wavelength range, artefact at the red end): {short_list(names)}")
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

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> folder = Path(tempfile.mkdtemp())  # a tiny library: two stars, named as in the IAC tarball
    >>> for number in (272, 81):
    ...     header = fits.Header({"CRVAL1": 3540.5, "CDELT1": 0.9, "CRPIX1": 1.0, "FWHM": 2.51})
    ...     fits.PrimaryHDU(np.linspace(1, 2, 100, dtype="f4"), header).writeto(folder / f"s{number:04d}.fits")
    >>> _ = (folder / "MILES_params.db").write_text("#MILES  Teff  log g  [Fe/H]\\n"
    ...                                             "  0272  6024   4.50   -1.44\\n  0081  5650   4.40   -0.90\\n")
    >>> spectra = read_miles(folder)
    >>> spectra.n_spectra, spectra.n_pixels, spectra.wave_frame
    (2, 100, 'air')
    >>> spectra.labels["ID", "TEFF", "FEH"]
    <Table length=2>
      ID    TEFF    FEH
             K      dex
     str5 float64 float64
    ----- ------- -------
    m0081  5650.0    -0.9
    m0272  6024.0   -1.44
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
            raise DataError(f"{folder}: no MILES parameter table ({' or '.join(PARAM_FILES)}); give its path",
                            see=("params",))
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
             f"those pixels are masked: {short_list(padded)}")

    table = read_miles_params(params, warn)
    n_param_rows = len(table)
    table, malformed_lines = resolve_malformed(table, set(numbers.tolist()), params, warn)
    warned_lines = set(table.meta.get("warned_lines", [])) | malformed_lines
    # duplicates among the parameter rows
    counts = Counter(table["MILES"].tolist())
    dup = sorted(n for n, c in counts.items() if c > 1)
    if dup:
        rows = [f"{n:04d} (lines {table['LINE'][table['MILES'] == n].tolist()})" for n in dup]
        warn(f"{params.name}: MILES numbers on more than one line; the first line is used: {short_list(rows)}")
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
                 f"{short_list(orphan_params)}")
        else:  # a subset folder: one summary line, not hundreds of star numbers
            warn(f"{params.name}: {len(orphan_params)} of {len(table)} parameter rows have no spectrum in "
                 f"{folder.name}/ (a subset of the library?) and were ignored")
            log.debug("parameter rows without a spectrum: %s", ", ".join(orphan_params))
    orphan_spectra = [file_names[r] for r in range(len(numbers)) if keep_rows[r] and int(numbers[r]) not in by_number]
    if orphan_spectra:
        warn(f"{params.name}: {len(orphan_spectra)} spectra have no parameter row; their labels are NaN: "
             f"{short_list(orphan_spectra)}")

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
        The MILES folder; by default it is looked for.
    **kwargs
        Passed to :func:`read_miles` (``params``, ``include_omitted``).

    Returns
    -------
    SpectralSet
        As :func:`read_miles` returns it.

    Raises
    ------
    DataError
        When none of these holds the library, with how to get it.

    Examples
    --------
    The real library (985 stars, seconds to read), wherever it was found:

    >>> spectra = load_miles()  # doctest: +SKIP

    Here on a two-star folder written first, named by the environment
    variable as ``export STELREL_MILES_DIR=...`` would:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> folder = Path(tempfile.mkdtemp())  # a tiny library: two stars, named as in the IAC tarball
    >>> for number in (272, 81):
    ...     header = fits.Header({"CRVAL1": 3540.5, "CDELT1": 0.9, "CRPIX1": 1.0, "FWHM": 2.51})
    ...     fits.PrimaryHDU(np.linspace(1, 2, 100, dtype="f4"), header).writeto(folder / f"s{number:04d}.fits")
    >>> _ = (folder / "MILES_params.db").write_text("#MILES  Teff  log g  [Fe/H]\\n"
    ...                                             "  0272  6024   4.50   -1.44\\n  0081  5650   4.40   -0.90\\n")
    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"STELREL_MILES_DIR": str(folder)}):
    ...     spectra = load_miles()
    >>> spectra.n_spectra, load_miles(folder).n_spectra
    (2, 2)
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
