"""Many LAMOST-layout files (made from the real ones) to one packed file; bad inputs of a many-file pack."""

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from stellar_relevance.exceptions import DataError, DataWarning, ParameterError
from stellar_relevance.io import pack_spectra, read_packed, read_spectra

SURVEYS = Path(os.environ.get("STELREL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "surveys"
REAL = [SURVEYS / "spec-58397-EG014118N254444M01_sp03-031.fits",
        SURVEYS / "spec-57287-KP193637N444141V03_sp10-161.fits.gz"]
SDSS = SURVEYS / "spec-0266-51602-0031.fits"
pytestmark = pytest.mark.skipif(not all(p.is_file() for p in REAL),
                                reason=f"real LAMOST files not found in {SURVEYS}")
N_FILES = 300


def make_files(folder, n, seed=0):
    """``n`` LAMOST DR6/DR7-layout files from the real ones: OBSID, Z and flux perturbed."""
    rng = np.random.default_rng(seed)
    folder.mkdir(exist_ok=True)
    sources = []
    for path in REAL:
        with fits.open(path) as hdul:
            sources.append((hdul[0].data.copy(), hdul[0].header.copy()))
    out = []
    for i in range(n):
        data, header = sources[i % 2]
        data = data.copy()
        data[0] = data[0] * (1 + 0.01 * rng.standard_normal(data.shape[1])).astype(np.float32)
        header = header.copy()
        header["OBSID"] = 900000000 + i
        header["Z"] = float(rng.uniform(-3e-4, 3e-4))
        path = folder / f"spec-{i:05d}.fits"
        fits.PrimaryHDU(data, header).writeto(path)
        out.append(path)
    return out


def digest(paths):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    root = tmp_path_factory.mktemp("lamost")
    files = make_files(root / "spectra", N_FILES)
    ids = [str(900000000 + i) for i in range(N_FILES)]
    missing = set(ids[5:15])
    rows = [(i, 4000.0 + k, -1.0 + 0.001 * k) for k, i in enumerate(ids) if i not in missing]
    rows.append(rows[3])  # one ID twice, same labels
    rows += [("123", 5000.0, 0.0), ("456", 5100.0, 0.1)]  # rows without a spectrum
    table = Table(rows=rows, names=("obsid", "TEFF", "FEH"))
    table.write(root / "labels.csv")
    return root, files, ids, sorted(missing)


def test_pack_several_hundred_files(survey, tmp_path):
    root, files, ids, missing = survey
    before = digest(files[:20])
    with pytest.warns(DataWarning) as record:
        meta = pack_spectra(root / "spectra", tmp_path / "train.fits", labels=root / "labels.csv",
                            id_column="obsid", jobs=2)
    text = " | ".join(str(w.message) for w in record)
    assert digest(files[:20]) == before
    assert f"10 of {N_FILES} spectra have no row (matched on OBSID); their labels are NaN: {missing[0]}" in text
    assert "1 IDs are on more than one row with the same labels; the first row is used: 900000003" in text
    assert "2 rows have no spectrum and were not used: 123, 456" in text
    counts = meta["ingest"]["labels"]
    assert counts == dict(matched=N_FILES - 10, unmatched=10, unused=2, duplicated=1, key="OBSID",
                          id_column="obsid")
    packed = read_packed(tmp_path / "train.fits")
    assert len(packed) == N_FILES and list(packed.ids) == ids
    assert packed.meta["ingest"]["labels"] == counts and packed.meta["rest_frame"] is True
    assert np.isnan(packed.labels["TEFF"][5:15]).all() and np.isfinite(packed.labels["TEFF"][15:]).all()
    headers_z = [fits.getheader(f)["Z"] for f in files]
    np.testing.assert_array_equal(packed.labels["Z_SHIFT"], headers_z)
    # the chunked file holds what read_spectra gives for the same files on the same grid
    some = read_spectra(files[:3], grid=packed.wavelength, jobs=1)
    np.testing.assert_array_equal(some.flux, packed.flux[:3])
    np.testing.assert_array_equal(some.ivar, packed.ivar[:3])
    assert (packed.mask == ~np.isfinite(packed.flux)).all()
    # one process or two: the same numbers
    pack_spectra(files[:40], tmp_path / "one.fits", labels=root / "labels.csv", id_column="obsid", jobs=1)
    one = read_packed(tmp_path / "one.fits")
    two = read_packed(tmp_path / "train.fits")
    sub = read_spectra(files[:40], labels=root / "labels.csv", id_column="obsid", jobs=2)
    np.testing.assert_array_equal(one.flux, sub.flux)
    assert two.flux.dtype == np.float32
    assert not list(tmp_path.glob(".train.fits.*"))  # no scratch files left


def test_inputs_as_glob_list_and_folder(survey, tmp_path):
    root, files, ids, _ = survey
    listing = tmp_path / "list.txt"
    listing.write_text("# three files\n" + "\n".join(str(f) for f in files[:3]) + "\n")
    by_list = read_spectra(f"@{listing}", rest_frame=False)
    by_glob = read_spectra(str(root / "spectra" / "spec-0000[0-2].fits"), rest_frame=False)
    assert list(by_list.ids) == list(by_glob.ids) == ids[:3]
    np.testing.assert_array_equal(by_list.flux, by_glob.flux)


def copy_files(survey, tmp_path, n=4):
    folder = tmp_path / "in"
    folder.mkdir()
    for f in survey[1][:n]:
        shutil.copy(f, folder / f.name)
    return folder


@pytest.mark.skipif(not SDSS.is_file(), reason=f"real SDSS file not found: {SDSS}")
def test_file_of_another_survey(survey, tmp_path):
    folder = copy_files(survey, tmp_path)
    shutil.copy(SDSS, folder / ("zz-" + SDSS.name))
    with pytest.warns(DataWarning, match=r"1 unreadable files or spectra were skipped: .*zz-spec-0266-51602-0031"
                                         r".fits: a SDSS-III/IV spec file among LAMOST files"):
        s = read_spectra(folder)
    assert len(s) == 4 and s.meta["ingest"]["skipped"] == 1
    with pytest.raises(DataError, match=r"zz-spec-0266-51602-0031.fits: a SDSS-III/IV spec file among LAMOST"):
        pack_spectra(folder, tmp_path / "out.fits", on_error="fail")
    assert not (tmp_path / "out.fits").exists() and not list(tmp_path.glob(".out.fits.*"))


def test_truncated_gzip(survey, tmp_path):
    folder = copy_files(survey, tmp_path)
    data = gzip.compress(survey[1][0].read_bytes())
    (folder / "cut.fits.gz").write_bytes(data[: len(data) // 2])
    before = digest(sorted(folder.iterdir()))
    with pytest.warns(DataWarning, match=r"cut.fits.gz: (truncated|not a readable)"):
        assert len(read_spectra(folder)) == 4
    with pytest.raises(DataError, match=r"cut.fits.gz: (truncated|not a readable)"):
        read_spectra(folder, on_error="fail")
    assert digest(sorted(folder.iterdir())) == before


def test_all_zero_ivar(survey, tmp_path):
    with fits.open(survey[1][0]) as hdul:
        hdul[0].data[1] = 0
        hdul.writeto(tmp_path / "zero.fits")
    with pytest.raises(DataError, match=r"zero.fits.*no good pixel \(the inverse variance is zero everywhere\)"):
        read_spectra(tmp_path / "zero.fits")


def test_labels_that_match_nothing_list_both_sides(survey, tmp_path):
    Table({"obsid": ["1", "2"], "FEH": [0.0, 0.1]}).write(tmp_path / "l.csv")
    with pytest.raises(DataError, match=r"no spectrum matches a row of column 'obsid': spectra have IDs "
                                        r"900000000, 900000001.*the table has 1, 2"):
        read_spectra(survey[1][:2], labels=tmp_path / "l.csv", id_column="obsid")


def test_conflicting_duplicated_label_ids(survey, tmp_path):
    Table({"OBSID": ["900000000", "900000000"], "FEH": [0.0, 0.5]}).write(tmp_path / "l.csv")
    with pytest.raises(DataError, match=r"ID '900000000' is on rows 1 and 2 .* with different labels"):
        read_spectra(survey[1][:2], labels=tmp_path / "l.csv")


def test_grid_outside_the_data(survey):
    with pytest.raises(DataError, match=r"no good pixel on the grid 10000.0-11000.0 Angstrom \(the data cover"):
        read_spectra(survey[1][:2], grid="10000:11000:1", on_error="fail")


def test_air_and_vacuum_mixed(survey, tmp_path):
    folder = copy_files(survey, tmp_path, n=2)
    with fits.open(survey[1][2]) as hdul:
        hdul[0].header["VACUUM"] = False
        hdul.writeto(folder / "spec-air.fits")
    with pytest.raises(DataError, match=r"spec-air.fits: wavelengths in air, the files before it in vacuum"):
        pack_spectra(folder, tmp_path / "out.fits")
    assert not (tmp_path / "out.fits").exists()


def test_rv_column_overrides_header_z(survey, tmp_path):
    files = survey[1][:2]
    Table({"OBSID": ["900000000", "900000001"], "RV": [30.0, -60.0]}).write(tmp_path / "rv.ecsv")
    s = read_spectra(files, labels=tmp_path / "rv.ecsv", rv_column="RV")
    np.testing.assert_allclose(s.labels["Z_SHIFT"], np.array([30.0, -60.0]) / 299792.458)
    with pytest.raises(ParameterError, match="rv_column needs a label table"):
        read_spectra(files, rv_column="RV")


def test_bad_options(survey, tmp_path):
    with pytest.raises(ParameterError, match="on_error must be 'skip' or 'fail'"):
        read_spectra(survey[1][:2], on_error="ignore")
    with pytest.raises(ParameterError, match="jobs must be a positive integer"):
        read_spectra(survey[1][:2], jobs=0)
    (tmp_path / "out.fits").write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        pack_spectra(survey[1][:2], tmp_path / "out.fits")
    assert (tmp_path / "out.fits").read_bytes() == b"keep"
