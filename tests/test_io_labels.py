"""Label tables: formats, ID column checks."""

import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table

from stellar_relevance.exceptions import DataError
from stellar_relevance.io import read_labels


def test_csv_keeps_leading_zeros(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("MILES,FEH\n0272,-1.44\n0081,-0.90\n")
    t = read_labels(path, id_column="MILES")
    assert list(t["ID"]) == ["0272", "0081"]
    assert t.colnames == ["ID", "FEH"]
    np.testing.assert_allclose(t["FEH"], [-1.44, -0.90])


def test_ecsv_and_fits_keep_units(tmp_path):
    table = Table({"ID": ["a", "b"], "TEFF": [5000.0, 6000.0] * u.K, "FEH": [0.0, -1.0] * u.dex})
    table.write(tmp_path / "labels.ecsv")
    t = read_labels(tmp_path / "labels.ecsv")
    assert t["TEFF"].unit == u.K and t["FEH"].unit == u.dex
    table[["ID", "TEFF"]].write(tmp_path / "labels.fits")
    t = read_labels(tmp_path / "labels.fits")
    assert t["TEFF"].unit == u.K and list(t["ID"]) == ["a", "b"]


def test_bad_label_tables(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("NAME,FEH\na,1\nb,2\n")
    with pytest.raises(DataError, match=r"labels.csv: the label table has no 'ID' column \(columns: NAME, FEH\)"):
        read_labels(path)
    path.write_text("ID,FEH\na,1\nb,2\na,3\n")
    with pytest.raises(DataError, match=r"labels.csv: duplicate IDs in column 'ID': \{'a': \[0, 2\]\}"):
        read_labels(path)
    with pytest.raises(DataError, match="no such file"):
        read_labels(tmp_path / "absent.csv")
    path.write_bytes(b"\x00\x01garbage")
    bad = tmp_path / "labels.fits"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(DataError, match="cannot read a label table"):
        read_labels(bad)
