"""measure_indices: hand-computed values, synthetic lines of known EW, bad input, real MILES."""

import time
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable, Table
from scipy.special import erf
from specutils.utils.wcs_utils import air_to_vac

from stellar_relevance import load_catalog, measure_indices
from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.indices.measure import band_weights, pixel_edges

MILES_WAVE = 3540.5 + 0.9 * np.arange(4300)


def quiet_catalog(name, frame="air"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return load_catalog(name, frame=frame)


def one_index(blue, band, red, unit="Angstrom", name="test", kind="atomic",
              integrand="", ratio_order=""):
    """A one-row catalogue table built by hand."""
    t = QTable()
    t["name"] = [name]
    t["display_name"] = [name]
    t["aliases"] = [""]
    t["kind"] = [kind]
    for col, value in zip(("blue_lower", "blue_upper", "band_lower", "band_upper",
                           "red_lower", "red_upper"), (*blue, *band, *red)):
        t[col] = [value] * u.AA
    t["wave_frame"] = ["air"]
    t["index_unit"] = [unit]
    for col in ("species", "sensitive_to", "reference"):
        t[col] = ["x"]
    t["integrand"] = [integrand]
    t["ratio_order"] = [ratio_order]
    return t


def gaussian_line(wave, centre, sigma, ew):
    return ew / (sigma * np.sqrt(2 * np.pi)) * np.exp(-0.5 * ((wave - centre) / sigma) ** 2)


def ew_inside(lo, hi, centre, sigma, ew):
    """Analytic equivalent width of a Gaussian line between lo and hi."""
    z = (np.array([lo, hi]) - centre) / (sigma * np.sqrt(2))
    return ew * 0.5 * (erf(z[1]) - erf(z[0]))


def test_band_weights_are_exact_fractions():
    wave = np.arange(1000.0, 1020.0)  # pixel boundaries at x.5
    edges = pixel_edges(wave)
    start, w = band_weights(edges, 1001.25, 1003.75)
    assert start == 1
    np.testing.assert_allclose(w, [0.25, 1.0, 1.0, 0.25])
    start, w = band_weights(edges, 1008.5, 1011.25)  # starts exactly on a boundary
    assert w.sum() == pytest.approx(2.75)
    np.testing.assert_allclose(w[w > 0], [1.0, 1.0, 0.75])


def test_hand_computed_equivalent_width_and_magnitude():
    # 1-A pixels (boundaries at x.5), flux 2 + 0.1 (lambda - 1000), two absorbed pixels
    wave = np.arange(1000.0, 1020.0)
    flux = 2.0 + 0.1 * (wave - 1000.0)
    flux[[9, 10]] = 1.0  # pixels at 1009 and 1010
    blue, band, red = (1001.25, 1003.75), (1008.5, 1011.25), (1015.0, 1017.5)
    # blue mean: 0.25*2.1 + 2.2 + 2.3 + 0.25*2.4 over 2.5 A
    f_blue = (0.25 * 2.1 + 2.2 + 2.3 + 0.25 * 2.4) / 2.5
    # red: pixel 1015 half in, 1016 and 1017 whole
    f_red = (0.5 * 3.5 + 3.6 + 3.7) / 2.5
    assert f_blue == pytest.approx(2.25) and f_red == pytest.approx(3.62)

    def cont(x):
        return f_blue + (f_red - f_blue) * (x - 1002.5) / (1016.25 - 1002.5)

    expected_ew = (1 - 1.0 / cont(1009)) + (1 - 1.0 / cont(1010)) + 0.75 * (1 - 3.1 / cont(1011))
    expected_mag = -2.5 * np.log10((1.0 / cont(1009) + 1.0 / cont(1010)
                                    + 0.75 * 3.1 / cont(1011)) / 2.75)
    ew = measure_indices((wave * u.AA, flux), one_index(blue, band, red))
    mag = measure_indices((wave * u.AA, flux), one_index(blue, band, red, unit="mag"))
    assert ew["test"].unit == u.AA and mag["test"].unit == u.mag
    assert ew["test"][0].value == pytest.approx(expected_ew, abs=1e-12)
    assert mag["test"][0].value == pytest.approx(expected_mag, abs=1e-12)


@pytest.mark.parametrize("name, centre, sigma, ew", [
    ("Mgb", 5176.37, 2.1, 2.5),
    ("Fe5270", 5266.11, 3.0, 1.7),
    ("Hb", 4861.32, 2.5, 4.0),
    ("Fe4383", 4394.77, 4.0, 3.3),
    ("HDeltaA", 4101.73, 3.0, -1.2),  # emission: negative EW
])
@pytest.mark.parametrize("slope", [0.0, 2e-4])
def test_gaussian_line_known_equivalent_width(name, centre, sigma, ew, slope):
    continuum = 1.0 + slope * (MILES_WAVE - 5000.0)
    flux = continuum * (1.0 - gaussian_line(MILES_WAVE, centre, sigma, ew))
    table = quiet_catalog([name])
    r = table[0]
    expected = ew_inside(r["band_lower"].value, r["band_upper"].value, centre, sigma, ew)
    got = measure_indices((MILES_WAVE * u.AA, flux), table)[name][0]
    assert got.to_value(u.AA) == pytest.approx(expected, abs=1e-3)


def test_gaussian_line_magnitude_index():
    # Mg2: a line fully inside the band on a flat continuum -> mag = -2.5 log10(1 - EW/width)
    ew = 8.0
    flux = 1.0 - gaussian_line(MILES_WAVE, 5175.4, 5.0, ew)
    table = quiet_catalog(["Mg2"])
    width = (table["band_upper"][0] - table["band_lower"][0]).to_value(u.AA)
    got = measure_indices((MILES_WAVE * u.AA, flux), table)["Mg2"][0]
    assert got.to_value(u.mag) == pytest.approx(-2.5 * np.log10(1 - ew / width), abs=1e-5)


def test_bandhead_ratios():
    wave = np.arange(3600.0, 9100.0, 0.9)
    table = quiet_catalog("bandhead")
    # F_nu constant  <=> F_lambda ~ lambda^-2 : D4000 = Dn4000 = 1
    flux = 1e8 / wave ** 2
    r = measure_indices((wave * u.AA, flux), table)
    assert r["D4000"].unit == u.dimensionless_unscaled
    assert r["D4000"][0].value == pytest.approx(1.0, abs=1e-12)
    assert r["Dn4000"][0].value == pytest.approx(1.0, abs=1e-12)
    # a break: F_nu 1.5 times higher redward of 3975 A (between the Dn4000 bands)
    flux_break = np.where(wave > 3975.0, 1.5, 1.0) * 1e8 / wave ** 2
    r = measure_indices((wave * u.AA, flux_break), table)
    assert r["Dn4000"][0].value == pytest.approx(1.5, abs=1e-12)
    # TiOCvD: F_lambda ratio blue/red (b_r)
    flux_tio = np.where(wave < 8860.0, 2.0, 1.0)
    r = measure_indices((wave * u.AA, flux_tio), table, wave_frame="vacuum")
    assert r["TiOCvD"][0].value == pytest.approx(2.0, abs=1e-12)


def test_band_off_grid_is_nan_with_reason():
    flux = np.ones((2, MILES_WAVE.size))
    table = quiet_catalog(["Mgb", "CaII1", "D4000"])
    with pytest.warns(DataWarning, match="CaII1: bands span 8474.000-8577.000 A, beyond the grid"):
        r = measure_indices((MILES_WAVE * u.AA, flux), table)
    assert np.all(np.isnan(r["CaII1"].value))
    assert np.all(r["Mgb"].value == 0.0)
    assert set(r.meta["nan_reasons"]) == {"CaII1"}
    # a band partly off the grid also gives NaN
    short = MILES_WAVE < 5200.0
    with pytest.warns(DataWarning, match="Mgb"):
        r = measure_indices((MILES_WAVE[short] * u.AA, flux[:, short]), table)
    assert np.all(np.isnan(r["Mgb"].value))


class FakeSet:
    """The SpectralSet attributes measure_indices relies on."""

    def __init__(self, wavelength, flux, labels=None, wave_frame="air", mask=None):
        self.wavelength, self.flux, self.labels = wavelength, flux, labels
        self.wave_frame, self.mask = wave_frame, mask

    def __len__(self):
        return self.flux.shape[0]


def test_spectral_set_duck_type_ids_and_mask():
    rng = np.random.default_rng(3)
    flux = 1.0 - gaussian_line(MILES_WAVE, 5176.0, 2.0, 2.0) + rng.normal(0, 0.01, (3, 4300))
    labels = Table({"ID": ["m0001", "m0002", "m0003"], "FEH": [0.1, -0.5, 0.0]})
    mask = np.zeros(flux.shape, bool)
    mask[1, 1810:1812] = True  # inside Mgb of the second star
    flux_before, mask_before = flux.copy(), mask.copy()
    with pytest.warns(DataWarning, match="Mgb: 1 spectra with non-finite or masked flux"):
        r = measure_indices(FakeSet(MILES_WAVE * u.AA, flux, labels, mask=mask), ["Mgb", "Hb"])
    assert r.colnames == ["ID", "Mgb", "Hb"]
    assert list(r["ID"]) == ["m0001", "m0002", "m0003"]
    assert np.isnan(r["Mgb"][1]) and np.isfinite(r["Mgb"][[0, 2]]).all()
    assert np.isfinite(r["Hb"]).all()
    np.testing.assert_array_equal(flux, flux_before)  # inputs never modified
    np.testing.assert_array_equal(mask, mask_before)


def test_vacuum_spectra_use_converted_bands():
    flux = np.vstack([1.0 - gaussian_line(MILES_WAVE, c, 2.0, 1.5) for c in (5171.0, 5185.0)])
    air = measure_indices((MILES_WAVE * u.AA, flux), quiet_catalog("lick"))
    vac_wave = air_to_vac(MILES_WAVE * u.AA, method="Morton2000")
    vac = measure_indices(FakeSet(vac_wave, flux, wave_frame="vacuum"), quiet_catalog("lick"))
    # an equivalent width in vacuum Angstrom is longer by d(lambda_vac)/d(lambda_air) ~ 1.0003
    ends = air_to_vac([5199.0, 5201.0] * u.AA, method="Morton2000").value
    n_air = (ends[1] - ends[0]) / 2.0
    for name in ("Mgb", "Fe5270", "Hb"):
        np.testing.assert_allclose(vac[name].value, air[name].value * n_air, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vac["Mg2"].value, air["Mg2"].value, atol=1e-6)  # magnitudes
    assert vac.meta["wave_frame"] == "vacuum"
    # treating the vacuum grid as air shifts the bands by ~1.4 A and changes Mgb
    wrong = measure_indices((vac_wave, flux), quiet_catalog("lick"))
    assert np.max(np.abs(wrong["Mgb"].value - air["Mgb"].value)) > 1e-3


def test_vectorised_equals_loop_and_is_fast():
    rng = np.random.default_rng(0)
    n = 1000
    centres = rng.uniform(5170, 5182, n)
    flux = (1.0 - gaussian_line(MILES_WAVE[None, :], centres[:, None], 2.0, 2.0)) \
        * rng.uniform(0.5, 2.0, (n, 1)) + rng.normal(0, 0.005, (n, MILES_WAVE.size))
    table = quiet_catalog("optical")
    measure_indices((MILES_WAVE * u.AA, flux[:5]), table)  # warm-up
    t0 = time.perf_counter()
    r = measure_indices((MILES_WAVE * u.AA, flux), table)
    elapsed = time.perf_counter() - t0
    assert len(r) == n and len(r.colnames) == len(table) == 27
    assert elapsed < 1.0, f"1000 spectra x 27 indices took {elapsed:.2f} s"
    for i in (0, 17, 999):
        single = measure_indices((MILES_WAVE * u.AA, flux[i]), table)
        for name in ("Mgb", "Mg2", "CaHK", "Halpha"):
            assert single[name][0].value == pytest.approx(r[name][i].value, rel=1e-12)


def test_bad_input():
    flux = np.ones(MILES_WAVE.size)
    with pytest.raises(DataError, match="Quantity with a length unit"):
        measure_indices((MILES_WAVE, flux), "lick")
    with pytest.raises(DataError, match="expected a length unit"):
        measure_indices((MILES_WAVE * u.s, flux), "lick")
    with pytest.raises(DataError, match="not strictly increasing: pixel 11"):
        w = MILES_WAVE.copy()
        w[11] = w[10]
        measure_indices((w * u.AA, flux), "lick")
    with pytest.raises(DataError, match="flux has 4299 pixels per spectrum but the wavelength grid has 4300"):
        measure_indices((MILES_WAVE * u.AA, flux[:-1]), "lick")
    with pytest.raises(DataError, match="labels have 2 rows but there are 1 spectra"):
        measure_indices(FakeSet(MILES_WAVE * u.AA, flux[None], Table({"ID": ["a", "b"]})), "lick")
    with pytest.raises(ValueError, match="wave_frame must be one of"):
        measure_indices((MILES_WAVE * u.AA, flux), "lick", wave_frame="vac")
    with pytest.raises(ValueError, match="unknown catalogue 'lik'"):
        measure_indices((MILES_WAVE * u.AA, flux), "lik")
    with pytest.raises(TypeError, match="SpectralSet"):
        measure_indices(flux, "lick")
    bad = one_index((5100, 5090), (5110, 5120), (5130, 5140), name="backwards")
    with pytest.raises(DataError, match="index 'backwards': blue band is not ordered"):
        measure_indices((MILES_WAVE * u.AA, flux), bad)


def _read_miles(miles_dir, numbers):
    from astropy.io import fits

    fluxes = []
    for n in numbers:
        with fits.open(miles_dir / f"MILES_res2.50_star_m{n:04d}V.fits") as hdul:
            h = hdul[0].header
            wave = h["CRVAL1"] + h["CDELT1"] * (np.arange(h["NAXIS1"]) + 1 - h["CRPIX1"])
            fluxes.append(np.asarray(hdul[0].data, float))
    return wave, np.vstack(fluxes)


def _miles_params(miles_dir):
    params = {}
    for line in (miles_dir / "MILES_params.db").read_text().splitlines():
        parts = line.split()
        if line.startswith("#") or len(parts) != 4 or not parts[0].isdigit():
            continue
        teff, logg, feh = map(float, parts[1:])
        if teff < 9000 and abs(feh) < 9:  # drop sentinels (9999 / 99999)
            params[int(parts[0])] = (teff, logg, feh)
    return params


def test_real_miles_indices_follow_teff_and_metallicity(miles_dir):
    from scipy.stats import spearmanr

    params = _miles_params(miles_dir)
    numbers = [n for n in sorted(params)
               if (miles_dir / f"MILES_res2.50_star_m{n:04d}V.fits").exists()][::3]
    wave, flux = _read_miles(miles_dir, numbers)
    r = measure_indices((wave * u.AA, flux), quiet_catalog("optical"))
    for name in r.colnames:
        assert np.isfinite(r[name].value).all(), name
    teff = np.array([params[n][0] for n in numbers])
    feh = np.array([params[n][2] for n in numbers])
    # Balmer lines strengthen with temperature below ~9000 K
    assert spearmanr(teff, r["Hb"].value)[0] > 0.6
    # metal lines strengthen with [Fe/H] among solar-type stars
    solar = (teff > 5000) & (teff < 6500)
    assert solar.sum() > 40
    for name in ("Fe5270", "Fe5335", "Fe4383", "Fe5015"):
        assert spearmanr(feh[solar], r[name].value[solar])[0] > 0.5, name
    # Mgb also depends on Teff and gravity within this window: weaker but positive
    assert spearmanr(feh[solar], r["Mgb"].value[solar])[0] > 0.2


def test_real_spectral_set_in_both_frames():
    from stellar_relevance import SpectralSet

    flux = np.vstack([1.0 - gaussian_line(MILES_WAVE, 5176.0, 2.0, ew) for ew in (1.0, 2.0)])
    air = SpectralSet(MILES_WAVE * u.AA, flux, labels=Table({"ID": ["a", "b"]}))
    r_air = measure_indices(air, quiet_catalog(["Mgb", "Hb"]))
    assert list(r_air["ID"]) == ["a", "b"]
    np.testing.assert_allclose(r_air["Mgb"].value, [1.0, 2.0], atol=1e-3)
    r_vac = measure_indices(air.to_frame("vacuum"), quiet_catalog(["Mgb", "Hb"]))
    assert r_vac.meta["wave_frame"] == "vacuum"
    np.testing.assert_allclose(r_vac["Mgb"].value, r_air["Mgb"].value, rtol=1e-3)


@pytest.mark.parametrize("scale", [1e-17, 0.3, 250.0])
def test_indices_do_not_depend_on_flux_scale(scale):
    rng = np.random.default_rng(11)
    flux = 1.0 - gaussian_line(MILES_WAVE, 5176.0, 2.0, 2.0) + rng.normal(0, 0.01, MILES_WAVE.size)
    table = quiet_catalog("optical")
    ref = measure_indices((MILES_WAVE * u.AA, flux), table)
    scaled = measure_indices((MILES_WAVE * u.AA, flux * scale * u.erg / u.s / u.cm**2 / u.AA), table)
    for name in ref.colnames:
        np.testing.assert_allclose(scaled[name].value, ref[name].value, rtol=1e-9, atol=1e-12)
