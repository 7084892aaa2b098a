"""The packed multi-spectrum FITS: lossless round trips and clear errors."""

import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.io import read_packed, read_spectra, write_packed
from stellar_relevance.spectra import SpectralSet


def labels_for(n):
    t = Table({"ID": [f"star{i:03d}" for i in range(n)],
               "TEFF": np.linspace(3500, 7000, n) * u.K,
               "LOGG": np.linspace(0.5, 4.5, n) * u.dex(u.cm / u.s ** 2),
               "FEH": np.r_[np.linspace(-2, 0.5, n - 1), np.nan] * u.dex,
               "SPT": ["G5V"] * n,
               "CLUSTER": np.arange(n) % 2 == 0,
               "MILES": np.arange(n)})
    t["FEH"].description = "iron abundance"
    return t


def linear_set(n=6, n_pixels=30):
    rng = np.random.default_rng(1)
    wave = (3540.5 + 0.9 * np.arange(n_pixels)) * u.AA
    return SpectralSet(wave, rng.random((n, n_pixels)), labels=labels_for(n), wave_frame="air",
                       meta={"FWHM": 2.5 * u.AA, "reader": "test", "counts": {"spectra": n},
                             "warnings": ["a 'quoted' warning", "Sánchez-Blázquez"]})


def loglin_set(n=4, n_pixels=25):
    rng = np.random.default_rng(2)
    wave = 10 ** (3.6 + 1e-4 * np.arange(n_pixels)) * u.AA
    mask = rng.random((n, n_pixels)) < 0.2
    unit = u.Unit("1e-17 erg / (s cm2 Angstrom)")
    return SpectralSet(wave, rng.random((n, n_pixels)).astype(np.float32) * unit,
                       ivar=rng.random((n, n_pixels)) + 0.1, mask=mask, labels=labels_for(n),
                       wave_frame="vacuum", meta={"FWHM": 0.3 * u.nm, "survey": "SDSS"})


def assert_same(a, b):
    assert a.wave_frame == b.wave_frame
    assert a.wavelength.unit == b.wavelength.unit
    np.testing.assert_array_equal(a.wavelength.value, b.wavelength.value)
    np.testing.assert_array_equal(a.flux, b.flux)
    assert a.flux.dtype == b.flux.dtype
    assert a.flux_unit == b.flux_unit
    for name in ("ivar", "mask"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)
    assert a.labels.colnames == b.labels.colnames
    for name in a.labels.colnames:
        assert a.labels[name].unit == b.labels[name].unit, name
        assert a.labels[name].description == b.labels[name].description, name
        np.testing.assert_array_equal(np.asarray(a.labels[name]), np.asarray(b.labels[name]))
        assert a.labels[name].dtype.kind == b.labels[name].dtype.kind
    meta_b = {k: v for k, v in b.meta.items() if k != "read_from"}
    assert meta_b.keys() == a.meta.keys()
    for key, value in a.meta.items():
        if isinstance(value, u.Quantity):
            assert meta_b[key].unit == value.unit and meta_b[key].value == value.value
        else:
            assert meta_b[key] == value


@pytest.mark.parametrize("make", [linear_set, loglin_set])
def test_round_trip_is_lossless(tmp_path, make):
    s = make()
    flux_before = s.flux.copy()
    path = write_packed(s, tmp_path / "spectra.fits")
    np.testing.assert_array_equal(s.flux, flux_before)
    back = read_packed(path)
    assert_same(s, back)
    assert back.meta["read_from"] == str(path)
    assert read_spectra(path).n_pixels == s.n_pixels


def test_linear_grid_has_wcs(tmp_path):
    path = write_packed(linear_set(), tmp_path / "spectra.fits")
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["FLUX", "LABELS"]
        header = hdul[0].header
        assert header["CTYPE1"] == "AWAV" and header["CUNIT1"] == "Angstrom"
        assert header["CRVAL1"] == 3540.5 and header["CDELT1"] == 0.9 and header["CRPIX1"] == 1
        assert header["FWHM"] == 2.5
        assert hdul["LABELS"].header["TUNIT2"] == "K"
        wcs = WCS(header).sub([1])  # axis 2 (spectrum number) has no world coordinate
        assert u.isclose(wcs.pixel_to_world(2).to(u.AA), 3542.3 * u.AA)


def test_nonlinear_grid_has_wavelength_hdu(tmp_path):
    path = write_packed(loglin_set(), tmp_path / "spectra.fits")
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["FLUX", "WAVELENGTH", "IVAR", "MASK", "LABELS"]
        assert hdul[0].header["CTYPE1"] == "WAVE" and "CRVAL1" not in hdul[0].header
        assert hdul["MASK"].data.dtype == np.uint8


def test_write_is_atomic_and_never_silently_overwrites(tmp_path):
    path = tmp_path / "spectra.fits"
    write_packed(linear_set(), path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_packed(linear_set(n=3), path)
    assert path.read_bytes() == before
    write_packed(linear_set(n=3), path, overwrite=True)
    assert len(read_packed(path)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spectra.fits"]  # no temporary left
    with pytest.raises(DataError, match="does not exist"):
        write_packed(linear_set(), tmp_path / "absent" / "x.fits")


def test_real_miles_round_trip(miles_dir, tmp_path):
    from stellar_relevance.io import read_miles

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        s = read_miles(miles_dir)
    back = read_packed(write_packed(s, tmp_path / "miles.fits"))
    assert_same(s, back)
    assert back.meta["counts"]["with_feh"] == 945


# -------------------------------------------------------------- bad input
def test_not_fits(tmp_path):
    path = tmp_path / "spectra.fits"
    path.write_text("ID,FEH\n1,0.1\n")
    with pytest.raises(DataError, match="not a FITS file"):
        read_packed(path)
    with pytest.raises(DataError, match="not a FITS file"):
        read_spectra(path)
    with pytest.raises(DataError, match="no such"):
        read_spectra(tmp_path / "absent.fits")


def test_fits_without_spectral_axis(tmp_path):
    path = tmp_path / "image.fits"
    fits.PrimaryHDU(np.ones((3, 10))).writeto(path)
    with pytest.raises(DataError, match=r"image.fits\[PRIMARY\]: no spectral axis"):
        read_packed(path)
    with pytest.raises(DataError, match="image.fits: not a spectrum format stelrel reads: no spectral axis"):
        read_spectra(path)


def test_bad_wavelength_hdu(tmp_path):
    flux = fits.PrimaryHDU(np.ones((2, 5)))
    flux.header["CTYPE1"] = "AWAV"
    wave = fits.ImageHDU(np.array([1.0, 2.0, 4.0, 3.0, 5.0]), name="WAVELENGTH")
    wave.header["BUNIT"] = "Angstrom"
    path = tmp_path / "nonmono.fits"
    fits.HDUList([flux, wave]).writeto(path)
    with pytest.raises(DataError, match=r"nonmono.fits: .*not strictly increasing: pixel 3"):
        read_packed(path)
    del wave.header["BUNIT"]
    path = tmp_path / "nounit.fits"
    fits.HDUList([flux, wave]).writeto(path)
    with pytest.raises(DataError, match=r"nounit.fits\[WAVELENGTH\]: the wavelength grid has no unit"):
        read_packed(path)


def test_all_nan_spectrum_and_duplicate_ids(tmp_path):
    s = linear_set()
    path = write_packed(s, tmp_path / "spectra.fits")
    with fits.open(path) as hdul:
        hdul[0].data[2] = np.nan
        hdul.writeto(tmp_path / "nan.fits")
        hdul[0].data[2] = 1.0
        hdul["LABELS"].data["ID"][1] = "star000"
        hdul.writeto(tmp_path / "dup.fits")
    with pytest.raises(DataError, match=r"nan.fits: 1 spectra have no finite flux.*rows \[2\].*star002"):
        read_packed(tmp_path / "nan.fits")
    with pytest.raises(DataError, match=r"dup.fits: .*duplicate IDs.*star000"):
        read_packed(tmp_path / "dup.fits")


def test_single_foreign_1d_fits(tmp_path):
    """A 1-D spectrum with a linear WCS but no CTYPE1 (a MILES file) reads as one spectrum, air assumed."""
    hdu = fits.PrimaryHDU(np.linspace(1, 2, 20))
    hdu.header["CRVAL1"], hdu.header["CDELT1"], hdu.header["CRPIX1"] = 3540.5, 0.9, 1
    hdu.header["FWHM"] = 2.5
    hdu.writeto(tmp_path / "MILES_res2.50_star_m0001V.fits")
    with pytest.warns(DataWarning, match="assumed air"):
        s = read_spectra(tmp_path / "MILES_res2.50_star_m0001V.fits")
    assert len(s) == 1 and s.n_pixels == 20 and s.wave_frame == "air"
    assert s.wavelength[1] == 3541.4 * u.AA and s.meta["FWHM"] == 2.5 * u.AA


def test_memmap_read_maps_the_file_read_only_and_equals_the_loaded_read(tmp_path):
    spectra = loglin_set(n=7, n_pixels=40)
    path = write_packed(spectra, tmp_path / "s.fits")
    before = path.read_bytes()
    loaded, mapped = read_packed(path), read_packed(path, memmap=True)
    assert mapped.flux.dtype.str == ">f4" and not mapped.flux.flags.writeable
    assert not mapped.flux.flags.owndata and not mapped.ivar.flags.owndata and not mapped.mask.flags.owndata
    # the data are views of a memory map of the file, not copies in memory
    base = mapped.flux
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    assert type(base).__name__ == "mmap"
    np.testing.assert_array_equal(mapped.flux, loaded.flux)
    np.testing.assert_array_equal(mapped.ivar, loaded.ivar)
    np.testing.assert_array_equal(mapped.mask, loaded.mask)
    assert mapped.mask.dtype == bool
    with pytest.raises(ValueError, match="read-only"):
        mapped.flux[0, 0] = 1.0
    assert path.read_bytes() == before


@pytest.mark.parametrize("memmap", [True, False])
@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_memmap_read_of_a_truncated_store_is_one_data_error(tmp_path, memmap, keep):
    path = write_packed(linear_set(n=40, n_pixels=300), tmp_path / "s.fits")
    data = path.read_bytes()
    cut = tmp_path / "cut.fits"
    cut.write_bytes(data[: int(len(data) * keep) // 2880 * 2880 + 100])
    with pytest.raises(DataError, match=r"cut\.fits: (truncated|not a readable)") as info:
        read_packed(cut, memmap=memmap)
    assert "\n" not in str(info.value)
