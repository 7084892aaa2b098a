"""RankingResult (stellar_relevance.report.result): saving a whole folder or nothing, loading it back."""

import json

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.table import QTable, Table

from stellar_relevance.datasets.synthetic_spectra import make_synthetic_spectra
from stellar_relevance.exceptions import DataError
from stellar_relevance.report.outputs import OUTPUT_FILES as LISTED_FILES
from stellar_relevance.ranking.pipeline import rank_spectra
from stellar_relevance.report.result import RankingResult

torch.set_num_threads(1)

OUTPUT_FILES = tuple(sorted(set(LISTED_FILES) | {"features.ecsv"}))  # every file save writes

FAST = dict(max_epochs=6, min_epochs=3, n_iter_no_change=15, batch_size=50, retrain_ks=(30,), retrain_max_epochs=3,
            n_random=1, n_permutations=50, ks=(5, 30, "all"))


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_spectra(n_spectra=200, random_state=1)


@pytest.fixture(scope="module")
def result(synthetic):
    return rank_spectra(synthetic, "FEH", n_seeds=2, random_state=3, **FAST)


def test_save_load_roundtrip(result, tmp_path):
    out = tmp_path / "res"
    written = result.save(out)
    assert set(written) == set(OUTPUT_FILES)
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)  # no temp files left
    ranking = QTable.read(out / "ranking.ecsv")
    assert ranking["wavelength"].unit == u.AA
    assert ranking.meta["split"] == result.split_text
    curve = Table.read(out / "curve.ecsv")
    assert curve["mae_masked"].unit == u.dex
    summary = json.loads((out / "summary.json").read_text())
    for key in ("settings", "split", "seeds", "versions", "timings", "test_mae", "topk_mae", "overall_p_value"):
        assert key in summary, key
    assert summary["test_mae"] == pytest.approx(result.metrics["test_mae"])
    assert (out / "relevance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    loaded = RankingResult.load(out)
    assert np.array_equal(loaded.ranking["pixel"], result.ranking["pixel"])
    assert loaded.metrics["test_mae"] == pytest.approx(result.metrics["test_mae"])
    assert loaded.split_text == result.split_text
    assert list(loaded.ranking["indices"]) == list(result.ranking["indices"])  # "" stays "", not masked
    assert loaded.estimator is None
    # the features, with their significance, and the sensitivity come back as written
    features = QTable.read(out / "features.ecsv")
    assert features.meta["fdr"] == 0.1 and "significance" in features.meta
    assert list(loaded.features["peak_wavelength"]) == list(result.features["peak_wavelength"])
    assert list(loaded.features["significant"]) == list(result.features["significant"])
    assert list(loaded.features["indices"]) == list(result.features["indices"])
    assert "responds to the label" in ranking["sensitivity"].description
    np.testing.assert_array_equal(loaded.ranking["sensitivity"], result.ranking["sensitivity"])
    assert summary["metrics"]["training_mean_mae"] == pytest.approx(result.metrics["training_mean_mae"])
    assert summary["settings"]["continuum"] == {"method": "none"}


def test_folders_without_features_still_load(result, tmp_path):
    out = tmp_path / "res"
    result.save(out, figures=False)
    (out / "features.ecsv").unlink()
    assert RankingResult.load(out).features is None


def test_save_refuses_to_overwrite(result, tmp_path):
    result.save(tmp_path, figures=False)
    before = (tmp_path / "summary.json").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        result.save(tmp_path, figures=False)
    assert (tmp_path / "summary.json").read_bytes() == before
    result.save(tmp_path, overwrite=True, figures=False)


def test_load_rejects_other_folders(tmp_path):
    with pytest.raises(DataError, match="ranking.ecsv is missing"):
        RankingResult.load(tmp_path)


def _staging_left(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".stelrel-staging-")]


def test_interrupted_save_leaves_nothing(result, tmp_path, monkeypatch):
    """An interrupt while saving leaves no folder (and no staging folder); the next save is not refused."""
    from stellar_relevance.report import figures as report

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    out = tmp_path / "res"
    with monkeypatch.context() as patch:
        patch.setattr(report, "figure_pngs", interrupted)
        with pytest.raises(KeyboardInterrupt):
            result.save(out)
    assert not out.exists() and _staging_left(tmp_path) == []
    assert set(result.save(out)) == set(OUTPUT_FILES)  # no --overwrite needed


def test_interrupted_overwrite_keeps_the_old_results(result, tmp_path, monkeypatch):
    from stellar_relevance.report import figures as report

    out = tmp_path / "res"
    result.save(out, figures=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "figure_pngs", interrupted)
    with pytest.raises(KeyboardInterrupt):
        result.save(out, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _staging_left(tmp_path) == []


def test_save_keeps_other_files_and_makes_parents(result, tmp_path):
    out = tmp_path / "a" / "b"
    out.mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    written = result.save(out, figures=False)
    assert (out / "notes.txt").read_text() == "mine"
    assert all(path.parent == out and path.exists() for path in written.values())
    deeper = result.save(tmp_path / "new" / "deep", figures=False)
    assert (tmp_path / "new" / "deep" / "summary.json") == deeper["summary.json"]


def test_report_shows_display_label_warnings_and_wavelengths(result, tmp_path):
    result.save(tmp_path / "r")
    page = (tmp_path / "r" / "report.html").read_text()
    assert "Which pixels carry [Fe/H]?" in page
    assert "only 20 test spectra" not in page  # 200 spectra: 20 test, no small-test warning
    top_wave = result.ranking["wavelength"][0].value
    assert f"<td>{top_wave:.1f}</td>" in page
