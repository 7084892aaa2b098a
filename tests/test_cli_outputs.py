"""Where ``stelrel`` writes: checked before any input is read, one line naming the path the user gave.

Each test hashes the inputs and checks that nothing partial is left, the
single error line and the exit code.
"""

import errno
import sys

import pytest
from astropy.io import fits

from test_cli import FAST, _miles_folder
from test_cli_pack import digest, error_line, run  # the same helpers as the survey tests
from stellar_relevance.io import write_packed
from stellar_relevance.datasets.synthetic_spectra import make_synthetic_spectra


@pytest.fixture()
def miles(tmp_path):
    """A 3-star MILES-style folder, its digest, and an empty output folder."""
    folder = tmp_path / "miles"
    _miles_folder(folder, n=3)
    out = tmp_path / "out"
    out.mkdir()
    return folder, digest(folder), out


@pytest.fixture()
def never_read(monkeypatch):
    """Any attempt to read spectra fails the test: the outputs must be refused first."""

    def refuse(*args, **kwargs):
        raise AssertionError("an input was read before the output was checked")

    import stellar_relevance.io as io

    for name in ("pack_spectra", "read_spectra", "load_miles", "read_miles"):
        monkeypatch.setattr(io, name, refuse)


def test_pack_without_output_is_a_usage_error(miles):
    folder, before, out = miles
    result = run("pack", folder)
    assert result.exit_code == 2
    assert "Missing option '-o' / '--output'" in error_line(result)
    assert digest(folder) == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc takes no file only on Linux")
def test_unwritable_output_is_refused_before_reading_and_named_as_given(miles, never_read):
    folder, before, _ = miles
    result = run("pack", folder, "-o", "/proc/x.fits")
    assert result.exit_code == 1
    line = error_line(result)
    assert line.startswith("Error: /proc/x.fits: cannot write to the folder /proc")
    assert "/proc/." not in line  # never the hidden temporary file
    result = run("pack", folder, "-o", folder.parent / "nodir" / "x.fits")
    assert result.exit_code == 1 and "nodir does not exist" in error_line(result)
    assert digest(folder) == before


def test_full_disk_says_disk_full_and_names_the_file(miles, monkeypatch):
    folder, before, out = miles

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fits.HDUList, "writeto", full)
    result = run("pack", folder, "-o", out / "p.fits")
    assert result.exit_code == 1
    line = error_line(result)
    assert line == f"Error: {out / 'p.fits'}: disk full (No space left on device)"
    assert list(out.iterdir()) == [] and digest(folder) == before  # no partial file, no temporary


@pytest.mark.parametrize("given, words", [
    ("{out}/newdir/", "is a folder; -o names the file to write, e.g. "),
    ("{out}", "is a folder; -o names the file to write, e.g. "),
    ("", "an empty file name"),
    ("{out}/x.fits.gz", "compressed output is not written; name it "),
])
def test_output_that_is_not_a_plain_file_name(miles, never_read, given, words):
    folder, before, out = miles
    result = run("pack", folder, "-o", given.format(out=out))
    assert result.exit_code == 2
    line = error_line(result)
    assert "Invalid value for '-o' / '--output'" in line and words in line
    assert list(out.iterdir()) == [] and digest(folder) == before


def test_output_that_is_an_input_is_refused_with_advice_that_works(tmp_path):
    spectra = tmp_path / "data" / "spectra.fits"
    spectra.parent.mkdir()
    write_packed(make_synthetic_spectra(n_spectra=5, random_state=1), spectra)
    listing = tmp_path / "list.txt"
    listing.write_text("data/spectra.fits\n")
    before = digest(tmp_path)
    for inputs in ([spectra], [f"@{listing}"], [str(tmp_path / "data" / "*.fits")]):
        for extra in ([], ["--overwrite"]):
            result = run("pack", *inputs, "-o", spectra, *extra)
            assert result.exit_code == 2, result.output
            line = error_line(result)
            assert "is one of the inputs" in line and "write to another file" in line
            assert "--overwrite" not in line  # the advice that did not work
    result = run("pack", spectra, "-o", tmp_path / "data" / "copy.fits")  # a FITS file in an input folder
    assert result.exit_code == 0, result.output
    result = run("pack", tmp_path / "data", "-o", tmp_path / "data" / "again.fits")
    assert result.exit_code == 2 and "inside the input folder" in error_line(result)
    (tmp_path / "data" / "copy.fits").unlink()
    assert digest(tmp_path) == before


def test_predict_may_not_write_over_its_model(tmp_path):
    from test_cli import _window

    spectra = tmp_path / "spectra.fits"
    write_packed(_window(make_synthetic_spectra(n_spectra=40, random_state=2)), spectra)
    out = tmp_path / "out"
    assert run("rank", spectra, "--out", out, *FAST, "--seeds", "1").exit_code == 0
    before = digest(tmp_path)
    result = run("predict", out / "model.pt", spectra, "-o", out / "model.pt", "--overwrite")
    assert result.exit_code == 2 and "is one of the inputs" in error_line(result)
    result = run("report", out, "-o", out / "ranking.ecsv", "--overwrite")
    assert result.exit_code == 2 and "is one of the inputs" in error_line(result)
    assert digest(tmp_path) == before


def test_out_inside_the_folder_of_a_glob_or_list_is_refused(tmp_path, never_read):
    data = tmp_path / "data"
    data.mkdir()
    write_packed(make_synthetic_spectra(n_spectra=5, random_state=1), data / "spectra.fits")
    listing = tmp_path / "list.txt"
    listing.write_text("data/spectra.fits\n")
    before = digest(tmp_path)
    for inputs in ([str(data / "*.fits")], [f"@{listing}"]):
        for out in (data, data / "results"):
            result = run("rank", *inputs, "--out", out, *FAST)
            assert result.exit_code == 2, result.output
            line = error_line(result)
            assert "'--out'" in line and f"the input folder {data}" in line
    assert digest(tmp_path) == before


def test_report_on_a_file_says_it_wants_a_results_folder(tmp_path):
    page = tmp_path / "report.html"
    page.write_text("<html></html>")
    result = run("report", page)
    assert result.exit_code == 2
    line = error_line(result)
    assert f"{page} is a file; give the results folder written by `stelrel rank --out`" in line
    assert "Directory" not in line and page.read_text() == "<html></html>"
