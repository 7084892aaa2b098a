"""SpectralSet: construction, validation, selection, arrays, specutils round trip."""

import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table

from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.spectra import SpectralSet


def make_set(n=5, n_pixels=40, with_ivar=True, seed=0):
    rng = np.random.default_rng(seed)
    wavelength = (4000.0 + 2.0 * np.arange(n_pixels)) * u.AA
    flux = 1.0 + 0.1 * rng.standard_normal((n, n_pixels))
    labels = Table({"ID": [f"s{i}" for i in range(n)],
                    "TEFF": np.linspace(4000, 6000, n) * u.K,
                    "FEH": np.array([0.1, np.nan, -0.5, 0.0, np.nan][:n]) * u.dex})
    ivar = np.full((n, n_pixels), 4.0) if with_ivar else None
    mask = np.zeros((n, n_pixels), bool)
    mask[0, :3] = True
    return SpectralSet(wavelength, flux, ivar=ivar, mask=mask, labels=labels, wave_frame="air",
                       meta={"FWHM": 2.5 * u.AA, "reader": "test"})


def test_basic_properties():
    s = make_set()
    assert len(s) == 5
    assert s.n_pixels == 40
    assert s.label_names == ["TEFF", "FEH"]
    assert s.labels["ID"].dtype.kind == "U"
    assert s.flux_unit == u.dimensionless_unscaled
    assert s.meta["FWHM"] == 2.5 * u.AA
    assert "5 spectra x 40 pixels" in repr(s)


def test_inputs_not_modified_and_meta_copied():
    wavelength = np.arange(10.0) * u.nm + 400 * u.nm
    flux = np.ones((2, 10))
    meta = {"FWHM": 0.25 * u.nm, "warnings": []}
    labels = Table({"ID": [1, 2], "X": [1.0, 2.0]})
    s = SpectralSet(wavelength, flux, labels=labels, meta=meta)
    s.meta["warnings"].append("x")
    s.flux[0, 0] = 99
    assert meta["warnings"] == []
    assert labels["ID"].dtype.kind == "i"  # the caller's table keeps its int IDs
    assert list(s.labels["ID"]) == ["1", "2"]


def test_flux_quantity_sets_unit():
    unit = u.Unit("1e-17 erg / (s cm2 Angstrom)")
    s = SpectralSet(np.arange(1.0, 4.0) * u.um, np.ones((1, 3)) * unit)
    assert s.flux_unit == unit
    assert s.mean_flux().unit == unit


@pytest.mark.parametrize(
    "wavelength, message",
    [
        (np.arange(10.0), "no unit"),
        (np.arange(10.0) * u.s, "length unit"),
        (np.r_[1.0, 2.0, 2.0, 3.0, 4, 5, 6, 7, 8, 9] * u.AA, "not strictly increasing"),
        (np.arange(10.0)[::-1] * u.AA, "not strictly increasing"),
        (np.r_[np.arange(9.0), np.nan] * u.AA, "non-finite"),
    ],
)
def test_bad_grid(wavelength, message):
    with pytest.raises(DataError, match=message):
        SpectralSet(wavelength, np.ones((2, 10)))


def test_shape_and_nan_errors():
    wave = np.arange(10.0) * u.AA + 5000 * u.AA
    with pytest.raises(DataError, match="9 pixels per spectrum"):
        SpectralSet(wave, np.ones((2, 9)))
    with pytest.raises(DataError, match="ivar has shape"):
        SpectralSet(wave, np.ones((2, 10)), ivar=np.ones((3, 10)))
    flux = np.ones((3, 10))
    flux[1] = np.nan
    with pytest.raises(DataError, match=r"all NaN.*rows \[1\].*'b'"):
        SpectralSet(wave, flux, labels=Table({"ID": ["a", "b", "c"]}))


def test_label_table_errors():
    wave = np.arange(10.0) * u.AA + 5000 * u.AA
    with pytest.raises(DataError, match="no 'ID' column.*NAME"):
        SpectralSet(wave, np.ones((2, 10)), labels=Table({"NAME": ["a", "b"]}))
    with pytest.raises(DataError, match="duplicate IDs.*'a'"):
        SpectralSet(wave, np.ones((2, 10)), labels=Table({"ID": ["a", "a"]}))
    with pytest.raises(DataError, match="3 rows but there are 2 spectra"):
        SpectralSet(wave, np.ones((2, 10)), labels=Table({"ID": ["a", "b", "c"]}))
    with pytest.raises(ValueError, match="wave_frame"):
        SpectralSet(wave, np.ones((2, 10)), wave_frame="space")


def test_getitem_variants():
    s = make_set()
    one = s[2]
    assert len(one) == 1 and one.flux.shape == (1, 40)
    assert one.labels["ID"][0] == "s2"
    assert s[-1].labels["ID"][0] == "s4"
    assert list(s[1:3].ids) == ["s1", "s2"]
    assert list(s[np.array([True, False, True, False, False])].ids) == ["s0", "s2"]
    assert list(s[[4, 0]].ids) == ["s4", "s0"]
    assert list(s["s3"].ids) == ["s3"]
    assert list(s[np.array(["s1", "s0"])].ids) == ["s1", "s0"]
    np.testing.assert_array_equal(s[[4, 0]].ivar, s.ivar[[4, 0]])
    assert s[[0]].mask[0, :3].all()
    with pytest.raises(IndexError):
        s[5]
    with pytest.raises(KeyError, match="nope"):
        s["nope"]


def test_with_label_and_to_xy():
    s = make_set()
    with pytest.raises(DataError, match="2 of 5 spectra have no finite 'FEH'"):
        s.to_xy("FEH")
    sub = s.with_label("FEH")
    assert list(sub.ids) == ["s0", "s2", "s3"]
    X, y = sub.to_xy("FEH")
    assert X.shape == (3, 40) and X.dtype == float
    np.testing.assert_allclose(y, [0.1, -0.5, 0.0])
    X[0, 0] = 1e9  # a copy
    assert sub.flux[0, 0] != 1e9
    assert len(s.with_label("TEFF")) == 5
    with pytest.raises(KeyError, match="no label 'LOGG'"):
        s.with_label("LOGG")


def test_mean_flux_ignores_masked_pixels():
    wave = np.arange(4.0) * u.AA + 5000 * u.AA
    flux = np.array([[1.0, 2.0, 3.0, np.nan], [3.0, 4.0, 5.0, np.nan]])
    mask = np.array([[True, False, False, False], [False, False, False, False]])
    mean = SpectralSet(wave, flux, mask=mask).mean_flux()
    np.testing.assert_allclose(mean.value[:3], [3.0, 3.0, 4.0])
    assert np.isnan(mean.value[3])


def test_spectrum_round_trip():
    s = make_set()
    spec = s.to_spectrum()
    assert spec.flux.shape == (5, 40)
    assert spec.meta["wave_frame"] == "air"
    back = SpectralSet.from_spectrum(spec)
    np.testing.assert_array_equal(back.flux, s.flux)
    np.testing.assert_allclose(back.ivar, s.ivar)
    np.testing.assert_array_equal(back.mask, s.mask)
    assert u.allclose(back.wavelength, s.wavelength)
    assert list(back.ids) == list(s.ids)
    assert back.labels["TEFF"].unit == u.K
    assert back.meta["FWHM"] == 2.5 * u.AA
    assert back.wave_frame == "air"


def test_from_spectrum_without_frame_warns():
    from specutils import Spectrum

    spec = Spectrum(flux=np.ones((2, 5)) * u.Jy, spectral_axis=np.arange(5.0) * u.AA + 4000 * u.AA)
    with pytest.warns(DataWarning, match="assumed 'air'"):
        s = SpectralSet.from_spectrum(spec)
    assert s.flux_unit == u.Jy and len(s) == 2
    s2 = SpectralSet.from_spectrum(spec, wave_frame="vacuum")
    assert s2.wave_frame == "vacuum"


def test_air_vacuum_conversion():
    s = make_set()
    v = s.to_frame("vacuum")
    assert v.wave_frame == "vacuum"
    # air -> vacuum adds about 1.12 Angstrom at 4000 Angstrom (Morton 2000)
    assert 1.0 < (v.wavelength[0] - s.wavelength[0]).to_value(u.AA) < 1.3
    back = v.to_frame("air")
    assert u.allclose(back.wavelength, s.wavelength, rtol=1e-10)
    np.testing.assert_array_equal(back.flux, s.flux)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = s.to_frame("air")
    assert same is not s and u.allclose(same.wavelength, s.wavelength)


def test_one_wavelength_validator():
    # SpectralSet, the index measurement and the survey readers share one validator and its messages
    from stellar_relevance.indices.catalog import check_wavelength
    from stellar_relevance.spectra import as_wavelength

    bad = np.array([4000.0, 4001.0, 4001.0, 4002.0]) * u.AA
    with pytest.raises(DataError) as a:
        SpectralSet(bad, np.ones((1, 4)))
    with pytest.raises(DataError) as b:
        check_wavelength(bad, "wavelength")
    assert str(a.value) == str(b.value) == (
        "wavelength: the wavelength grid is not strictly increasing: pixel 2 (4001 Angstrom) "
        "does not exceed pixel 1 (4001 Angstrom)")
    np.testing.assert_allclose(check_wavelength(np.array([1.0, 2.0]) * u.nm), [10.0, 20.0], rtol=1e-15)
    assert as_wavelength(np.array([1, 2]) * u.nm).dtype == float
