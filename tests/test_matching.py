"""match_indices: fractions, enrichment, circular-shift p-values, bad input."""

import time
import warnings

import astropy.units as u
import numpy as np
import pytest

from stellar_relevance import load_catalog, match_indices
from stellar_relevance.exceptions import DataError, DataWarning

WAVE = (3540.5 + 0.9 * np.arange(4300)) * u.AA


def quiet(name, frame="air"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return load_catalog(name, frame=frame)


def bump(centre, width=2.0, height=1.0):
    return height * np.exp(-0.5 * ((WAVE.value - centre) / width) ** 2)


def peaked_relevance(seed=1):
    rng = np.random.default_rng(seed)
    return rng.exponential(0.01, WAVE.size) + bump(5176.0, 2.0, 3.0) + bump(5266.0, 2.0, 2.0)


def test_peaks_in_mgb_and_fe5270_are_found():
    rel = peaked_relevance()
    bins, idx = match_indices(WAVE, rel, quiet("lick"), top=20)
    assert list(bins["rank"]) == list(range(1, 21))
    assert np.all(np.diff(bins["relevance"]) <= 0)
    assert bins["wavelength"].unit == u.AA
    # the 20 most relevant pixels sit on the two bumps
    assert all(("Mgb" in s) or ("Fe5270" in s) for s in bins["indices"])
    assert "Mgb" in bins["indices"][0] and "Mg2" in bins["indices"][0]  # overlapping bands
    by_name = {r["name"]: r for r in idx}
    assert by_name["Mgb"]["n_top_bins"] + by_name["Fe5270"]["n_top_bins"] == 20
    assert by_name["Mgb"]["enrichment"] > 3 and by_name["Fe5270"]["enrichment"] > 2
    assert by_name["Mgb"]["p_value"] <= 0.02 and by_name["Fe5270"]["p_value"] <= 0.03
    assert by_name["TiO2"]["p_value"] > 0.3
    # only two independent features moved together by each shift: p ~ 0.05, not ~0.001
    assert idx.meta["overall_p_value"] < 0.1
    assert idx.meta["overall_expected"] < 6
    assert idx.meta["overall_statistic"] == 20
    assert idx.meta["n_permutations"] == 1000 and idx.meta["top"] == 20
    assert idx.meta["random_state"] == 0
    # p-values have the permutation-test form (1 + k) / (1 + n)
    k = idx["p_value"] * 1001 - 1
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)


def test_fractions_and_enrichment_by_hand():
    rel = peaked_relevance(5)
    bins, idx = match_indices(WAVE, rel, quiet(["Hb", "Fe5015"]), top=5, n_permutations=50)
    for r in idx:
        inside = (WAVE >= r["band_lower"]) & (WAVE <= r["band_upper"])
        assert r["n_pixels"] == inside.sum()
        assert r["relevance_fraction"] == pytest.approx(rel[inside].sum() / rel.sum(), rel=1e-12)
        assert r["enrichment"] == pytest.approx(
            (rel[inside].sum() / rel.sum()) / (inside.sum() / WAVE.size), rel=1e-12)
    np.testing.assert_allclose(bins["relevance_fraction"], bins["relevance"] / rel.sum())


def test_p_values_equal_explicit_np_roll_loop():
    rel = peaked_relevance(7)
    n_perm, seed = 200, 42
    catalog = quiet(["Mgb", "Fe5270", "Hb", "D4000"])
    bins, idx = match_indices(WAVE, rel, catalog, top=15, n_permutations=n_perm,
                              random_state=seed)
    # the same shifts, applied one by one with np.roll
    shifts = np.random.default_rng(seed).integers(1, WAVE.size, size=n_perm)
    masks = {}
    for r in catalog:
        if r["kind"] == "bandhead":
            masks[r["name"]] = (((WAVE >= r["blue_lower"]) & (WAVE <= r["blue_upper"]))
                                | ((WAVE >= r["red_lower"]) & (WAVE <= r["red_upper"])))
        else:
            masks[r["name"]] = (WAVE >= r["band_lower"]) & (WAVE <= r["band_upper"])
    union = np.any(list(masks.values()), axis=0)
    top = np.argsort(-rel, kind="stable")[:15]
    observed_overall = union[top].sum()
    null_overall = []
    counts = dict.fromkeys(masks, 0)
    for s in shifts:
        rolled = np.roll(rel, s)
        for name, m in masks.items():
            counts[name] += rolled[m].sum() >= rel[m].sum() - 1e-9 * rel.sum()
        null_overall.append(union[np.argsort(-rolled, kind="stable")[:15]].sum())
    for r in idx:
        assert r["p_value"] == pytest.approx((1 + counts[r["name"]]) / (1 + n_perm)), r["name"]
    expected = (1 + np.sum(np.array(null_overall) >= observed_overall)) / (1 + n_perm)
    assert idx.meta["overall_statistic"] == observed_overall
    assert idx.meta["overall_p_value"] == pytest.approx(expected)


def test_flat_relevance_gives_no_enrichment():
    rel = np.ones(WAVE.size)
    bins, idx = match_indices(WAVE, rel, quiet("lick"), top=10, n_permutations=100)
    np.testing.assert_allclose(idx["enrichment"], 1.0)
    np.testing.assert_allclose(idx["p_value"], 1.0)  # every shift ties with the observed


def test_same_seed_same_result_other_seed_differs():
    rel = peaked_relevance(2) + bump(4400.0, 6.0, 0.5)
    a = match_indices(WAVE, rel, quiet("lick"), n_permutations=300, random_state=3)[1]
    b = match_indices(WAVE, rel, quiet("lick"), n_permutations=300, random_state=3)[1]
    c = match_indices(WAVE, rel, quiet("lick"), n_permutations=300, random_state=4)[1]
    np.testing.assert_array_equal(a["p_value"], b["p_value"])
    assert a.meta["overall_p_value"] == b.meta["overall_p_value"]
    assert not np.array_equal(a["p_value"], c["p_value"])


def test_off_grid_indices_excluded_with_warning():
    rel = peaked_relevance()
    with pytest.warns(DataWarning, match=r"CaII1: band 8484.00-8513.00 A is not inside the grid"):
        bins, idx = match_indices(WAVE, rel, quiet(["Mgb", "CaII1", "Hb"]), n_permutations=20)
    assert list(idx["name"]) == ["Mgb", "Hb"]  # the order asked for
    assert set(idx.meta["excluded"]) == {"CaII1"}


def test_vacuum_frame_converts_catalogue():
    rel = peaked_relevance()
    _, air = match_indices(WAVE, rel, quiet(["Mgb"]), n_permutations=10)
    _, vac = match_indices(WAVE, rel, quiet(["Mgb"]), n_permutations=10, wave_frame="vacuum")
    shift = (vac["band_lower"][0] - air["band_lower"][0]).to_value(u.AA)
    assert shift == pytest.approx(1.44, abs=0.02)
    assert vac.meta["wave_frame"] == "vacuum"


def test_input_not_modified():
    rel = peaked_relevance()
    before = rel.copy()
    catalog = quiet("lick")
    cat_before = catalog.copy()
    match_indices(WAVE, rel, catalog, n_permutations=10)
    np.testing.assert_array_equal(rel, before)
    assert np.all(catalog["band_lower"] == cat_before["band_lower"])


@pytest.mark.parametrize("relevance, message", [
    (np.ones(4299), "relevance has 4299 values but the wavelength grid has 4300 pixels"),
    (np.r_[np.ones(4299), -1.0], "1 negative value.*first at pixel 4299"),
    (np.r_[np.nan, np.ones(4299)], "1 non-finite value.*first at pixel 0"),
    (np.zeros(4300), "zero everywhere"),
    (np.ones((2, 2150)), "must be 1-D"),
])
def test_bad_relevance(relevance, message):
    with pytest.raises(DataError, match=message):
        match_indices(WAVE, relevance, quiet("lick"))


def test_bad_parameters():
    rel = np.ones(WAVE.size)
    with pytest.raises(ValueError, match=r"top must be an integer between 1 and the number of pixels \(4300\)"):
        match_indices(WAVE, rel, quiet("lick"), top=4301)
    with pytest.raises(ValueError, match="top must be"):
        match_indices(WAVE, rel, quiet("lick"), top=0)
    with pytest.raises(ValueError, match="n_permutations must be a positive integer"):
        match_indices(WAVE, rel, quiet("lick"), n_permutations=0)
    with pytest.raises(DataError, match="Quantity with a length unit"):
        match_indices(WAVE.value, rel, quiet("lick"))
    with pytest.raises(DataError, match="not strictly increasing"):
        match_indices(WAVE[::-1], rel, quiet("lick"))
    with pytest.raises(ValueError, match="unknown catalogue 'nope'; valid names"):
        match_indices(WAVE, rel, "nope")


def test_vectorised_permutation_test_is_fast():
    rel = peaked_relevance()
    catalog = quiet("all")
    on_grid = [r["name"] for r in catalog
               if r["blue_lower"] > WAVE[0] and r["red_upper"] < WAVE[-1]][:40]
    catalog = quiet(on_grid)
    assert len(catalog) == 40
    match_indices(WAVE, rel, catalog, n_permutations=10)  # warm-up
    t0 = time.perf_counter()
    _, idx = match_indices(WAVE, rel, catalog, n_permutations=1000)
    elapsed = time.perf_counter() - t0
    assert len(idx) == 40
    assert elapsed < 1.0, f"1000 permutations x 40 indices took {elapsed:.2f} s"


def test_membership_is_the_one_band_decision():
    """return_membership gives the per-pixel bands behind n_pixels, n_top_bins and bins['indices']."""
    from stellar_relevance.indices.matching import pixel_index_names

    rel = peaked_relevance()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        bins, idx, member = match_indices(WAVE, rel, quiet("all"), top=20, n_permutations=50,
                                          return_membership=True)
    assert member.shape == (len(idx), WAVE.size) and member.dtype == bool
    np.testing.assert_array_equal(member.sum(axis=1), idx["n_pixels"])
    np.testing.assert_array_equal(member[:, bins["pixel"]].sum(axis=1), idx["n_top_bins"])
    names = pixel_index_names(member, idx["name"])
    assert list(names[bins["pixel"]]) == list(bins["indices"])


def test_bandheads_are_matched_on_their_sidebands():
    cat = quiet("bandhead")
    row = cat[0]
    wave = WAVE.value
    blue = (wave >= row["blue_lower"].value) & (wave <= row["blue_upper"].value)
    red = (wave >= row["red_lower"].value) & (wave <= row["red_upper"].value)
    rel = np.full(wave.size, 1e-3)
    rel[np.flatnonzero(blue)[:2]] = 1.0
    rel[np.flatnonzero(red)[:2]] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        bins, idx, member = match_indices(WAVE, rel, cat, top=4, n_permutations=20, return_membership=True)
    by_name = {r["name"]: r for r in idx}
    assert by_name[row["name"]]["n_top_bins"] == 4
    assert by_name[row["name"]]["n_pixels"] == blue.sum() + red.sum()
    assert all(row["name"] in s for s in bins["indices"])


# ----------------------------------------------------------------------------- features (indices.features)
def test_adjacent_top_pixels_merge_into_one_feature_with_its_bands():
    from stellar_relevance.indices.features import MERGE_PIXELS, find_features

    rel = peaked_relevance()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        _, idx, member = match_indices(WAVE, rel, quiet("lick"), top=20, n_permutations=20, return_membership=True)
    sensitivity = -bump(5176.0, 2.0, 3.0)
    features = find_features(WAVE, rel, top=20, sensitivity=sensitivity, membership=member,
                             index_names=list(idx["name"]))
    assert len(features) == 2  # one feature per bump, however many of its pixels are in the top 20
    assert features["n_top_pixels"].sum() == 20 and features["feature"].tolist() == [1, 2]
    first, second = features
    assert abs(first["peak_wavelength"].to_value(u.AA) - 5176.0) < 1.0
    assert abs(second["peak_wavelength"].to_value(u.AA) - 5266.0) < 1.0
    assert "Mgb" in first["indices"] and "Fe5270" in second["indices"]
    assert first["sensitivity"] == pytest.approx(sensitivity.min(), rel=0.05)  # the largest magnitude in range
    span = np.arange(first["pixel_lower"], first["pixel_upper"] + 1)
    assert np.all(np.diff(np.sort(np.argsort(-rel)[:20][np.isin(np.argsort(-rel)[:20], span)])) <= MERGE_PIXELS)
    assert np.isnan(first["q_value"]) and not first["significant"]  # no null given: untested


def test_merge_distance_decides_one_feature_or_two():
    from stellar_relevance.indices.features import find_features

    wave = np.arange(5000.0, 5040.0) * u.AA
    rel = np.zeros(40)
    rel[[10, 14]] = [1.0, 0.9]  # 4 pixels apart
    assert len(find_features(wave, rel, top=2, merge=3)) == 2
    assert len(find_features(wave, rel, top=2, merge=4)) == 1


def test_shadow_q_values_select_nothing_without_signal_and_the_lines_with_it():
    """Knockoff+: a pixel is selected when the pixels whose shadows beat them by as much are few."""
    from stellar_relevance.indices.features import shadow_q_values

    rng = np.random.default_rng(3)
    for seed in range(5):  # nothing carries information: nothing is selected, at 0.05 or 0.2
        real, shadow = np.random.default_rng(seed).lognormal(-8.0, 0.8, (2, 4000))
        q, w = shadow_q_values(real, shadow)
        assert np.all(q > 0.2) and w.shape == (4000,)
    real, shadow = rng.lognormal(-8.0, 0.8, (2, 4000))
    real[100:140] *= 100.0  # 40 pixels used far more than their shadows
    q, _ = shadow_q_values(real, shadow)
    assert np.sum(q[100:140] <= 0.05) >= 38 and np.sum(q <= 0.05) <= 42
    assert np.all(q[real - np.median(real) / np.median(shadow) * shadow <= 0] == 1.0)
    # a block of real pixels that is as a whole twice as relevant is not evidence (k rescales it)
    twice, _ = shadow_q_values(2.0 * shadow[::-1], shadow)
    assert np.all(twice > 0.2)
    with pytest.raises(ValueError, match="of one length"):
        shadow_q_values(real, shadow[:10])


def test_features_are_significant_only_beyond_their_shadows():
    from stellar_relevance.indices.features import find_features, shadow_q_values

    rng = np.random.default_rng(4)
    noise, shadows = rng.exponential(1.0, (2, WAVE.size))
    q_null, _ = shadow_q_values(noise, shadows)
    null = find_features(WAVE, noise, top=30, q_values=q_null, fdr=0.05)
    assert len(null) > 20 and not null["significant"].any()  # the top of pure noise, listed and not significant
    lines = noise + 40.0 * (bump(5176.0, 3.0) + bump(4383.0, 3.0) + bump(6000.0, 3.0))
    q_lines, _ = shadow_q_values(lines, shadows)
    found = find_features(WAVE, lines, top=30, q_values=q_lines, fdr=0.05)
    peaks = np.sort(found["peak_wavelength"][found["significant"]].to_value(u.AA))
    np.testing.assert_allclose(peaks, [4383, 5176, 6000], atol=1.0)
    assert found.meta["fdr"] == 0.05 and found.meta["merge_pixels"] == 3
    # knockoff+ needs 1 / fdr selected pixels: one narrow line alone is not significant at 0.05
    one = noise + 40.0 * bump(5176.0, 1.0)
    assert not find_features(WAVE, one, top=30, q_values=shadow_q_values(one, shadows)[0], fdr=0.05)["significant"].any()
