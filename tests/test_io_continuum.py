"""Continuum normalisation: the fast running percentile equals a plain one, the rule is recorded and applied again."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

import stellar_relevance.io._running as running_module
import stellar_relevance.io.continuum as continuum_module
from stellar_relevance.exceptions import DataError, ParameterError
from stellar_relevance.io import (CONTINUUM_METHODS, apply_continuum, continuum_settings, normalise_continuum,
                                  pack_spectra, read_packed, write_packed)
from stellar_relevance.spectra import SpectralSet
from test_io_bad_inputs import DR6, DR7, SURVEYS, work  # noqa: F401  (work: the fixture)

REPO = Path(__file__).resolve().parents[1]


def plain_normalised(flux, wave, window, percentile):
    """The rule written plainly: per spectrum and pixel, np.percentile of the finite flux within window / 2."""
    flux = np.asarray(flux, dtype=float)
    out = np.full(flux.shape, np.nan)
    for r in range(flux.shape[0]):
        for i in range(flux.shape[1]):
            inside = (wave >= wave[i] - window / 2) & (wave <= wave[i] + window / 2)
            values = flux[r, inside]
            values = values[np.isfinite(values)]
            if np.isfinite(flux[r, i]):
                out[r, i] = flux[r, i] / np.percentile(values, percentile)
    return out


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@pytest.mark.parametrize("grid", ["linear", "log"])
@pytest.mark.parametrize("percentile", [90.0, 50.0, 97.3])
def test_fast_equals_the_plain_rule_on_random_spectra(grid, percentile):
    rng = np.random.default_rng(3)
    n_pixels = 700
    wave = 4000.0 + 0.9 * np.arange(n_pixels) if grid == "linear" else 3900.0 * 10 ** (1e-4 * np.arange(n_pixels))
    flux = rng.uniform(0.3, 2.0, (7, n_pixels)).astype(np.float32)
    flux[1, 100:160] = np.nan  # a masked run longer than some windows' half
    flux[2, ::9] = np.nan  # scattered bad pixels
    flux[3, :20] = np.inf
    flux[4, -5:] = -np.inf
    before = _digest(flux)
    fast = normalise_continuum(flux, wave * u.AA, window=60 * u.AA, percentile=percentile)
    assert _digest(flux) == before  # the input is not modified
    assert fast.dtype == np.float32 and fast.shape == flux.shape
    assert np.array_equal(np.isnan(fast), ~np.isfinite(flux))
    expected = plain_normalised(flux, wave, 60.0, percentile)
    np.testing.assert_allclose(fast, expected, rtol=2e-7, equal_nan=True)


def test_the_sorted_path_alone_gives_the_same_answer(monkeypatch):
    """Every window sorted one by one (no rank filter) gives the same continuum as the rank-filter runs."""
    rng = np.random.default_rng(0)
    wave = np.arange(5000.0, 5300.0, 0.5)
    flux = rng.lognormal(0.0, 0.3, (4, wave.size))
    fast = normalise_continuum(flux, wave, window=25.0, percentile=80)
    monkeypatch.setattr(running_module, "MIN_RUN", 10 ** 9)
    np.testing.assert_array_equal(normalise_continuum(flux, wave, window=25.0, percentile=80), fast)


def test_real_miles_spectrum_matches_the_plain_rule(miles_dir):
    with fits.open(miles_dir / "MILES_res2.50_star_m0001V.fits") as hdul:
        flux = np.asarray(hdul[0].data, dtype=float)[np.newaxis]
        header = hdul[0].header
    wave = header["CRVAL1"] + header["CDELT1"] * (np.arange(flux.shape[1]) + 1 - header.get("CRPIX1", 1.0))
    fast = normalise_continuum(flux, wave * u.AA)
    expected = plain_normalised(flux, wave, 100.0, 90.0)
    np.testing.assert_allclose(fast, expected, rtol=2e-7)
    # the normalised spectrum sits near 1 between lines and below it in them
    assert 0.97 < np.percentile(fast, 90) < 1.03 and fast.min() < 0.5


def test_window_in_nanometres_and_a_float_in_angstrom_agree():
    wave = np.arange(4000.0, 4500.0)
    flux = 1.0 + 0.5 * np.sin(wave / 7.0)
    assert np.array_equal(normalise_continuum(flux, wave * u.AA, window=5 * u.nm),
                          normalise_continuum(flux, wave / 10 * u.nm, window=50.0))


def test_chunks_of_rows_and_a_memory_map(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    wave = np.arange(6000.0, 6200.0)
    data = rng.uniform(0.5, 1.5, (9, wave.size)).astype(np.float32)
    path = tmp_path / "flux.npy"
    np.save(path, data)
    mapped = np.load(path, mmap_mode="r")
    whole = normalise_continuum(data, wave, window=30.0)
    monkeypatch.setattr(continuum_module, "CHUNK_BYTES", wave.size * 40 * 2)  # two rows a chunk
    chunked = normalise_continuum(mapped, wave, window=30.0)
    assert isinstance(mapped, np.memmap) and not isinstance(chunked, np.memmap)
    np.testing.assert_array_equal(chunked, whole)
    bad = data.copy()
    bad[7, 40:120] = 0.0  # a stretch of zero flux: no continuum to divide by
    np.save(path, bad)
    with pytest.raises(DataError, match=r"^spectrum row 7: the pseudo-continuum .* zero or negative at \d+ pixels "
                                        r"\(first at 6\d{3}\.\d Angstrom"):
        normalise_continuum(np.load(path, mmap_mode="r"), wave, window=30.0)


def test_rows_without_a_continuum_are_named():
    wave = np.arange(4000.0, 4100.0)
    flux = np.ones((3, wave.size))
    flux[2] = np.nan
    with pytest.raises(DataError, match=r"^spectrum row 2: no finite flux"):
        normalise_continuum(flux, wave, window=10.0)
    flux[2] = 0.0
    with pytest.raises(DataError, match=r"^spectrum row 2: the pseudo-continuum"):
        normalise_continuum(flux, wave, window=10.0)


@pytest.mark.parametrize(("kwargs", "parameter"), [
    (dict(method="median"), "continuum"),
    (dict(window=-5.0), "window"),
    (dict(window=3 * u.s), "window"),
    (dict(window="wide"), "window"),
    (dict(window=1.5), "window"),  # one pixel a window on a 1-Angstrom grid
    (dict(percentile=0.0), "percentile"),
    (dict(percentile=101), "percentile"),
    (dict(percentile="high"), "percentile"),
])
def test_bad_parameters_name_themselves(kwargs, parameter):
    with pytest.raises(ParameterError) as caught:
        normalise_continuum(np.ones((1, 50)), np.arange(4000.0, 4050.0), **kwargs)
    assert caught.value.parameter == parameter


def test_settings_are_json_and_apply_the_same_rule():
    assert CONTINUUM_METHODS == ("none", "running")
    wave = np.arange(4000.0, 4400.0) * u.AA
    flux = np.random.default_rng(2).uniform(1, 2, (3, 400))
    settings = continuum_settings("running", 8 * u.nm, 95)
    recorded = json.loads(json.dumps(settings))
    assert recorded == {"method": "running", "window": 8.0, "window_unit": "nm", "percentile": 95.0}
    np.testing.assert_array_equal(apply_continuum(flux, wave, recorded),
                                  normalise_continuum(flux, wave, window=80.0, percentile=95))
    none = continuum_settings("none", window=-1)  # window and percentile are not looked at
    assert none == {"method": "none"}
    assert apply_continuum(flux, wave, none) is flux and apply_continuum(flux, wave, None) is flux
    copy = normalise_continuum(flux, wave, "none")
    assert copy.dtype == np.float32 and copy is not flux and np.allclose(copy, flux)
    with pytest.raises(ParameterError, match="continuum"):
        apply_continuum(flux, wave, {"method": "running"})


def _miles_like(n=6, n_pixels=500):
    wave = np.arange(4000.0, 4000.0 + n_pixels) * u.AA
    rng = np.random.default_rng(5)
    flux = rng.uniform(2.0, 3.0, (n, n_pixels)) * (1 + wave.value / 4000.0)
    return SpectralSet(wave, flux, ivar=np.full((n, n_pixels), 4.0), labels=None)


def test_pack_records_the_rule_and_divides_ivar(tmp_path):
    spectra = _miles_like()
    source = write_packed(spectra, tmp_path / "raw.fits")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    info = pack_spectra(source, tmp_path / "norm.fits", continuum="running")
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest
    packed = read_packed(tmp_path / "norm.fits")
    settings = continuum_settings("running")
    assert packed.meta["continuum"] == settings and info["continuum"] == settings
    with fits.open(tmp_path / "norm.fits") as hdul:
        assert hdul[0].header["CONTNORM"] == "running"
    expected = normalise_continuum(spectra.flux, spectra.wavelength)
    np.testing.assert_allclose(packed.flux, expected, rtol=1e-6)
    ratio = spectra.flux / expected  # the continuum
    np.testing.assert_allclose(packed.ivar, 4.0 * ratio ** 2, rtol=1e-5)
    assert packed.flux_unit == u.dimensionless_unscaled
    with pytest.raises(ParameterError, match="already continuum-normalised") as caught:
        pack_spectra(tmp_path / "norm.fits", tmp_path / "twice.fits", continuum="running")
    assert caught.value.parameter == "continuum" and not (tmp_path / "twice.fits").exists()
    plain = pack_spectra(source, tmp_path / "plain.fits")
    assert plain["continuum"] == {"method": "none"}
    with fits.open(tmp_path / "plain.fits") as hdul:
        assert hdul[0].header["CONTNORM"] == "none"


def test_continuum_benchmark_quick(tmp_path, miles_dir):
    out = tmp_path / "continuum.json"
    proc = subprocess.run([sys.executable, "continuum.py", "--quick", "--miles", str(miles_dir), "--output", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=REPO / "benchmarks")
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = json.loads(out.read_text())
    rows = {r["method"].split(" ")[0]: r for r in payload["rows"]}
    assert set(rows) == {"normalise_continuum", "plain", "specutils"}
    assert payload["agreement"]["plain_max_rel_diff"] < 1e-6
    assert rows["plain"]["speedup"] > 10 and rows["specutils"]["ms_per_spectrum"] > 0
    assert "| method |" in proc.stdout


@pytest.mark.skipif(not (DR7.is_file() and DR6.is_file()), reason=f"real LAMOST files not found in {SURVEYS}")
def test_pack_survey_files_with_the_continuum_divided_out(work):
    inputs, out = work  # copies of the real DR7 and DR6 files, an empty output folder
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs.iterdir()}
    raw_info = pack_spectra(inputs, out / "raw.fits", progress=False)
    info = pack_spectra(inputs, out / "norm.fits", continuum="running", progress=False)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs.iterdir()} == digests
    raw, norm = read_packed(out / "raw.fits"), read_packed(out / "norm.fits")
    assert info["continuum"] == continuum_settings("running") and raw_info["continuum"] == {"method": "none"}
    assert norm.meta["continuum"]["method"] == "running" and norm.flux_unit == u.dimensionless_unscaled
    with fits.open(out / "norm.fits") as hdul:
        assert hdul[0].header["CONTNORM"] == "running"
    # the same grid and rows; the flux is the stored flux divided by its running percentile
    assert np.array_equal(raw.wavelength, norm.wavelength) and raw.ids.tolist() == norm.ids.tolist()
    expected = normalise_continuum(raw.flux, raw.wavelength)
    np.testing.assert_allclose(norm.flux, expected, rtol=1e-5, equal_nan=True)
    assert 0.95 < np.nanpercentile(norm.flux, 90) < 1.1  # raw LAMOST flux is of order 1e3
    continuum = raw.flux / expected
    good = np.isfinite(continuum) & (raw.ivar > 0)
    np.testing.assert_allclose(norm.ivar[good], (raw.ivar * continuum ** 2)[good], rtol=1e-4)
