"""rank_spectra, RankingResult and the synthetic spectra (stellar_relevance.ranking / synthetic_spectra)."""

import json
import warnings

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.table import QTable, Table

from stellar_relevance.exceptions import DataError
from stellar_relevance.ranking import (
    OUTPUT_FILES,
    RankingResult,
    check_output_dir,
    load_model,
    predict_labels,
    rank_spectra,
)
from stellar_relevance.spectra import SpectralSet
from stellar_relevance.datasets.synthetic_spectra import (
    make_synthetic_spectra,
    miles_grid,
    planted_lines,
    planted_mask,
)

torch.set_num_threads(1)

# small, fast settings: enough for the planted lines to win, far from the MILES defaults
FAST = dict(
    max_epochs=30, min_epochs=15, n_iter_no_change=15, batch_size=50, retrain_ks=(30,),
    retrain_max_epochs=15, n_random=1, n_permutations=200, ks=(5, 10, 30, 100, "all"),
)


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_spectra(n_spectra=250, random_state=1)


@pytest.fixture(scope="module")
def result(synthetic):
    return rank_spectra(synthetic, "FEH", n_seeds=2, random_state=3, **FAST)


# ----------------------------------------------------------------------------- synthetic set
def test_synthetic_spectra_grid_labels_and_truth(synthetic):
    assert synthetic.n_pixels == 4300
    assert u.allclose(synthetic.wavelength, miles_grid())
    assert synthetic.wavelength[0] == 3540.5 * u.AA
    assert synthetic.wave_frame == "air"
    assert set(synthetic.label_names) == {"TEFF", "LOGG", "FEH"}
    assert synthetic.labels["FEH"].unit == u.dex
    # normalised to 1 in the MILES normalisation window, like MILES
    window = (synthetic.wavelength.value >= 5400) & (synthetic.wavelength.value <= 5630)
    assert np.allclose(synthetic.flux[:, window].mean(axis=1), 1.0, atol=0.01)
    lines = synthetic.meta["planted_lines"]
    assert set(lines["sensitive_to"]) == {"FEH", "TEFF", "none"}
    # a metal line deepens with [Fe/H]: the flux at Mg I 5184 correlates negatively with FEH
    pixel = int(np.argmin(np.abs(synthetic.wavelength.value - 5183.6)))
    r = np.corrcoef(synthetic.flux[:, pixel], synthetic.labels["FEH"])[0, 1]
    assert r < -0.8
    # H-alpha tracks TEFF, not FEH
    pixel = int(np.argmin(np.abs(synthetic.wavelength.value - 6562.8)))
    assert abs(np.corrcoef(synthetic.flux[:, pixel], synthetic.labels["FEH"])[0, 1]) < 0.3


def test_synthetic_spectra_seeded():
    a = make_synthetic_spectra(n_spectra=5, random_state=7)
    b = make_synthetic_spectra(n_spectra=5, random_state=7)
    c = make_synthetic_spectra(n_spectra=5, random_state=8)
    assert np.array_equal(a.flux, b.flux)
    assert not np.array_equal(a.flux, c.flux)


@pytest.mark.parametrize("kwargs", [dict(n_spectra=0), dict(snr=0), dict(snr=-1)])
def test_synthetic_spectra_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_synthetic_spectra(**kwargs)


def test_planted_mask_marks_only_label_lines():
    lines = planted_lines(random_state=0)
    wave = miles_grid()
    feh = planted_mask(wave, lines, "FEH")
    teff = planted_mask(wave, lines, "TEFF")
    assert feh.any() and teff.any() and not (feh & teff).any()
    assert feh[np.argmin(np.abs(wave.value - 5269.54))]
    assert not feh[np.argmin(np.abs(wave.value - 6562.8))]


# ----------------------------------------------------------------------------- the pipeline
def test_result_tables(result, synthetic):
    ranking = result.ranking
    n = synthetic.n_pixels
    assert len(ranking) == n
    assert list(ranking["rank"][:3]) == [1, 2, 3]
    assert sorted(ranking["pixel"]) == list(range(n))
    assert ranking["wavelength"].unit == u.AA
    assert np.all(np.diff(ranking["relevance"]) <= 0)
    assert np.isclose(np.sum(ranking["relevance"]), 1.0)
    for column in ("relevance_std", "signed_eigenvalue", "mean_flux", "indices"):
        assert column in ranking.colnames
    assert np.any(ranking["relevance_std"] > 0)  # two seeds give a spread
    curve = result.curve
    assert list(curve["k"]) == [5, 10, 30, 100, n]
    assert {"mae_masked", "mae_retrained", "mae_random", "mae_random_std", "mae_masked_random"} <= set(curve.colnames)
    assert curve["mae_masked"].unit == u.dex
    # retrained only where asked
    assert np.isfinite(curve["mae_retrained"][curve["k"] == 30][0])
    assert np.isnan(curve["mae_retrained"][curve["k"] == 10][0])
    assert {"name", "band_lower", "band_upper", "n_top_bins", "p_value"} <= set(result.indices.colnames)


def test_planted_lines_are_found(result, synthetic):
    truth = result.metrics["ground_truth"]
    # the planted [Fe/H] lines cover ~1.5 % of the pixels; the top 30 must land on them
    assert truth["planted_pixel_share"] < 0.03
    assert truth["top_in_planted_lines"] >= 0.8
    assert len(truth["lines_recovered"]) >= 5
    assert result.metrics["overall_p_value"] < 0.05
    # the H-alpha line (TEFF only) is not among the top 30
    top_wave = result.top()["wavelength"].value
    assert not np.any(np.abs(top_wave - 6562.8) < 10)
    # the model learned [Fe/H]: far better than predicting the mean
    assert result.metrics["test_mae"] < 0.5 * result.metrics["label_std_test"]


def test_metrics_settings_and_split(result, synthetic):
    m, s, p = result.metrics, result.settings, result.provenance
    assert s["seeds"] == [3, 4] and s["random_state"] == 3
    assert s["input_scaling"] == "center"
    assert s["hidden_layer_sizes"] == (200, 50, 50)
    split = p["split"]
    assert split["n_train"] + split["n_validation"] + split["n_test"] == split["n_with_label"] == len(synthetic)
    assert split["n_test"] == 25
    assert "3" in result.split_text and str(split["n_test"]) in result.split_text
    assert len(m["test_mae_per_seed"]) == 2
    assert 0 <= m["stability"]["top30_overlap"] <= 1
    assert m["topk_mae"] == pytest.approx(float(result.curve["mae_retrained"][result.curve["k"] == 30][0]))
    assert {"train", "curve_masked", "curve_retrained", "match", "total"} <= set(p["timings"])
    assert p["versions"]["torch"] == torch.__version__
    claims = {c["claim"]: c for c in m["claims"]}
    assert any("H-alpha" in c for c in claims)
    assert any("eigenvalues peak close to zero" in c for c in claims)
    assert all(isinstance(c["holds"], bool) for c in m["claims"])


def test_same_seed_same_result(synthetic):
    small = synthetic[np.arange(120)]
    settings = dict(FAST, max_epochs=8, min_epochs=4, retrain_ks=(), n_permutations=50, catalog=None)
    a = rank_spectra(small, "FEH", random_state=5, **settings)
    b = rank_spectra(small, "FEH", random_state=5, **settings)
    assert np.array_equal(a.ranking["pixel"], b.ranking["pixel"])
    assert a.metrics["test_mae"] == b.metrics["test_mae"]
    assert a.provenance["split"]["test_ids"] == b.provenance["split"]["test_ids"]
    c = rank_spectra(small, "FEH", random_state=6, **settings)
    assert a.provenance["split"]["test_ids"] != c.provenance["split"]["test_ids"]


def test_missing_label_lists_the_labels(synthetic):
    with pytest.raises(DataError, match=r"no label 'MH'.*TEFF, LOGG, FEH"):
        rank_spectra(synthetic, "MH", **FAST)


def test_too_few_label_values(synthetic):
    small = synthetic[np.arange(40)]
    feh = np.array(small.labels["FEH"], float)
    feh[19:] = np.nan
    labels = small.labels.copy()
    labels["FEH"] = feh
    sparse = SpectralSet(small.wavelength, small.flux, labels=labels)
    with pytest.raises(DataError, match=r"'FEH' has only 19 usable .* at least 20"):
        rank_spectra(sparse, "FEH", **FAST)


def test_standard_scaling_warns(synthetic):
    small = synthetic[np.arange(60)]
    with pytest.warns(UserWarning, match="normalisation window"):
        rank_spectra(small, "FEH", input_scaling="standard", **dict(FAST, max_epochs=2, min_epochs=1,
                                                                    retrain_ks=(), catalog=None))


def test_masked_pixels_are_filled_and_named(synthetic):
    from stellar_relevance.exceptions import DataWarning

    small = synthetic[np.arange(60)]
    flux = small.flux.copy()
    mask = np.zeros(flux.shape, bool)
    mask[4, -3:] = True
    flux[4, -3:] = 0.0  # zero padding, as in MILES m0742
    padded = SpectralSet(small.wavelength, flux, mask=mask, labels=small.labels)
    with pytest.warns(DataWarning, match=r"1 spectra have masked pixels, filled .*SYN00005 \(3 px, 7407.8-7409.6 A\)"):
        res = rank_spectra(padded, "FEH", **dict(FAST, max_epochs=2, min_epochs=1, retrain_ks=(), catalog=None))
    # the mean spectrum of the training stars is not pulled down by the padding
    last = res.ranking["mean_flux"][res.ranking["pixel"] == small.n_pixels - 1][0]
    assert abs(last - small.flux[:, -1].mean()) < 0.05


def test_non_finite_flux_is_refused(synthetic):
    small = synthetic[np.arange(40)]
    flux = small.flux.copy()
    flux[3, 100] = np.nan
    bad = SpectralSet(small.wavelength, flux, labels=small.labels)
    with pytest.raises(DataError, match="non-finite flux.*SYN"):
        rank_spectra(bad, "FEH", **FAST)


# ----------------------------------------------------------------------------- saving
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


def test_save_refuses_to_overwrite(result, tmp_path):
    result.save(tmp_path, figures=False)
    before = (tmp_path / "summary.json").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        result.save(tmp_path, figures=False)
    assert (tmp_path / "summary.json").read_bytes() == before
    result.save(tmp_path, overwrite=True, figures=False)


def test_output_dir_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(Exception, match="cannot write to output folder|not a folder"):
        check_output_dir(blocker / "out")
    with pytest.raises(Exception, match="not a folder"):
        check_output_dir(blocker)


def test_load_rejects_other_folders(tmp_path):
    with pytest.raises(DataError, match="ranking.ecsv is missing"):
        RankingResult.load(tmp_path)


def test_model_file_predicts_and_checks_the_grid(result, synthetic, tmp_path):
    result.save(tmp_path, figures=False)
    model = load_model(tmp_path / "model.pt")
    assert model["label"] == "FEH" and len(model["estimators"]) == 2
    assert model["config"]["hidden_layer_sizes"] == [200, 50, 50]
    pred = predict_labels(model, synthetic[np.arange(10)])
    X, _ = synthetic[np.arange(10)].to_xy("FEH")
    expected = np.mean([est.predict(X) for est in result.estimators], axis=0)
    assert np.allclose(pred, expected)
    shifted = SpectralSet(synthetic.wavelength + 1 * u.AA, synthetic.flux[:3], labels=synthetic.labels[:3])
    with pytest.raises(DataError, match="does not match the model"):
        predict_labels(model, shifted)
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(DataError, match="not a stelrel model"):
        load_model(tmp_path / "junk.pt")


def test_real_miles_pipeline_runs(miles_dir):
    """Real MILES: the reader's quirks pass through and the outputs are complete (short training)."""
    from stellar_relevance.io import load_miles

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spectra = load_miles(miles_dir)
        res = rank_spectra(spectra, "FEH", max_epochs=6, min_epochs=3, batch_size=256, retrain_ks=(),
                           n_random=1, n_permutations=100, ks=(30, "all"))
    split = res.provenance["split"]
    assert split["n_with_label"] > 900 and split["n_test"] == round(0.1 * split["n_with_label"])
    assert res.ranking["wavelength"].min() == 3540.5 * u.AA
    assert "Fe5270" in set(",".join(res.ranking["indices"]).split(","))
    assert res.metrics["overall_p_value"] is not None
