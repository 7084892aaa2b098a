"""rank_spectra (stellar_relevance.ranking.pipeline): the steps, their checks and the numbers they state."""

import json
import warnings

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.table import QTable, Table

from stellar_relevance.datasets.synthetic_spectra import make_synthetic_spectra, planted_recovery
from stellar_relevance.exceptions import DataError, DataWarning, ParameterError
from stellar_relevance.ranking.pipeline import rank_spectra
from stellar_relevance.spectra import SpectralSet

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
    assert "ground_truth" not in result.metrics  # the pipeline knows nothing of planted lines
    truth = planted_recovery(result, synthetic)
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


def test_command_and_truthful_stratification_are_recorded(synthetic, caplog):
    small = synthetic[np.arange(60)]
    labels = small.labels.copy()
    feh = np.array(labels["FEH"], float)
    feh[:50] = 0.0  # ties: the label quintiles cannot all hold two spectra, so the split falls back to random
    labels["FEH"] = feh
    tied = SpectralSet(small.wavelength, small.flux, labels=labels)
    settings = dict(FAST, max_epochs=2, min_epochs=1, retrain_ks=(), catalog=None, ks=(30, "all"))
    with caplog.at_level("INFO", logger="stellar_relevance"):
        res = rank_spectra(tied, "FEH", command="stelrel rank x --seed 0", **settings)
    assert res.settings["stratified_split"] is False
    assert res.provenance["command"] == "stelrel rank x --seed 0"
    assert res.summary()["command"] == "stelrel rank x --seed 0"
    assert "<RankingResult" not in caplog.text  # no raw repr at INFO
    assert rank_spectra(small, "FEH", **settings).settings["stratified_split"] is True


@pytest.mark.parametrize("kwargs, parameter, message", [
    (dict(ks=(5, 99999)), "ks", "above the 4300 pixels"),
    (dict(ks=(5, 30, "all"), retrain_ks=(7,)), "retrain_ks", r"not in ks \[5, 30, 4300\]: \[7\]"),
    (dict(min_epochs=50, max_epochs=3), "min_epochs", r"must not exceed the maximum number of epochs \(3\), got 50"),
    (dict(random_state=-1), "random_state", "non-negative"),
])
def test_bad_parameters_name_the_parameter(synthetic, kwargs, parameter, message):
    with pytest.raises(ParameterError, match=message) as info:
        rank_spectra(synthetic[np.arange(40)], "FEH", **{**FAST, **kwargs})
    assert info.value.parameter == parameter


def test_default_ks_fit_a_short_grid(synthetic):
    """The default k values above the number of pixels are left out; 'all' is kept."""
    small = synthetic[np.arange(60)]
    short = SpectralSet(small.wavelength[:500], small.flux[:, :500], labels=small.labels)
    settings = {k: v for k, v in FAST.items() if k != "ks"}
    res = rank_spectra(short, "FEH", **dict(settings, max_epochs=2, min_epochs=1, retrain_ks=(), catalog=None))
    assert res.settings["ks"] == [5, 10, 20, 30, 50, 100, 300, 500]


def test_small_test_set_warns(synthetic):
    small = synthetic[np.arange(60)]
    with pytest.warns(DataWarning, match=r"only 6 test spectra: .*standard error is large"):
        res = rank_spectra(small, "FEH", **dict(FAST, max_epochs=2, min_epochs=1, retrain_ks=(), catalog=None))
    assert any("only 6 test spectra" in w for w in res.provenance["warnings"])


def test_untrained_retrains_are_counted_not_warned(synthetic, caplog, monkeypatch):
    """Retrained baselines that never improve after epoch 1 are expected: counted in the log, no warning each."""
    from stellar_relevance.ranking import _curve as curve

    real = curve.fit_predict_subsets

    def stuck_after_epoch_one(*args, **kwargs):
        fit = real(*args, **kwargs)
        fit.best_epoch[:] = 1  # as if no network ever improved on its first epoch
        fit.stopped_epoch[:] = 5
        return fit

    monkeypatch.setattr(curve, "fit_predict_subsets", stuck_after_epoch_one)
    small = synthetic[np.arange(60)]
    with warnings.catch_warnings(record=True) as caught, caplog.at_level("INFO", logger="stellar_relevance.ranking._curve"):
        warnings.simplefilter("always")
        rank_spectra(small, "FEH", n_seeds=1, **dict(FAST, max_epochs=3, min_epochs=1, retrain_ks=(5, 10),
                                                      retrain_max_epochs=8, catalog=None))
    counted = [r.getMessage() for r in caplog.records if "never improved after epoch 1" in r.getMessage()]
    assert counted and counted[0].startswith("6 of the retrained models"), counted
    assert not any("never improved" in str(w.message) for w in caught)


@pytest.mark.parametrize("catalog", ["all", "bandhead"])
def test_band_membership_agrees_everywhere(synthetic, catalog):
    """ranking['indices'], indices['n_top_bins'] and the paper counts come from one band membership."""
    from types import SimpleNamespace

    from stellar_relevance.indices.catalog import load_catalog
    from stellar_relevance.ranking._assemble import match as _match

    wave = synthetic.wavelength.value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        bands = load_catalog(catalog)
        head = bands[bands["kind"] == "bandhead"]
        assert len(head)  # both catalogues hold bandheads (matched on their sidebands)
        # relevance peaked inside the bandheads' sidebands and in Mgb's central band
        relevance = np.full(wave.size, 1e-6)
        for row in head:
            for side in ("blue", "red"):
                inside = (wave >= row[f"{side}_lower"].value) & (wave <= row[f"{side}_upper"].value)
                relevance[np.flatnonzero(inside)[:3]] = 1.0
        relevance[np.argmin(np.abs(wave - 5175.0))] = 2.0
        order = np.argsort(-relevance, kind="stable")
        p = SimpleNamespace(catalog=catalog, top=30, n_permutations=20, random_state=0)
        match = _match(synthetic, relevance, order, p)
    top_names = [set(filter(None, str(match.pixel_names[i]).split(","))) for i in order[:30]]
    for row in match.indices:
        assert row["n_top_bins"] == sum(row["name"] in names for names in top_names), row["name"]
    hit = [row["name"] for row in match.indices if row["kind"] == "bandhead" and row["n_top_bins"] > 0]
    assert hit, "top pixels in bandhead sidebands must count for the bandhead"
    if catalog == "all":
        assert match.group_counts["Mgb"] == sum("Mgb" in names or "Mg_b" in names for names in top_names) >= 1


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


def test_nan_pixels_of_one_star_are_filled_not_fatal(synthetic):
    """A star with a few NaN pixels is filled (and named) before any finite check; the run goes on."""
    small = synthetic[np.arange(60)]
    flux = small.flux.copy()
    flux[3, 100:104] = np.nan
    bad = SpectralSet(small.wavelength, flux, labels=small.labels)
    with pytest.warns(DataWarning, match=r"1 spectra have masked or non-finite pixels, filled .*SYN00004 \(4 px"):
        res = rank_spectra(bad, "FEH", **dict(FAST, max_epochs=2, min_epochs=1, retrain_ks=(), catalog=None))
    assert np.all(np.isfinite(res.ranking["mean_flux"]))
    assert any("SYN00004" in w for w in res.provenance["warnings"])


def test_pixel_without_any_finite_flux_is_refused(synthetic):
    small = synthetic[np.arange(40)]
    flux = small.flux.copy()
    flux[:, 100] = np.nan
    bad = SpectralSet(small.wavelength, flux, labels=small.labels)
    with pytest.warns(DataWarning), pytest.raises(DataError, match=r"1 pixels \(e.g. 3630.5 A\) have no finite flux"):
        rank_spectra(bad, "FEH", **FAST)


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


# ----------------------------------------------------------------------------- stability over seeds
def test_selection_frequency_and_spread_over_two_seeds(result):
    ranking, top = result.ranking, result.settings["top"]
    frequency = np.asarray(ranking["selection_frequency"], float)
    assert set(np.unique(frequency)) <= {0.0, 0.5, 1.0}  # two seeds
    assert np.isclose(frequency.sum(), top)  # each seed puts exactly `top` pixels in its top set
    stability = result.metrics["stability"]
    assert stability["n_seeds"] == 2 and "note" not in stability
    assert 0 <= stability[f"top{top}_overlap"] <= 1
    # the pixels both seeds agree on are the most relevant ones on average
    assert ranking["relevance"][frequency == 1].mean() > ranking["relevance"][frequency == 0].mean()
    assert np.all(np.isfinite(ranking["relevance_std"]))


def test_selection_frequency_by_hand():
    from stellar_relevance.ranking._stability import combine_seeds, selection_frequency

    imp = np.array([[0.4, 0.3, 0.2, 0.1], [0.1, 0.3, 0.4, 0.2], [0.4, 0.1, 0.3, 0.2]])
    assert selection_frequency(imp, 2).tolist() == pytest.approx([2 / 3, 2 / 3, 2 / 3, 0.0])
    out = combine_seeds(imp, top=2)
    assert sorted(out.order[:2].tolist()) == [0, 2]  # mean relevance 0.3, 0.233, 0.3, 0.167
    assert out.relevance_std == pytest.approx(imp.std(axis=0, ddof=1))
    with pytest.raises(ValueError, match="k=5"):
        selection_frequency(imp, 5)


def test_one_seed_says_no_spread_is_available(synthetic):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rank_spectra(synthetic[:60], "FEH", n_seeds=1, **dict(FAST, max_epochs=2, min_epochs=1,
                                                                     retrain_ks=(), catalog=None))
    assert np.all(np.isnan(res.ranking["relevance_std"]))
    assert np.all(np.isnan(res.ranking["sensitivity_std"]))
    assert np.all(np.isnan(res.ranking["selection_frequency"]))
    assert "one seed" in res.metrics["stability"]["note"]
    assert not any(k.endswith("_overlap") for k in res.metrics["stability"])


# ----------------------------------------------------------------------------- penalty and given labels
TINY = dict(FAST, max_epochs=3, min_epochs=1, retrain_ks=(), catalog=None, n_seeds=1)


def test_penalty_is_passed_to_the_estimator(synthetic):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rank_spectra(synthetic[:60], "FEH", penalty="l1", **TINY)
    assert res.settings["penalty"] == "l1"
    assert res.estimator.penalty == "l1"
    assert res.metrics["seeds"][0]["n_selected"] == res.estimator.n_selected_ <= synthetic.n_pixels


def test_unknown_penalty_names_the_parameter(synthetic):
    with pytest.raises(ParameterError, match="penalty") as info:
        rank_spectra(synthetic, "FEH", penalty="l3", **TINY)
    assert info.value.parameter == "penalty"


def test_given_labels_enter_after_the_spectral_layer(synthetic):
    spectra = synthetic[:80].copy()
    spectra.labels["TEFF"][:3] = np.nan  # three stars without Teff: dropped, and said so
    with pytest.warns(DataWarning, match="3 of 80 spectra .* given label 'TEFF' .* dropped"):
        res = rank_spectra(spectra, "FEH", given=["TEFF", "LOGG"], **dict(TINY, retrain_ks=None))
    assert res.settings["given"] == ["TEFF", "LOGG"]
    assert res.provenance["split"]["n_with_label"] == 77
    assert res.estimator.n_given_ == 2
    # the networks retrained on k pixels take the given labels too: the whole curve is there
    assert np.all(np.isfinite(res.curve["mae_retrained"])) and np.all(np.isfinite(res.curve["mae_random"]))
    assert np.isfinite(res.metrics["test_mae"]) and np.all(np.isfinite(res.curve["mae_masked"]))


@pytest.mark.parametrize(
    "given, message",
    [
        (["VSINI"], "no label 'VSINI'.*TEFF"),
        (["SPTYPE"], "'SPTYPE' holds text, not numbers.*a given label must be numeric"),
        (["FEH"], "'FEH' is the label to predict"),
        (["TEFF", "TEFF"], "TEFF more than once"),
    ],
)
def test_bad_given_labels_name_the_parameter(synthetic, given, message):
    spectra = synthetic.copy()
    spectra.labels["SPTYPE"] = "G2V"
    with pytest.raises(ParameterError, match=message) as info:
        rank_spectra(spectra, "FEH", given=given, **TINY)
    assert info.value.parameter == "given"


def test_the_penalties_are_those_of_the_proximal_steps():
    """One list of penalties (nn.proximal); the pipeline names the parameter for anything else."""
    from stellar_relevance.nn import proximal
    from stellar_relevance.ranking import conditioning

    assert not hasattr(conditioning, "PENALTIES") and not hasattr(conditioning, "check_penalty")
    assert not hasattr(conditioning, "check_estimator_supports")
    assert proximal.PENALTIES == ("l2", "l1", "group")
    with pytest.raises(ParameterError, match="penalty must be one of l2, l1, group, got 'l3'") as info:
        rank_spectra(make_synthetic_spectra(n_spectra=30), "FEH", penalty="l3", **TINY)
    assert info.value.parameter == "penalty"


def test_rank_on_a_memory_mapped_flux_reads_it_without_copying_it(tmp_path, monkeypatch):
    """The labelled spectra, their bad-pixel check and the training rows are read from the map in chunks and
    batches: the numpy memory the whole run allocates stays below the size of the flux (no float64 copy of the
    flux, no copies of the training rows; the shadow network's input stays within one chunk). The chunks
    are made small here (4 MiB) so that this small flux stands for a survey-sized one."""
    import tracemalloc

    from stellar_relevance.nn import batches

    monkeypatch.setattr(batches, "CHUNK_BYTES", 4 << 20)
    made = make_synthetic_spectra(n_spectra=5000, random_state=2)
    path = tmp_path / "flux.npy"
    mapped = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=made.flux.shape)
    mapped[:] = made.flux
    mapped.flush()
    del mapped
    flux = np.load(path, mmap_mode="r")
    spectra = SpectralSet(made.wavelength, flux, labels=made.labels, flux_unit=made.flux_unit)
    del made
    settings = dict(n_seeds=1, max_epochs=2, min_epochs=1, hidden_layer_sizes=(8,), batch_size=500,
                    ks=(5, "all"), retrain_ks=(5,), retrain_max_epochs=2, n_random=1, n_permutations=20,
                    catalog=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rank_spectra(spectra[:200], "FEH", **settings)  # first: the imports a first training makes (~60 MiB)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = rank_spectra(spectra, "FEH", **settings)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.isfinite(res.metrics["test_mae"])
    assert peak < flux.nbytes, f"peak numpy/python allocation {peak / 2**20:.1f} MiB for a {flux.nbytes / 2**20:.1f} MiB flux"
    # and the same ranking as from the flux in memory
    in_memory = SpectralSet(spectra.wavelength, np.array(flux), labels=spectra.labels, flux_unit=spectra.flux_unit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = rank_spectra(in_memory, "FEH", **settings)
    np.testing.assert_array_equal(res.ranking["pixel"], again.ranking["pixel"])


# ----------------------------------------------------------------------------- two answers per pixel
def test_relevance_and_sensitivity_are_two_columns_that_say_which_is_which(result):
    ranking = result.ranking
    assert "what the model uses" in ranking["relevance"].description
    assert "responds to the label" in ranking["sensitivity"].description
    # the sensitivity is the mean of the seeds' own sensitivity_, its spread theirs
    per_seed = np.array([est.sensitivity_ for est in result.estimators])
    pixels = np.asarray(ranking["pixel"])
    np.testing.assert_allclose(ranking["sensitivity"], per_seed.mean(axis=0)[pixels])
    np.testing.assert_allclose(ranking["sensitivity_std"], per_seed.std(axis=0, ddof=1)[pixels])
    # planted metal lines deepen with [Fe/H]: their flux drops as the label rises
    assert np.median(np.asarray(ranking["sensitivity"][:10])) < 0
    from scipy.stats import spearmanr

    expected = spearmanr(ranking["relevance"], np.abs(ranking["sensitivity"])).statistic
    assert result.metrics["relevance_sensitivity_spearman"] == pytest.approx(expected)


# ----------------------------------------------------------------------------- features and their significance
def _features_run(spectra):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rank_spectra(spectra, "FEH", n_seeds=2, random_state=3, top=50, **dict(FAST, retrain_ks=()))


@pytest.fixture(scope="module")
def permuted(synthetic):
    spectra = synthetic.copy()
    spectra.labels["FEH"] = np.random.default_rng(0).permutation(np.asarray(spectra.labels["FEH"])) * u.dex
    return _features_run(spectra)


def test_planted_lines_are_significant_features_and_nothing_else(synthetic):
    """Every planted [Fe/H] line lies in a significant feature; at most one significant feature lies elsewhere."""
    res = _features_run(synthetic)
    lines = synthetic.meta["planted_lines"]
    lines = lines[lines["sensitive_to"] == "FEH"]
    centre, sigma = lines["center"].to_value(u.AA), lines["sigma"].to_value(u.AA)
    features = res.features
    significant = features[features["significant"]]
    lower = significant["wavelength_lower"].to_value(u.AA)
    upper = significant["wavelength_upper"].to_value(u.AA)
    covered = [(lower - 2.5 * s <= c) & (c <= upper + 2.5 * s) for c, s in zip(centre, sigma)]
    assert all(hit.any() for hit in covered), [str(n) for n, hit in zip(lines["name"], covered) if not hit.any()]
    on_a_line = np.any(covered, axis=0)
    assert np.sum(~on_a_line) <= 1, significant[~on_a_line]
    assert res.metrics["n_significant_features"] == len(significant) and res.metrics["n_features"] == len(features)
    assert features["n_top_pixels"].sum() == 50 and res.settings["fdr"] == 0.1
    assert "shadow" in features.meta["significance"]
    assert {"CaHK", "Mgb", "Fe5270", "Fe5335"} <= set(",".join(significant["indices"]).split(","))


def test_a_permuted_label_gives_no_significant_feature(permuted):
    features = permuted.features
    assert len(features) > 5 and not features["significant"].any()
    assert np.all(features["q_value"] > permuted.settings["fdr"])
    assert permuted.metrics["n_significant_features"] == 0
    assert permuted.metrics["beats_training_mean"] is False  # and the baseline says the model learned nothing


def test_significance_none_lists_features_untested(synthetic):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rank_spectra(synthetic[:60], "FEH", significance="none", **TINY)
    assert len(res.features) and np.all(np.isnan(res.features["q_value"]))
    assert res.metrics["n_significant_features"] is None
    with pytest.raises(ParameterError, match="significance must be one of shadow, none") as info:
        rank_spectra(synthetic[:60], "FEH", significance="boruta", **TINY)
    assert info.value.parameter == "significance"
    with pytest.raises(ParameterError, match="fdr must be a number between 0 and 1"):
        rank_spectra(synthetic[:60], "FEH", fdr=1.5, **TINY)


# ----------------------------------------------------------------------------- guards that speak
def test_the_model_is_compared_with_predicting_the_training_mean(result):
    m = result.metrics
    assert m["training_mean_mae"] > m["test_mae"] and m["beats_training_mean"] is True
    assert result.summary()["metrics"]["training_mean_mae"] == m["training_mean_mae"]


def test_training_mean_mae_is_the_test_error_of_the_training_mean(synthetic):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rank_spectra(synthetic[:100], "FEH", **TINY)
    labels = synthetic[:100].labels
    y = np.asarray(labels["FEH"], float)
    test = np.isin(np.asarray(labels["ID"]), res.provenance["split"]["test_ids"])
    expected = np.mean(np.abs(y[test] - np.mean(y[~test])))
    assert res.metrics["training_mean_mae"] == pytest.approx(expected)
    assert res.metrics["beats_training_mean"] == (res.metrics["test_mae"] < expected)


def test_a_model_no_better_than_the_mean_says_so(permuted):
    warned = [w for w in permuted.provenance["warnings"] if "does not beat predicting the training mean" in w]
    assert warned and f"{permuted.metrics['training_mean_mae']:.4g}" in warned[0]


@pytest.mark.parametrize("values, message", [
    (lambda n: np.full(n, 0.25), "label 'FEH' holds the single value 0.25 in all"),
    (lambda n: 5000.0 + 1e-6 * np.arange(n), "label 'FEH' varies only by"),
])
def test_a_constant_label_is_refused(synthetic, values, message):
    spectra = synthetic[:60].copy()
    spectra.labels["FEH"] = values(60) * u.dex
    with pytest.raises(DataError, match=message):
        rank_spectra(spectra, "FEH", **TINY)


def test_unnormalised_flux_is_warned_about_and_continuum_named(synthetic):
    raw = SpectralSet(synthetic.wavelength, 1500.0 * synthetic.flux[:60], labels=synthetic.labels[:60])
    with pytest.warns(DataWarning, match=r"flux is of order 1\.5\de\+03.*continuum='running'"):
        rank_spectra(raw, "FEH", **TINY)


def test_an_array_is_not_spectra():
    with pytest.raises(ParameterError, match="spectra must be a SpectralSet .* got ndarray") as info:
        rank_spectra(np.zeros((30, 100)), "FEH")
    assert info.value.parameter == "spectra"


def test_messages_use_words_not_python_names(synthetic):
    with pytest.warns(DataWarning, match="a larger test fraction") as caught:
        rank_spectra(synthetic[:60], "FEH", **TINY)
    assert not any("test_fraction" in str(w.message) for w in caught)


# ----------------------------------------------------------------------------- continuum normalisation
def test_continuum_normalisation_is_applied_before_scaling_and_recorded(synthetic):
    from stellar_relevance.io.continuum import apply_continuum, continuum_settings

    spectra = SpectralSet(synthetic.wavelength, 1500.0 * synthetic.flux[:60], labels=synthetic.labels[:60])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = rank_spectra(spectra, "FEH", continuum="running", **TINY)
    assert not any("flux is of order" in str(w.message) for w in caught)  # normalised: nothing to warn about
    rule = continuum_settings("running")
    assert res.settings["continuum"] == rule and res.summary()["settings"]["continuum"] == rule
    assert res.preprocessing["continuum"] == rule and res.preprocessing["fill_values"].shape == (4300,)
    normalised = apply_continuum(spectra.flux, spectra.wavelength, rule)
    train = ~np.isin(np.asarray(spectra.labels["ID"]), res.provenance["split"]["test_ids"])
    np.testing.assert_allclose(res.estimators[0].feature_means_, normalised[train].mean(axis=0), rtol=1e-5)
    with pytest.raises(ParameterError, match="continuum must be one of none, running") as info:
        rank_spectra(spectra, "FEH", continuum="spline", **TINY)
    assert info.value.parameter == "continuum"


def test_the_model_file_predicts_the_test_spectra_as_training_prepared_them(synthetic, tmp_path):
    """Continuum, then filled pixels, then the networks: the saved model repeats all of it on new spectra."""
    from stellar_relevance import load_model, predict_labels

    spectra = SpectralSet(synthetic.wavelength, 1500.0 * synthetic.flux[:80], labels=synthetic.labels[:80],
                          mask=np.zeros((80, synthetic.n_pixels), bool))
    spectra.mask[3, 2000:2010] = True
    spectra.flux[5, 100] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rank_spectra(spectra, "FEH", continuum="running", test_ids=spectra.ids[:10], **dict(TINY, n_seeds=2))
    res.save(tmp_path / "out", figures=False)
    model = load_model(tmp_path / "out" / "model.pt")
    test = np.isin(np.asarray(spectra.labels["ID"]), res.provenance["split"]["test_ids"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predicted = predict_labels(model, spectra[test])
    assert list(predicted["n_filled"][3:6]) == [10, 0, 1]  # the masked and the NaN pixels of the test stars
    from stellar_relevance.ranking._prepare import select_labelled
    from stellar_relevance.ranking._train import GivenEnsemble

    _, X, _, _ = select_labelled(spectra, "FEH", 20, [], continuum=res.settings["continuum"])
    expected = GivenEnsemble(res.estimators, None).predict(X[test])
    np.testing.assert_allclose(np.asarray(predicted["FEH_pred"]), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(model["preprocessing"]["fill_values"], res.preprocessing["fill_values"])
