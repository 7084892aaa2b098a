"""The MILES cross-validated comparison: the Cannon peer, stochastic gates, paired intervals, the --quick run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import cannon  # noqa: E402
import compare_miles  # noqa: E402
import peers  # noqa: E402
import race_miles  # noqa: E402


def cannon_data(n=300, p=40, seed=0):
    """Fluxes quadratic in (Teff, log g, [Fe/H]); pixel 5 alone responds to [Fe/H], pixel 9 to Teff."""
    rng = np.random.default_rng(seed)
    labels = np.column_stack([rng.normal(5500, 600, n), rng.normal(4.0, 0.5, n), rng.normal(-0.3, 0.4, n)])
    z = (labels - labels.mean(0)) / labels.std(0)
    flux = 1.0 - 0.02 * np.abs(rng.normal(size=p))[None, :] + 0.002 * rng.normal(size=(n, p))
    flux[:, 5] -= 0.08 * z[:, 2] + 0.01 * z[:, 2] ** 2
    flux[:, 9] -= 0.08 * z[:, 0]
    flux[:, 12] -= 0.03 * z[:, 1] + 0.02 * z[:, 0] * z[:, 2]
    return flux, labels


def test_cannon_lstsq_ranks_the_feh_pixel_and_predicts_labels():
    flux, labels = cannon_data()
    flux0, labels0 = flux.copy(), labels.copy()
    model = cannon.QuadraticCannon("lstsq").fit(flux[:250], labels[:250])
    assert model.coeffs_.shape == (flux.shape[1], 10)
    sens = model.sensitivity(2)
    assert int(np.argmax(sens)) == 5
    assert int(np.argmax(model.sensitivity(0))) == 9
    pred = model.predict(flux[250:])
    assert np.mean(np.abs(pred[:, 2] - labels[250:, 2])) < 0.05
    assert np.mean(np.abs(pred[:, 0] - labels[250:, 0])) < 30
    np.testing.assert_array_equal(flux, flux0)
    np.testing.assert_array_equal(labels, labels0)
    result, _ = cannon.rank_cannon(flux, labels, 2)
    assert result.name == "cannon" and result.ranking[0] == 5


@pytest.mark.skipif(not cannon.cannon_available(), reason="TheCannon not installed (pip install thecannon)")
def test_cannon_package_and_lstsq_agree():
    flux, labels = cannon_data(n=200, p=20)
    ours = cannon.QuadraticCannon("lstsq").fit(flux, labels)
    theirs = cannon.QuadraticCannon("thecannon").fit(flux, labels)
    np.testing.assert_allclose(theirs.pivots_, ours.pivots_)
    # same model, same label scaling: the coefficients agree (the package fits a scatter too)
    np.testing.assert_allclose(theirs.coeffs_, ours.coeffs_, atol=2e-3)
    assert int(np.argmax(theirs.sensitivity(2))) == 5
    pred = theirs.predict(flux[:20])
    assert np.mean(np.abs(pred[:, 2] - labels[:20, 2])) < 0.05


def test_cannon_bad_input():
    flux, labels = cannon_data(n=50, p=20)
    with pytest.raises(ValueError, match="backend"):
        cannon.QuadraticCannon("nope")
    with pytest.raises(ValueError, match="labels must be"):
        cannon.QuadraticCannon().fit(flux, labels[:10])
    bad = labels.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cannon.QuadraticCannon().fit(flux, bad)
    with pytest.raises(ValueError, match="odd"):
        cannon.continuum_normalise(flux, window=10)


def test_continuum_normalise_keeps_lines_and_flattens_the_slope():
    wave = np.arange(2000, dtype=float)
    continuum = 2.0 + 1e-3 * wave
    flux = continuum.copy()
    flux[1000:1005] *= 0.5  # a narrow absorption line
    X = np.vstack([flux, 3 * flux])
    X0 = X.copy()
    norm = cannon.continuum_normalise(X, window=101)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_allclose(norm[0], norm[1])  # scale free
    # the running 90th percentile of a sloped continuum sits ~45 pixels ahead: ~1 % low here
    assert abs(np.median(norm[0]) - 1.0) < 0.02
    assert norm[0, 1002] / norm[0, 990] == pytest.approx(0.5, abs=0.01)


def test_stg_finds_the_signal():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        check_stg()
    finally:
        torch.set_num_threads(threads)


def check_stg():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 12)).astype(np.float32)
    y = 2.0 * X[:, 3] + 1.0 * X[:, 7] + 0.1 * rng.normal(size=600)
    net = dict(hidden_layer_sizes=(16,), max_epochs=60, batch_size=100, learning_rate=1e-2)
    a = peers.rank_stg(X, y, "regression", network=net, random_state=0)
    b = peers.rank_stg(X, y, "regression", network=net, random_state=0)
    assert set(a.ranking[:2]) == {3, 7}
    np.testing.assert_array_equal(a.scores, b.scores)  # seeded
    assert a.details["n_open"] >= 2 and a.seconds > 0


def test_paired_interval():
    diffs = [0.01, 0.02, 0.03, 0.02, 0.02]
    out = compare_miles.paired_interval(diffs, n_train=800, n_test=200)
    assert out["mean"] == pytest.approx(0.02)
    lo, hi = out["ci95"]
    plo, phi = out["ci95_plain"]
    assert lo < 0.02 < hi and (hi - lo) > (phi - plo)  # the correction widens the interval
    assert out["excludes_zero"]
    assert not compare_miles.paired_interval([0.01, -0.01, 0.02, -0.02], 800, 200)["excludes_zero"]


def test_index_bands_cover_lick_features():
    wave = np.array([3600.0, 5175.0, 5270.0, 6000.0])  # Mgb and Fe5270 centres
    inside = compare_miles.in_index_bands(wave)
    assert inside.tolist()[1:3] == [True, True]


MILES = compare_miles.data_dir("miles", "STELREL_MILES_DIR")


@pytest.mark.skipif(not (MILES / "MILES_params.db").exists() and not any(MILES.glob("*.fits")),
                    reason=f"MILES data not found in {MILES} (set STELREL_MILES_DIR)")
def test_compare_miles_quick(tmp_path):
    out = tmp_path / "cm.json"
    cmd = [sys.executable, str(BENCH / "compare_miles.py"), "--quick", "--net-ks", "10", "--methods",
           "spectral", "spectral_pruned", "stg", "f_test", "cannon", "cannon_norm", "random", "--output", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, cwd=tmp_path,
                          env=dict(os.environ, PYTHONHASHSEED="0"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload = json.loads(out.read_text())
    summary = payload["summary"]
    rows = {r["method"]: r for r in summary["rows"]}
    assert set(rows) == {"spectral", "spectral_pruned", "stg", "f_test", "cannon", "cannon_norm", "random"}
    for name, row in rows.items():
        for k in (10, 30, 100):
            assert row[f"mae_trees_{k}"] > 0
            assert set(row[f"mae_trees_{k}_bands"]) == {"hot", "FGK", "M"}
        assert "mae_net_10" in row and "mae_net_30" not in row
        assert -1 <= row["spearman_cannon"] <= 1 and 0 <= row["band_share_top30"] <= 1
        if name != "f_test":
            assert "ci95" in row["mae_trees_10_vs_f_test"]
    assert rows["cannon"]["spearman_cannon"] == pytest.approx(1.0)
    assert rows["f_test"]["seed_overlap_top30"] == 1.0  # deterministic ranker
    assert set(summary["masked"]["masked_pruned"]) == {"10", "30", "100"}
    assert summary["cannon_predictor"]["cannon"]["mae"] > 0
    assert not (tmp_path / "cm.partial.json").exists()


def test_race_feature_hits_merges_neighbours_and_tests_by_shift():
    wave = np.arange(4000.0, 5000.0, 1.0)
    inside = (wave >= 4500) & (wave < 4510)
    ranking = np.array([500, 501, 503, 700, 900, 901])  # 4500-4503 A is one feature; 4700; 4900-4901
    out = race_miles.feature_hits(ranking, wave, inside, top=6, n_shifts=500, seed=0)
    assert out["features"] == 3 and out["hits"] == 1
    assert 0.02 < out["p"] < 0.2  # three features hit a 10-pixel band at about 3 * 13 / 1000 of the shifts
    many = race_miles.feature_hits(np.arange(500, 510), wave, inside, top=10, n_shifts=500)
    assert many["features"] == 1 and many["hits"] == 1 and many["p"] < 0.05


def test_race_sensitivity_finds_the_responding_pixel():
    flux, labels = cannon_data()
    prediction = labels[:, 2] + 0.01 * np.random.default_rng(1).normal(size=len(labels))
    sens, _ = race_miles.sensitivity(flux, prediction, labels[:, :2])
    assert int(np.argmax(sens)) == 5
    assert sens[9] < 0.2 * sens[5]  # Teff's pixel does not respond once Teff is given


def test_race_estimator_is_rank_spectras():
    from stellar_relevance.ranking.pipeline import rank_spectra
    import inspect

    _, params = race_miles.rank_estimator(quick=False)
    defaults = inspect.signature(rank_spectra).parameters
    for name in ("batch_size", "max_epochs", "n_iter_no_change", "learning_rate", "eigenvalue_penalty"):
        assert params[name] == defaults[name].default
    assert params["early_stopping"] and params["min_epochs"] == min(300, defaults["max_epochs"].default)


@pytest.mark.skipif(not (MILES / "MILES_params.db").exists() and not any(MILES.glob("*.fits")),
                    reason=f"MILES data not found in {MILES} (set STELREL_MILES_DIR)")
def test_race_quick(tmp_path):
    out = tmp_path / "race.json"
    cmd = [sys.executable, str(BENCH / "compare_miles.py"), "--race", "--quick", "--output", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(out.read_text())["summary"]
    for rep in ("stored", "running"):
        for name in race_miles.RANKERS:
            for k in race_miles.KS:
                assert 0 < summary["mae"][f"{rep}|{name}|{k}|pixels"] < 2
                assert 0 < summary["mae"][f"{rep}|{name}|{k}|given"] < 2
        fom = summary["paired"][f"{rep}|spectral_select|best|5|pixels"]
        assert fom["peer"] in race_miles.PEERS and "ci95" in fom
        assert -1 <= summary["sensitivity"][f"{rep}|sensitivity_spearman_cannon"] <= 1
    assert "figure of merit (stored)" in proc.stdout and "figure of merit (running)" in proc.stdout
    assert not (tmp_path / "race.partial.json").exists()
