"""The reading side of the survey round trip: what a survey user gets wrong, or what their files do.

Every case works on copies of the real files of ../shared/data/surveys in
``tmp_path``: the inputs are hashed before and after (never modified), an
output is complete or absent (no partial or hidden temporary file), and an
error is one line naming the file, row, column or option.
"""

import hashlib
import importlib.util
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from click.testing import CliRunner

from stellar_relevance.exceptions import DataError, DataWarning, ParameterError
from stellar_relevance.io import pack_spectra, read_packed, read_spectra

from test_io_surveys_real import DR6, DR7, MRS, SDSS, SURVEYS, XP_CSV  # the real files, found one way

DR7_OBSID, DR6_OBSID = "677503031", "359910161"

pytestmark = pytest.mark.skipif(not all(p.is_file() for p in (DR7, DR6, MRS, SDSS)),
                                reason=f"real survey files not found in {SURVEYS}")


def digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture
def work(tmp_path):
    """(input folder with copies of DR7 and DR6, empty output folder)."""
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    for path in (DR7, DR6):
        shutil.copy(path, inputs / path.name)
    return inputs, out


def one_line(exc_info):
    text = str(exc_info.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def edit_header(path, remove=(), **cards):
    with fits.open(path, mode="update") as hdul:
        for key in remove:
            del hdul[0].header[key]
        for key, value in cards.items():
            hdul[0].header[key] = value


# ------------------------------------------------------------- a LAMOST file without OBSID
@pytest.mark.parametrize("remove", [("OBSID",), ("OBSID", "TELESCOP", "ORIGIN", "DATA_V")],
                         ids=["obsid", "every-lamost-card"])
def test_a_lamost_file_without_obsid_is_refused_not_five_spectra(work, remove):
    inputs, out = work
    stripped = inputs / DR7.name
    edit_header(stripped, remove)
    before = digest(inputs)
    with pytest.raises(DataError) as caught:
        pack_spectra(stripped, out / "a.fits")
    line = one_line(caught)
    assert str(stripped) in line and "without the OBSID keyword" in line
    with pytest.warns(DataWarning, match=r"spec-58397.*without the OBSID keyword"):
        s = read_spectra(inputs, progress=False)  # the other file is read, this one skipped by name
    assert s.ids.tolist() == [DR6_OBSID]
    assert digest(inputs) == before and not list(out.iterdir())


# ------------------------------------------------------------------ non-ASCII file names
def test_non_ascii_file_names_pack_and_join(work):
    inputs, out = work
    (inputs / DR7.name).rename(inputs / "spéc 1.fits")
    (inputs / DR6.name).rename(inputs / "spèc 2.fits.gz")
    (inputs / "liste é.txt").write_text("spéc 1.fits\nspèc 2.fits.gz\n", encoding="utf-8")
    Table({"FILE": ["spéc 1.fits", "spèc 2"], "FEH": [-0.3, 0.2]}).write(inputs / "étiquettes.csv")
    before = digest(inputs)
    info = pack_spectra(f"@{inputs / 'liste é.txt'}", out / "sortie é.fits", labels=inputs / "étiquettes.csv",
                        id_column="FILE", progress=False)
    packed = read_packed(out / "sortie é.fits")
    assert packed.labels["FILE"].tolist() == ["spéc 1", "spèc 2"]
    assert packed.labels["FEH"].tolist() == [-0.3, 0.2] and info["ingest"]["labels"]["matched"] == 2
    assert digest(inputs) == before and [p.name for p in out.iterdir()] == ["sortie é.fits"]


def test_a_non_ascii_label_column_is_refused_before_reading(work):
    inputs, out = work
    labels = inputs.parent / "labels.csv"
    labels.write_text(f"OBSID,[Fe/H]é\n{DR7_OBSID},0.1\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        pack_spectra(inputs, out / "a.fits", labels=labels, progress=False)
    line = one_line(caught)
    assert "labels.csv" in line and "[Fe/H]é" in line and "not ASCII" in line
    assert not list(out.iterdir())


# ------------------------------------------------------------------------ label tables
def test_label_tables_read_tolerantly(work):
    inputs, out = work
    labels = inputs.parent / "labels.csv"
    # a byte-order mark, IDs written as floats, a 'n/a' cell and a blank one
    labels.write_bytes(b"\xef\xbb\xbfOBSID,FEH,TEFF\n" + f"{DR7_OBSID}.0,n/a,5800\n{DR6_OBSID}.0,0.25,\n".encode())
    before = digest(inputs.parent)
    with pytest.warns(DataWarning, match=r"labels.csv: missing values .* read as NaN: FEH 1 \(rows 1\); "
                                         r"TEFF 1 \(rows 2\)"):
        info = pack_spectra(inputs, out / "a.fits", labels=labels, progress=False)
    assert info["ingest"]["labels"]["matched"] == 2 and info["ingest"]["labels"]["key"] == "OBSID"
    packed = read_packed(out / "a.fits")
    assert packed.labels["FEH"].dtype.kind == "f" and packed.labels["TEFF"].dtype.kind == "f"
    by_id = dict(zip(packed.ids, packed.labels["FEH"]))
    assert np.isnan(by_id[DR7_OBSID]) and by_id[DR6_OBSID] == 0.25
    assert digest(inputs.parent) == before | {"out/a.fits": digest(out)["a.fits"]}


@pytest.mark.parametrize("name", ["spec-58397-EG014118N254444M01_sp03-031.fits",
                                  "spec-58397-EG014118N254444M01_sp03-031",
                                  "some/folder/spec-58397-EG014118N254444M01_sp03-031.fits"])
def test_file_names_match_with_or_without_extension(work, name):
    inputs, _ = work
    Table({"FILE": [name], "FEH": [-0.5]}).write(inputs.parent / "labels.csv")
    s = read_spectra(inputs / DR7.name, labels=inputs.parent / "labels.csv", progress=False)
    assert s.labels["FEH"].tolist() == [-0.5] and s.meta["ingest"]["labels"]["key"] == "FILE"


def test_no_id_column_names_the_option_for_python_and_the_command_line(work):
    inputs, out = work
    Table({"star": [DR7_OBSID], "FEH": [0.1]}).write(inputs.parent / "labels.csv")
    with pytest.raises(ParameterError) as caught:
        read_spectra(inputs, labels=inputs.parent / "labels.csv", progress=False)
    assert caught.value.parameter == "id_column" and "id_column=" not in str(caught.value)
    assert str(caught.value).startswith("id_column is needed") and "columns: star, FEH" in str(caught.value)
    from stellar_relevance.cli.main import cli

    result = CliRunner().invoke(cli, ["pack", str(inputs), "-o", str(out / "a.fits"), "--labels",
                                      str(inputs.parent / "labels.csv")])
    assert result.exit_code != 0 and "--id-column" in result.output and "id_column=" not in result.output
    assert not list(out.iterdir())


def test_labels_matching_nothing_show_every_kind_of_id(work):
    inputs, _ = work
    Table({"OBSID": ["1", "2"], "FEH": [0.0, 0.1]}).write(inputs.parent / "labels.csv")
    with pytest.raises(DataError) as caught:
        read_spectra(inputs, labels=inputs.parent / "labels.csv", progress=False)
    line = one_line(caught)
    assert f"spectra have IDs {DR6_OBSID}, {DR7_OBSID}" in line and "also FILE spec-57287" in line


# -------------------------------------------------------------------- implausible values
def test_implausible_values_are_warned_about_by_file(work):
    inputs, _ = work
    edit_header(inputs / DR7.name, Z=5.0)
    with pytest.warns(DataWarning) as record:
        read_spectra(inputs, progress=False)
    text = [str(w.message) for w in record]
    assert any(f"{inputs / DR7.name}: spectrum {DR7_OBSID}: header redshift Z = 5" in t and "implausible" in t
               for t in text)
    with fits.open(inputs / DR7.name, mode="update") as hdul:
        hdul[0].header["Z"] = 0.0
        hdul[0].data[0] = 0.0  # all-zero flux
    with pytest.warns(DataWarning, match=rf"{DR7.name}: spectrum {DR7_OBSID}: the flux is zero at every good pixel"):
        read_spectra(inputs, progress=False)


def test_an_rv_beyond_light_speed_and_a_mostly_empty_grid(work):
    inputs, _ = work
    labels = inputs.parent / "labels.csv"
    Table({"OBSID": [DR7_OBSID, DR6_OBSID], "RV": [1e9, -20.0]}).write(labels)
    with pytest.warns(DataWarning) as record:
        s = read_spectra(inputs, labels=labels, rv_column="RV", progress=False)
    text = [str(w.message) for w in record]
    assert any("labels.csv: RV column 'RV': 1 spectra have a velocity beyond 1000 km/s" in t and DR7_OBSID in t
               for t in text)
    assert s.ids.tolist() == [DR6_OBSID]  # the other is refused by name: no pixel on the grid
    with pytest.warns(DataWarning, match=r"the grid '8000:12000:1' leaves 2899 of its 4001 pixels without data"):
        read_spectra(inputs, grid="8000:12000:1", progress=False)


def test_a_non_numeric_rv_is_one_line_naming_file_row_and_column(work):
    inputs, out = work
    labels = inputs.parent / "labels.csv"
    labels.write_text(f"OBSID,RV\n{DR7_OBSID},12.5\n{DR6_OBSID},abc\n")
    with pytest.raises(DataError) as caught:
        pack_spectra(inputs, out / "a.fits", labels=labels, rv_column="RV", progress=False)
    line = one_line(caught)
    assert "labels.csv: RV column 'RV', row 2" in line and "'abc' is not a number" in line
    assert not list(out.iterdir())


# --------------------------------------------------------------------------- Gaia XP
@pytest.mark.skipif(not XP_CSV.is_file(), reason=f"real Gaia XP file not found: {XP_CSV}")
def test_gaia_xp_reads_show_only_stelrel_warnings_and_no_rest_frame():
    if importlib.util.find_spec("gaiaxpy") is None:  # not imported here: importing it sets text.usetex itself
        pytest.skip("the optional 'gaia' extra (gaiaxpy) is not installed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = read_spectra(XP_CSV, grid="4000:9000:10", progress=False)
    foreign = [f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, DataWarning)]
    assert foreign == []
    assert s.meta["rest_frame"] is False and s.labels["Z_SHIFT"].tolist() == [0.0, 0.0]


# ------------------------------------------------------------------- mixed surveys
def test_a_folder_mixing_surveys_is_refused_with_a_count_per_survey(work):
    inputs, out = work
    shutil.copy(MRS, inputs / MRS.name)  # sorts first: the survey is not chosen by name
    shutil.copy(SDSS, inputs / SDSS.name)
    before = digest(inputs)
    for call in (lambda: read_spectra(inputs, progress=False),
                 lambda: pack_spectra(inputs, out / "a.fits", progress=False),
                 lambda: pack_spectra(inputs, out / "a.fits", grid="log:4000:5500:1e-4", progress=False)):
        with pytest.raises(DataError) as caught:
            call()
        line = one_line(caught)
        assert "the inputs mix surveys: LAMOST 2 files" in line
        assert "LAMOST-MRS 1 file (" in line and "SDSS 1 file (" in line  # the MRS file counted once
    assert digest(inputs) == before and not list(out.iterdir())


# ----------------------------------------------------------------------- API edges
def test_an_empty_path_is_refused_not_the_current_folder(work, monkeypatch):
    inputs, out = work
    monkeypatch.chdir(inputs)  # the current folder holds readable spectra
    for paths in ("", [""], "  "):
        with pytest.raises(ParameterError) as caught:
            read_spectra(paths, progress=False)
        assert caught.value.parameter == "paths"
    with pytest.raises(ParameterError) as caught:
        pack_spectra("", out / "a.fits")
    assert caught.value.parameter == "paths" and not list(out.iterdir())


@pytest.mark.parametrize("output", [None, "", "folder"])
def test_pack_without_an_output_file_is_a_parameter_error(work, output):
    inputs, out = work
    if output == "folder":
        output = out
    with pytest.raises(ParameterError) as caught:
        pack_spectra([inputs / DR7.name], output)
    assert caught.value.parameter == "output" and not list(out.iterdir())


def test_folders_are_read_recursively_when_asked(work):
    inputs, _ = work
    nested = inputs / "fits" / "20181001" / "EG014118N254444M01"
    nested.mkdir(parents=True)
    (inputs / DR7.name).rename(nested / DR7.name)
    (inputs / DR6.name).rename(inputs / "fits" / DR6.name)
    (nested / "loop").symlink_to(inputs, target_is_directory=True)  # a loop: not followed
    with pytest.raises(ParameterError) as caught:
        read_spectra(inputs, progress=False)
    assert caught.value.parameter == "recursive" and "its subfolders hold 2" in str(caught.value)
    s = read_spectra(inputs, recursive=True, progress=False)
    assert sorted(s.ids.tolist()) == sorted([DR7_OBSID, DR6_OBSID])
