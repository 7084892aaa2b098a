"""The model.pt format (stellar_relevance.report.model_file): write, load, predict as training prepared the spectra.

The refusals (pickles, corrupt files, classes outside the allow-list) are in
test_model_file_safety.py.
"""

import subprocess
import sys
import warnings

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.table import Table

from stellar_relevance.datasets.synthetic_spectra import make_synthetic_spectra
from stellar_relevance.estimators import SpectralRelevanceRegressor
from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.io.resample import grid_bins, resample
from stellar_relevance.ranking.pipeline import rank_spectra
from stellar_relevance.report.model_file import (SeedEnsemble, load_model, model_grid, model_payload,
                                                 predict_labels, write_model)
from stellar_relevance.spectra import SpectralSet
from test_io_ingest import REAL, make_files  # the perturbed LAMOST-layout copies, made one way

torch.set_num_threads(1)
SETTINGS = {"label": "FEH", "label_unit": "dex", "wave_frame": "air", "seeds": [0]}


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_spectra(n_spectra=120, random_state=1)


@pytest.fixture(scope="module")
def result(synthetic):
    return rank_spectra(synthetic, "FEH", n_seeds=2, random_state=3, max_epochs=4, min_epochs=2, batch_size=50,
                        ks=(30, "all"), retrain_ks=(), n_random=1, catalog=None)


@pytest.fixture(scope="module")
def small(synthetic):
    """A one-seed model on the first 100 synthetic spectra, written with fill values and the label range."""
    X, y = synthetic[np.arange(100)].to_xy("FEH")
    fitted = SpectralRelevanceRegressor((16,), max_epochs=30, batch_size=50, input_scaling="standard",
                                        random_state=0).fit(X, y)
    fill = (X.mean(axis=0) + 0.25).astype(np.float32)  # distinct from feature_means_: shows which one is used
    return fitted, fill, y


def _write(tmp_path, fitted, synthetic, **preprocessing):
    payload = model_payload([fitted], SETTINGS, synthetic.wavelength, "100 spectra", preprocessing=preprocessing)
    return write_model(tmp_path / "model.pt", payload)


def test_model_file_predicts_and_checks_the_grid(result, synthetic, tmp_path):
    result.save(tmp_path, figures=False)
    model = load_model(tmp_path / "model.pt")
    assert model["label"] == "FEH" and len(model["estimators"]) == 2
    assert model["config"]["hidden_layer_sizes"] == [200, 50, 50]
    pred = predict_labels(model, synthetic[np.arange(10)])["FEH_pred"]
    X, _ = synthetic[np.arange(10)].to_xy("FEH")
    expected = np.mean([est.predict(X) for est in result.estimators], axis=0)
    assert np.allclose(pred, expected)
    shifted = SpectralSet(synthetic.wavelength + 100 * u.AA, synthetic.flux[:3], labels=synthetic.labels[:3])
    # 100 A at 0.9 A a pixel: the model's first 112 pixels lie below the shifted spectra
    with pytest.raises(DataError, match=r"does not match the model's: .*; 112 of its pixels lie below and 0 above "):
        predict_labels(model, shifted)
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(DataError, match="not a stelrel model"):
        load_model(tmp_path / "junk.pt")


def test_loaded_ensemble_is_the_fitted_one_bit_for_bit(result, synthetic, tmp_path):
    result.save(tmp_path, figures=False)
    model = load_model(tmp_path / "model.pt")
    X, _ = synthetic.to_xy("FEH")
    in_memory = SeedEnsemble(result.estimators).predict(X)
    loaded = SeedEnsemble(model["estimators"]).predict(X)
    assert np.array_equal(in_memory, loaded)
    assert np.array_equal(predict_labels(model, synthetic)["FEH_pred"], in_memory)
    for fitted, rebuilt in zip(result.estimators, model["estimators"]):
        assert type(rebuilt) is type(fitted) and rebuilt.get_params() == fitted.get_params()
        arrays = {name: value for name, value in vars(fitted).items() if isinstance(value, np.ndarray)}
        assert {"relevance_", "ranking_", "support_", "feature_means_", "input_offset_", "target_scale_"} <= set(arrays)
        for name, value in arrays.items():
            again = getattr(rebuilt, name)
            assert again.dtype == value.dtype and np.array_equal(again, value, equal_nan=value.dtype.kind == "f"), name
        assert rebuilt.best_epoch_ == fitted.best_epoch_ and len(rebuilt.history_) == len(fitted.history_)
    # the same fit writes the same bytes
    again = tmp_path / "again"
    result.save(again, figures=False)
    assert (again / "model.pt").read_bytes() == (tmp_path / "model.pt").read_bytes()


def test_header_records_grid_frame_preprocessing_and_provenance(small, synthetic, tmp_path):
    fitted, fill, y = small
    path = _write(tmp_path, fitted, synthetic, fill_values=fill, rest_frame=True, label_range=(y.min(), y.max()))
    model = load_model(path)
    assert model["format"] == "stelrel-model/2" and model["settings"] == SETTINGS
    assert model["preprocessing"]["fill_source"] == "training mean of the other spectra"
    assert model["preprocessing"]["fill_values"].dtype == np.float32
    assert np.array_equal(model["preprocessing"]["fill_values"], fill)
    assert model["label_range"] == [float(y.min()), float(y.max())]
    grid = model_grid(path)
    assert np.array_equal(grid.to_value(u.AA), synthetic.wavelength.to_value(u.AA))
    assert grid.info.meta == {"frame": "air", "rest_frame": True}
    # without fill values the estimator's training mean is used, and the file says so
    (tmp_path / "b").mkdir()
    fallback = load_model(_write(tmp_path / "b", fitted, synthetic))
    assert fallback["preprocessing"]["fill_source"] == "estimator feature_means_"
    assert np.array_equal(fallback["preprocessing"]["fill_values"], fitted.feature_means_)
    assert fallback["rest_frame"] is None and fallback["label_range_source"].startswith("target mean")
    # the grid is read without torch (stelrel pack --grid-from stays light)
    code = ("import sys; from stellar_relevance.report.model_file import model_grid; "
            f"g = model_grid({str(path)!r}); print(g.size, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(synthetic.n_pixels), "False"]


def test_bad_pixels_are_filled_as_training_filled_them(small, synthetic, tmp_path):
    fitted, fill, _ = small
    model = load_model(_write(tmp_path, fitted, synthetic, fill_values=fill))
    spectra = synthetic[np.arange(100, 120)]
    flux = np.array(spectra.flux, dtype=float)
    mask = np.zeros(flux.shape, dtype=bool)
    flux[0, :7] = np.nan
    flux[1, 50] = np.inf
    mask[2, 100:140] = True
    flux[2, 100:140] = 1e6  # masked: its value is never used
    damaged = SpectralSet(spectra.wavelength, flux, mask=mask, labels=spectra.labels)
    with pytest.warns(DataWarning, match=r"3 of 20 spectra have masked, non-finite or uncovered pixels.* at most 40"):
        table = predict_labels(model, damaged)
    assert table["n_filled"].tolist() == [7, 1, 40] + [0] * 17
    by_hand = np.where(np.isfinite(flux) & ~mask, flux, fill[None, :].astype(float))
    assert np.array_equal(table["FEH_pred"], fitted.predict(by_hand))
    assert not np.array_equal(table["FEH_pred"][:3], fitted.predict(np.array(spectra.flux[:3])))


def test_another_grid_is_resampled_and_frames_are_checked(small, synthetic, tmp_path):
    fitted, fill, _ = small
    model = load_model(_write(tmp_path, fitted, synthetic, fill_values=fill, rest_frame=True))
    spectra = synthetic[np.arange(100, 120)]
    wave = spectra.wavelength.to_value(u.AA)
    step = wave[1] - wave[0]
    assert np.allclose(np.diff(wave), step)
    # the same spectra on a grid twice as fine (flux-conserving), without its last two pixels
    fine = wave[0] - step / 4 + step / 2 * np.arange(2 * wave.size - 2)
    flux, _ = resample(wave, np.asarray(spectra.flux, float), None, *grid_bins(fine))
    finer = SpectralSet(fine * u.AA, flux, labels=spectra.labels, meta={"rest_frame": True})
    with pytest.warns(DataWarning, match="20 of 20 spectra"):
        table = predict_labels(model, finer)
    assert set(table["n_filled"]) == {1}  # the model's last pixel lies beyond them
    by_hand = np.array(spectra.flux, dtype=float)
    by_hand[:, -1] = fill[-1]
    assert np.allclose(table["FEH_pred"], fitted.predict(by_hand), rtol=0, atol=1e-5)
    observed = SpectralSet(spectra.wavelength, spectra.flux, labels=spectra.labels, meta={"rest_frame": False})
    with pytest.raises(DataError, match=r"observed frame \(not shifted\) but the model was trained in the rest "
                                        "frame.*without --no-rest-frame"):
        predict_labels(model, observed)
    vacuum = SpectralSet(spectra.wavelength, spectra.flux, labels=spectra.labels, wave_frame="vacuum")
    with pytest.raises(DataError, match="the spectra are in vacuum wavelengths but the model was trained in air"):
        predict_labels(model, vacuum)


def test_predictions_far_outside_the_training_range_are_warned(small, synthetic, tmp_path):
    fitted, fill, y = small
    model = load_model(_write(tmp_path, fitted, synthetic, fill_values=fill, label_range=(y.min(), y.max())))
    spectra = synthetic[np.arange(100, 120)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        usual = predict_labels(model, spectra)["FEH_pred"]
    assert usual.min() > y.min() - np.ptp(y) and usual.max() < y.max() + np.ptp(y)
    flux = np.array(spectra.flux)
    flux[:4] = 40 * flux[:4]  # unnormalised flux
    strange = SpectralSet(spectra.wavelength, flux, labels=spectra.labels)
    with pytest.warns(DataWarning, match=r"4 of 20 predictions of FEH lie more than the training range's width "
                                         r"outside it .* dex; e\.g\. "):
        predict_labels(model, strange)


def test_the_recorded_continuum_rule_is_applied_once(synthetic, tmp_path):
    from stellar_relevance.io import continuum

    rule = continuum.continuum_settings("running", 50 * u.AA, 90)
    raw = synthetic[np.arange(100, 120)]
    X, y = synthetic[np.arange(100)].to_xy("FEH")
    normalised = continuum.apply_continuum(X, synthetic.wavelength, rule)
    fitted = SpectralRelevanceRegressor((16,), max_epochs=10, random_state=0).fit(normalised, y)
    model = load_model(_write(tmp_path, fitted, synthetic, continuum=rule,
                              fill_values=normalised.mean(axis=0).astype(np.float32)))
    assert model["preprocessing"]["continuum"] == rule
    expected = fitted.predict(continuum.apply_continuum(raw.flux, raw.wavelength, rule))
    table = predict_labels(model, raw)
    assert table.meta["continuum_applied"] and np.array_equal(table["FEH_pred"], expected)
    done = SpectralSet(raw.wavelength, continuum.apply_continuum(raw.flux, raw.wavelength, rule), labels=raw.labels,
                       meta={"continuum": rule})
    table = predict_labels(model, done)
    assert not table.meta["continuum_applied"] and np.array_equal(table["FEH_pred"], expected)
    other = SpectralSet(raw.wavelength, raw.flux, labels=raw.labels,
                        meta={"continuum": continuum.continuum_settings("running", 50 * u.AA, 95)})
    with pytest.raises(DataError, match=r"the spectra hold flux divided by its running 95.0th percentile over 50.0 "
                                        r"Angstrom but the model was trained on .* 90.0th percentile"):
        predict_labels(model, other)
    (tmp_path / "plain").mkdir()
    plain = load_model(_write(tmp_path / "plain", fitted, synthetic))
    with pytest.raises(DataError, match=r"trained on the flux as stored .*; read or pack them without continuum"):
        predict_labels(plain, done)


# ----------------------------------------------------------------------------- the survey round trip
@pytest.fixture(scope="module")
def lamost(tmp_path_factory):
    """24 LAMOST-layout files made from the real two (the copies of test_io_ingest), labels, two disjoint halves."""
    if not all(p.is_file() for p in REAL):
        pytest.skip(f"real LAMOST files not found in {REAL[0].parent} (set STELREL_SHARED_DATA)")
    root = tmp_path_factory.mktemp("lamost")
    files = make_files(root / "spectra", 24, seed=5)
    ids = [str(900000000 + i) for i in range(24)]
    Table({"OBSID": ids, "FEH": np.random.default_rng(0).uniform(-1, 0.3, 24)}).write(root / "labels.csv")
    return root, files[:16], files[16:]


def _train(spectra, tmp_path):
    """A tiny model on a packed set, filled as the pipeline fills; its file."""
    X, y = spectra.to_xy("FEH")
    bad = ~np.isfinite(X) if spectra.mask is None else (~np.isfinite(X) | spectra.mask)
    fill = np.nanmean(np.where(bad, np.nan, X), axis=0).astype(np.float32)
    X = np.where(bad, fill, X)
    fitted = SpectralRelevanceRegressor((8,), max_epochs=3, input_scaling="standard", random_state=0).fit(X, y)
    settings = dict(SETTINGS, wave_frame=spectra.wave_frame)
    payload = model_payload([fitted], settings, spectra.wavelength, "16 spectra", preprocessing=dict(
        fill_values=fill, rest_frame=spectra.meta["rest_frame"], continuum=spectra.meta.get("continuum"),
        label_range=(y.min(), y.max())))
    return write_model(tmp_path / "model.pt", payload)


@pytest.mark.parametrize("continuum", ["none", "running"])
def test_a_model_predicts_another_pack_of_the_survey(lamost, tmp_path, continuum):
    from stellar_relevance.io import pack_spectra, read_packed

    root, first, second = lamost
    pack = dict(labels=root / "labels.csv", progress=False)
    # observed frame: the training half on a chosen grid (continuum-normalised or not), the other half on its own
    # (native) grid, as stored
    pack_spectra(first, tmp_path / "a.fits", grid="log:3900:8800:1e-4", rest_frame=False, continuum=continuum,
                 **pack)
    pack_spectra(second, tmp_path / "b.fits", rest_frame=False, **pack)
    a, b = read_packed(tmp_path / "a.fits"), read_packed(tmp_path / "b.fits")
    assert a.n_pixels != b.n_pixels
    path = _train(a, tmp_path)
    grid = model_grid(path)
    pack_spectra(second, tmp_path / "b_on_grid.fits", grid=grid, rest_frame=grid.info.meta["rest_frame"],
                 continuum=load_model(path)["preprocessing"]["continuum"], **pack)
    by_hand = read_packed(tmp_path / "b_on_grid.fits")
    model = load_model(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        resampled, packed = predict_labels(model, b), predict_labels(model, by_hand)
    assert resampled.meta["resampled"] and not packed.meta["resampled"] and not packed.meta["continuum_applied"]
    assert resampled.meta["continuum_applied"] == (continuum == "running")
    assert np.array_equal(resampled["FEH_pred"], packed["FEH_pred"])
    assert np.array_equal(resampled["n_filled"], packed["n_filled"]) and resampled["n_filled"].max() > 0
    assert list(resampled["ID"]) == list(by_hand.ids)


def test_rest_frame_packs_of_different_grids(lamost, tmp_path):
    """Rest frame: each half's default grid is its own overlap; predict resamples the other half's pack (twice
    resampled, so close to, not equal to, the pack made on the model's grid)."""
    from stellar_relevance.io import pack_spectra, read_packed

    root, first, second = lamost
    pack = dict(labels=root / "labels.csv", progress=False)
    pack_spectra(first, tmp_path / "a.fits", **pack)
    pack_spectra(second, tmp_path / "b.fits", **pack)
    a, b = read_packed(tmp_path / "a.fits"), read_packed(tmp_path / "b.fits")
    assert a.n_pixels != b.n_pixels and a.meta["rest_frame"]
    path = _train(a, tmp_path)
    pack_spectra(second, tmp_path / "b_on_grid.fits", grid=model_grid(path), **pack)
    by_hand = read_packed(tmp_path / "b_on_grid.fits")
    model = load_model(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        resampled, packed = predict_labels(model, b), predict_labels(model, by_hand)
    spread = np.ptp(model["label_range"])
    assert np.max(np.abs(resampled["FEH_pred"] - packed["FEH_pred"])) < 0.02 * spread
    observed = read_packed(tmp_path / "b.fits")
    observed.meta["rest_frame"] = False
    with pytest.raises(DataError, match="observed frame"):
        predict_labels(model, observed)
