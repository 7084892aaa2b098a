"""The absorption-index catalogue and index measurement.

``load_catalog`` reads the packaged ECSV catalogues (``stellar_relevance.catalogs``,
rebuilt from the reference definition files by ``catalogs/build_catalog.py``)
and converts the band edges between air and vacuum. ``measure_indices``
measures every index of a catalogue on a set of spectra with the Lick
pseudo-continuum and exact fractional-pixel integration; see
``docs/indices.md`` for the method and its checks.
"""

from __future__ import annotations

import logging
import re
import warnings
from importlib import resources
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable

from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.spectra import as_wavelength

log = logging.getLogger(__name__)

__all__ = ["load_catalog", "catalog_names", "measure_indices", "validate_catalog"]

CATALOG_PACKAGE = "stellar_relevance.catalogs"
FRAMES = ("air", "vacuum")
#: air <-> vacuum formula (specutils.utils.wcs_utils refraction index)
FRAME_METHOD = "Morton2000"
BAND_COLUMNS = ("blue_lower", "blue_upper", "band_lower", "band_upper", "red_lower", "red_upper")
REQUIRED_COLUMNS = ("name", "display_name", "aliases", "kind", *BAND_COLUMNS, "wave_frame",
                    "index_unit", "species", "sensitive_to", "reference")
INDEX_UNITS = {"Angstrom": u.AA, "mag": u.mag, "ratio": u.dimensionless_unscaled}


# --------------------------------------------------------------------------
# catalogue
# --------------------------------------------------------------------------
def catalog_names():
    """Names of the packaged catalogue subsets.

    Returns
    -------
    list of str
        Sorted subset names (``all``, ``balmer``, ``bandhead``, ``lick``,
        ``metallicity``, ``optical``); each is a packaged ``<name>.ecsv``.

    Examples
    --------
    >>> from stellar_relevance import catalog_names
    >>> catalog_names()
    ['all', 'balmer', 'bandhead', 'lick', 'metallicity', 'optical']
    """
    files = resources.files(CATALOG_PACKAGE)
    return sorted(p.name[: -len(".ecsv")] for p in files.iterdir() if p.name.endswith(".ecsv"))


def _normalise(text):
    return re.sub(r"[^0-9a-z]", "", str(text).lower())


def _labels(row):
    aliases = [a for a in str(row["aliases"]).split(",") if a]
    return [str(row["name"]), str(row["display_name"]), *aliases]


def _select(table, names):
    """Rows of ``table`` matching ``names`` (name, display name or alias)."""
    keep = []
    for wanted in names:
        found = None
        for match in (lambda s: s == wanted, lambda s: s.lower() == str(wanted).lower(),
                      lambda s: _normalise(s) == _normalise(wanted)):
            hits = sorted({i for i, row in enumerate(table) if any(match(s) for s in _labels(row))})
            if len(hits) == 1:
                found = hits[0]
                break
            if len(hits) > 1:
                options = ", ".join(str(table["name"][i]) for i in hits)
                raise ValueError(f"index name {wanted!r} is ambiguous: it matches {options}")
        if found is None:
            raise ValueError(f"no index called {wanted!r} in the catalogue (searched names, "
                             f"display names and aliases of {len(table)} indices)")
        if found not in keep:
            keep.append(found)
    return table[keep]


def load_catalog(name="lick", frame="air"):
    """Load an absorption-index catalogue.

    Parameters
    ----------
    name : str, path-like or sequence of str, default "lick"
        A packaged subset (see :func:`catalog_names`), the path of an ECSV
        file with the catalogue columns, or a list of index names / aliases
        (case and punctuation are ignored, e.g. ``["Mgb", "H-beta"]``) taken
        from the ``all`` subset.
    frame : {"air", "vacuum"}, default "air"
        Frame of the returned band edges. Rows defined in the other frame are
        converted with :func:`specutils.utils.wcs_utils.air_to_vac` /
        ``vac_to_air`` (Morton 2000 refraction index, the IAU standard also
        used by SDSS and VALD).

    Returns
    -------
    astropy.table.QTable
        One row per index: ``name`` (identifier-safe, unique),
        ``display_name``, ``aliases`` (comma-separated), ``kind`` (atomic /
        molecular / bandhead), the six band edges (Angstrom; bandheads have
        NaN central band), ``wave_frame``, ``index_unit`` (Angstrom / mag /
        ratio), ``species``, ``sensitive_to`` (comma-separated),
        ``reference``, ``integrand`` and ``ratio_order`` (bandheads only),
        ``sources`` (reference file:line of every merged definition).

    Raises
    ------
    ValueError
        Unknown subset name, unknown index name or unknown frame.
    DataError
        A catalogue file whose bands are not ordered (lower < upper).

    Warns
    -----
    DataWarning
        Once per call, listing the indices whose sidebands overlap the
        central band or lie on the same side of it (kept as published).

    Examples
    --------
    >>> from stellar_relevance import load_catalog
    >>> two = load_catalog(["Mgb", "H-beta"])
    >>> two["name"].tolist(), two["band_lower"][0]
    (['Mgb', 'Hb'], <Quantity 5160.125 Angstrom>)
    """
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    if isinstance(name, (list, tuple)):
        table = _read_packaged("all")
        table = _select(table, name)
        table.meta["subset"] = "custom"
        table.meta["description"] = "selected indices: " + ", ".join(map(str, name))
        source = "catalogue 'all'"
    elif isinstance(name, Path) or (isinstance(name, str) and name.lower().endswith(".ecsv")):
        path = Path(name)
        if not path.is_file():
            raise ValueError(f"catalogue file {path} does not exist")
        table = QTable.read(path, format="ascii.ecsv")
        source = f"catalogue file {path}"
    else:
        names = catalog_names()
        if name not in names:
            raise ValueError(f"unknown catalogue {name!r}; valid names: {', '.join(names)} "
                             f"(or an .ecsv path, or a list of index names)")
        table = _read_packaged(name)
        source = f"catalogue {name!r}"
    validate_catalog(table, source=source)
    return to_frame(table, frame)


def _read_packaged(name):
    ref = resources.files(CATALOG_PACKAGE) / f"{name}.ecsv"
    with resources.as_file(ref) as path:
        return QTable.read(path, format="ascii.ecsv")


def validate_catalog(table, *, source="catalogue", warn_overlaps=True):
    """Check a catalogue table; raise on bad rows, warn on unusual sidebands.

    Parameters
    ----------
    table : astropy.table.QTable
        Catalogue with the columns of :func:`load_catalog`.
    source : str
        How to name the catalogue in messages.
    warn_overlaps : bool
        Emit one DataWarning listing sidebands that overlap the central band
        (or lie on the wrong side of it). Touching bands are normal and silent.

    Raises
    ------
    DataError
        Missing column, duplicate or non-identifier name, unknown frame or
        unit, a band that is not ordered (lower >= upper), a missing edge.

    Examples
    --------
    >>> from stellar_relevance import load_catalog
    >>> from stellar_relevance.indices.catalog import validate_catalog
    >>> validate_catalog(load_catalog(["Mgb"]), warn_overlaps=False)  # the overlaps it would warn about
    ['Mgb (blue sideband overlaps central band by 1.25 A; red sideband overlaps central band by 1.25 A)']
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.colnames]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}")
    seen = set()
    unusual = []
    for i, row in enumerate(table):
        name = str(row["name"])
        where = f"{source}, row {i}, index {name!r}"
        if not name.isidentifier():
            raise DataError(f"{where}: name must be identifier-safe (letters, digits, _)")
        if name.lower() in seen:
            raise DataError(f"{where}: duplicate index name")
        seen.add(name.lower())
        if str(row["wave_frame"]) not in FRAMES:
            raise DataError(f"{where}: wave_frame {row['wave_frame']!r} is not one of {FRAMES}")
        if str(row["index_unit"]) not in INDEX_UNITS:
            raise DataError(f"{where}: index_unit {row['index_unit']!r} is not one of "
                            f"{tuple(INDEX_UNITS)}")
        bandhead = str(row["kind"]) == "bandhead"
        edges = {}
        for col in BAND_COLUMNS:
            value = row[col]
            edges[col] = value.to_value(u.AA) if isinstance(value, u.Quantity) else float(value)
        for band in ("blue", "band", "red"):
            lo, hi = edges[f"{band}_lower"], edges[f"{band}_upper"]
            if band == "band" and bandhead:
                continue
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise DataError(f"{where}: {band} band edges must be finite, got {lo}, {hi}")
            if not lo < hi:
                raise DataError(f"{where}: {band} band is not ordered: {band}_lower {lo} must "
                                f"be < {band}_upper {hi} Angstrom")
        if bandhead:
            integrand = _optional(row, "integrand") or "flambda"
            order = _optional(row, "ratio_order") or "r_b"
            if integrand not in ("fnu", "flambda") or order not in ("r_b", "b_r"):
                raise DataError(f"{where}: bandhead needs integrand fnu/flambda and ratio_order "
                                f"r_b/b_r, got {integrand!r}, {order!r}")
            if edges["blue_lower"] >= edges["red_lower"]:
                unusual.append(f"{name} (blue band redder than red band)")
            continue
        notes = []
        if edges["blue_upper"] > edges["band_lower"]:
            notes.append(f"blue sideband overlaps central band by "
                         f"{edges['blue_upper'] - edges['band_lower']:.3g} A")
        if edges["red_lower"] < edges["band_upper"]:
            notes.append(f"red sideband overlaps central band by "
                         f"{edges['band_upper'] - edges['red_lower']:.3g} A")
        if edges["blue_lower"] >= edges["band_upper"]:
            notes.append("blue sideband lies redward of the central band")
        if edges["red_upper"] <= edges["band_lower"]:
            notes.append("red sideband lies blueward of the central band")
        if notes:
            unusual.append(f"{name} ({'; '.join(notes)})")
    if unusual and warn_overlaps:
        warnings.warn(
            f"{source}: {len(unusual)} index definition(s) have sidebands overlapping or "
            f"outside the usual place; kept as published: " + ", ".join(unusual),
            DataWarning, stacklevel=3,
        )
    return unusual


def _optional(row, column):
    """A string cell that older or hand-made catalogues may lack ("" then)."""
    return str(row[column]) if column in row.colnames else ""


def to_frame(table, frame):
    """Copy of a catalogue with every band edge in ``frame`` ("air" or "vacuum")."""
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    out = table.copy()
    frames = np.array([str(f) for f in out["wave_frame"]])
    convert = frames != frame
    if convert.any():
        from specutils.utils.wcs_utils import air_to_vac, vac_to_air

        func = air_to_vac if frame == "vacuum" else vac_to_air
        for col in BAND_COLUMNS:
            values = u.Quantity(out[col], u.AA).copy()
            sel = convert & np.isfinite(values.value)
            if sel.any():
                values[sel] = func(values[sel], method=FRAME_METHOD).to(u.AA)
            out[col] = values
        log.debug("converted %d index definitions to %s wavelengths", convert.sum(), frame)
    out["wave_frame"] = np.array([frame] * len(out), dtype=str) if len(out) else out["wave_frame"]
    out.meta["wave_frame"] = frame
    out.meta["frame_conversion"] = f"specutils.utils.wcs_utils ({FRAME_METHOD}) where needed"
    return out


def as_catalog(catalog, frame):
    """A validated catalogue in ``frame``: a packaged name / list / path, or a table."""
    if isinstance(catalog, (str, Path, list, tuple)):
        return load_catalog(catalog, frame=frame or "air")
    if not isinstance(catalog, QTable):
        if hasattr(catalog, "colnames"):
            catalog = QTable(catalog)
        else:
            raise TypeError(f"catalog must be a catalogue name or an astropy QTable, "
                            f"got {type(catalog).__name__}")
    validate_catalog(catalog, source="catalogue table", warn_overlaps=False)
    for col in BAND_COLUMNS:
        if not isinstance(catalog[col], u.Quantity):
            raise DataError(f"catalogue table: column {col!r} has no length unit; expected "
                            f"Angstrom")
    return to_frame(catalog, frame) if frame else catalog


# --------------------------------------------------------------------------
# the grid
# --------------------------------------------------------------------------
def check_wavelength(wavelength, what="wavelength"):
    """Validate a wavelength grid (:func:`stellar_relevance.spectra.as_wavelength`); return it in Angstrom.

    Returns
    -------
    ndarray
        The grid as float64 values in Angstrom.
    """
    return as_wavelength(wavelength, what).to_value(u.AA)


def pixel_edges(wave):
    """Pixel boundaries of a grid of pixel centres (midpoints; outer edges half a step out)."""
    edges = np.empty(wave.size + 1)
    edges[1:-1] = 0.5 * (wave[:-1] + wave[1:])
    edges[0] = wave[0] - 0.5 * (wave[1] - wave[0])
    edges[-1] = wave[-1] + 0.5 * (wave[-1] - wave[-2])
    return edges


def band_weights(edges, lower, upper):
    """Exact overlap (Angstrom) of each pixel with ``[lower, upper]``.

    Returns ``(start, weights)``: the first pixel touched and the overlap
    lengths of pixels ``start .. start + len(weights) - 1``; they sum to
    ``upper - lower`` when the band lies inside the grid.
    """
    start = max(int(np.searchsorted(edges, lower, side="right")) - 1, 0)
    stop = min(int(np.searchsorted(edges, upper, side="left")), edges.size - 1)
    lo = np.maximum(edges[start:stop], lower)
    hi = np.minimum(edges[start + 1: stop + 1], upper)
    return start, np.clip(hi - lo, 0.0, None)


# --------------------------------------------------------------------------
# measurement
# --------------------------------------------------------------------------
def _unpack_spectra(spectra):
    """(wavelength Quantity, 2-D flux array, labels or None, frame or None, mask or None)."""
    if hasattr(spectra, "wavelength") and hasattr(spectra, "flux"):
        wavelength, flux = spectra.wavelength, spectra.flux
        labels = getattr(spectra, "labels", None)
        frame = getattr(spectra, "wave_frame", None)
        mask = getattr(spectra, "mask", None)
    elif isinstance(spectra, (tuple, list)) and len(spectra) == 2:
        (wavelength, flux), labels, frame, mask = spectra, None, None, None
    else:
        raise TypeError("spectra must be a SpectralSet (or any object with .wavelength and "
                        ".flux) or a (wavelength Quantity, flux array) pair")
    if isinstance(flux, u.Quantity):
        flux = flux.value
    flux = np.asarray(flux, dtype=float)
    if flux.ndim == 1:
        flux = flux[np.newaxis, :]
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim == 1:
            mask = mask[np.newaxis, :]
    return wavelength, flux, labels, frame, mask


def measure_indices(spectra, catalog="lick", *, wave_frame=None):
    """Measure absorption indices on a set of spectra.

    Equivalent widths (Angstrom) and magnitudes use the Lick
    pseudo-continuum: the straight line through the mean fluxes of the blue
    and red sidebands, placed at the sideband midpoints. Flux is taken as
    constant across each pixel (boundaries half-way between pixel centres);
    bands cut pixels exactly at their edges (fractional-pixel weights).

    ``EW = sum_i w_i (1 - F_i / C_i)`` ;
    ``mag = -2.5 log10( sum_i w_i F_i / C_i / (band_upper - band_lower) )``;
    bandheads: ratio of the mean integrand (F_lambda, or F_nu ~ F_lambda *
    lambda**2) in the two bands, red/blue (``r_b``) or blue/red (``b_r``).

    Parameters
    ----------
    spectra : SpectralSet or (Quantity, array)
        Anything with ``.wavelength`` (Quantity, strictly increasing) and
        ``.flux`` (n_spectra, n_pixels); ``.labels`` (Table with ``ID``),
        ``.wave_frame`` and ``.mask`` (True = bad) are used when present.
        Or a plain ``(wavelength, flux)`` pair; 1-D flux is one spectrum.
    catalog : str, list or QTable, default "lick"
        A packaged subset name, a list of index names, an ECSV path or a
        catalogue table (see :func:`load_catalog`).
    wave_frame : {"air", "vacuum"}, optional
        Frame of the spectra; defaults to ``spectra.wave_frame`` and, when
        that is absent, to the catalogue's frame (no conversion). Band edges
        are converted to this frame.

    Returns
    -------
    astropy.table.QTable
        One row per spectrum: ``ID`` (when labels carry one) and one column
        per index, named by the catalogue's ``name``, unit Angstrom, mag or
        dimensionless. ``meta["nan_reasons"]`` maps an index to why it is
        NaN (band off the grid; counts of spectra with non-finite or masked
        flux or a non-positive continuum).

    Warns
    -----
    DataWarning
        One warning listing the indices returned as NaN and why.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from stellar_relevance import SpectralSet, measure_indices
    >>> wave = np.arange(4000.0, 6000.0, 1.0) * u.AA
    >>> flux = np.ones((2, wave.size))
    >>> flux[1, (wave > 5160 * u.AA) & (wave < 5190 * u.AA)] = 0.5  # half depth across Mg b
    >>> table = measure_indices(SpectralSet(wave, flux), ["Mgb"])
    >>> np.round(table["Mgb"].to_value(u.AA), 2).tolist()
    [0.0, 14.31]
    """
    wavelength, flux, labels, frame, mask = _unpack_spectra(spectra)
    wave = check_wavelength(wavelength, "spectra wavelength")
    if flux.shape[1] != wave.size:
        raise DataError(f"flux has {flux.shape[1]} pixels per spectrum but the wavelength grid "
                        f"has {wave.size}")
    if mask is not None:
        if mask.shape != flux.shape:
            raise DataError(f"mask shape {mask.shape} does not match flux shape {flux.shape}")
        if mask.any():
            flux = np.where(mask, np.nan, flux)  # a new array: the input is not modified
    frame = wave_frame or frame
    if frame is not None and frame not in FRAMES:
        raise ValueError(f"wave_frame must be one of {FRAMES}, got {frame!r}")
    table = as_catalog(catalog, frame)
    edges = pixel_edges(wave)
    n_spec = flux.shape[0]

    out = QTable()
    if labels is not None and "ID" in getattr(labels, "colnames", ()):
        if len(labels) != n_spec:
            raise DataError(f"labels have {len(labels)} rows but there are {n_spec} spectra")
        out["ID"] = labels["ID"]
    reasons = {}
    for row in table:
        name = str(row["name"])
        unit = INDEX_UNITS[str(row["index_unit"])]
        values, reason = _measure_one(row, wave, edges, flux)
        if reason:
            reasons[name] = reason
        out[name] = values * unit
    if reasons:
        warnings.warn(
            f"{len(reasons)} index(es) have NaN values: "
            + "; ".join(f"{k}: {v}" for k, v in reasons.items()),
            DataWarning, stacklevel=2,
        )
    out.meta["catalog"] = table.meta.get("subset", "custom")
    out.meta["wave_frame"] = frame or (str(table["wave_frame"][0]) if len(table) else None)
    out.meta["method"] = ("Lick pseudo-continuum (line through blue/red sideband mean fluxes at "
                          "sideband midpoints), fractional-pixel integration")
    out.meta["nan_reasons"] = reasons
    return out


def _band_mean(edges, wave, flux, lower, upper, integrand="flambda"):
    start, w = band_weights(edges, lower, upper)
    block = flux[:, start: start + w.size]
    if integrand == "fnu":
        block = block * wave[start: start + w.size] ** 2
    return block @ w / w.sum()


def _measure_one(row, wave, edges, flux):
    """Values for one index over all spectra, and a NaN reason (or "")."""
    e = {c: row[c].to_value(u.AA) for c in BAND_COLUMNS}
    bandhead = str(row["kind"]) == "bandhead"
    bands = ("blue", "red") if bandhead else ("blue", "band", "red")
    lo = min(e[f"{b}_lower"] for b in bands)
    hi = max(e[f"{b}_upper"] for b in bands)
    n_spec = flux.shape[0]
    if lo < edges[0] or hi > edges[-1]:
        return (np.full(n_spec, np.nan),
                f"bands span {lo:.3f}-{hi:.3f} A, beyond the grid {edges[0]:.3f}-{edges[-1]:.3f} A")
    with np.errstate(invalid="ignore", divide="ignore"):
        if bandhead:
            integrand = _optional(row, "integrand") or "flambda"
            blue = _band_mean(edges, wave, flux, e["blue_lower"], e["blue_upper"], integrand)
            red = _band_mean(edges, wave, flux, e["red_lower"], e["red_upper"], integrand)
            values = blue / red if _optional(row, "ratio_order") == "b_r" else red / blue
            cont = np.minimum(blue, red)
        else:
            blue = _band_mean(edges, wave, flux, e["blue_lower"], e["blue_upper"])
            red = _band_mean(edges, wave, flux, e["red_lower"], e["red_upper"])
            x_blue = 0.5 * (e["blue_lower"] + e["blue_upper"])
            x_red = 0.5 * (e["red_lower"] + e["red_upper"])
            start, w = band_weights(edges, e["band_lower"], e["band_upper"])
            x = wave[start: start + w.size]
            t = (x - x_blue) / (x_red - x_blue)
            continuum = blue[:, None] * (1.0 - t) + red[:, None] * t
            ratio = flux[:, start: start + w.size] / continuum
            if str(row["index_unit"]) == "mag":
                values = -2.5 * np.log10(ratio @ w / w.sum())
            else:
                values = w.sum() - ratio @ w
            cont = continuum.min(axis=1)
    notes = []
    n_nonfinite = int(np.count_nonzero(~np.isfinite(values) & ~(cont <= 0)))
    n_negative = int(np.count_nonzero(cont <= 0))
    if n_nonfinite:
        notes.append(f"{n_nonfinite} spectra with non-finite or masked flux in the bands")
    if n_negative:
        notes.append(f"{n_negative} spectra with a non-positive continuum")
        values = np.where(cont <= 0, np.nan, values)
    return values, "; ".join(notes)
