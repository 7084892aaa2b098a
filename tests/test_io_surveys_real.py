"""Every real survey file in ../shared/data/surveys/ and the DESI files in specutils' wheel.

Read through ``read_spectra`` and through specutils' ``Spectrum.read`` /
``SpectrumList.read`` (our loaders are registered on import). Each test
skips, with the reason, when its file is absent.
"""

import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits

import stellar_relevance.io  # noqa: F401  (registers the loaders with specutils)
from stellar_relevance.exceptions import DataError
from stellar_relevance.io import read_spectra

SURVEYS = Path(os.environ.get("STELREL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "surveys"
DR7 = SURVEYS / "spec-58397-EG014118N254444M01_sp03-031.fits"
DR6 = SURVEYS / "spec-57287-KP193637N444141V03_sp10-161.fits.gz"
MRS = SURVEYS / "med-58408-TD230151N343645T01_sp01-015.fits"
SDSS = SURVEYS / "spec-0266-51602-0031.fits"
XP_CSV = SURVEYS / "XP_CONTINUOUS_RAW.csv"
XP_FITS = SURVEYS / "XP_CONTINUOUS_RAW.fits"
HALPHA_VACUUM = 6564.61  # Angstrom


def need(path):
    return pytest.mark.skipif(not path.is_file(), reason=f"real survey file not found: {path}")


def desi_files():
    spec = importlib.util.find_spec("specutils")
    if spec is None or spec.origin is None:
        return []
    return sorted((Path(spec.origin).parent / "io" / "default_loaders" / "tests" / "desi_test_data").glob("*.fits"))


def spectrum_read(path, **kwargs):
    from specutils import Spectrum

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", u.UnitsWarning)
        return Spectrum.read(str(path), **kwargs)


@need(DR7)
def test_lamost_dr7_image_layout():
    before = DR7.read_bytes()
    s = read_spectra(DR7, rest_frame=False)
    assert DR7.read_bytes() == before
    assert list(s.ids) == ["677503031"] and s.wave_frame == "vacuum" and s.n_pixels == 3909
    with fits.open(DR7) as hdul:
        data = hdul[0].data
    np.testing.assert_allclose(s.wavelength.to_value(u.AA), data[2], rtol=1e-7)
    bad = (data[1] <= 0) | (data[3] != 0)
    assert bad.any() and np.isnan(s.flux[0][bad]).all() and s.mask[0][bad].all()
    np.testing.assert_allclose(s.flux[0][~bad], data[0][~bad], rtol=1e-6)
    spec = spectrum_read(DR7)
    assert spec.meta["format"] == "LAMOST-LRS" and spec.meta["id"]["OBSID"] == "677503031"
    assert spec.meta["wave_frame"] == "vacuum" and spec.meta["z"] == pytest.approx(-6.4e-6)
    assert spec.flux.unit == u.dimensionless_unscaled and spec.spectral_axis.unit == u.AA
    assert spec.mask.sum() == bad.sum()


@need(DR6)
def test_lamost_dr6_gzip_rest_frame_shift_matches_header_z():
    z = fits.getheader(DR6)["Z"]
    assert z == pytest.approx(-1.7162e-4)
    observed = read_spectra(DR6, rest_frame=False)
    rest = read_spectra(DR6, grid=observed.wavelength)
    assert rest.labels["Z_SHIFT"][0] == z and rest.meta["rest_frame"] is True
    from scipy.optimize import curve_fit

    def halpha(s):
        w, f = s.wavelength.to_value(u.AA), s.flux[0].astype(float)
        sel = (w > 6530) & (w < 6600) & np.isfinite(f)
        model = lambda x, c0, c1, a, mu, sig: c0 + c1 * (x - 6565) - a * np.exp(-0.5 * ((x - mu) / sig) ** 2)  # noqa: E731
        level = np.nanmedian(f[sel])
        return curve_fit(model, w[sel], f[sel], p0=[level, 0, 0.5 * level, 6564, 3])[0][3]

    # about -51 km/s: H-alpha moves by -z * 6564.6 = +1.13 Angstrom
    shift = halpha(rest) - halpha(observed)
    assert shift == pytest.approx(-z * HALPHA_VACUUM, abs=0.05)
    assert halpha(rest) == pytest.approx(HALPHA_VACUUM, abs=0.3)


@need(MRS)
def test_lamost_mrs_two_arms():
    from specutils import Spectrum, SpectrumList

    arms = SpectrumList.read(str(MRS))
    assert [a.flux.size for a in arms] == [4101, 3692]
    assert [a.meta["arm"] for a in arms] == ["B", "R"] and arms[0].meta["id"]["OBSID"] == "681001015"
    with pytest.raises(DataError, match="two arms"):
        Spectrum.read(str(MRS))
    s = read_spectra(MRS, rest_frame=False)
    w = s.wavelength.to_value(u.AA)
    assert len(s) == 1 and w[0] < 4960 and w[-1] > 6790
    gap = np.diff(w).argmax()
    assert 5300 < w[gap] < 5500 and 6200 < w[gap + 1] < 6400  # both arms, the gap between them kept empty
    assert np.isfinite(s.flux[0][w < 5300]).mean() > 0.95 and np.isfinite(s.flux[0][w > 6400]).mean() > 0.95
    exposures = read_spectra(MRS, rest_frame=False, exposures=True)
    assert len(exposures) == 7 and all(i.startswith("681001015-") for i in exposures.ids)
    # the header has no stellar RV (HELIO_RV is the heliocentric correction): the rest frame needs a catalogue RV
    with pytest.raises(DataError, match="no redshift"):
        read_spectra(MRS)


@need(SDSS)
def test_sdss_spec_lite_through_specutils():
    s = read_spectra(SDSS)
    assert list(s.ids) == ["spec-0266-51602-0031"] and s.wave_frame == "vacuum"
    assert s.flux_unit == u.Unit("1e-17 erg / (Angstrom cm2 s)")
    assert s.labels["Z_SHIFT"][0] == pytest.approx(-3.6914502e-05)
    with fits.open(SDSS) as hdul:
        and_mask = hdul["COADD"].data["and_mask"]
    observed = read_spectra(SDSS, rest_frame=False)
    assert np.isnan(observed.flux[0][and_mask != 0]).all()
    spec = spectrum_read(SDSS)
    np.testing.assert_allclose(observed.wavelength.value, spec.spectral_axis.to_value(u.AA))


@pytest.mark.parametrize("path", [XP_CSV, XP_FITS], ids=["csv", "fits"])
def test_gaia_xp_on_the_grid_asked_for(path):
    if not path.is_file():
        pytest.skip(f"real survey file not found: {path}")
    if importlib.util.find_spec("gaiaxpy") is None:  # not imported here: importing it sets text.usetex itself
        pytest.skip("the optional 'gaia' extra (gaiaxpy) is not installed")
    s = read_spectra(path, grid="4000:9000:10")
    assert list(s.ids) == ["5853498713190525696", "5762406957886626816"]
    np.testing.assert_allclose(s.wavelength.to_value(u.AA), 4000 + 10.0 * np.arange(501))
    assert s.flux_unit == u.W / u.m ** 2 / u.nm and np.isfinite(s.flux).all()
    assert (s.flux > 0).mean() > 0.99
    import matplotlib

    assert matplotlib.rcParams["text.usetex"] is False  # gaiaxpy's import turns it on; we undo that
    spec = spectrum_read(path, sampling=np.arange(400.0, 901.0, 1.0) * u.nm)
    assert spec.flux.shape == (2, 501)
    # gaiaxpy samples the grid directly: the resampled set equals the sampled spectra at the same points
    np.testing.assert_allclose(s.flux[:, ::1], spec.flux.value[:, ::1], rtol=1e-5)


def test_gaia_xp_without_gaiaxpy_names_the_extra(without_gaiaxpy):
    if not XP_CSV.is_file():
        pytest.skip(f"real survey file not found: {XP_CSV}")
    with pytest.raises(DataError, match=r"optional 'gaia' extra: pip install 'stellar-relevance\[gaia\]'"):
        read_spectra(XP_CSV)


@pytest.mark.parametrize("path", desi_files() or [None], ids=lambda p: p.name if p else "absent")
def test_desi_files_from_specutils_wheel(path):
    if path is None:
        pytest.skip("specutils' DESI test files (io/default_loaders/tests/desi_test_data) are not installed")
    from specutils import SpectrumList

    arms = SpectrumList.read(str(path))
    n_targets = np.atleast_2d(arms[0].flux.value).shape[0]
    s = read_spectra(path, rest_frame=False)
    assert s.wave_frame == "vacuum" and s.flux_unit == arms[0].flux.unit
    targets = [str(t) for t in arms[0].meta["fibermap"]["TARGETID"]]
    # targets whose arms all have zero inverse variance are refused with a warning, the others kept in order
    assert list(s.ids) == [t for t in targets if t in set(s.ids)]
    assert len(s) + s.meta["ingest"]["skipped"] == n_targets and len(s) >= 1
    # the b, r and z arms are merged onto one grid spanning all three
    w = s.wavelength.to_value(u.AA)
    assert w[0] < 3700 and w[-1] > 9700
    # where only the b arm covers, the merged flux is the resampled b arm (weights of one arm cancel)
    assert np.isfinite(s.flux).mean() > 0.5
