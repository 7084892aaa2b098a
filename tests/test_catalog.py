"""The packaged absorption-index catalogue: content, aliases, frames, rebuild, bad rows."""

import os
import shutil
import warnings
from importlib import resources
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable
from specutils.utils.wcs_utils import air_to_vac, vac_to_air

from stellar_relevance import catalog_names, load_catalog
from stellar_relevance.catalogs import build_catalog
from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.indices.catalog import BAND_COLUMNS, validate_catalog

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("STELREL_REFERENCE_DIR", REPO.parent / "shared" / "reference"))


@pytest.fixture(scope="module")
def reference_dir():
    if not all((REFERENCE / f).is_file() for f in build_catalog.REFERENCE_FILES):
        pytest.skip(f"reference index files not found at {REFERENCE}")
    return REFERENCE


def load(name="all", frame="air"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return load_catalog(name, frame=frame)


def row(table, name):
    hits = [r for r in table if r["name"] == name]
    assert len(hits) == 1, name
    return hits[0]


def test_subsets_listed_and_shipped_in_package():
    names = catalog_names()
    for required in ("all", "lick", "metallicity", "balmer", "optical", "bandhead"):
        assert required in names
        assert (resources.files("stellar_relevance.catalogs") / f"{required}.ecsv").is_file()


def test_columns_units_and_types():
    table = load("lick")
    assert isinstance(table, QTable)
    for col in ("name", "display_name", "aliases", "kind", *BAND_COLUMNS, "wave_frame",
                "index_unit", "species", "sensitive_to", "reference"):
        assert col in table.colnames
    for col in BAND_COLUMNS:
        assert table[col].unit == u.AA
    assert len(table) == 25
    assert set(table["kind"]) <= {"atomic", "molecular"}
    assert set(table["index_unit"]) == {"Angstrom", "mag"}
    assert set(table["wave_frame"]) == {"air"}


def test_lick_bands_match_trager_1998():
    # implementation_notes.md, "Index definitions" (Trager et al. 1998, air)
    expected = {
        "Fe4383": (4369.125, 4420.375), "Hb": (4847.875, 4876.625),
        "Fe5015": (4977.750, 5054.000), "Mgb": (5160.125, 5192.625),
        "Fe5270": (5245.650, 5285.650), "Fe5335": (5312.125, 5352.125),
    }
    table = load("lick")
    for name, (lo, hi) in expected.items():
        r = row(table, name)
        assert r["band_lower"].to_value(u.AA) == lo
        assert r["band_upper"].to_value(u.AA) == hi
        assert r["reference"].startswith("Trager et al. 1998")


@pytest.mark.parametrize("alias, name", [
    ("Hbeta", "Hb"), ("H-beta", "Hb"), ("C2_4668", "C24668"), ("HdA", "HDeltaA"),
    ("HgF", "HGammaF"), ("Ca1", "CaII1"), ("NaI8190sdss", "NaISDSS"),
    ("Ca II H&K", "CaHK"), ("H-alpha", "Halpha"), ("mgb", "Mgb"), ("Fe4383", "Fe4383"),
    ("Fe5015", "Fe5015"), ("Fe5270", "Fe5270"), ("Fe5335", "Fe5335"),
    ("FeH0.99c", "FeHCvD"), ("CaIIH+K", "CaIIH_K"),
])
def test_paper_targets_and_aliases_findable(alias, name):
    table = load([alias])
    assert list(table["name"]) == [name]


def test_references_are_original_papers():
    table = load("all")
    expected = {
        "Hb": "Trager et al. 1998", "HDeltaA": "Worthey & Ottaviani 1997",
        "CaHK": "Serven et al. 2005", "Halpha": "Cohen et al. 1998",
        "CaIIH_K": "Pickles 1985", "CaK3933": "Gregg 1994", "CaH3968": "Gregg 1994",
        "CaII1": "Cenarro et al. 2001", "D4000": "Bruzual 1983", "Dn4000": "Balogh et al. 1999",
    }
    for name, ref in expected.items():
        assert row(table, name)["reference"].startswith(ref), name
    assert not any(".par" in r or ".def" in r for r in table["reference"])


def test_deduplicated_names_safe_and_unique():
    table = load("all")
    names = [str(n) for n in table["name"]]
    assert all(n.isidentifier() for n in names)
    assert len({n.lower() for n in names}) == len(names)
    # no two rows describe the same bands (after conversion to air)
    edges = np.column_stack([np.nan_to_num(table[c].to_value(u.AA)) for c in BAND_COLUMNS])
    units = np.array(table["index_unit"])
    for i in range(len(table)):
        same = np.all(np.abs(edges - edges[i]) <= build_catalog.MERGE_TOLERANCE, axis=1)
        same &= units == units[i]
        assert same.sum() == 1, table["name"][i]
    # display names keep the published spelling
    assert row(table, "CaIIH_K")["display_name"] == "CaIIH+K"
    assert row(table, "CN_ZrO")["display_name"] == "CN/ZrO"
    # every definition of the four files is accounted for exactly once
    sources = [s for r in table for s in str(r["sources"]).split(",")]
    assert len(sources) == len(set(sources))


def test_entry_count_matches_reference_files(reference_dir):
    entries = build_catalog.read_reference_entries(reference_dir)
    n_lines = 0
    for f in build_catalog.REFERENCE_FILES:
        for line in (reference_dir / f).read_text().splitlines():
            if f.endswith(".par"):
                n_lines += line.startswith(("DAPABI", "DAPBHI"))
            else:
                n_lines += bool(line.strip()) and not line.lstrip().startswith("#")
    assert len(entries) == n_lines
    table = load("all")
    assert sum(len(str(s).split(",")) for s in table["sources"]) == n_lines


def test_bandheads_have_two_bands_and_ratio_unit():
    table = load("bandhead")
    assert list(table["name"]) == ["Dn4000", "D4000", "TiOCvD"]
    assert np.all(np.isnan(table["band_lower"])) and np.all(np.isnan(table["band_upper"]))
    assert set(table["index_unit"]) == {"ratio"}
    assert set(table["kind"]) == {"bandhead"}
    d4000 = row(table, "D4000")
    assert d4000["integrand"] == "fnu" and d4000["ratio_order"] == "r_b"
    assert d4000["blue_lower"].to_value(u.AA) == 3750.0
    assert d4000["red_upper"].to_value(u.AA) == 4250.0


def test_metallicity_and_optical_subsets():
    metal = load("metallicity")
    assert all("metallicity" in s for s in metal["sensitive_to"])
    optical = load("optical")
    names = set(optical["name"])
    assert {"CaHK", "Mgb", "Fe4383", "Fe5015", "Fe5270", "Fe5335", "Hb", "Halpha"} <= names
    # every optical index lies inside the MILES range (3540.5-7409.6 A)
    assert optical["blue_lower"].min() > 3540.5 * u.AA
    assert optical["red_upper"].max() < 7409.6 * u.AA


def test_vacuum_conversion():
    air = load("lick")
    vac = load("lick", frame="vacuum")
    assert set(vac["wave_frame"]) == {"vacuum"}
    expected = air_to_vac(air["band_lower"], method="Morton2000")
    np.testing.assert_allclose(vac["band_lower"].to_value(u.AA), expected.to_value(u.AA))
    shift = (vac["band_lower"] - air["band_lower"]).to_value(u.AA)
    assert np.all((shift > 1.0) & (shift < 2.0))  # ~1.2-1.4 A in the optical
    back = vac_to_air(vac["band_upper"], method="Morton2000")
    np.testing.assert_allclose(back.to_value(u.AA), air["band_upper"].to_value(u.AA), atol=1e-4)
    # indices published in vacuum are converted to air on request, kept in vacuum otherwise
    mg_vac = row(load(["MgICvD"], frame="vacuum"), "MgICvD")
    mg_air = row(load(["MgICvD"], frame="air"), "MgICvD")
    assert mg_vac["band_lower"].to_value(u.AA) == 5165.0
    assert mg_air["band_lower"].to_value(u.AA) == pytest.approx(5163.56, abs=0.01)
    assert mg_air["wave_frame"] == "air"


def test_the_whole_catalogue_in_vacuum_leaves_out_the_far_uv_with_a_warning():
    """The air scale (and specutils' Morton 2000 formula) stops at 2000 A: such bands are named and left out."""
    air = load("all")
    with pytest.warns(DataWarning, match=r"left out of the vacuum catalogue.*below 2000 A.*BL1719, BL1853") as caught:
        vac = load_catalog("all", frame="vacuum")
    message = str([w for w in caught if "left out" in str(w.message)][0].message)
    too_blue = [str(r["name"]) for r in air if r["blue_lower"] < 2000 * u.AA]
    assert too_blue and all(name in message for name in too_blue)
    assert set(vac["name"]) == set(air["name"]) - set(too_blue)
    assert vac["blue_lower"].min() > 2000 * u.AA and set(vac["wave_frame"]) == {"vacuum"}
    fe2332 = row(vac, "Fe2332")  # 2285 A: converted, not left out
    assert fe2332["blue_lower"].to_value(u.AA) == pytest.approx(air_to_vac(2285.0 * u.AA).to_value(u.AA))


def test_match_with_the_whole_catalogue_on_a_vacuum_grid():
    from stellar_relevance import match_indices

    wave = np.linspace(3600.0, 9000.0, 3000) * u.AA  # a survey grid, vacuum
    relevance = np.random.default_rng(0).random(wave.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        _, indices = match_indices(wave, relevance, "all", n_permutations=20, wave_frame="vacuum")
    assert len(indices) > 50 and "BL1719" not in indices["name"]


def test_unknown_names_and_frames():
    with pytest.raises(ValueError, match="valid names: all, balmer"):
        load_catalog("lik")
    with pytest.raises(ValueError, match="frame must be one of"):
        load_catalog("lick", frame="vac")
    with pytest.raises(ValueError, match="no index called 'NotAnIndex'"):
        load_catalog(["Mgb", "NotAnIndex"])


def test_overlapping_sidebands_warn_not_reject():
    with pytest.warns(DataWarning, match=r"Fe4383 \(blue sideband overlaps central band by 1.25 A\)"):
        table = load_catalog("lick")
    assert "Fe4383" in table["name"]  # kept as published
    # a blue "sideband" redder than the line is also only warned about
    with pytest.warns(DataWarning, match="NaI2_21m .*blue sideband lies redward"):
        load_catalog(["NaI2.21m"])


def test_user_catalogue_with_unordered_band_is_rejected(tmp_path):
    table = load("lick")
    table["red_lower"][3], table["red_upper"][3] = table["red_upper"][3], table["red_lower"][3]
    bad = table["name"][3]
    path = tmp_path / "mine.ecsv"
    table.write(path)
    with pytest.raises(DataError, match=f"row 3, index '{bad}': red band is not ordered"):
        load_catalog(str(path))
    with pytest.raises(DataError, match="not ordered"):
        validate_catalog(table)


def test_user_catalogue_roundtrip(tmp_path):
    table = load(["Mgb", "Hb"])
    path = tmp_path / "two.ecsv"
    table.write(path)
    again = load(path)
    assert list(again["name"]) == list(table["name"])


def test_shipped_ecsv_equals_rebuild(reference_dir, tmp_path):
    rebuilt = build_catalog.build_tables(reference_dir)
    assert sorted(rebuilt) == catalog_names()
    build_catalog.write_tables(rebuilt, tmp_path)
    stale = "is stale: rerun python -m stellar_relevance.catalogs.build_catalog --force"
    for name in rebuilt:
        # compare content, not bytes, so another astropy version's ECSV layout does not matter
        with resources.as_file(resources.files("stellar_relevance.catalogs") / f"{name}.ecsv") as p:
            shipped = QTable.read(p, format="ascii.ecsv")
        fresh = QTable.read(tmp_path / f"{name}.ecsv", format="ascii.ecsv")
        assert shipped.colnames == fresh.colnames, f"{name}.ecsv {stale}"
        assert len(shipped) == len(fresh), f"{name}.ecsv {stale}"
        for col in shipped.colnames:
            if col in BAND_COLUMNS:
                assert shipped[col].unit == fresh[col].unit == u.AA
                np.testing.assert_array_equal(shipped[col].value, fresh[col].value,
                                              err_msg=f"{name}.ecsv {col} {stale}")
            else:
                assert list(shipped[col]) == list(fresh[col]), f"{name}.ecsv {col} {stale}"
        assert dict(shipped.meta) == dict(fresh.meta), f"{name}.ecsv meta {stale}"


def test_rebuild_rejects_unordered_reference_row(reference_dir, tmp_path):
    for f in build_catalog.REFERENCE_FILES:
        shutil.copy(reference_dir / f, tmp_path / f)
    path = tmp_path / "lickindx.par"
    text = path.read_text().replace("{ 5160.125  5192.625 }", "{ 5192.625  5160.125 }")
    path.write_text(text)
    with pytest.raises(DataError, match=r"lickindx.par:\d+: index 'Mgb': band band is not ordered"):
        build_catalog.build_tables(tmp_path)


def test_rebuild_cli_refuses_silent_overwrite(reference_dir, tmp_path):
    assert build_catalog.main(["--reference-dir", str(reference_dir),
                               "--output-dir", str(tmp_path)]) == 0
    target = tmp_path / "lick.ecsv"
    target.write_text(target.read_text() + "\n# edited\n")
    assert build_catalog.main(["--reference-dir", str(reference_dir),
                               "--output-dir", str(tmp_path)]) == 1
    assert target.read_text().endswith("# edited\n")
    assert build_catalog.main(["--reference-dir", str(reference_dir),
                               "--output-dir", str(tmp_path), "--force"]) == 0
    assert not target.read_text().endswith("# edited\n")


def test_user_bandhead_rows_are_checked():
    table = load("bandhead")
    table["integrand"][1] = "fnx"
    with pytest.raises(DataError, match="row 1, index 'D4000': bandhead needs integrand fnu/flambda"):
        validate_catalog(table)
    table = load("bandhead")
    table["band_lower"][0] = 4000 * u.AA  # ignored for bandheads
    table["blue_upper"][0] = 3000 * u.AA
    with pytest.raises(DataError, match="index 'Dn4000': blue band is not ordered"):
        validate_catalog(table)


def test_build_catalog_shares_the_package_facts():
    # one place per fact: band columns and the air<->vacuum formula come from indices,
    # the atomic write from stellar_relevance.io.atomic (no private copy)
    from stellar_relevance.io import atomic
    from stellar_relevance.indices import catalog as indices

    assert build_catalog.BAND_COLUMNS is indices.BAND_COLUMNS
    assert build_catalog.FRAME_METHOD is indices.FRAME_METHOD
    assert build_catalog.atomic_write is atomic.atomic_write
    assert not hasattr(build_catalog, "_write_atomic") and not hasattr(build_catalog, "_normalise")
