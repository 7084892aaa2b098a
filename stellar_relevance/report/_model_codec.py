"""The bytes of a model file: fitted estimators to JSON + arrays and back, the zip archive, what is refused.

Nothing here unpickles: the header is JSON, every array is a ``.npy``
member read with ``allow_pickle=False``, and an estimator is rebuilt from a
class looked up by name in :data:`ESTIMATOR_CLASSES` (an allow-list), its
network from :class:`~stellar_relevance.nn.SpectralNetwork` and a state
dict. :mod:`.model_file` documents the format.
"""

import io
import json
import re
import zipfile
from pathlib import Path

import astropy.units as u
import numpy as np

from stellar_relevance.exceptions import DataError, ParameterError, StelrelError
from stellar_relevance.io.provenance import jsonable

__all__ = ["FORMAT", "HEADER", "ESTIMATOR_CLASSES", "encode_estimator", "encode_estimators", "decode_estimator",
           "write_archive", "read_archive", "fill_values", "label_range", "header_grid",
           "model_from_header"]

#: The ``format`` entry of every model file this code writes and reads.
FORMAT = "stelrel-model/2"
#: The archive member holding the JSON header.
HEADER = "stelrel-model.json"
#: The estimator classes a model file may name (nothing else is ever built from a file).
ESTIMATOR_CLASSES = ("SpectralRelevanceRegressor", "SpectralRelevanceClassifier")
#: A fixed member time, so the same model gives the same bytes.
_DATE = (1980, 1, 1, 0, 0, 0)
#: The largest JSON header read (a grid of a million pixels is about 20 MB of text).
_MAX_HEADER_BYTES = 256 * 2**20
#: Attributes never stored: the training device (a model is loaded on the CPU).
_SKIPPED = ("_device",)
_RECREATE = "re-create it by running the same `stelrel rank ... --out DIR` (or rank_spectra(...).save) again"


def _estimator_class(name, where):
    if name not in ESTIMATOR_CLASSES:
        raise DataError(f"{where}: estimator class {name!r} is not one a stelrel model may hold "
                        f"({', '.join(ESTIMATOR_CLASSES)}); refused")
    import stellar_relevance.estimators as estimators

    return getattr(estimators, name)


def _network_layout(network):
    """The constructor arguments of a SpectralNetwork, read from the modules themselves."""
    from torch import nn

    linear = [m for m in network.body if isinstance(m, nn.Linear)]
    return {"n_features": int(network.spectral.in_features), "n_outputs": int(linear[-1].out_features),
            "hidden_layer_sizes": [int(network.spectral.out_features)] + [int(m.out_features) for m in linear[:-1]],
            "n_given": int(getattr(network, "n_given", 0))}


def _json_value(name, value):
    """A JSON-native copy of an attribute, or None when it is not one (it then needs an array)."""
    if isinstance(value, (bool, int, float, str, type(None), np.generic)) or \
            (isinstance(value, (list, tuple, dict)) and not _holds_arrays(value)):
        return jsonable(value)
    raise StelrelError(f"the fitted attribute {name!r} ({type(value).__name__}) cannot be written to a model file")


def _holds_arrays(value):
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, np.ndarray) or (isinstance(v, (list, tuple, dict)) and _holds_arrays(v)) for v in items)


def encode_estimator(estimator, prefix):
    """(JSON entry, {member name: array}) of one fitted estimator; arrays are named ``prefix/...``."""
    name = type(estimator).__name__
    if name not in ESTIMATOR_CLASSES or not hasattr(estimator, "network_"):
        raise StelrelError(f"a model file holds fitted {' or '.join(ESTIMATOR_CLASSES)}; got {name}"
                           f"{'' if hasattr(estimator, 'network_') else ' (not fitted)'}")
    params = estimator.get_params(deep=False)
    entry = {"class": name, "params": {}, "network": {}, "attributes": {}, "arrays": {}, "state_dict": {}}
    for key, value in params.items():  # a parameter JSON cannot hold (a RandomState) is stored as null
        plain = isinstance(value, (bool, int, float, str, type(None), list, tuple, np.generic))
        entry["params"][key] = jsonable(value) if plain else None
    arrays = {}
    for key, value in vars(estimator).items():
        if key in params or key in _SKIPPED:
            continue
        if key == "network_":
            entry["network"] = {**_network_layout(value), "activation": estimator.activation}
            for tensor_name, tensor in value.state_dict().items():
                member = f"{prefix}/state_dict/{tensor_name}.npy"
                arrays[member] = tensor.detach().cpu().numpy()
                entry["state_dict"][tensor_name] = member
        elif isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufcUS":
                raise StelrelError(f"the fitted attribute {key!r} has dtype {value.dtype}; a model file holds "
                                   "numeric and text arrays only")
            member = f"{prefix}/attributes/{key}.npy"
            arrays[member] = value
            entry["arrays"][key] = member
        else:
            entry["attributes"][key] = _json_value(key, value)
    return entry, arrays


def encode_estimators(estimators):
    """(JSON entries, {member: array}) of the fitted estimators, named ``e0/...``, ``e1/...``."""
    if not len(estimators):
        raise ParameterError("estimators", "a model file needs at least one fitted estimator")
    entries, arrays = [], {}
    for i, estimator in enumerate(estimators):
        entry, members = encode_estimator(estimator, f"e{i}")
        entries.append(entry)
        arrays.update(members)
    return entries, arrays


def _attribute(cls, key, where):
    """``key`` when it can name a fitted attribute (lower case, not dunder, nothing the class defines)."""
    if not isinstance(key, str) or not re.fullmatch(r"_?[a-z][a-z0-9_]*", key) or hasattr(cls, key):
        raise DataError(f"{where}: {key!r} is not the name of a fitted attribute of {cls.__name__}; refused")
    return key


def decode_estimator(entry, arrays, where):
    """A fitted estimator from its JSON entry and the archive's arrays (only allow-listed classes)."""
    import torch

    from stellar_relevance.nn import SpectralNetwork

    cls = _estimator_class(entry.get("class"), where)
    try:
        params = dict(entry["params"])
        if isinstance(params.get("hidden_layer_sizes"), list):
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        estimator = cls(**params)
        layout = entry["network"]
        network = SpectralNetwork(layout["n_features"], layout["n_outputs"], layout["hidden_layer_sizes"],
                                  activation=layout["activation"], n_given=layout["n_given"])
        state = {key: torch.from_numpy(arrays[member]) for key, member in entry["state_dict"].items()}
        network.load_state_dict(state, strict=True)
        fitted = dict(entry["attributes"], **{key: arrays[member] for key, member in entry["arrays"].items()})
    except (TypeError, ValueError, KeyError, AttributeError, RuntimeError) as exc:
        raise DataError(f"{where}: the {entry.get('class')} entry does not rebuild ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else exc!r})") from None
    network.eval()
    for key, value in fitted.items():
        setattr(estimator, _attribute(cls, key, where), value)
    estimator.network_ = network
    estimator._device = torch.device("cpu")
    return estimator


def header_grid(header, path):
    """The grid of a header as a Quantity; ``info.meta`` holds ``frame`` and ``rest_frame``."""
    try:
        wave = header["wavelength"]
        grid = u.Quantity(np.asarray(wave["values"], dtype=float), u.Unit(wave["unit"]))
        grid.info.meta = {"frame": wave.get("frame"), "rest_frame": wave.get("rest_frame")}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{path}: corrupt model file: no usable wavelength grid ({type(exc).__name__}: {exc})") \
            from None
    if grid.ndim != 1 or grid.size < 2 or grid.unit.physical_type != "length" or \
            not (np.all(np.isfinite(grid.value)) and np.all(np.diff(grid.value) > 0)):
        raise DataError(f"{path}: corrupt model file: the wavelength grid is not an increasing 1-D length array")
    return grid


def model_from_header(header, arrays, path):
    """The dictionary :func:`~stellar_relevance.report.model_file.load_model` returns, estimators rebuilt."""
    try:
        model = {key: header.get(key) for key in ("format", "stelrel_version", "label", "label_unit", "given",
                                                   "label_range", "label_range_source", "split", "seeds",
                                                   "settings", "config")}
        model["wavelength"] = header_grid(header, path)
        model["wave_frame"] = header["wavelength"].get("frame")
        model["rest_frame"] = header["wavelength"].get("rest_frame")
        preprocessing = header["preprocessing"]
        model["preprocessing"] = dict(preprocessing, fill_values=arrays[preprocessing["fill_values"]])
        entries = list(header["estimators"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{path}: corrupt model file: the header lacks or mangles {exc}") from None
    if not entries or model["preprocessing"]["fill_values"].shape != model["wavelength"].shape:
        raise DataError(f"{path}: corrupt model file: {len(entries)} estimators, "
                        f"{model['preprocessing']['fill_values'].shape} fill values for {model['wavelength'].size} "
                        "pixels")
    model["estimators"] = [decode_estimator(entry, arrays, str(path)) for entry in entries]
    return model


def fill_values(preprocessing, estimators, n_pixels):
    """(one value per pixel for bad pixels, where it comes from): given, or the first estimator's training mean."""
    values = preprocessing.get("fill_values")
    if values is None:
        return np.asarray(estimators[0].feature_means_), "estimator feature_means_"
    values = np.asarray(values)
    if values.shape != (n_pixels,) or values.dtype.kind != "f" or not np.isfinite(values).all():
        raise ParameterError("preprocessing", f"fill_values must be {n_pixels} finite floats (one per pixel); got "
                             f"{values.dtype} {values.shape}")
    return values, "training mean of the other spectra"


def label_range(preprocessing, estimators):
    """([min, max] of the training labels, where it comes from): given, else the target mean +- 2 std, else None."""
    given = preprocessing.get("label_range")
    if given is not None:
        values = np.asarray(given, dtype=float).ravel()
        if values.shape != (2,) or not np.isfinite(values).all() or values[0] > values[1]:
            raise ParameterError("preprocessing", f"label_range must be (min, max), two finite numbers; got {given!r}")
        return values.tolist(), "training labels"
    first = estimators[0]
    if getattr(first, "target_scaling", None) == "standard" and np.size(getattr(first, "target_offset_", [])) == 1:
        mean, std = float(first.target_offset_[0]), float(first.target_scale_[0])
        return [mean - 2 * std, mean + 2 * std], "target mean +- 2 std of the first estimator"
    return None, None


def write_archive(path, header, arrays):
    """Write the zip: the JSON header (with ``members``) first, then one ``.npy`` member per array."""
    header = dict(header, members={member: {"dtype": array.dtype.str, "shape": list(array.shape)}
                                   for member, array in arrays.items()})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo(HEADER, _DATE), json.dumps(header, indent=1, allow_nan=False) + "\n")
        for member, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(member, _DATE), buffer.getvalue())


def _refusal(path, head):
    """The one line for a file that is not a readable stelrel-model/2 zip (nothing in it is run)."""
    if head[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as archive:
                pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
                if pickles:
                    raw = archive.read(pickles[0])  # bytes only, never unpickled
                    if b"stelrel-model/1" in raw:
                        return (f"{path}: a stelrel-model/1 file (pickled estimators): not loaded, since loading a "
                                f"pickle can run any code it carries; {_RECREATE}")
                    return f"{path}: a PyTorch pickle file, not a stelrel model; not loaded (a pickle can run code)"
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            return f"{path}: corrupt or truncated model file (the zip archive does not read: {exc})"
        return f"{path}: a zip archive without {HEADER}: not a stelrel model file"
    if head[:1] == b"\x80" or head[:1] in (b"(", b"]", b"}", b"c"):
        return f"{path}: a pickle, not a stelrel model file; not loaded (a pickle can run code)"
    return f"{path}: not a stelrel model file (expected a {FORMAT} zip archive)"


def read_archive(path, *, arrays=True):
    """(header dict, {member: array}) of a stelrel-model/2 file; DataError (one line, naming it) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: model file not found")
    with open(path, "rb") as handle:
        head = handle.read(8)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if HEADER not in names:
                raise DataError(_refusal(path, head))
            if archive.getinfo(HEADER).file_size > _MAX_HEADER_BYTES:
                raise DataError(f"{path}: the model header is larger than {_MAX_HEADER_BYTES // 2**20} MiB; refused")
            header = json.loads(archive.read(HEADER).decode("utf-8"))
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                found = header.get("format") if isinstance(header, dict) else None
                raise DataError(f"{path}: format {found!r}, expected {FORMAT!r}; {_RECREATE}")
            values = {}
            if arrays:
                for member, spec in header.get("members", {}).items():
                    values[member] = _read_member(archive, names, member, spec, path)
    except DataError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, UnicodeDecodeError,
            json.JSONDecodeError) as exc:
        if head[:4] != b"PK\x03\x04":
            raise DataError(_refusal(path, head)) from None
        raise DataError(f"{path}: corrupt or truncated model file ({type(exc).__name__}: {exc})") from None
    return header, values


def _read_member(archive, names, member, spec, path):
    if member not in names:
        raise DataError(f"{path}: corrupt model file: member {member} is missing")
    try:
        expected = int(np.prod(spec["shape"], dtype=np.int64)) * np.dtype(spec["dtype"]).itemsize
    except (TypeError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: corrupt model file: member {member} has no usable dtype and shape ({exc})") from None
    info = archive.getinfo(member)
    if not expected <= info.file_size <= expected + 4096:  # the .npy header is at most a few hundred bytes
        raise DataError(f"{path}: corrupt model file: member {member} holds {info.file_size} bytes for "
                        f"{spec['dtype']} {spec['shape']}")
    with archive.open(member) as handle:
        try:
            array = np.lib.format.read_array(handle, allow_pickle=False)
        except ValueError as exc:
            raise DataError(f"{path}: corrupt model file: member {member} is not a plain array ({exc}); "
                            "refused") from None
    if array.dtype.str != spec["dtype"] or list(array.shape) != list(spec["shape"]):
        raise DataError(f"{path}: corrupt model file: member {member} is {array.dtype.str} {list(array.shape)}, "
                        f"the header says {spec['dtype']} {spec['shape']}")
    return array
