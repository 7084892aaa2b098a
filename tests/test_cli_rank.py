"""`stelrel rank`: several labels, given labels, the penalty and the seeds (issue 13), through click's CliRunner."""

import json

import numpy as np
import pytest
import torch
from astropy.table import QTable
from click.testing import CliRunner

from stellar_relevance import load_model, predict_labels
from stellar_relevance.cli.main import cli
from stellar_relevance.datasets.synthetic_spectra import make_synthetic_spectra
from stellar_relevance.exceptions import DataError
from stellar_relevance.io import read_packed, write_packed
from stellar_relevance.spectra import SpectralSet

torch.set_num_threads(1)

FAST = ["--epochs", "4", "--min-epochs", "2", "--batch-size", "64", "--ks", "5,all", "--retrain-ks", "5",
        "--random-draws", "1", "--permutations", "20", "--catalog", "lick", "--quiet"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """80 synthetic stars, 300 pixels around Mgb, a string label and three stars without LOGG."""
    spectra = make_synthetic_spectra(n_spectra=80, random_state=4)
    keep = (spectra.wavelength.value >= 5100) & (spectra.wavelength.value < 5400)
    labels = spectra.labels.copy()
    labels["LOGG"][:3] = np.nan
    labels["SPTYPE"] = "G2V"
    small = SpectralSet(spectra.wavelength[keep], spectra.flux[:, keep], labels=labels, meta={"source": "test"})
    path = tmp_path_factory.mktemp("data") / "spectra.fits"
    write_packed(small, path)
    return path


def _rank(packed, out, *args):
    return CliRunner().invoke(cli, ["rank", str(packed), "--out", str(out), *FAST, *args])


def _usage_error(result, option):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and option in errors[0], result.output
    return errors[0]


def test_seeds_default_is_the_library_default():
    from stellar_relevance.cli.rank import DEFAULT_SEEDS
    from stellar_relevance.ranking.pipeline import DEFAULT_N_SEEDS

    assert DEFAULT_SEEDS == DEFAULT_N_SEEDS


def test_several_labels_one_folder_each_and_one_figure(packed, tmp_path):
    out = tmp_path / "out"
    result = _rank(packed, out, "--label", "FEH,TEFF", "--seeds", "2")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["FEH", "TEFF", "relevance_by_label.png"]
    assert (out / "relevance_by_label.png").read_bytes()[:8] == PNG
    for label in ("FEH", "TEFF"):
        summary = json.loads((out / label / "summary.json").read_text())
        assert summary["label"] == label
        assert summary["metrics"]["stability"]["n_seeds"] == 2
        assert "top30_overlap" in summary["metrics"]["stability"]
        ranking = QTable.read(out / label / "ranking.ecsv")
        assert np.isclose(np.nansum(ranking["selection_frequency"]), 30)
        assert "selection_frequency" in (out / label / "report.html").read_text()
    # a second run is refused without --overwrite (the combined figure included), and replaces with it
    again = _rank(packed, out, "--label", "FEH,TEFF", "--seeds", "2")
    assert again.exit_code == 1 and "--overwrite" in again.output
    assert _rank(packed, out, "--label", "FEH,TEFF", "--seeds", "2", "--overwrite").exit_code == 0


def test_single_label_keeps_the_layout(packed, tmp_path):
    out = tmp_path / "one"
    result = _rank(packed, out, "--label", "FEH", "--seeds", "1")
    assert result.exit_code == 0, result.output
    assert (out / "ranking.ecsv").exists() and not (out / "relevance_by_label.png").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert "one seed" in summary["metrics"]["stability"]["note"]
    assert "one seed" in (out / "report.html").read_text()


def test_given_and_penalty_reach_the_estimator(packed, tmp_path):
    out = tmp_path / "given"
    result = CliRunner().invoke(cli, ["rank", str(packed), "--out", str(out), *FAST[:-1], "--given", "TEFF,LOGG",
                                      "--penalty", "l1", "--seeds", "1"])
    assert result.exit_code == 0, result.output
    assert "3 of 80 spectra" in result.output and "'LOGG'" in result.output  # the dropped stars are counted
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["given"] == ["TEFF", "LOGG"] and summary["settings"]["penalty"] == "l1"
    assert summary["split"]["n_with_label"] == 77
    assert "given TEFF,LOGG" in result.output

    # the model file remembers the given labels: predictions read them from the spectra's own labels
    model = load_model(out / "model.pt")
    assert model["given"] == ["TEFF", "LOGG"]
    spectra = read_packed(packed)
    predicted = predict_labels(model, spectra[3:])
    assert predicted.shape == (77,) and np.isfinite(predicted).all()
    with pytest.raises(DataError, match=r"given label 'LOGG' is missing \(NaN\) for 3 spectra"):
        predict_labels(model, spectra)
    missing = CliRunner().invoke(cli, ["predict", str(out / "model.pt"), str(packed)])
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert "given label 'LOGG' is missing" in missing.output


@pytest.mark.parametrize(
    "args, option, message",
    [
        (["--given", "VSINI"], "--given", "no label 'VSINI'"),
        (["--given", "SPTYPE"], "--given", "not numeric"),
        (["--given", "FEH"], "--given", "label to predict"),
        (["--label", "FEH,TEFF", "--given", "TEFF"], "--given", "label to predict"),
        (["--given", "TEFF,TEFF"], "--given", "more than once"),
        (["--label", "FEH,TEFF,FEH"], "--label", "more than once"),
        (["--label", "FEH,"], "--label", "empty"),
        (["--penalty", "l3"], "--penalty", "l3"),
        (["--seeds", "0"], "--seeds", "0"),
    ],
)
def test_bad_options_are_one_line_usage_errors(packed, tmp_path, args, option, message):
    out = tmp_path / "o"
    error = _usage_error(_rank(packed, out, *args), option)
    assert message in error
    assert not out.exists()
