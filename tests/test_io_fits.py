"""FITS details shared by the readers: the spectral axis through astropy.wcs, damaged files, header cards."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning

from stellar_relevance import SpectralSet
from stellar_relevance.exceptions import DataError
from stellar_relevance.io import read_miles, read_packed, read_spectra, write_packed
from stellar_relevance.io._common import linear_grid

MILES = Path(os.environ.get("STELREL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "miles"
MILES_FILE = MILES / "MILES_res2.50_star_m0001V.fits"


def flux_image(path, **cards):
    hdu = fits.PrimaryHDU(np.ones((2, 6)))
    for key, value in cards.items():
        hdu.header[key.replace("_", "-") if key == "DC_FLAG" else key] = value
    hdu.writeto(path)
    return path


def test_wave_log_is_paper_iii_natural_log(tmp_path):
    # FITS WCS Paper III: lambda = CRVAL * exp(CDELT * (p - CRPIX) / CRVAL), CRVAL in wavelength units.
    # The old reader took it as 10**(CRVAL + CDELT * p): an infinite grid.
    path = flux_image(tmp_path / "log.fits", CTYPE1="WAVE-LOG", CUNIT1="Angstrom", CRVAL1=5000.0,
                      CDELT1=0.5, CRPIX1=1.0)
    s = read_packed(path)
    expected = 5000.0 * np.exp(0.5 * np.arange(6) / 5000.0)
    np.testing.assert_allclose(s.wavelength.to_value(u.AA), expected, rtol=1e-12)
    assert s.wave_frame == "vacuum"


def test_awav_log_with_cd_and_crpix(tmp_path):
    path = flux_image(tmp_path / "alog.fits", CTYPE1="AWAV-LOG", CUNIT1="nm", CRVAL1=500.0, CD1_1=0.05,
                      CRPIX1=3.0)
    s = read_packed(path)
    expected = 500.0 * np.exp(0.05 * (np.arange(6) + 1 - 3.0) / 500.0)
    np.testing.assert_allclose(s.wavelength.to_value(u.nm), expected, rtol=1e-12)
    assert s.wavelength.unit == u.nm and s.wave_frame == "air"


def test_iraf_dc_flag_is_log10(tmp_path):
    # LAMOST / SDSS-I convention: CRVAL1 = log10(lambda_0), DC-FLAG = 1, CTYPE1 without an algorithm code
    header = fits.Header({"CTYPE1": "LINEAR", "CRVAL1": 3.5682, "CD1_1": 1e-4, "CRPIX1": 1, "DC-FLAG": 1})
    wave, info = linear_grid(header, 5, "x")
    np.testing.assert_allclose(wave.to_value(u.AA), 10 ** (3.5682 + 1e-4 * np.arange(5)), rtol=1e-14)
    assert info["log"] and "DC-FLAG" in info["convention"]


def test_linear_wave_axis_reads_back_bit_for_bit(tmp_path):
    wave = (3540.5 + 0.9 * np.arange(4300)) * u.AA
    s = SpectralSet(wave, np.ones((2, 4300)), wave_frame="vacuum")
    path = write_packed(s, tmp_path / "lin.fits")
    with fits.open(path) as hdul:
        assert hdul[0].header["CTYPE1"] == "WAVE" and "WAVELENGTH" not in hdul
    np.testing.assert_array_equal(read_packed(path).wavelength.value, wave.value)


def test_bad_spectral_axis_is_one_error(tmp_path):
    path = flux_image(tmp_path / "bad.fits", CTYPE1="WAVE-LOG", CUNIT1="Angstrom", CRVAL1=0.0, CDELT1=1.0)
    with pytest.raises(DataError, match=r"bad.fits\[PRIMARY\]: the spectral axis \(CTYPE1 = 'WAVE-LOG'\)"):
        read_packed(path)


@pytest.mark.skipif(not MILES_FILE.is_file(), reason=f"real MILES data not found at {MILES}")
def test_real_miles_grid_unchanged():
    header = fits.getheader(MILES_FILE)
    wave, info = linear_grid(header, header["NAXIS1"], str(MILES_FILE))
    assert wave.size == 4300 and wave.unit == u.AA
    # what the hand-written parser gave: CRVAL1 + CDELT1 * (i + 1 - CRPIX1), bit for bit
    old = header["CRVAL1"] + header["CDELT1"] * (np.arange(4300, dtype=float) + 1.0 - header.get("CRPIX1", 1.0))
    np.testing.assert_array_equal(wave.value, old)


# ------------------------------------------------------------- damaged files
def packed_file(tmp_path):
    s = SpectralSet((4000.0 + np.arange(300)) * u.AA, np.ones((4, 300)), wave_frame="vacuum")
    return write_packed(s, tmp_path / "packed.fits")


def test_truncated_packed_file_names_file(tmp_path):
    data = packed_file(tmp_path).read_bytes()
    cut = tmp_path / "cut.fits"
    cut.write_bytes(data[: len(data) - 5000])
    with pytest.raises(DataError, match=r"cut.fits: truncated or damaged") as info:
        read_spectra(cut)
    assert "reshape" not in str(info.value)
    assert cut.read_bytes() == data[: len(data) - 5000]


@pytest.mark.skipif(not MILES_FILE.is_file(), reason=f"real MILES data not found at {MILES}")
def test_truncated_miles_spectrum(tmp_path):
    data = MILES_FILE.read_bytes()
    cut = tmp_path / "m0001.fits"
    cut.write_bytes(data[: len(data) // 2])  # one DataError naming the file, not numpy's "cannot reshape array ..."
    with pytest.raises(DataError) as info:
        read_spectra(cut)
    text = str(info.value)
    assert text.startswith(str(cut)) and "truncated" in text and "reshape" not in text


def test_truncated_gzip(tmp_path):
    import gzip

    data = gzip.compress(packed_file(tmp_path).read_bytes())
    cut = tmp_path / "cut.fits.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut.fits.gz: "):
        read_spectra(cut)


def test_bad_tform_is_one_line(tmp_path):
    raw = bytearray(packed_file(tmp_path).read_bytes())
    at = raw.find(b"TFORM1  = ")
    raw[at + 11: at + 14] = b"QQQ"
    bad = tmp_path / "badtform.fits"
    bad.write_bytes(bytes(raw))
    with pytest.raises(DataError) as info:
        read_packed(bad)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{bad}[LABELS]: column 1 ('ID') has TFORM1 = 'QQQ'")


def test_write_packed_never_truncates_a_comment(tmp_path):
    # a meta dict whose JSON fits one card but not with its comment made astropy warn
    # "Card is too long, comment will be truncated" (VerifyWarning)
    wave = (4000.0 + np.arange(10)) * u.AA
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in range(0, 40):
            s = SpectralSet(wave, np.ones((2, 10)), meta={"a": "x" * n})
            path = write_packed(s, tmp_path / "p.fits", overwrite=True)
            assert read_packed(path).meta["a"] == "x" * n
    assert not [w for w in caught if issubclass(w.category, VerifyWarning)]


@pytest.mark.skipif(not (MILES / "MILES_params.db").is_file(), reason=f"real MILES data not found at {MILES}")
def test_subset_folder_one_summary_line(tmp_path):
    for number in range(1, 41):
        name = f"MILES_res2.50_star_m{number:04d}V.fits"
        (tmp_path / name).symlink_to(MILES / name)
    (tmp_path / "MILES_params.db").symlink_to(MILES / "MILES_params.db")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = read_miles(tmp_path)
    assert len(s) == 40
    orphan = [str(w.message) for w in caught if "parameter rows have no spectrum" in str(w.message)
              or "have no spectrum in" in str(w.message)]
    assert len(orphan) == 1
    assert "parameter rows have no spectrum in" in orphan[0] and "were ignored" in orphan[0]
    assert "line" not in orphan[0] and len(orphan[0]) < 200, orphan[0]
