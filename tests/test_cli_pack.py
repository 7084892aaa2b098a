"""``stelrel pack`` / ``rank`` / ``predict`` on survey files (issue 10): INPUTS, the summary, bad input.

Every file here is a real survey file from ``../shared/data/surveys/`` copied
into ``tmp_path``, or a small perturbed copy of one (another OBSID and
redshift, flux scaled by 1 %, a header card changed).
"""

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table, unique
from click.testing import CliRunner

from stellar_relevance.cli.main import cli
from stellar_relevance.io import read_packed
from test_io_ingest import REAL, SDSS, make_files  # the perturbed LAMOST-layout copies, made one way

pytestmark = pytest.mark.skipif(not all(p.is_file() for p in REAL),
                                reason=f"real LAMOST files not found in {REAL[0].parent}")
N = 12
IDS = [str(900000000 + i) for i in range(N)]


def digest(folder):
    """sha256 of every file under ``folder`` (inputs must be byte-identical after any command)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def error_line(result):
    """The single ``Error:`` line (exactly one, no traceback)."""
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.fixture(scope="module")
def lamost(tmp_path_factory):
    """N LAMOST DR6/DR7-layout files and a label table: IDs 5 and 6 missing, ID 3 twice, two extra rows."""
    root = tmp_path_factory.mktemp("survey")
    make_files(root / "spectra", N)
    rows = [(i, 4000.0 + 10 * k, -1.0 + 0.05 * k) for k, i in enumerate(IDS) if k not in (5, 6)]
    rows.append(rows[3])
    rows += [("123", 5000.0, 0.0), ("456", 5100.0, 0.1)]
    Table(rows=rows, names=("obsid", "TEFF", "FEH")).write(root / "labels.csv")
    return root


@pytest.fixture()
def work(lamost, tmp_path):
    """A fresh copy of the files in ``tmp_path/in`` (tests may add bad files to it) and the output folder."""
    folder = tmp_path / "in"
    shutil.copytree(lamost / "spectra", folder)
    shutil.copy(lamost / "labels.csv", tmp_path / "labels.csv")
    out = tmp_path / "out"
    out.mkdir()
    return folder, tmp_path / "labels.csv", out


def nothing_written(out):
    return not list(Path(out).iterdir())


# ----------------------------------------------------------------------------- pack: the good path
def test_pack_folder_with_labels_summary_and_inputs_untouched(work):
    folder, labels, out = work
    before = digest(folder), labels.read_bytes()
    result = run("pack", folder, "-o", out / "train.fits", "--labels", labels, "--id-column", "obsid",
                 "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert (digest(folder), labels.read_bytes()) == before
    text = result.output
    assert f"read {N} spectra from {N} files, none skipped; LAMOST" in text and "rest frame" in text
    assert f"labels (obsid matched on OBSID): {N - 2} matched, 2 spectra without a row, 2 rows without a " \
           "spectrum, 1 duplicated ID" in text
    # each kind of mismatch is a warning that names the IDs
    assert f"2 of {N} spectra have no row (matched on OBSID); their labels are NaN: {IDS[5]}, {IDS[6]}" in text
    assert "1 IDs are on more than one row with the same labels; the first row is used: 900000003" in text
    assert "2 rows have no spectrum and were not used: 123, 456" in text
    assert text.count(f"wrote {N} spectra") == 1
    packed = read_packed(out / "train.fits")
    assert list(packed.ids) == IDS and packed.meta["rest_frame"] is True
    assert packed.meta["ingest"]["labels"]["matched"] == N - 2
    assert np.isnan(packed.labels["FEH"][5:7]).all() and np.isfinite(packed.labels["FEH"][7:]).all()
    np.testing.assert_array_equal(packed.labels["Z_SHIFT"], [fits.getheader(f)["Z"] for f in sorted(folder.iterdir())])
    assert sorted(p.name for p in out.iterdir()) == ["train.fits"]  # no scratch files left


def test_inputs_as_files_glob_list_and_folder_agree(work):
    folder, _, out = work
    files = sorted(folder.iterdir())[:3]
    listing = folder.parent / "list.txt"  # relative names are taken from the list's folder
    listing.write_text("# three files\n" + "\n".join(f"in/{f.name}" for f in files) + "\n")
    grid = "log:3800:8900:1e-4"
    forms = {"files": [str(f) for f in files], "glob": [str(folder / "spec-0000[0-2].fits")],
             "list": [f"@{listing}"]}
    packed = {}
    for name, inputs in forms.items():
        result = run("pack", *inputs, "-o", out / f"{name}.fits", "--grid", grid, "--quiet")
        assert result.exit_code == 0, result.output
        assert result.output == ""  # --quiet: no summary, no progress
        packed[name] = read_packed(out / f"{name}.fits")
    for name in forms:
        assert list(packed[name].ids) == IDS[:3]
        np.testing.assert_array_equal(packed[name].flux, packed["files"].flux)
    whole = run("pack", folder, "-o", out / "folder.fits", "--grid", grid, "--quiet")
    assert whole.exit_code == 0 and len(read_packed(out / "folder.fits")) == N


def test_no_rest_frame_and_rv_column(work):
    folder, labels, out = work
    table = unique(Table.read(labels, format="ascii.csv", converters={"obsid": str}), keys="obsid")
    table["RV"] = np.linspace(-100.0, 100.0, len(table))
    table.write(out.parent / "rv.ecsv")
    result = run("pack", folder, "-o", out / "rv.fits", "--labels", out.parent / "rv.ecsv", "--id-column", "obsid",
                 "--rv-column", "RV", "--quiet")
    assert result.exit_code == 0, result.output
    packed = read_packed(out / "rv.fits")
    rv = {str(i): v for i, v in zip(table["obsid"], table["RV"])}
    matched = [i for i in IDS if i in rv]
    z = {i: s for i, s in zip(packed.ids, packed.labels["Z_SHIFT"])}
    np.testing.assert_allclose([z[i] for i in matched], [rv[i] / 299792.458 for i in matched])
    result = run("pack", folder, "-o", out / "obs.fits", "--no-rest-frame", "--quiet")
    assert result.exit_code == 0, result.output
    packed = read_packed(out / "obs.fits")
    assert packed.meta["rest_frame"] is False and (packed.labels["Z_SHIFT"] == 0).all()


# ----------------------------------------------------------------------------- pack: bad input
def test_file_of_another_survey_in_the_folder(work):
    if not SDSS.is_file():
        pytest.skip(f"real SDSS file not found: {SDSS}")
    folder, _, out = work
    shutil.copy(SDSS, folder / ("zz-" + SDSS.name))
    before = digest(folder)
    result = run("pack", folder, "-o", out / "a.fits", "--on-error", "fail")
    assert result.exit_code == 1
    line = error_line(result)
    assert "zz-spec-0266-51602-0031.fits: a SDSS-III/IV spec file among LAMOST files" in line
    assert digest(folder) == before and nothing_written(out)
    # default --on-error skip: a warning naming it, the count in the summary
    result = run("pack", folder, "-o", out / "a.fits")
    assert result.exit_code == 0, result.output
    assert "Warning: 1 unreadable files or spectra were skipped: " in result.output
    assert f"read {N} spectra from {N + 1} files (1 unreadable file or spectrum skipped" in result.output
    assert digest(folder) == before


def test_truncated_gzip(work):
    folder, _, out = work
    data = gzip.compress(sorted(folder.iterdir())[0].read_bytes())
    (folder / "cut.fits.gz").write_bytes(data[: len(data) // 2])
    before = digest(folder)
    result = run("pack", folder, "-o", out / "a.fits", "--on-error", "fail")
    assert result.exit_code == 1
    line = error_line(result)
    assert "cut.fits.gz: " in line and ("truncated" in line or "not a readable" in line)
    assert digest(folder) == before and nothing_written(out)
    result = run("pack", folder / "cut.fits.gz", "-o", out / "a.fits")  # one file named: its own error
    assert result.exit_code == 1 and "cut.fits.gz" in error_line(result)
    assert nothing_written(out)


def test_lamost_file_with_all_zero_inverse_variance(work):
    folder, _, out = work
    with fits.open(sorted(folder.iterdir())[0]) as hdul:
        hdul[0].data[1] = 0
        hdul.writeto(folder / "zero.fits")
    before = digest(folder)
    result = run("pack", folder, "-o", out / "a.fits", "--on-error", "fail")
    assert result.exit_code == 1
    line = error_line(result)
    assert "zero.fits" in line and "the inverse variance is zero everywhere" in line
    assert digest(folder) == before and nothing_written(out)


def test_label_table_that_matches_no_id(work):
    folder, _, out = work
    Table({"obsid": ["1", "2", "3"], "FEH": [0.0, 0.1, 0.2]}).write(out.parent / "other.csv")
    before = digest(out.parent)
    result = run("pack", folder, "-o", out / "a.fits", "--labels", out.parent / "other.csv", "--id-column", "obsid")
    assert result.exit_code == 1
    line = error_line(result)
    assert "other.csv: no spectrum matches a row of column 'obsid'" in line
    assert f"spectra have IDs {IDS[0]}, {IDS[1]}" in line and "the table has 1, 2, 3" in line
    assert digest(out.parent) == before and nothing_written(out)


def test_duplicated_ids_in_the_catalogue(work):
    folder, _, out = work
    Table({"OBSID": [IDS[0], IDS[1], IDS[0]], "FEH": [0.0, 0.1, 0.5]}).write(out.parent / "dup.csv")
    before = digest(out.parent)
    result = run("pack", folder, "-o", out / "a.fits", "--labels", out.parent / "dup.csv")
    assert result.exit_code == 1
    line = error_line(result)
    assert f"dup.csv: ID '{IDS[0]}' is on rows 1 and 3" in line and "different labels" in line
    assert digest(out.parent) == before and nothing_written(out)


def test_grid_outside_the_data(work):
    folder, _, out = work
    result = run("pack", folder, "-o", out / "a.fits", "--grid", "10000:11000:1", "--on-error", "fail")
    assert result.exit_code == 1
    line = error_line(result)
    assert "spec-00000.fits" in line and "no good pixel on the grid 10000.0-11000.0 Angstrom" in line
    result = run("pack", folder, "-o", out / "a.fits", "--grid", "10000:11000:1")  # every file skipped
    assert result.exit_code == 1
    assert f"no spectrum could be read ({N} files skipped" in error_line(result)
    assert nothing_written(out)


def test_air_and_vacuum_mixed(work):
    folder, _, out = work
    with fits.open(sorted(folder.iterdir())[0]) as hdul:
        hdul[0].header["VACUUM"] = False
        hdul[0].header["OBSID"] = 999  # not a repeat of the file it was copied from (a repeat is skipped)
        hdul.writeto(folder / "spec-air.fits")
    before = digest(folder)
    result = run("pack", folder, "-o", out / "a.fits")
    assert result.exit_code == 1
    line = error_line(result)
    assert "spec-air.fits: wavelengths in air, the files before it in vacuum" in line
    assert digest(folder) == before and nothing_written(out)


@pytest.mark.parametrize("args, option", [
    (["--grid", "3800:8900"], "'--grid'"),
    (["--grid", "log:9000:3800:1e-4"], "'--grid'"),
    (["--jobs", "0"], "'--jobs'"),
    (["--on-error", "ignore"], "'--on-error'"),
])
def test_malformed_options_are_usage_errors(work, args, option):
    folder, _, out = work
    result = run("pack", folder, "-o", out / "a.fits", *args)
    assert result.exit_code == 2
    assert option in error_line(result)
    assert nothing_written(out)


def test_missing_input_and_options_that_need_a_table(work):
    folder, _, out = work
    result = run("pack", folder, folder.parent / "nope.fits", "-o", out / "a.fits")
    assert result.exit_code == 2 and "nope.fits" in error_line(result) and "INPUTS" in result.output
    result = run("pack", str(folder / "*.fit"), "-o", out / "a.fits")
    assert result.exit_code == 1 and "the pattern matches no file" in error_line(result)
    result = run("pack", folder, "-o", out / "a.fits", "--rv-column", "RV")
    assert result.exit_code == 2
    line = error_line(result)
    assert "'--rv-column'" in line and "--labels" in line and "labels=" not in line
    result = run("pack", folder, "-o", out / "a.fits", "--labels", folder.parent / "absent.csv")
    assert result.exit_code == 2 and "'--labels'" in error_line(result) and "absent.csv" in result.output
    result = run("pack", "miles", "-o", out / "a.fits", "--labels", folder.parent / "labels.csv")
    assert result.exit_code == 2 and "'--labels'" in error_line(result)
    assert nothing_written(out)


def test_existing_output_is_not_replaced_without_overwrite(work):
    folder, _, out = work
    target = out / "a.fits"
    target.write_bytes(b"mine")
    result = run("pack", folder, "-o", target)
    assert result.exit_code == 1 and "--overwrite" in error_line(result)
    assert target.read_bytes() == b"mine"
    result = run("pack", folder, "-o", target, "--overwrite", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(read_packed(target)) == N
    result = run("pack", folder / "spec-00000.fits", "-o", folder / "spec-00000.fits", "--overwrite")
    assert result.exit_code == 2 and "is one of the inputs" in error_line(result)


# ----------------------------------------------------------------------------- rank and predict on survey files
def test_rank_and_predict_read_survey_files_directly(lamost, tmp_path):
    folder = tmp_path / "in"
    make_files(folder, 40, seed=3)
    ids = [str(900000000 + i) for i in range(40)]
    rng = np.random.default_rng(1)
    Table({"OBSID": ids, "FEH": rng.uniform(-1, 0.3, 40)}).write(tmp_path / "labels.ecsv")
    before = digest(folder)
    out = tmp_path / "ranked"
    fast = ["--epochs", "4", "--min-epochs", "2", "--batch-size", "64", "--ks", "5,all", "--retrain-ks", "5",
            "--random-draws", "1", "--permutations", "20", "--quiet"]
    result = run("rank", str(folder / "spec-*.fits"), "--labels", tmp_path / "labels.ecsv",
                 "--grid", "4800:5400:1.0", "--out", out, *fast)
    assert result.exit_code in (0, 3), result.output  # 3: random labels, not beating the training mean
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["n_pixels"] == 601
    assert f"--labels {tmp_path / 'labels.ecsv'} --grid 4800:5400:1.0" in summary["command"]
    # predict reads the same files onto the model's grid (no --grid needed)
    result = run("predict", out / "model.pt", folder, "-o", tmp_path / "pred.ecsv", "--quiet")
    assert result.exit_code == 0, result.output
    predictions = Table.read(tmp_path / "pred.ecsv")
    assert list(predictions["ID"].astype(str)) == ids and np.isfinite(predictions["FEH_pred"]).all()
    assert digest(folder) == before
    # the output folder may not be an input folder
    result = run("rank", folder, "--labels", tmp_path / "labels.ecsv", "--out", folder / "r", *fast)
    assert result.exit_code == 2 and "'--out'" in error_line(result)
    assert digest(folder) == before


# ----------------------------------------------------------------------------- the other real files
MRS = REAL[0].parent / "med-58408-TD230151N343645T01_sp01-015.fits"
XP = REAL[0].parent / "XP_CONTINUOUS_RAW.csv"


@pytest.mark.skipif(not MRS.is_file(), reason=f"real LAMOST MRS file not found: {MRS}")
def test_medium_resolution_file_needs_a_velocity_or_the_observed_frame(tmp_path):
    shutil.copy(MRS, tmp_path / MRS.name)
    before = digest(tmp_path)
    result = run("pack", tmp_path / MRS.name, "-o", tmp_path / "mrs.fits")
    assert result.exit_code == 1
    line = error_line(result)
    assert f"{MRS.name}: spectrum 681001015: no redshift in the file" in line
    assert "--rv-column" in line and "--no-rest-frame" in line and "=" not in line
    assert not (tmp_path / "mrs.fits").exists()
    result = run("pack", tmp_path / MRS.name, "-o", tmp_path / "mrs.fits", "--no-rest-frame")
    assert result.exit_code == 0, result.output
    assert "LAMOST-MRS" in result.output and "observed frame" in result.output
    packed = read_packed(tmp_path / "mrs.fits")
    wave = packed.wavelength.value
    # both arms (COADD_B 4894-5378 A, COADD_R 6292-6851 A), no pixel in the gap between them
    assert wave[0] < 4900 and wave[-1] > 6840 and not ((wave > 5380) & (wave < 6290)).any()
    assert digest(tmp_path) == {**before, "mrs.fits": digest(tmp_path)["mrs.fits"]}


@pytest.mark.skipif(not XP.is_file(), reason=f"real Gaia XP file not found: {XP}")
def test_gaia_xp_without_the_extra_names_file_and_extra(tmp_path, without_gaiaxpy):
    """gaiaxpy made unimportable (whether installed or not; importing it here would also set text.usetex)."""
    result = run("pack", XP, "-o", tmp_path / "xp.fits")
    assert result.exit_code == 1
    line = error_line(result)
    assert "XP_CONTINUOUS_RAW.csv" in line and "'gaia' extra" in line
    assert not (tmp_path / "xp.fits").exists()


# ----------------------------------------------------------------------------- outputs, the model's grid, continuum
def test_full_disk_while_assembling_names_the_packed_file(work, monkeypatch):
    import errno

    folder, _, out = work
    before = digest(folder)

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fits.StreamingHDU, "write", full)
    result = run("pack", folder, "-o", out / "a.fits", "--quiet")
    assert result.exit_code == 1
    assert error_line(result) == f"Error: {out / 'a.fits'}: disk full (No space left on device)"
    assert nothing_written(out) and digest(folder) == before  # no partial file, no scratch folder


def _has_model_grid():
    import stellar_relevance.report.model_file as model_file

    return hasattr(model_file, "model_grid")


@pytest.fixture(scope="module")
def survey_model(lamost, tmp_path_factory):
    """A model ranked on 30 LAMOST-layout files (4800-5400 A, rest frame), and 12 other files to apply it to."""
    root = tmp_path_factory.mktemp("model")
    first, second = root / "first", root / "second"
    make_files(first, 30, seed=3)
    make_files(second, 12, seed=4)
    ids = [str(900000000 + i) for i in range(30)]
    Table({"OBSID": ids, "FEH": np.random.default_rng(1).uniform(-1, 0.3, 30)}).write(root / "labels.ecsv")
    fast = ["--epochs", "3", "--min-epochs", "1", "--batch-size", "64", "--ks", "5,all", "--retrain-ks", "5",
            "--random-draws", "1", "--permutations", "20", "--seeds", "1", "--quiet"]
    result = run("rank", first, "--labels", root / "labels.ecsv", "--grid", "4800:5400:1.0", "--out", root / "ranked",
                 *fast)
    assert result.exit_code in (0, 3), result.output  # 3: random labels, not beating the training mean
    return root / "ranked" / "model.pt", second


needs_model_grid = pytest.mark.skipif(not _has_model_grid(),
                                      reason="stellar_relevance.report.model_file.model_grid is missing")


@needs_model_grid
def test_pack_on_the_grid_of_a_model_then_predict(survey_model, tmp_path):
    """Two disjoint sets of files: rank one, pack the other with --grid-from the model, predict it."""
    model, second = survey_model
    before = digest(second)
    result = run("pack", second, "-o", tmp_path / "second.fits", "--grid-from", model, "--quiet")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(read_packed(tmp_path / "second.fits").wavelength.value, np.arange(4800.0, 5401.0))
    result = run("predict", model, tmp_path / "second.fits", "-o", tmp_path / "pred.ecsv", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(Table.read(tmp_path / "pred.ecsv")) == 12 and digest(second) == before
    both = run("pack", second, "-o", tmp_path / "x.fits", "--grid-from", model, "--grid", "4800:5400:1")
    assert both.exit_code == 2 and "'--grid-from'" in error_line(both)
    assert not (tmp_path / "x.fits").exists()


@needs_model_grid
def test_grid_from_refuses_the_other_frame(survey_model, tmp_path):
    from stellar_relevance.report.model_file import model_grid

    model, second = survey_model
    if model_grid(model).info.meta.get("rest_frame") is None:
        pytest.skip("the model file does not record rest_frame (RankingResult.save passes no preprocessing)")
    observed = run("pack", second, "-o", tmp_path / "x.fits", "--grid-from", model, "--no-rest-frame")
    assert observed.exit_code == 2 and "rest frame; leave out --no-rest-frame" in error_line(observed)
    assert not (tmp_path / "x.fits").exists()


def _pack_takes_continuum():
    import inspect

    from stellar_relevance.io.ingest import ingest

    return "continuum" in inspect.signature(ingest).parameters


@pytest.mark.skipif(not _pack_takes_continuum(), reason="pack_spectra (ingest) has no continuum= parameter yet")
def test_pack_continuum_reaches_pack_spectra(work):
    folder, _, out = work
    result = run("pack", folder, "-o", out / "n.fits", "--continuum", "running", "--quiet")
    assert result.exit_code == 0, result.output
    assert read_packed(out / "n.fits").meta["continuum"]["method"] == "running"
    result = run("pack", "miles", "-o", out / "m.fits", "--continuum", "running")
    assert result.exit_code == 2 and "'--continuum'" in error_line(result)
