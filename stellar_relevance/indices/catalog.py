"""The absorption-index catalogue.

``load_catalog`` reads the packaged ECSV catalogues (``stellar_relevance.catalogs``,
rebuilt from the reference definition files by ``catalogs/build_catalog.py``)
and converts the band edges between air and vacuum. Index measurement is
:mod:`stellar_relevance.indices.measure`; see ``docs/indices.md``.
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

__all__ = ["load_catalog", "catalog_names", "validate_catalog", "to_frame", "as_catalog", "check_wavelength",
           "MIN_CONVERTIBLE"]

CATALOG_PACKAGE = "stellar_relevance.catalogs"
FRAMES = ("air", "vacuum")
#: air <-> vacuum formula (specutils.utils.wcs_utils refraction index)
FRAME_METHOD = "Morton2000"
BAND_COLUMNS = ("blue_lower", "blue_upper", "band_lower", "band_upper", "red_lower", "red_upper")
REQUIRED_COLUMNS = ("name", "display_name", "aliases", "kind", *BAND_COLUMNS, "wave_frame",
                    "index_unit", "species", "sensitive_to", "reference")
INDEX_UNITS = {"Angstrom": u.AA, "mag": u.mag, "ratio": u.dimensionless_unscaled}
#: The bluest band edge converted between air and vacuum (specutils' refraction formulas other than
#: Greisen 2006 are not defined below it, nor is the air wavelength scale).
MIN_CONVERTIBLE = 2000 * u.AA


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
        used by SDSS and VALD); rows with a band below 2000 A, where the
        conversion is not defined, are left out with a warning naming them
        (:func:`to_frame`).

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
    """Copy of a catalogue with every band edge in ``frame`` ("air" or "vacuum").

    Rows defined in the other frame are converted with specutils' Morton
    (2000) formula, which is defined from :data:`MIN_CONVERTIBLE` (2000 A)
    up; the air scale itself is not defined below it. A row that needs
    converting and has a band edge below it is left out, and one
    DataWarning names every such row.

    Examples
    --------
    >>> import warnings
    >>> from stellar_relevance import load_catalog
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     vacuum = to_frame(load_catalog(["BL1719", "Mgb"]), "vacuum")
    >>> vacuum["name"].tolist(), "BL1719" in str(caught[-1].message)
    (['Mgb'], True)
    """
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    out = table.copy()
    frames = np.array([str(f) for f in out["wave_frame"]])
    convert = frames != frame
    if convert.any():
        from specutils.utils.wcs_utils import air_to_vac, vac_to_air

        edges = np.column_stack([u.Quantity(out[col], u.AA).to_value(u.AA) for col in BAND_COLUMNS])
        too_blue = convert & np.any(np.isfinite(edges) & (edges < MIN_CONVERTIBLE.to_value(u.AA)), axis=1)
        if too_blue.any():
            names = ", ".join(str(name) for name in out["name"][too_blue])
            warnings.warn(f"{int(too_blue.sum())} index definition(s) left out of the {frame} catalogue: their bands "
                          f"reach below {MIN_CONVERTIBLE.to_value(u.AA):.0f} A, where air and vacuum wavelengths are "
                          f"not converted (specutils' {FRAME_METHOD} formula): {names}", DataWarning, stacklevel=3)
            out = out[~too_blue]
            convert = convert[~too_blue]
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
