"""Rebuild the packaged absorption-index catalogues from the reference files.

The catalogue is built from four plain-text definition files (see
``catalogs/README.md`` for their provenance):

``lickindx.par``
    the 21 Lick/IDS indices of Trager et al. (1998), MaNGA DAP format;
``extindx.par``
    the DAP "extended" set (Lick + Worthey & Ottaviani Balmer indices,
    Serven CaHK, Cenarro Ca triplet, Conroy & van Dokkum, Spiniello,
    La Barbera), MaNGA DAP format;
``bhbasic.par``
    the bandhead (flux-ratio) indices D4000, Dn4000 and TiOCvD;
``ls_indices_full.def``
    the MILES line-strength definition file (six band edges, unit flag,
    name, origin tag).

Every definition is parsed, converted to air (for comparison only) and
merged with any earlier definition that has the same unit and the same band
edges to within ``MERGE_TOLERANCE`` (0.02 Angstrom); the first spelling met
(file order above) becomes the ``display_name`` and the others ``aliases``.
Each merged index is annotated with its species, kind, sensitivities and the
original paper, and written as ECSV, one file per named subset.

Usage::

    python -m stellar_relevance.catalogs.build_catalog \\
        --reference-dir ../shared/reference --output-dir catalogs --force

Without ``--force`` an existing file that differs is not overwritten.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import re
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

from stellar_relevance.io.atomic import atomic_write
from stellar_relevance.exceptions import DataError
from stellar_relevance.indices.catalog import BAND_COLUMNS, FRAME_METHOD  # the catalogue's columns and air<->vacuum formula

log = logging.getLogger(__name__)

REFERENCE_FILES = ("lickindx.par", "extindx.par", "bhbasic.par", "ls_indices_full.def")

#: two definitions are the same index when every band edge agrees to this (Angstrom, air)
MERGE_TOLERANCE = 0.02


# --------------------------------------------------------------------------
# original papers
# --------------------------------------------------------------------------
TRAGER98 = "Trager et al. 1998, ApJS, 116, 1"
WO97 = "Worthey & Ottaviani 1997, ApJS, 111, 377"
SERVEN05 = "Serven et al. 2005, ApJ, 627, 754"
CENARRO01 = "Cenarro et al. 2001, MNRAS, 326, 959"
DIAZ89 = "Diaz et al. 1989, MNRAS, 239, 325"
CVD12 = "Conroy & van Dokkum 2012, ApJ, 747, 69"
SPINIELLO12 = "Spiniello et al. 2012, ApJL, 753, 32"
SPINIELLO14 = "Spiniello et al. 2014, MNRAS, 438, 1483"
LABARBERA13 = "La Barbera et al. 2013, MNRAS, 433, 3017"

#: extindx.par index number -> original paper (from the file's header comment)
EXTINDX_REFERENCES = {
    **{i: TRAGER98 for i in range(1, 22)},
    **{i: WO97 for i in range(22, 26)},
    26: SERVEN05,
    **{i: CENARRO01 for i in range(27, 33)},
    33: CVD12,
    34: CVD12,
    35: DIAZ89,  # Mg I 8807 of Diaz et al. (1989), in vacuum as compiled by CvD12
    36: CVD12,
    37: SPINIELLO12,
    **{i: SPINIELLO14 for i in range(38, 42)},
    42: LABARBERA13,
    43: LABARBERA13,
}

#: bhbasic.par name -> original paper (from the file's header comment)
BANDHEAD_REFERENCES = {
    "D4000": "Bruzual 1983, ApJ, 273, 105",
    "Dn4000": "Balogh et al. 1999, ApJ, 527, 54",
    "TiOCvD": CVD12,
}

#: origin tag of ls_indices_full.def -> original paper (author-year as tagged;
#: journal details only where a DAP header states them)
LS_REFERENCES = {
    "Fanelli+90": "Fanelli et al. 1990",
    "Serven+11": "Serven et al. 2011",
    "Davidge,Clark94": "Davidge & Clark 1994",
    "Gregg94": "Gregg 1994",
    "Pickles85": "Pickles 1985",
    "Pickles85,Davidge,Clark94": "Pickles 1985; Davidge & Clark 1994",
    "Brodie,Huchra90": "Brodie & Huchra 1990",
    "Serven+05": SERVEN05,
    "Worthey,Ottaviani97": WO97,
    "Trager+98": TRAGER98,
    "Vazdekis,Arimoto99": "Vazdekis & Arimoto 1999",
    "Vazdekis+01": "Vazdekis et al. 2001",
    "Cervantes,Vazdekis09": "Cervantes & Vazdekis 2009",
    "Spiniello+14": SPINIELLO14,
    "Cohen+98": "Cohen et al. 1998",
    "LaBarbera+13": LABARBERA13,
    "Vazdekis+12": "Vazdekis et al. 2012",
    "Carter+86": "Carter et al. 1986",
    "Diaz+89": DIAZ89,
    "Cenarro+01,LaBarbera+13": CENARRO01,
    "Armandroff,Zinn88": "Armandroff & Zinn 1988",
    "Conroy,vanDokkum12": CVD12,
    "Rock15": "Röck et al. 2015",
    "LaBarbera+16": "La Barbera et al. 2016",
    "Ivanov+04": "Ivanov et al. 2004",
    "Origlia+93": "Origlia et al. 1993",
    "Kleinmann,Hall96": "Kleinmann & Hall 1996",
    "Frogel+01": "Frogel et al. 2001",
    "Ali+95": "Ali et al. 1995",
    "Silva+08": "Silva et al. 2008",
    "Eftekhari+21": "Eftekhari et al. 2021",
    "Eftekhari+24": "Eftekhari et al. 2024",
}

# --------------------------------------------------------------------------
# species, kind and sensitivities
# --------------------------------------------------------------------------
MOLECULES = {"CN", "CH", "C2", "MgH", "TiO", "CaH", "FeH", "CO", "NH", "CN, ZrO", "MgH, Mg I"}

#: curated species / sensitivities for the well-studied optical indices
#: (Worthey 1994; Trager et al. 1998; Worthey & Ottaviani 1997; Serven et al.
#: 2005; Cenarro et al. 2001; Spiniello et al. 2014); keyed by display name.
CURATED = {
    "CN1": ("CN", "carbon,nitrogen,metallicity"),
    "CN2": ("CN", "carbon,nitrogen,metallicity"),
    "Ca4227": ("Ca I", "metallicity,calcium"),
    "G4300": ("CH", "carbon,temperature,metallicity"),
    "Fe4383": ("Fe I", "metallicity,iron"),
    "Ca4455": ("Ca I, Fe I", "metallicity"),
    "Fe4531": ("Fe I, Ti I", "metallicity,iron"),
    "C24668": ("C2", "carbon,metallicity"),
    "Hb": ("H I", "temperature,age"),
    "Fe5015": ("Fe I, Ti I", "metallicity,iron"),
    "Mg1": ("MgH, Mg I", "metallicity,alpha,gravity"),
    "Mg2": ("MgH, Mg I", "metallicity,alpha,gravity"),
    "Mgb": ("Mg I", "metallicity,alpha,gravity"),
    "Fe5270": ("Fe I", "metallicity,iron"),
    "Fe5335": ("Fe I", "metallicity,iron"),
    "Fe5406": ("Fe I", "metallicity,iron"),
    "Fe5709": ("Fe I", "metallicity,iron"),
    "Fe5782": ("Fe I", "metallicity,iron"),
    "NaD": ("Na I", "sodium,gravity,metallicity"),
    "TiO1": ("TiO", "temperature,gravity"),
    "TiO2": ("TiO", "temperature,gravity"),
    "HDeltaA": ("H I", "temperature,age"),
    "HGammaA": ("H I", "temperature,age"),
    "HDeltaF": ("H I", "temperature,age"),
    "HGammaF": ("H I", "temperature,age"),
    "CaHK": ("Ca II", "metallicity,temperature,calcium"),
    "CaIIH+K": ("Ca II", "metallicity,temperature,calcium"),
    "CaK3933": ("Ca II", "metallicity,temperature,calcium"),
    "CaH3968": ("Ca II", "metallicity,temperature,calcium"),
    "H+K": ("Ca II", "metallicity,temperature,calcium"),
    "CaII1": ("Ca II", "gravity,metallicity"),
    "CaII2": ("Ca II", "gravity,metallicity"),
    "CaII3": ("Ca II", "gravity,metallicity"),
    "Pa17": ("H I", "temperature,gravity"),
    "Pa14": ("H I", "temperature,gravity"),
    "Pa12": ("H I", "temperature,gravity"),
    "MgICvD": ("Mg I", "metallicity,alpha"),
    "NaICvD": ("Na I", "sodium,gravity"),
    "MgIIR": ("Mg I", "metallicity,alpha"),
    "FeHCvD": ("FeH", "gravity"),
    "NaI": ("Na I", "sodium,gravity"),
    "bTiO": ("TiO", "temperature,gravity"),
    "aTiO": ("TiO", "temperature,gravity"),
    "CaH1": ("CaH", "gravity,temperature"),
    "CaH2": ("CaH", "gravity,temperature"),
    "NaISDSS": ("Na I", "sodium,gravity"),
    "TiO2SDSS": ("TiO", "temperature,gravity"),
    "D4000": ("4000 A break (Ca II H&K, metal lines)", "age,metallicity,temperature"),
    "Dn4000": ("4000 A break (Ca II H&K, metal lines)", "age,metallicity,temperature"),
    "TiOCvD": ("TiO", "temperature,gravity"),
    "Halpha": ("H I", "temperature,age"),
    "Ha_Gregg94": ("H I", "temperature,age"),
    "Hbeta_o": ("H I", "temperature,age"),
    "G-band": ("CH", "carbon,temperature"),
    "CO4685": ("C2", "carbon,oxygen"),
    "CNO3862": ("CN", "carbon,nitrogen,oxygen"),
    "CNO4175": ("CN", "carbon,nitrogen,oxygen"),
    "MgH93838": ("Mg I, H I", "metallicity,alpha,temperature"),
    "Mg4780": ("Mg I", "metallicity,alpha"),
    "MgG": ("MgH, Mg I", "metallicity,alpha,gravity"),
    "MgH": ("MgH", "gravity,metallicity"),
    "UV_CN": ("CN", "carbon,nitrogen"),
    "CNB": ("CN", "carbon,nitrogen"),
    "CN3883": ("CN", "carbon,nitrogen"),
    "IR_CN": ("CN", "carbon,nitrogen"),
    "CN/ZrO": ("CN, ZrO", "carbon,nitrogen,temperature"),
    "H10Fe": ("H I, Fe I", "temperature,metallicity"),
    "Sr4077": ("Sr II", "gravity,metallicity"),
    "FeII4550": ("Fe II", "metallicity,iron,gravity"),
    "Mgwide": ("Mg II, Mg I", "metallicity,alpha"),
    "Mg2800": ("Mg II", "metallicity,alpha"),
    "Mg2852": ("Mg I", "metallicity,alpha"),
    "Fe2332": ("Fe II", "metallicity,iron"),
    "Fe2402": ("Fe II", "metallicity,iron"),
    "Fe2609": ("Fe II", "metallicity,iron"),
    "Fe3000": ("Fe I", "metallicity,iron"),
    "FeH": ("FeH", "gravity"),
    "FeH0.99": ("FeH", "gravity"),
    "TiO1_0.85": ("TiO", "temperature,gravity"),
    "TiO2_0.89": ("TiO", "temperature,gravity"),
    "CI1.07": ("C I", "carbon"),
    "Brg(2.16m)": ("H I", "temperature,gravity"),
}

#: name prefix -> (species, sensitivities) for the remaining indices; first match wins
PREFIX_RULES = (
    (r"^BL\d", "blend", "metallicity"),
    (r"^(Hg|Hd|Hb|Ha)", "H I", "temperature,age"),
    (r"^(Pa|Brg)", "H I", "temperature,gravity"),
    (r"^FeH", "FeH", "gravity"),
    (r"^Fe", "Fe I", "metallicity,iron"),
    (r"^MgH", "MgH", "gravity,metallicity"),
    (r"^Mg", "Mg I", "metallicity,alpha"),
    (r"^(Ca_DTT|CaAZ88|Ca[123]$)", "Ca II", "gravity,metallicity"),
    (r"^CaH\d", "CaH", "gravity,temperature"),
    (r"^Ca", "Ca I", "metallicity,calcium"),
    (r"^(Na|IR_NaI)", "Na I", "sodium,gravity"),
    (r"^TiO", "TiO", "temperature,gravity"),
    (r"^CN", "CN", "carbon,nitrogen"),
    (r"^CO", "CO", "temperature,gravity"),
    (r"^NH", "NH", "nitrogen"),
    (r"^Ni", "Ni I", "metallicity"),
    (r"^Si", "Si I", "metallicity,alpha"),
    (r"^Mn", "Mn I", "metallicity"),
    (r"^Al", "Al I", "metallicity"),
    (r"^K", "K I", "gravity"),
)

#: aliases added by hand (must not collide with any other index)
EXTRA_ALIASES = {
    "CaHK": ["Ca II H&K"],
}

# --------------------------------------------------------------------------
# named subsets (by display name of the merged index)
# --------------------------------------------------------------------------
LICK = [
    "CN1", "CN2", "Ca4227", "G4300", "Fe4383", "Ca4455", "Fe4531", "C24668", "Hb",
    "Fe5015", "Mg1", "Mg2", "Mgb", "Fe5270", "Fe5335", "Fe5406", "Fe5709", "Fe5782",
    "NaD", "TiO1", "TiO2", "HDeltaA", "HGammaA", "HDeltaF", "HGammaF",
]
SUBSETS = {
    "all": ("Every index in the four reference files, deduplicated.", None),
    "lick": ("The 21 Lick/IDS indices (Trager et al. 1998) and the 4 Balmer indices "
             "of Worthey & Ottaviani (1997).", LICK),
    "metallicity": ("Metal-line indices that trace [Fe/H] / [M/H] in stars: Lick Fe, Mg, "
                    "Ca and C2 indices, Ca II H&K (Serven et al. 2005) and the Ca II "
                    "triplet (Cenarro et al. 2001).",
                    ["CaHK", "Ca4227", "Fe4383", "Ca4455", "Fe4531", "C24668", "Fe5015",
                     "Mg1", "Mg2", "Mgb", "Fe5270", "Fe5335", "Fe5406", "Fe5709", "Fe5782",
                     "CaII1", "CaII2", "CaII3"]),
    "balmer": ("Hydrogen Balmer-line indices (temperature / age).",
               ["HDeltaA", "HDeltaF", "HGammaA", "HGammaF", "Hg_sigma_275", "Hg_sigma_200",
                "Hg_sigma_125", "Hg_sigma_130", "Hb", "Hbeta_o", "Halpha", "Ha_Gregg94"]),
    "optical": ("Recommended default for MILES-like optical spectra (3540-7410 A): the 25 "
                "Lick indices plus CaHK (Serven et al. 2005) and Halpha (Cohen et al. 1998).",
                LICK + ["CaHK", "Halpha"]),
    "bandhead": ("Flux-ratio (bandhead / break) indices.", ["D4000", "Dn4000", "TiOCvD"]),
}

_DAP_ABS = re.compile(
    r"^DAPABI\s+(\d+)\s+(\S+)\s+\{\s*(\S+)\s+(\S+)\s*\}\s+\{\s*(\S+)\s+(\S+)\s*\}\s+"
    r"\{\s*(\S+)\s+(\S+)\s*\}\s+(air|vac)\s+(ang|mag)\s+(\d+)\s*$"
)
_DAP_BH = re.compile(
    r"^DAPBHI\s+(\d+)\s+(\S+)\s+\{\s*(\S+)\s+(\S+)\s*\}\s+\{\s*(\S+)\s+(\S+)\s*\}\s+"
    r"(air|vac)\s+(fnu|flambda)\s+(r_b|b_r)\s*$"
)
_LS = re.compile(r"^\s*" + r"(\S+)\s+" * 6 + r"([AM])\s+(\S+)\s+\((.*)\)\s*$")


def safe_name(display_name):
    """Identifier-safe version of an index name (``CaIIH+K`` -> ``CaIIH_K``)."""
    name = re.sub(r"\W+", "_", display_name).strip("_")
    if not name or name[0].isdigit():
        name = "i_" + name
    return name


def _float(text, where, name):
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{where}: index {name!r}: band edge {text!r} is not a number") from None


def _check_order(entry):
    """Raise DataError when a band of a parsed definition is not lower < upper."""
    for band in ("blue", "band", "red"):
        lo, hi = entry[band]
        if np.isnan(lo) and np.isnan(hi) and band == "band" and entry["kind"] == "bandhead":
            continue
        if not lo < hi:
            raise DataError(
                f"{entry['source']}: index {entry['name']!r}: {band} band is not ordered "
                f"(lower {lo} must be < upper {hi} Angstrom)"
            )


def parse_dap_par(path):
    """Parse a MaNGA DAP absorption-index (DAPABI) or bandhead (DAPBHI) ``.par`` file."""
    path = Path(path)
    entries = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.startswith(("DAPABI", "DAPBHI")):
            continue
        where = f"{path.name}:{lineno}"
        if line.startswith("DAPABI"):
            m = _DAP_ABS.match(line)
            if m is None:
                raise DataError(f"{where}: cannot parse DAPABI line {line!r}")
            idx, name = int(m.group(1)), m.group(2)
            prim, blue, red = (
                tuple(_float(m.group(k), where, name) for k in (a, a + 1)) for a in (3, 5, 7)
            )
            entry = dict(
                name=name, number=idx, blue=blue, band=prim, red=red,
                frame="air" if m.group(9) == "air" else "vacuum",
                unit="Angstrom" if m.group(10) == "ang" else "mag",
                kind=None, integrand="", ratio_order="", origin="", source=where,
            )
        else:
            m = _DAP_BH.match(line)
            if m is None:
                raise DataError(f"{where}: cannot parse DAPBHI line {line!r}")
            idx, name = int(m.group(1)), m.group(2)
            blue, red = (
                tuple(_float(m.group(k), where, name) for k in (a, a + 1)) for a in (3, 5)
            )
            entry = dict(
                name=name, number=idx, blue=blue, band=(np.nan, np.nan), red=red,
                frame="air" if m.group(7) == "air" else "vacuum", unit="ratio",
                kind="bandhead", integrand=m.group(8), ratio_order=m.group(9),
                origin="", source=where,
            )
        _check_order(entry)
        entries.append(entry)
    if not entries:
        raise DataError(f"{path}: no DAPABI/DAPBHI definitions found")
    return entries


def parse_ls_def(path):
    """Parse the MILES line-strength definition file (``ls_indices_full.def``).

    Columns: blue sideband (2), central band (2), red sideband (2), unit flag
    (``A`` equivalent width in Angstrom, ``M`` magnitude), name, ``(origin)``.
    The file carries no air/vacuum flag; its definitions are in air (the
    MILES convention, and ``FeH0.99c`` is the air version of the vacuum
    ``FeHCvD`` of extindx.par).
    """
    path = Path(path)
    entries = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path.name}:{lineno}"
        m = _LS.match(line)
        if m is None:
            raise DataError(f"{where}: cannot parse definition line {line!r}")
        name = m.group(8)
        edges = [_float(m.group(k), where, name) for k in range(1, 7)]
        entry = dict(
            name=name, number=len(entries) + 1, blue=tuple(edges[0:2]), band=tuple(edges[2:4]),
            red=tuple(edges[4:6]), frame="air",
            unit="Angstrom" if m.group(7) == "A" else "mag", kind=None, integrand="",
            ratio_order="", origin=m.group(9).strip(), source=where,
        )
        _check_order(entry)
        entries.append(entry)
    return entries


def _air_edges(entry):
    edges = np.array([*entry["blue"], *entry["band"], *entry["red"]], dtype=float)
    if entry["frame"] == "vacuum":
        from specutils.utils.wcs_utils import vac_to_air

        ok = np.isfinite(edges)
        edges[ok] = vac_to_air(edges[ok] * u.AA, method=FRAME_METHOD).to_value(u.AA)
    return edges


def _reference(entry, filename):
    if filename == "lickindx.par":
        return TRAGER98
    if filename == "extindx.par":
        try:
            return EXTINDX_REFERENCES[entry["number"]]
        except KeyError:
            raise DataError(f"{entry['source']}: no reference known for extindx.par index "
                            f"{entry['number']} ({entry['name']})") from None
    if filename == "bhbasic.par":
        try:
            return BANDHEAD_REFERENCES[entry["name"]]
        except KeyError:
            raise DataError(f"{entry['source']}: no reference known for bandhead "
                            f"{entry['name']!r}") from None
    try:
        return LS_REFERENCES[entry["origin"]]
    except KeyError:
        raise DataError(f"{entry['source']}: unknown origin tag ({entry['origin']}) of "
                        f"{entry['name']!r}; add it to LS_REFERENCES") from None


def _species(display, unit, kind):
    if display in CURATED:
        species, sens = CURATED[display]
    else:
        for pattern, species, sens in PREFIX_RULES:
            if re.match(pattern, display):
                break
        else:
            raise DataError(f"no species rule matches index {display!r}; add it to CURATED")
    if kind is None:
        kind = "molecular" if species in MOLECULES else "atomic"
    return species, sens, kind


def read_reference_entries(reference_dir):
    """Parse the four reference files, in order, tagging each entry with its reference."""
    reference_dir = Path(reference_dir)
    missing = [f for f in REFERENCE_FILES if not (reference_dir / f).is_file()]
    if missing:
        raise DataError(f"{reference_dir}: reference file(s) missing: {', '.join(missing)}")
    entries = []
    for filename in REFERENCE_FILES:
        path = reference_dir / filename
        parsed = parse_ls_def(path) if filename.endswith(".def") else parse_dap_par(path)
        for entry in parsed:
            entry["reference"] = _reference(entry, filename)
            entry["air_edges"] = _air_edges(entry)
            entries.append(entry)
    return entries


def merge_entries(entries, tolerance=MERGE_TOLERANCE):
    """Group definitions that are the same index (same unit, same air band edges)."""
    groups = []
    for entry in entries:
        for group in groups:
            first = group[0]
            if first["unit"] != entry["unit"]:
                continue
            a, b = first["air_edges"], entry["air_edges"]
            same_nan = np.array_equal(np.isnan(a), np.isnan(b))
            if same_nan and np.all(np.abs(a[~np.isnan(a)] - b[~np.isnan(b)]) <= tolerance):
                group.append(entry)
                break
        else:
            groups.append([entry])
    return groups


def build_tables(reference_dir):
    """Build every named subset as a QTable.

    Parameters
    ----------
    reference_dir : path-like
        Folder holding the four reference files.

    Returns
    -------
    dict of str -> astropy.table.QTable
        Subset name -> catalogue, rows ordered by central wavelength.
    """
    reference_dir = Path(reference_dir)
    entries = read_reference_entries(reference_dir)
    groups = merge_entries(entries)
    rows = []
    seen_names = {}
    for group in groups:
        first = group[0]
        display = first["name"]
        aliases = []
        for other in group[1:]:
            if other["name"] != display and other["name"] not in aliases:
                aliases.append(other["name"])
        aliases += EXTRA_ALIASES.get(display, [])
        species, sens, kind = _species(display, first["unit"], first["kind"])
        name = safe_name(display)
        for label in [name, display, *aliases]:
            key = label.lower()
            if key in seen_names and seen_names[key] != name:
                raise DataError(f"index name/alias {label!r} of {display!r} ({first['source']}) "
                                f"collides with index {seen_names[key]!r}")
            seen_names[key] = name
        air = first["air_edges"]
        centre = np.nanmean(air[2:4]) if kind != "bandhead" else np.mean(air[[1, 4]])
        rows.append(dict(
            name=name, display_name=display, aliases=",".join(aliases), kind=kind,
            blue_lower=first["blue"][0], blue_upper=first["blue"][1],
            band_lower=first["band"][0], band_upper=first["band"][1],
            red_lower=first["red"][0], red_upper=first["red"][1],
            wave_frame=first["frame"], index_unit=first["unit"], species=species,
            sensitive_to=sens, reference=first["reference"],
            integrand=first["integrand"], ratio_order=first["ratio_order"],
            sources=",".join(e["source"] for e in group), _centre=centre,
        ))
    rows.sort(key=lambda r: (r["_centre"], r["name"]))
    by_display = {r["display_name"]: r for r in rows}
    checksums = {
        f: hashlib.sha256((reference_dir / f).read_bytes()).hexdigest() for f in REFERENCE_FILES
    }
    tables = {}
    for subset, (description, members) in SUBSETS.items():
        if members is None:
            chosen = rows
        else:
            unknown = [m for m in members if m not in by_display]
            if unknown:
                raise DataError(f"subset {subset!r} names unknown indices: {unknown}")
            wanted = set(members)
            chosen = [r for r in rows if r["display_name"] in wanted]
        tables[subset] = _to_table(chosen, subset, description, checksums)
    return tables


def _to_table(rows, subset, description, checksums):
    cols = ["name", "display_name", "aliases", "kind", *BAND_COLUMNS, "wave_frame",
            "index_unit", "species", "sensitive_to", "reference", "integrand", "ratio_order",
            "sources"]
    table = QTable()
    for col in cols:
        values = [r[col] for r in rows]
        if col in BAND_COLUMNS:
            table[col] = np.array(values, dtype=float) * u.AA
        else:
            table[col] = np.array(values, dtype=str) if values else np.array([], dtype=str)
    table.meta["subset"] = subset
    table.meta["description"] = description
    table.meta["n_indices"] = len(rows)
    table.meta["frame_conversion"] = (
        f"band edges are stored in the frame of the original definition (wave_frame); "
        f"load_catalog converts with specutils.utils.wcs_utils ({FRAME_METHOD})"
    )
    table.meta["merge_tolerance_angstrom"] = MERGE_TOLERANCE
    table.meta["reference_files_sha256"] = dict(checksums)
    table.meta["built_by"] = "stellar_relevance.catalogs.build_catalog"
    return table


def _write_table(table, path, force):
    """Write one subset as ECSV (atomically); False when an identical file is already there."""
    path = Path(path)
    buffer = io.StringIO()
    # plain Table: units sit in the column header instead of __serialized_columns__
    Table(table).write(buffer, format="ascii.ecsv")
    text = buffer.getvalue()
    if path.exists():
        if path.read_text() == text:
            return False
        if not force:
            raise FileExistsError(f"{path} exists and differs from the rebuilt catalogue; "
                                  f"pass --force to overwrite it")
    atomic_write(path, lambda tmp: Path(tmp).write_text(text), overwrite=True)
    return True


def write_tables(tables, output_dir, force=False):
    """Write each subset to ``<output_dir>/<subset>.ecsv`` atomically; returns written paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for subset, table in tables.items():
        path = output_dir / f"{subset}.ecsv"
        if _write_table(table, path, force):
            written.append(path)
    return written


def main(argv=None):
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-dir", required=True, type=Path,
                        help="folder with lickindx.par, extindx.par, bhbasic.par, ls_indices_full.def")
    parser.add_argument("--output-dir", type=Path, default=Path(__file__).resolve().parent,
                        help="where to write <subset>.ecsv (default: this package folder)")
    parser.add_argument("--force", action="store_true", help="overwrite files that differ")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        tables = build_tables(args.reference_dir)
        written = write_tables(tables, args.output_dir, force=args.force)
    except (DataError, FileExistsError) as exc:
        log.error("error: %s", exc)
        return 1
    for subset, table in tables.items():
        log.info("%-12s %4d indices", subset, len(table))
    log.info("%d file(s) written to %s", len(written), args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
