"""MILES reader: every quirk of the distributed files, on tiny copies and on the real library."""

import hashlib
import os
import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits

from stellar_relevance.io import data_paths as _paths
from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.io import load_miles, read_miles, read_miles_params, read_spectra

HEADER = [
    "Name                  MILES   CaT   SpT            Teff   log g   [Fe/H]  Refs   Libraries",
    "                      s????   ",
    " - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - --",
]
N_PIX = 50


def param_line(name, number, spt, teff, logg, feh, cluster=False, cat=""):
    """One line laid out like paramsMILES_v9.1.txt (values right-aligned under their titles)."""
    line = [" "] * 94

    def put(start, text):
        line[start:start + len(text)] = list(text)

    put(0, name)
    if cluster:
        put(18, "Cl")
    put(23, number)
    put(30, cat)
    put(36, spt)
    put(56 - len(teff), teff)
    put(63 - len(logg), logg)
    put(72 - len(feh), feh)
    put(74, "333")
    return "".join(line)


def write_star(path, value=1.0, crval=3540.5, cdelt=0.9, n=N_PIX, zeros_at_end=0, fwhm=2.5, cunit=None):
    flux = value + 0.01 * np.arange(n, dtype=float)
    if zeros_at_end:
        flux[-zeros_at_end:] = 0.0
    hdu = fits.PrimaryHDU(flux)
    hdu.header["FWHM"] = fwhm
    hdu.header["CRPIX1"] = 1
    hdu.header["CRVAL1"] = crval
    hdu.header["CDELT1"] = cdelt
    if cunit:
        hdu.header["CUNIT1"] = cunit
    hdu.writeto(path)


def star(folder, number, **kwargs):
    path = folder / f"MILES_res2.50_star_m{number:04d}V.fits"
    write_star(path, value=float(number), **kwargs)
    return path


@pytest.fixture
def tiny_miles(tmp_path):
    folder = tmp_path / "miles"
    folder.mkdir()
    for number in (1, 2, 3, 4, 5):
        star(folder, number)
    star(folder, 6, crval=3541.0)  # another grid
    star(folder, 8, zeros_at_end=3)  # zero padding at the red end
    (folder / "omit").mkdir()
    star(folder / "omit", 7)
    write_star(folder / "notes.fits")
    lines = HEADER + [
        param_line("HD000001", "0001", "G5V", "5000", "4.50", "-0.10"),
        param_line("HD000002", "0002", "K0III", "4500", "2.00", "--"),
        param_line("HD044691A", "000.", "A3m", "7950", "3.95", "0.35"),
        param_line("NGC 7789 765(804)", "0004", "", "4578", "1.76", "-0.13", cluster=True),
        param_line("HD000005", "0005", "B5Ia", "13800", "2.44", "0.00"),
        param_line("HD000006", "0006", "F0", "6000", "4.00", "0.10"),
        param_line("HD000007", "0007", "F0", "6100", "4.00", "0.20"),
        param_line("HD000008", "0008", "M4III", "3500", "0.60", "0.05"),
        param_line("HD000009", "0009", "K0", "--", "--", "--"),
    ]
    (folder / "paramsMILES_v9.1.txt").write_text("\n".join(lines) + "\n")
    return folder


def digest(folder):
    return {p: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def messages(record):
    return [str(w.message) for w in record if issubclass(w.category, DataWarning)]


def test_fixed_width_parameter_table(tiny_miles):
    with pytest.warns(DataWarning) as record:
        params = read_miles_params(tiny_miles / "paramsMILES_v9.1.txt")
    assert len(params) == 9
    cluster = params[params["MILES"] == 4][0]
    assert cluster["NAME"] == "NGC 7789 765(804)" and cluster["CLUSTER"]
    assert cluster["TEFF"] == 4578 and cluster["FEH"] == -0.13
    hot = params[params["MILES"] == 5][0]
    assert hot["TEFF"] == 13800 and hot["SPT"] == "B5Ia"
    assert params["TEFF"].unit == u.K and params["FEH"].unit == u.dex
    assert params["LOGG"].unit == u.dex(u.cm / u.s ** 2)
    bad = params[params["MILES_RAW"] == "000."][0]
    assert bad["MILES"] == -1 and bad["LINE"] == 6
    text = " | ".join(messages(record))
    assert "2 stars have no [Fe/H]" in text and "line 5 (HD000002, MILES 0002)" in text
    assert "1 stars have no Teff" in text and "line 12 (HD000009, MILES 0009)" in text


def test_read_tiny_folder_warns_every_quirk(tiny_miles):
    before = digest(tiny_miles)
    with pytest.warns(DataWarning) as record:
        s = read_miles(tiny_miles)
    assert digest(tiny_miles) == before  # inputs never modified
    text = messages(record)
    joined = " | ".join(text)
    assert "omit/MILES_res2.50_star_m0007V.fits" in joined and "excluded" in joined
    assert "MILES_res2.50_star_m0006V.fits: grid" in joined and "3541.0" in joined
    assert "notes.fits" in joined and "skipped" in joined
    assert "line 6 (HD044691A): malformed MILES number '000.'; assigned to 0003" in joined
    assert "MILES_res2.50_star_m0008V.fits (3 px)" in joined
    assert "no spectrum loaded" in joined and "0009 (line 12, HD000009)" in joined
    assert "0006 (line 9, HD000006)" in joined and "0007 (line 10, HD000007)" in joined

    assert list(s.ids) == ["m0001", "m0002", "m0003", "m0004", "m0005", "m0008"]
    assert s.wave_frame == "air"
    assert s.n_pixels == N_PIX
    assert u.allclose(s.wavelength[[0, -1]], [3540.5, 3540.5 + 0.9 * (N_PIX - 1)] * u.AA)
    assert s.meta["FWHM"] == 2.5 * u.AA
    m3 = s["m0003"].labels[0]
    assert m3["NAME"] == "HD044691A" and m3["TEFF"] == 7950
    np.testing.assert_allclose(s["m0002"].flux[0], 2.0 + 0.01 * np.arange(N_PIX))
    assert s.mask is not None and s["m0008"].mask[0, -3:].all() and not s["m0008"].mask[0, :-3].any()
    assert s["m0004"].labels["CLUSTER"][0]
    counts = s.meta["counts"]
    assert counts["spectra"] == 6 and counts["with_feh"] == 5 and counts["with_params"] == 6
    assert counts["param_rows"] == 9
    assert counts["params_without_spectra"] == 3
    # warned lines: '--' (0002, 0009), malformed (000.), no spectrum (0006, 0007, 0009)
    assert counts["warned_rows"] == 5
    assert s.meta["warnings"] == text
    X, y = s.with_label("FEH").to_xy("FEH")
    assert X.shape == (5, N_PIX) and np.all(np.isfinite(y))


def test_include_omitted(tiny_miles):
    with pytest.warns(DataWarning) as record:
        s = read_miles(tiny_miles, include_omitted=True)
    assert any("including 1 spectra" in m for m in messages(record))
    assert "m0007" in s.ids
    assert s["m0007"].labels["FILE"][0] == os.path.join("omit", "MILES_res2.50_star_m0007V.fits")


def test_ambiguous_malformed_number_is_dropped(tmp_path):
    for number in (1, 2, 3):
        star(tmp_path, number)
    lines = HEADER + [param_line("HD1", "0001", "G", "5000", "4.0", "0.0"),
                      param_line("HDX", "00..", "G", "5100", "4.1", "0.1")]
    (tmp_path / "paramsMILES_v9.1.txt").write_text("\n".join(lines))
    with pytest.warns(DataWarning) as record:
        s = read_miles(tmp_path)
    joined = " | ".join(messages(record))
    assert "line 5 (HDX): malformed MILES number '00..'; no unique star fits it (candidates [2, 3])" in joined
    assert "2 spectra have no parameter row" in joined
    assert np.isnan(s["m0002"].labels["TEFF"][0])


def test_reduced_db_sentinels(tmp_path):
    for number in (1, 2, 3):
        star(tmp_path, number)
    (tmp_path / "MILES_params.db").write_text(
        "#MILES  Teff  log g   [Fe/H]\n#s????   \n# - - - - \n"
        "  0001  5000   4.50    -0.10\n  0002 99999   9999     9999\n  0003  4500   2.00     9999\n")
    with pytest.warns(DataWarning) as record:
        s = read_miles(tmp_path)
    joined = " | ".join(messages(record))
    assert "2 stars have the missing-value sentinel 9999 for [Fe/H]" in joined
    assert "line 5 (MILES 0002)" in joined and "line 6 (MILES 0003)" in joined
    assert "sentinel 99999 for Teff" in joined
    assert np.isnan(s["m0002"].labels["TEFF"][0]) and np.isnan(s["m0003"].labels["FEH"][0])
    assert s["m0003"].labels["TEFF"][0] == 4500
    assert len(s.with_label("FEH")) == 1


def test_official_naming_and_grid_from_header(tmp_path):
    for number in (1, 2):
        write_star(tmp_path / f"s{number:04d}.fits", value=number, crval=3525.0, cdelt=0.9,
                   cunit="Angstrom")
    (tmp_path / "MILES_params.db").write_text(
        "#MILES  Teff  log g   [Fe/H]\n  0001  5000   4.50    -0.10\n  0002  4000   1.50     0.20\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        s = read_miles(tmp_path)
    assert list(s.ids) == ["m0001", "m0002"]
    assert s.wavelength[0] == 3525.0 * u.AA
    assert s.labels["FILE"][1] == "s0002.fits"


def test_bad_folders(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        read_miles(tmp_path / "absent")
    star(tmp_path, 1)
    with pytest.raises(DataError, match="no MILES parameter table"):
        read_miles(tmp_path)
    (tmp_path / "paramsMILES_v9.1.txt").write_text("this is not the table\n")
    with pytest.raises(DataError, match="not a MILES parameter table"):
        read_miles(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "MILES_params.db").write_text("#MILES\n")
    with pytest.raises(DataError, match="no MILES spectra"):
        read_miles(empty)


def test_load_miles_search_order(tiny_miles, monkeypatch):
    monkeypatch.setenv(_paths.MILES_ENV, str(tiny_miles))
    with pytest.warns(DataWarning):
        s = load_miles()
    assert len(s) == 6
    monkeypatch.delenv(_paths.MILES_ENV)
    monkeypatch.setattr(_paths, "mangadap_miles_dir", lambda: tiny_miles)
    with pytest.warns(DataWarning):
        assert len(load_miles()) == 6
    monkeypatch.setattr(_paths, "mangadap_miles_dir", lambda: None)
    with pytest.raises(DataError, match=r"pip install --no-deps sdss-mangadap.*|STELREL_MILES_DIR"):
        load_miles()
    monkeypatch.setenv(_paths.MILES_ENV, str(tiny_miles / "nowhere"))
    with pytest.raises(DataError, match="no such folder"):
        load_miles()


def test_read_spectra_dispatches_folder(tiny_miles):
    with pytest.warns(DataWarning):
        assert len(read_spectra(tiny_miles)) == 6


# ---------------------------------------------------------------- real data
def test_real_miles_counts_and_warnings(miles_dir):
    with pytest.warns(DataWarning) as record:
        s = read_miles(miles_dir)
    text = messages(record)
    joined = " | ".join(text)
    counts = s.meta["counts"]
    # 985 stars in paramsMILES_v9.1.txt, 984 files in the folder (+1 in omit/)
    assert len(s) == 984 and counts["spectra"] == 984 and counts["files"] == 984
    assert counts["param_rows"] == 985
    assert counts["with_params"] == 984
    assert counts["with_teff"] == 981 and counts["with_logg"] == 981
    assert counts["with_feh"] == 945 == len(s.with_label("FEH"))
    assert counts["warned_rows"] == 41
    assert counts["params_without_spectra"] == 1 and counts["spectra_without_params"] == 0
    assert len(text) == 7
    assert "omit/MILES_res2.50_star_m0970V.fits" in joined
    assert "line 254 (HD044691A): malformed MILES number '022.'; assigned to 0221" in joined
    assert "0970 (line 959, M71 X)" in joined
    assert "39 stars have no [Fe/H]" in joined and "3 stars have no Teff" in joined
    assert "MILES_res2.50_star_m0742V.fits (3 px)" in joined
    # grid from the headers; labels with units
    assert s.n_pixels == 4300 and s.wavelength[0] == 3540.5 * u.AA
    assert u.isclose(s.wavelength[-1], 7409.6 * u.AA)
    assert s.meta["FWHM"] == 2.5 * u.AA and s.wave_frame == "air"
    assert s.labels["FEH"].unit == u.dex and s.labels["TEFF"].unit == u.K
    row = s["m0221"].labels[0]
    assert row["NAME"] == "HD044691A" and row["TEFF"] == 7950 and row["FEH"] == 0.35
    cluster = s["m0981"].labels[0]
    assert cluster["NAME"] == "NGC 7789 765(804)" and cluster["CLUSTER"] and cluster["FEH"] == -0.13
    assert s["m0272"].labels["NAME"][0] == "BD+002058A"
    assert s.flux.shape == (984, 4300) and np.isfinite(s.flux).all()


def test_real_reduced_table_agrees(miles_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        full = read_miles(miles_dir)
        reduced = read_miles(miles_dir, params=miles_dir / "MILES_params.db")
    assert reduced.meta["counts"]["with_feh"] == full.meta["counts"]["with_feh"]
    for name in ("TEFF", "LOGG", "FEH"):
        np.testing.assert_array_equal(np.asarray(reduced.labels[name]), np.asarray(full.labels[name]))


def test_unreadable_and_gridless_files_are_skipped(tmp_path):
    for number in (1, 2):
        star(tmp_path, number)
    (tmp_path / "MILES_res2.50_star_m0003V.fits").write_text("not a FITS file at all")
    fits.PrimaryHDU(np.ones(N_PIX)).writeto(tmp_path / "MILES_res2.50_star_m0004V.fits")  # no CRVAL1
    fits.PrimaryHDU(np.ones((2, N_PIX))).writeto(tmp_path / "s0005.fits")  # 2-D
    (tmp_path / "MILES_params.db").write_text(
        "#MILES  Teff  log g   [Fe/H]\n  0001  5000   4.50    -0.10\n  0002  4000   1.50     0.20\n")
    with pytest.warns(DataWarning) as record:
        s = read_miles(tmp_path)
    joined = " | ".join(messages(record))
    assert "MILES_res2.50_star_m0003V.fits: not a FITS file" in joined
    assert "MILES_res2.50_star_m0004V.fits: no wavelength grid in the header (CRVAL1/CDELT1); skipped" in joined
    assert "s0005.fits: primary HDU holds (2, 50), not a 1-D spectrum; skipped" in joined
    assert list(s.ids) == ["m0001", "m0002"]


def test_duplicate_parameter_rows_keep_the_first(tmp_path):
    for number in (1, 2):
        star(tmp_path, number)
    (tmp_path / "MILES_params.db").write_text(
        "#MILES  Teff  log g   [Fe/H]\n  0001  5000   4.50    -0.10\n  0002  4000   1.50     0.20\n"
        "  0001  5100   4.40    -0.20\n")
    with pytest.warns(DataWarning, match=r"more than one line; the first line is used: 0001 \(lines \[2, 4\]\)"):
        s = read_miles(tmp_path)
    assert s["m0001"].labels["TEFF"][0] == 5000
    assert s.meta["counts"]["warned_rows"] == 1
