"""SDSS and LAMOST readers on tiny files laid out like the real ones (layouts, joins, bad input).

The real files are read in tests/test_io_surveys_real.py."""

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.io import read_lamost, read_sdss, read_spectra


def sdss_file(path, loglam0=3.58, n=400, level=10.0, line_at=None, plate=266, fiber=1):
    loglam = loglam0 + 1e-4 * np.arange(n)
    wave = 10 ** loglam
    flux = np.full(n, level)
    if line_at is not None:
        flux -= 5.0 * np.exp(-0.5 * ((wave - line_at) / 2.0) ** 2)
    ivar = np.full(n, 4.0)
    and_mask = np.zeros(n, dtype=np.int32)
    and_mask[5] = 1 << 16
    cols = [fits.Column(name="flux", format="E", array=flux),
            fits.Column(name="loglam", format="E", array=loglam),
            fits.Column(name="ivar", format="E", array=ivar),
            fits.Column(name="and_mask", format="J", array=and_mask),
            fits.Column(name="or_mask", format="J", array=and_mask),
            fits.Column(name="wdisp", format="E", array=np.ones(n)),
            fits.Column(name="sky", format="E", array=np.zeros(n)),
            fits.Column(name="model", format="E", array=flux)]
    primary = fits.PrimaryHDU()
    primary.header["PLATEID"], primary.header["MJD"], primary.header["FIBERID"] = plate, 51602, fiber
    coadd = fits.BinTableHDU.from_columns(cols, name="COADD")
    fits.HDUList([primary, coadd]).writeto(path)
    return path


def lamost_image(path, obsid, coeff0=3.5682, n=300, level=100.0):
    wave = 10 ** (coeff0 + 1e-4 * np.arange(n))
    data = np.vstack([np.full(n, level), np.full(n, 0.01), wave, np.zeros(n), np.zeros(n)]).astype(np.float32)
    hdu = fits.PrimaryHDU(data)
    hdu.header["OBSID"] = obsid
    hdu.header["COEFF0"], hdu.header["COEFF1"] = coeff0, 1e-4
    hdu.header["CRVAL1"], hdu.header["CD1_1"] = coeff0, 1e-4
    hdu.header["VACUUM"] = True
    hdu.writeto(path)
    return path


def lamost_table(path, obsid, coeff0=3.5682, n=300, level=100.0):
    wave = 10 ** (coeff0 + 1e-4 * np.arange(n))
    primary = fits.PrimaryHDU()
    primary.header["OBSID"] = obsid
    cols = [fits.Column(name=name, format=f"{n}E", array=values[np.newaxis])
            for name, values in (("FLUX", np.full(n, level)), ("IVAR", np.full(n, 0.01)),
                                 ("WAVELENGTH", wave), ("ANDMASK", np.zeros(n)), ("ORMASK", np.zeros(n)),
                                 ("NORMALIZATION", np.ones(n)))]
    fits.HDUList([primary, fits.BinTableHDU.from_columns(cols, name="COADD")]).writeto(path)
    return path


def test_sdss_same_grid_no_resampling(tmp_path):
    paths = [sdss_file(tmp_path / f"spec-0266-51602-000{i}.fits", level=i + 1.0, fiber=i) for i in (1, 2)]
    before = [p.read_bytes() for p in paths]
    s = read_sdss(paths)
    assert [p.read_bytes() for p in paths] == before
    assert list(s.ids) == ["spec-0266-51602-0001", "spec-0266-51602-0002"]
    assert s.wave_frame == "vacuum"
    assert s.flux_unit == u.Unit("1e-17 erg / (s cm2 Angstrom)")
    np.testing.assert_allclose(s.wavelength[0].value, 10 ** np.float32(3.58), rtol=1e-6)
    # and_mask'ed pixel 5: NaN flux, zero ivar, masked
    assert s.mask[:, 5].all() and not s.mask[:, 6].any() and np.isnan(s.flux[:, 5]).all()
    np.testing.assert_array_equal(s.ivar[:, 6:], 4.0)
    assert (s.ivar[:, 5] == 0).all()
    assert s.meta["rest_frame"] is False and (s.labels["Z_SHIFT"] == 0).all()


def test_sdss_resampled_with_labels(tmp_path):
    sdss_file(tmp_path / "spec-0266-51602-0001.fits", loglam0=3.58, line_at=4000.0)
    sdss_file(tmp_path / "spec-0266-51602-0002.fits", loglam0=3.5805, line_at=4000.0)
    labels = tmp_path / "labels.csv"
    labels.write_text("specid,FEH,TEFF\nspec-0266-51602-0001,-0.5,5000\nspec-0266-51602-0002,0.1,6000\n"
                      "spec-9999-51602-0001,0.0,4000\n")
    with pytest.warns(DataWarning) as record:
        s = read_sdss(tmp_path, labels=labels, id_column="specid")
    text = " | ".join(str(w.message) for w in record)
    assert "1 rows have no spectrum and were not used: spec-9999-51602-0001" in text
    assert s.meta["ingest"]["labels"] == dict(matched=2, unmatched=0, unused=1, duplicated=0, key="FILE",
                                              id_column="specid")
    np.testing.assert_allclose(s.labels["FEH"], [-0.5, 0.1])
    # common grid inside the overlap, log-linear with the inputs' step
    assert s.wavelength[0].value > 10 ** 3.5805
    np.testing.assert_allclose(np.diff(np.log10(s.wavelength.value)), 1e-4, rtol=1e-6)
    # flux conserved: a flat continuum stays flat, the line keeps its equivalent width
    good = ~s.mask
    np.testing.assert_allclose(s.flux[0][good[0] & (np.abs(s.wavelength.value - 4000) > 30)], 10.0, rtol=1e-5)
    dl = np.gradient(s.wavelength.value)
    # only the output pixels touched by the and_mask'ed input pixel 5 are masked
    assert 1 <= s.mask.sum(axis=1).max() <= 2 and not s.mask[:, s.wavelength.value > 3850].any()
    ew = [np.sum(((1 - s.flux[i] / 10.0) * dl)[good[i]]) for i in range(2)]
    np.testing.assert_allclose(ew, 0.5 * 2.0 * np.sqrt(2 * np.pi), rtol=1e-3)
    assert (s.ivar[good] > 0).all()


def test_sdss_bad_input(tmp_path):
    path = sdss_file(tmp_path / "spec-0001-00001-0001.fits")
    with fits.open(path) as hdul:
        hdul["COADD"].data["flux"][:] = np.nan
        hdul.writeto(tmp_path / "spec-nan.fits")
        hdul["COADD"].data["flux"][:] = 1.0
        hdul["COADD"].data["loglam"][10] = hdul["COADD"].data["loglam"][9]
        hdul.writeto(tmp_path / "spec-flat.fits")
        cols = [c for c in hdul["COADD"].columns if c.name != "loglam"]
        fits.HDUList([hdul[0].copy(), fits.BinTableHDU.from_columns(cols, name="COADD")]).writeto(
            tmp_path / "spec-noaxis.fits")
    with pytest.raises(DataError, match=r"spec-nan.fits \(spectrum spec-nan\): no good pixel"):
        read_sdss([tmp_path / "spec-nan.fits"], on_error="fail")
    with pytest.raises(DataError, match=r"spec-flat.fits\[COADD\]: .*not strictly increasing: pixel 10"):
        read_sdss([tmp_path / "spec-flat.fits"])
    with pytest.raises(DataError, match=r"spec-noaxis.fits: not a spectrum format stelrel reads"):
        read_sdss([tmp_path / "spec-noaxis.fits"], on_error="fail")
    (tmp_path / "spec-text.fits").write_text("not fits")
    with pytest.raises(DataError, match="not a FITS file"):
        read_sdss([tmp_path / "spec-text.fits"])
    with pytest.warns(DataWarning, match="spectrum ID spec-0001-00001-0001 appears again"):
        assert len(read_sdss([path, path])) == 1


def test_lamost_both_layouts_and_labels(tmp_path):
    lamost_image(tmp_path / "spec-55859-F5902_sp01-001.fits", obsid=101001, level=100.0)
    lamost_table(tmp_path / "spec-new-layout.fits", obsid=202002, level=50.0)
    labels = Table({"obsid": ["101001", "202002"], "FEH": [-1.0, 0.2] * u.dex, "TEFF": [4800.0, 5900.0] * u.K})
    labels.write(tmp_path / "labels.ecsv")
    s = read_lamost(tmp_path, labels=tmp_path / "labels.ecsv", id_column="obsid")
    assert sorted(s.ids) == ["101001", "202002"]
    assert s.wave_frame == "vacuum" and s.n_pixels == 300
    row = {i: k for k, i in enumerate(s.ids)}
    np.testing.assert_allclose(s.flux[row["101001"]], 100.0)
    np.testing.assert_allclose(s.flux[row["202002"]], 50.0)
    assert s.labels["FEH"].unit == u.dex
    assert s["202002"].labels["TEFF"][0] == 5900.0


def test_lamost_different_grids_resampled_and_missing_labels(tmp_path):
    a = lamost_image(tmp_path / "a.fits", obsid=1, coeff0=3.5682)
    b = lamost_table(tmp_path / "b.fits", obsid=2, coeff0=3.5690, n=280)
    labels = Table({"ID": ["1"], "FEH": [0.0]})
    labels.write(tmp_path / "labels.fits")
    with pytest.warns(DataWarning) as record:
        s = read_lamost([a, b], labels=tmp_path / "labels.fits")
    text = " | ".join(str(w.message) for w in record)
    assert "1 of 2 spectra have no row (matched on OBSID); their labels are NaN: 2" in text
    assert np.isnan(s["2"].labels["FEH"][0])
    assert s.wavelength[0].value > 10 ** 3.5690
    np.testing.assert_allclose(s.flux[~s.mask], 100.0, rtol=1e-5)


def test_lamost_bad_layouts(tmp_path):
    bad = fits.PrimaryHDU(np.ones((2, 10)))
    bad.header["OBSID"] = 5
    bad.writeto(tmp_path / "short.fits")
    with pytest.raises(DataError, match=r"short.fits: not a spectrum format"):
        read_lamost([tmp_path / "short.fits"], on_error="fail")
    primary = fits.PrimaryHDU()
    primary.header["OBSID"] = 6
    cols = [fits.Column(name="FLUX", format="10E", array=np.ones((1, 10)))]
    fits.HDUList([primary, fits.BinTableHDU.from_columns(cols)]).writeto(tmp_path / "nowave.fits")
    with pytest.raises(DataError, match="nowave.fits: not a spectrum format"):
        read_lamost([tmp_path / "nowave.fits"], on_error="fail")


def test_read_spectra_sniffs_survey_files(tmp_path):
    sdss = sdss_file(tmp_path / "spec-0266-51602-0001.fits")
    assert read_spectra(sdss, rest_frame=False).meta["formats"] == ["SDSS-III/IV spec"]
    lam = lamost_image(tmp_path / "lamost.fits", obsid=7)
    assert read_spectra(lam, rest_frame=False).meta["formats"] == ["LAMOST-LRS"]
    lam2 = lamost_table(tmp_path / "lamost2.fits", obsid=8)
    assert list(read_spectra(lam2, rest_frame=False).ids) == ["8"]
    # no redshift in these files: the rest frame cannot be reached, and the message says what to do
    with pytest.raises(DataError, match="no redshift in the file .*see rv_column, rest_frame"):
        read_spectra(lam2)
