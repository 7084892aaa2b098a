"""The ``stelrel`` command line, through click's CliRunner: outputs, exit codes, one-line errors."""

import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.io import fits
from astropy.table import QTable, Table
from click.testing import CliRunner

from stellar_relevance.cli.main import cli
from stellar_relevance.io import write_packed
from stellar_relevance.spectra import SpectralSet
from stellar_relevance.datasets.synthetic_spectra import make_synthetic_spectra

torch.set_num_threads(1)

# a fast run: enough to exercise every output, not to learn much
FAST = ["--epochs", "6", "--min-epochs", "3", "--batch-size", "64", "--ks", "5,30,all", "--retrain-ks", "5",
        "--random-draws", "1", "--permutations", "50", "--quiet"]


def _window(spectra, lo=4800.0, hi=5400.0):
    keep = (spectra.wavelength.value >= lo) & (spectra.wavelength.value < hi)
    return SpectralSet(spectra.wavelength[keep], spectra.flux[:, keep], labels=spectra.labels, meta={"source": "test"})


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """A packed spectra.fits: 80 synthetic stars, 667 pixels around H-beta, Mgb and Fe5270."""
    path = tmp_path_factory.mktemp("data") / "spectra.fits"
    write_packed(_window(make_synthetic_spectra(n_spectra=80, random_state=2)), path)
    return path


@pytest.fixture(scope="module")
def ranked(packed, tmp_path_factory):
    """One successful `stelrel rank` run (its output folder and the input's digest before it)."""
    out = tmp_path_factory.mktemp("ranked") / "out"
    before = hashlib.sha256(packed.read_bytes()).hexdigest()
    result = CliRunner().invoke(cli, ["rank", str(packed), "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    return out, before


def _error_line(result):
    """The single error line (and that there is exactly one, with no traceback)."""
    text = result.output
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, text
    return errors[0]


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("rank", "pack", "catalog", "report", "predict"):
        assert command in result.output


def test_rank_writes_every_output(ranked):
    out, _ = ranked
    names = {p.name for p in out.iterdir()}
    assert names == {"ranking.ecsv", "features.ecsv", "indices.ecsv", "curve.ecsv", "summary.json", "model.pt",
                     "relevance.png",
                     "eigenvalues.png", "curve.png", "report.html"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["max_epochs"] == 6 and summary["settings"]["batch_size"] == 64
    assert summary["split"]["n_test"] == 8 and summary["seeds"] == [0, 1]  # two seeds by default (issue 13)
    assert summary["command"].startswith("stelrel rank ") and "--epochs 6" in summary["command"]
    assert {"load", "train", "total"} <= set(summary["timings"])
    ranking = QTable.read(out / "ranking.ecsv")
    assert ranking["wavelength"].unit == u.AA and len(ranking) == 667
    assert list(Table.read(out / "curve.ecsv")["k"]) == [5, 30, 667]


def test_inputs_are_byte_identical_after_rank_and_predict(packed, ranked, tmp_path):
    out, before = ranked
    assert hashlib.sha256(packed.read_bytes()).hexdigest() == before
    model_before = (out / "model.pt").read_bytes()
    result = CliRunner().invoke(cli, ["predict", str(out / "model.pt"), str(packed), "-o", str(tmp_path / "p.ecsv")])
    assert result.exit_code == 0, result.output
    assert hashlib.sha256(packed.read_bytes()).hexdigest() == before
    assert (out / "model.pt").read_bytes() == model_before


def test_existing_output_needs_overwrite(packed, ranked):
    out, _ = ranked
    summary = (out / "summary.json").read_bytes()
    result = CliRunner().invoke(cli, ["rank", str(packed), "--out", str(out), *FAST])
    assert result.exit_code == 1
    assert "--overwrite" in _error_line(result)
    assert (out / "summary.json").read_bytes() == summary


def test_overwrite_replaces(packed, tmp_path):
    out = tmp_path / "out"
    args = ["rank", str(packed), "--out", str(out), *FAST, "--ks", "5,all", "--retrain-ks", "5"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    result = CliRunner().invoke(cli, [*args, "--overwrite", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["seeds"] == [1, 2]  # two seeds by default (issue 13)


def test_predict_prints_labels(packed, ranked):
    out, _ = ranked
    result = CliRunner().invoke(cli, ["predict", str(out / "model.pt"), str(packed)])
    assert result.exit_code == 0, result.output
    table = Table.read(result.stdout, format="ascii.ecsv")
    assert len(table) == 80 and {"ID", "FEH_pred", "FEH"} <= set(table.colnames)
    assert np.all(np.isfinite(table["FEH_pred"]))


def test_report_rerenders_from_saved_results(ranked, tmp_path):
    out, _ = ranked
    target = tmp_path / "again.html"
    result = CliRunner().invoke(cli, ["report", str(out), "-o", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 3 and "<table" in text


def test_rank_synthetic_keyword(tmp_path):
    result = CliRunner().invoke(cli, ["rank", "synthetic", "--out", str(tmp_path / "syn"), *FAST,
                                      "--ks", "30,all", "--retrain-ks", "30"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "syn" / "summary.json").read_text())
    assert summary["data"]["source"] == "synthetic"
    assert "ground_truth" in summary["metrics"]


def test_catalog_lists_catalogues_and_indices():
    result = CliRunner().invoke(cli, ["catalog"])
    assert result.exit_code == 0 and "lick" in result.output and "optical" in result.output
    result = CliRunner().invoke(cli, ["catalog", "lick"])
    assert result.exit_code == 0
    assert "Fe5270" in result.output and "5245.650" in result.output


def test_every_warning_of_a_command_is_one_line(tmp_path):
    """Also a command that does not route its messages itself (catalog), run as a user runs it."""
    result = subprocess.run([sys.executable, "-m", "stellar_relevance.cli", "catalog", "all", "--frame", "vacuum"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert [line for line in lines if "left out of the vacuum catalogue" in line] == [
        line for line in lines if line.startswith("Warning: 2 index definition(s) left out of the vacuum catalogue")]
    assert len(lines) == 1 and ".py:" not in result.stderr  # not Python's format, with its source line


# ----------------------------------------------------------------------------- bad input
def test_missing_path_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["rank", str(tmp_path / "nope.fits"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o" / "summary.json").exists()


def test_a_symbolic_link_loop_is_named_as_one(tmp_path):
    loop = tmp_path / "loop.fits"
    loop.symlink_to(loop)
    result = CliRunner().invoke(cli, ["rank", str(loop), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "a symbolic link that loops or points nowhere" in result.output
    assert not (tmp_path / "o").exists()


def test_file_that_is_not_fits(tmp_path):
    bad = tmp_path / "spectra.fits"
    bad.write_text("this is not a FITS file\n")
    result = CliRunner().invoke(cli, ["rank", str(bad), "--out", str(tmp_path / "o"), *FAST])
    assert result.exit_code == 1
    line = _error_line(result)
    assert "spectra.fits" in line and "FITS" in line
    assert bad.read_text() == "this is not a FITS file\n"


def test_unknown_label_lists_the_labels(packed, tmp_path):
    result = CliRunner().invoke(cli, ["rank", str(packed), "--label", "MH", "--out", str(tmp_path / "o"), *FAST])
    assert result.exit_code == 1
    line = _error_line(result)
    assert "'MH'" in line and "TEFF" in line and "LOGG" in line and "FEH" in line


def test_label_with_too_few_values(tmp_path):
    spectra = _window(make_synthetic_spectra(n_spectra=30, random_state=4))
    labels = spectra.labels.copy()
    feh = np.array(labels["FEH"], float)
    feh[12:] = np.nan
    labels["FEH"] = feh
    path = tmp_path / "few.fits"
    write_packed(SpectralSet(spectra.wavelength, spectra.flux, labels=labels), path)
    result = CliRunner().invoke(cli, ["rank", str(path), "--out", str(tmp_path / "o"), *FAST])
    assert result.exit_code == 1
    assert "only 12 usable" in _error_line(result)


def test_unwritable_output_folder(packed, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    result = CliRunner().invoke(cli, ["rank", str(packed), "--out", str(blocker / "out"), *FAST])
    assert result.exit_code == 1
    assert "cannot write to output folder" in _error_line(result)


def test_model_grid_mismatch(ranked, tmp_path):
    out, _ = ranked
    other = tmp_path / "other.fits"
    write_packed(_window(make_synthetic_spectra(n_spectra=5, random_state=3), 5000.0, 5600.0), other)
    result = CliRunner().invoke(cli, ["predict", str(out / "model.pt"), str(other)])
    assert result.exit_code == 1
    assert "does not match the model" in _error_line(result)


def test_predict_with_a_file_that_is_not_a_model(packed, tmp_path):
    junk = tmp_path / "model.pt"
    junk.write_bytes(b"\x00" * 64)
    result = CliRunner().invoke(cli, ["predict", str(junk), str(packed)])
    assert result.exit_code == 1
    assert "not a stelrel model" in _error_line(result)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hidden", "200,x"], "--hidden"),
        (["--hidden", "0"], "--hidden"),
        (["--catalog", "nosuch"], "nosuch"),
        (["--seeds", "0"], "--seeds"),
        (["--ks", "5,-3"], "--ks"),
        (["--scaling", "log"], "--scaling"),
    ],
)
def test_bad_options_are_usage_errors(packed, tmp_path, args, message):
    result = CliRunner().invoke(cli, ["rank", str(packed), "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_report_on_a_folder_without_results(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1
    assert "ranking.ecsv is missing" in _error_line(result)


def test_catalog_unknown_name():
    result = CliRunner().invoke(cli, ["catalog", "nosuch"])
    assert result.exit_code == 2 and "nosuch" in result.output


def _miles_folder(path, n=25):
    """A tiny MILES-style folder: 1-D FITS per star + MILES_params.db."""
    spectra = make_synthetic_spectra(n_spectra=n, random_state=5)
    path.mkdir()
    lines = ["#MILES  Teff  log g   [Fe/H]"]
    for i in range(n):
        hdu = fits.PrimaryHDU(spectra.flux[i])
        hdu.header.update(CRVAL1=3540.5, CDELT1=0.9, CRPIX1=1.0, FWHM=2.5)
        hdu.writeto(path / f"MILES_res2.50_star_m{i + 1:04d}V.fits")
        row = spectra.labels[i]
        lines.append(f"  {i + 1:04d}  {row['TEFF']:.0f}   {row['LOGG']:.2f}    {row['FEH']:.2f}")
    (path / "MILES_params.db").write_text("\n".join(lines) + "\n")
    return spectra


def test_pack_a_miles_folder(tmp_path):
    from stellar_relevance.io import read_packed

    folder = tmp_path / "miles"
    spectra = _miles_folder(folder)
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    target = tmp_path / "spectra.fits"
    result = CliRunner().invoke(cli, ["pack", str(folder), "-o", str(target), "--quiet"])
    assert result.exit_code == 0, result.output
    packed = read_packed(target)
    assert len(packed) == 25 and packed.n_pixels == 4300
    assert np.allclose(packed.flux, spectra.flux)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()} == digests
    again = CliRunner().invoke(cli, ["pack", str(folder), "-o", str(target)])
    assert again.exit_code == 1 and "overwrite" in _error_line(again).lower()


def test_rank_miles_keyword_finds_the_library(miles_dir, tmp_path, monkeypatch):
    """`stelrel rank miles` on the real library (found through $STELREL_MILES_DIR), short training."""
    monkeypatch.setenv("STELREL_MILES_DIR", str(miles_dir))
    out = tmp_path / "miles"
    result = CliRunner().invoke(cli, ["rank", "miles", "--out", str(out), "--epochs", "2", "--min-epochs", "1",
                                      "--batch-size", "256", "--ks", "30,all", "--retrain-ks", "30",
                                      "--random-draws", "1", "--permutations", "50", "--quiet"])
    assert result.exit_code == 0, result.output
    # the reader's quirks are reported, one line each
    assert "Warning: " in result.output and "m0742" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["split"]["n_with_label"] > 900
    assert summary["data"]["n_pixels"] == 4300


def test_commands_leave_no_global_state(ranked, tmp_path):
    import logging
    import warnings

    logger = logging.getLogger("stellar_relevance")
    before = (list(logger.handlers), logger.level, logger.propagate, list(warnings.filters), warnings.showwarning)
    out, _ = ranked
    assert CliRunner().invoke(cli, ["report", str(out), "-o", str(tmp_path / "r.html")]).exit_code == 0
    assert CliRunner().invoke(cli, ["catalog", "lick"]).exit_code == 0
    assert CliRunner().invoke(cli, ["report", str(tmp_path)]).exit_code == 1
    after = (list(logger.handlers), logger.level, logger.propagate, list(warnings.filters), warnings.showwarning)
    assert after == before


# ----------------------------------------------------------------------------- issue 9: options and messages
def test_shared_options_are_defined_once():
    """--quiet, --overwrite and -o/--output read the same in every command (cli/options.py)."""
    from stellar_relevance.cli import options

    for name in ("rank", "pack", "predict", "report"):
        command = cli.commands[name]
        quiet = [p for p in command.params if p.name == "quiet"][0]
        assert quiet.opts == ["--quiet", "-q"] and quiet.help == options.quiet_opt(lambda: None).__click_params__[0].help
    for name in ("rank", "pack", "predict", "report"):
        assert [p for p in cli.commands[name].params if p.name == "overwrite"], name
    for name in ("pack", "predict", "report"):
        output = [p for p in cli.commands[name].params if p.name == "output"][0]
        assert output.opts == ["-o", "--output"]


def test_seed_must_not_be_negative(packed, tmp_path):
    result = CliRunner().invoke(cli, ["rank", str(packed), "--out", str(tmp_path / "o"), "--seed", "-1"])
    assert result.exit_code == 2
    assert "--seed" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()  # refused while parsing, before anything is written


@pytest.mark.parametrize("args, option", [(["--ks", "0"], "--ks"), (["--retrain-ks", "0"], "--retrain-ks"),
                                          (["--top", "0"], "--top"), (["--epochs", "0"], "--epochs"),
                                          (["--min-epochs", "-1"], "--min-epochs")])
def test_ranges_are_checked_while_parsing(packed, tmp_path, args, option):
    result = CliRunner().invoke(cli, ["rank", str(packed), "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2
    assert option in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_network_too_large_is_a_usage_error_naming_hidden(packed, tmp_path):
    """`--hidden 100000000` used to end in a torch traceback (and 1000000 in the kernel's OOM killer)."""
    out = tmp_path / "o"
    result = CliRunner().invoke(cli, ["rank", str(packed), "--out", str(out), *FAST, "--hidden", "100000000"])
    assert result.exit_code == 2, result.output
    line = _error_line(result)
    assert "--hidden" in line and "GiB" in line and "memory" in line
    assert "hidden_layer_sizes" not in result.output
    assert not (out / "summary.json").exists()


@pytest.mark.parametrize(
    "args, option",
    [
        (["--ks", "5,99999"], "--ks"),  # more pixels than the spectra have: was clipped to "all"
        (["--ks", "5,30,all", "--retrain-ks", "7"], "--retrain-ks"),  # not one of --ks: was skipped
        (["--min-epochs", "50", "--epochs", "3"], "--min-epochs"),  # was run with min-epochs = epochs
    ],
)
def test_inconsistent_options_are_usage_errors(packed, tmp_path, args, option):
    """The library raises ParameterError for these; the command reports it under the option's name (exit 2)."""
    fast = [a for a in FAST]
    for name in ("--ks", "--retrain-ks", "--epochs", "--min-epochs"):  # let `args` set these
        if name in fast:
            i = fast.index(name)
            del fast[i:i + 2]
    result = CliRunner().invoke(cli, ["rank", str(packed), "--out", str(tmp_path / "o"), *fast, *args])
    assert result.exit_code == 2, result.output
    line = _error_line(result)
    assert option in line
    for python_name in ("retrain_ks", "min_epochs", "max_epochs", "hidden_layer_sizes", "=True"):
        assert python_name not in line


def test_out_may_not_be_the_input_folder(tmp_path):
    folder = tmp_path / "miles"
    _miles_folder(folder, n=3)
    listing = sorted(p.name for p in folder.iterdir())
    for out in (folder, folder / "results"):
        result = CliRunner().invoke(cli, ["rank", str(folder), "--out", str(out), *FAST])
        assert result.exit_code == 2, result.output
        assert "--out" in result.output and "Traceback" not in result.output
        assert sorted(p.name for p in folder.iterdir()) == listing  # nothing written among the data


def test_messages_speak_in_options_not_python(packed, ranked, tmp_path):
    out, _ = ranked
    result = CliRunner().invoke(cli, ["rank", str(packed), "--out", str(out), *FAST])
    line = _error_line(result)
    assert "--overwrite" in line and "overwrite=" not in line
    folder = tmp_path / "noparams"
    _miles_folder(folder, n=3)
    (folder / "MILES_params.db").unlink()
    result = CliRunner().invoke(cli, ["pack", str(folder), "-o", str(tmp_path / "p.fits")])
    assert result.exit_code == 1
    line = _error_line(result)
    assert "parameter table" in line and "params=" not in line


def test_parameter_error_is_shown_as_written_under_its_option():
    """A library ParameterError: "Invalid value for '<option>': <its message>" (exit 2), the words untouched."""
    import click

    from stellar_relevance.cli._errors import CommandError, usage_error
    from stellar_relevance.exceptions import ParameterError

    ctx = click.Context(cli.commands["rank"], info_name="rank")
    error = usage_error(ParameterError("test_fraction", "leaves 2 test spectra; at least 5 are needed"), ctx)
    assert isinstance(error, click.BadParameter) and error.exit_code == 2
    assert error.format_message() == "Invalid value for '--test-fraction': leaves 2 test spectra; at least 5 are needed"
    error = usage_error(ParameterError("batch_size", "must be >= 1, got 0"), ctx)  # the command's own option
    assert error.format_message() == "Invalid value for '--batch-size': must be >= 1, got 0"
    error = usage_error(ParameterError("eigenvalue_penalty", "must be >= 0, got -1"), ctx)  # no option sets it
    assert isinstance(error, CommandError) and error.exit_code == 1
    assert error.format_message() == "eigenvalue_penalty must be >= 0, got -1"


def test_no_regular_expression_rewrites_messages():
    """The command line shows the library's messages as written: no module of cli/ edits them."""
    import stellar_relevance.cli as package

    folder = Path(package.__file__).parent
    for module in folder.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        assert "import re\n" not in text and "re.sub(" not in text, module.name
    assert not (folder / "_common.py").exists()


def test_report_refuses_to_overwrite_without_the_option(ranked, tmp_path):
    out, _ = ranked
    target = tmp_path / "existing.html"
    target.write_text("mine")
    result = CliRunner().invoke(cli, ["report", str(out), "-o", str(target)])
    assert result.exit_code == 1
    assert "--overwrite" in _error_line(result)
    assert target.read_text() == "mine"
    result = CliRunner().invoke(cli, ["report", str(out), "-o", str(target), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "<table" in target.read_text(encoding="utf-8")


def test_pack_says_wrote_once(tmp_path):
    folder = tmp_path / "miles"
    _miles_folder(folder, n=3)
    result = CliRunner().invoke(cli, ["pack", str(folder), "-o", str(tmp_path / "p.fits")])
    assert result.exit_code == 0, result.output
    assert result.output.count("wrote 3 spectra") == 1, result.output


def test_predict_to_stdout_without_deprecation_warnings(packed, ranked):
    out, _ = ranked
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        result = CliRunner().invoke(cli, ["predict", str(out / "model.pt"), str(packed)])
    assert result.exit_code == 0, result.output
    assert "get_text_stream" not in result.output and "Warning:" not in result.output


def test_catalog_into_a_closed_pipe_exits_quietly(tmp_path):
    """`stelrel catalog optical | head -1`: the reader goes away; no 'Broken pipe' error, exit code 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written: every write meets EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-c", "from stellar_relevance.cli.main import main; main()", "catalog", "optical"],
            stdout=write_end, stderr=subprocess.PIPE, timeout=300,
            # Outside the source tree: from the repository root, `python -c` would import the
            # unmapped source folder stellar_relevance/ (no cli/ in it) instead of the install.
            cwd=tmp_path,
        )
    finally:
        os.close(write_end)
    stderr = proc.stderr.decode()
    assert proc.returncode == 0, stderr
    assert "Broken pipe" not in stderr and "Error" not in stderr and "Exception" not in stderr


def test_rank_output_paths_are_clean(packed, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["rank", str(packed), "--out", f"{out}/", *[a for a in FAST if a != "--quiet"]])
    assert result.exit_code == 0, result.output
    assert "//" not in result.output and f"wrote {out / 'report.html'}" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["command"] == f"stelrel rank {packed} --out {out}/ " + " ".join(a for a in FAST if a != "--quiet")
