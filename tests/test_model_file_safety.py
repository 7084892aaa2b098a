"""A model file is never a way to run code: pickles (version 1, crafted ones) and foreign classes are refused, and
corrupt or truncated files get one line naming them."""

import io
import json
import pickle
import zipfile

import astropy.units as u
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from stellar_relevance.cli.main import cli
from stellar_relevance.estimators import SpectralRelevanceRegressor
from stellar_relevance.exceptions import DataError, ParameterError, StelrelError
from stellar_relevance.io import write_packed
from stellar_relevance.report.model_file import load_model, model_grid, model_payload, write_model
from stellar_relevance.spectra import SpectralSet

torch.set_num_threads(1)
WAVE = np.arange(5000.0, 5006.0) * u.AA


class Payload:
    """Unpickling this runs ``open(marker, "w")``: the file appears exactly when code from the model ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def fitted():
    X = np.random.default_rng(0).normal(size=(40, WAVE.size))
    return SpectralRelevanceRegressor((4,), max_epochs=2, random_state=0).fit(X, X[:, 0])


@pytest.fixture()
def good(fitted, tmp_path):
    return write_model(tmp_path / "model.pt", model_payload([fitted], {"label": "FEH", "wave_frame": "air"}, WAVE,
                                                            "a split"))


def _one_line(excinfo, path):
    text = str(excinfo.value)
    assert "\n" not in text and text.startswith(str(path)), text
    return text


def _refused(path, marker, match):
    for reader in (load_model, model_grid):
        with pytest.raises(DataError, match=match) as excinfo:
            reader(path)
        _one_line(excinfo, path)
    assert not marker.exists()


def _rewrite(source, target, replace):
    """A copy of the zip ``source`` with members replaced (name -> bytes)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info, replace.get(info.filename, old.read(info.filename)))
    return target


def test_what_cannot_be_written_is_refused_before_writing(fitted, tmp_path):
    settings = {"label": "FEH"}
    with pytest.raises(ParameterError, match="fill_values must be 6 finite floats"):
        model_payload([fitted], settings, WAVE, "s", preprocessing={"fill_values": np.full(6, np.nan)})
    with pytest.raises(ParameterError, match="label_range must be"):
        model_payload([fitted], settings, WAVE, "s", preprocessing={"label_range": (np.nan, 1.0)})
    with pytest.raises(ParameterError, match="at least one fitted estimator"):
        model_payload([], settings, WAVE, "s")
    with pytest.raises(StelrelError, match=r"fitted SpectralRelevanceRegressor .*\(not fitted\)"):
        model_payload([SpectralRelevanceRegressor()], settings, WAVE, "s")
    path = write_model(tmp_path / "model.pt", model_payload([fitted], settings, WAVE, "s"))
    with pytest.raises(FileExistsError):
        write_model(path, model_payload([fitted], settings, WAVE, "s"))


def test_a_crafted_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    bare = tmp_path / "bare.pt"
    bare.write_bytes(pickle.dumps({"format": "stelrel-model/2", "estimators": [Payload(marker)]}))
    _refused(bare, marker, "a pickle, not a stelrel model file; not loaded")
    pickle.loads(bare.read_bytes())  # the file does run code when unpickled: the test means something
    assert marker.exists()


def test_a_version_1_file_is_refused_with_how_to_recreate_it(tmp_path, fitted):
    marker = tmp_path / "ran"
    old = tmp_path / "model.pt"
    torch.save({"format": "stelrel-model/1", "label": "FEH", "estimators": [fitted, Payload(marker)]}, old)
    _refused(old, marker, r"a stelrel-model/1 file \(pickled estimators\): not loaded.*"
                          r"re-create it by running the same `stelrel rank \.\.\. --out DIR`")
    other = tmp_path / "weights.pt"
    torch.save({"weights": torch.zeros(3), "hook": Payload(marker)}, other)
    _refused(other, marker, "a PyTorch pickle file, not a stelrel model; not loaded")


def test_a_pickled_array_inside_a_version_2_file_is_refused(good, tmp_path):
    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    np.save(buffer, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(good) as archive:
        member = next(n for n in archive.namelist() if n.endswith("input_offset_.npy"))
        header = json.loads(archive.read("stelrel-model.json"))
    header["members"][member] = {"dtype": "|O", "shape": [1]}
    crafted = _rewrite(good, tmp_path / "crafted.pt", {member: buffer.getvalue(),
                                                       "stelrel-model.json": json.dumps(header).encode()})
    with pytest.raises(DataError, match=f"member {member} is not a plain array.*refused") as excinfo:
        load_model(crafted)
    _one_line(excinfo, crafted)
    assert not marker.exists()


def test_only_the_allowed_estimator_classes_are_built(good, tmp_path):
    with zipfile.ZipFile(good) as archive:
        header = json.loads(archive.read("stelrel-model.json"))
    header["estimators"][0]["class"] = "subprocess.Popen"
    crafted = _rewrite(good, tmp_path / "crafted.pt", {"stelrel-model.json": json.dumps(header).encode()})
    with pytest.raises(DataError, match=r"estimator class 'subprocess.Popen' is not one a stelrel model may hold "
                                        r"\(SpectralRelevanceRegressor, SpectralRelevanceClassifier\); refused"):
        load_model(crafted)


@pytest.mark.parametrize("mangle, match", [
    (lambda h: h["estimators"][0]["attributes"].update(__class__="str"), "'__class__' is not the name of a fitted"),
    (lambda h: h["estimators"][0]["attributes"].update(predict=1), "'predict' is not the name of a fitted"),
    (lambda h: h["estimators"][0]["params"].update(shell="rm -rf"), "entry does not rebuild .*shell"),
    (lambda h: h.pop("wavelength"), "corrupt model file: no usable wavelength grid"),
    (lambda h: h["wavelength"].update(unit="kg"), "the wavelength grid is not an increasing 1-D length array"),
    (lambda h: h.update(estimators=[]), "corrupt model file: 0 estimators"),
    (lambda h: h["members"][next(iter(h["members"]))].update(dtype="no-such-type"), "no usable dtype and shape"),
])
def test_a_mangled_header_gets_one_line(good, tmp_path, mangle, match):
    with zipfile.ZipFile(good) as archive:
        header = json.loads(archive.read("stelrel-model.json"))
    mangle(header)
    crafted = _rewrite(good, tmp_path / "crafted.pt", {"stelrel-model.json": json.dumps(header).encode()})
    with pytest.raises(DataError, match=match) as excinfo:
        load_model(crafted)
    _one_line(excinfo, crafted)


def test_corrupt_truncated_and_foreign_files_get_one_line(good, tmp_path):
    data = good.read_bytes()
    cases = {
        "truncated.pt": (data[: len(data) // 2], "corrupt or truncated model file"),
        "empty.pt": (b"", "not a stelrel model file"),
        "text.pt": (b"hello\n", "not a stelrel model file"),
    }
    with zipfile.ZipFile(good) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("state_dict/spectral.eigenvalues.npy"))
    flipped = bytearray(data)
    flipped[info.header_offset + 30 + len(info.filename) + 130] ^= 0xFF  # a byte of the eigenvalues
    cases["flipped.pt"] = (bytes(flipped), "corrupt or truncated model file .*CRC")
    for name, (content, match) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DataError, match=match) as excinfo:
            load_model(path)
        _one_line(excinfo, path)
    with zipfile.ZipFile(good) as archive:
        header = json.loads(archive.read("stelrel-model.json"))
    header["format"] = "stelrel-model/3"
    future = _rewrite(good, tmp_path / "future.pt", {"stelrel-model.json": json.dumps(header).encode()})
    with pytest.raises(DataError, match="format 'stelrel-model/3', expected 'stelrel-model/2'"):
        load_model(future)
    with pytest.raises(DataError, match="model file not found"):
        load_model(tmp_path)


def test_stelrel_predict_refuses_a_crafted_file_in_one_line(tmp_path):
    marker = tmp_path / "ran"
    crafted = tmp_path / "model.pt"
    torch.save({"format": "stelrel-model/1", "estimators": [Payload(marker)]}, crafted)
    packed = write_packed(SpectralSet(WAVE, np.ones((2, WAVE.size))), tmp_path / "spectra.fits")
    result = CliRunner().invoke(cli, ["predict", str(crafted), str(packed)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "stelrel-model/1" in errors[0] and "stelrel rank" in errors[0], result.output
    assert not marker.exists()
