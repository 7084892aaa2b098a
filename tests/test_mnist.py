"""The MNIST IDX reader and the experiments' helpers: tiny IDX files built here, plus the real files."""

import gzip
import hashlib
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.datasets.mnist import MNIST_MD5, load_mnist, read_idx

# the experiments' helpers live with the benchmarks that use them
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _mnist import internal_split, select_digits, validate_k  # noqa: E402

IMAGES = "t10k-images-idx3-ubyte"
LABELS = "t10k-labels-idx1-ubyte"


def idx_bytes(array, type_code=0x08):
    """Serialise ``array`` (uint8) as an IDX file: magic, big-endian dims, data."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write(path, payload, compress):
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


@pytest.fixture
def digits_data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    images[0, 0, 0] = 0
    images[0, 0, 1] = 255
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 5, 9], dtype=np.uint8)
    return images, labels


def make_folder(tmp_path, images, labels, compress=True):
    write(tmp_path / IMAGES, idx_bytes(images), compress)
    write(tmp_path / LABELS, idx_bytes(labels), compress)
    return tmp_path


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip(tmp_path, digits_data, compress):
    images, labels = digits_data
    folder = make_folder(tmp_path, images, labels, compress)
    with pytest.warns(DataWarning, match="12 images"):
        X, y = load_mnist(folder)
    assert X.shape == (12, 784) and X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(X, images.reshape(12, -1) / 255.0, rtol=0, atol=1e-7)
    assert X[0, 0] == 0.0 and X[0, 1] == 1.0
    # row-major flattening: pixel i is row i // 28, column i % 28
    assert X[3, 2 * 28 + 5] == np.float32(images[3, 2, 5] / 255.0)


def test_directory_from_environment(tmp_path, digits_data, monkeypatch):
    folder = make_folder(tmp_path, *digits_data)
    monkeypatch.setenv("STELREL_MNIST_DIR", str(folder))
    with pytest.warns(DataWarning):
        X, _ = load_mnist()
    assert X.shape[0] == 12
    monkeypatch.delenv("STELREL_MNIST_DIR")
    with pytest.raises(ValueError, match="STELREL_MNIST_DIR"):
        load_mnist()


def test_missing_folder_and_file(tmp_path, digits_data):
    with pytest.raises(DataError, match="not found"):
        load_mnist(tmp_path / "nowhere")
    write(tmp_path / IMAGES, idx_bytes(digits_data[0]), True)
    with pytest.raises(DataError, match=LABELS):
        load_mnist(tmp_path)


def test_truncated_gzip_names_file(tmp_path, digits_data):
    folder = make_folder(tmp_path, *digits_data)
    path = folder / (IMAGES + ".gz")
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz.*(truncated|corrupt)"):
        load_mnist(folder)


def test_corrupt_gzip_names_file(tmp_path, digits_data):
    folder = make_folder(tmp_path, *digits_data)
    path = folder / (LABELS + ".gz")
    blob = bytearray(path.read_bytes())
    blob[12:20] = b"\xff" * 8  # garble the deflate stream, keep the gzip magic
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz"):
        load_mnist(folder)


def test_truncated_data(tmp_path, digits_data):
    images, labels = digits_data
    payload = idx_bytes(images)[:-100]
    write(tmp_path / IMAGES, payload, False)
    write(tmp_path / LABELS, idx_bytes(labels), False)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: truncated IDX data"):
        load_mnist(tmp_path)


def test_truncated_header(tmp_path):
    path = tmp_path / "x.idx"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 5))
    with pytest.raises(DataError, match="truncated IDX header"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="too short"):
        read_idx(path)


def test_trailing_bytes(tmp_path, digits_data):
    images, labels = digits_data
    write(tmp_path / IMAGES, idx_bytes(images), True)
    write(tmp_path / LABELS, idx_bytes(labels) + b"\x00\x01", True)
    with pytest.raises(DataError, match=r"labels-idx1-ubyte\.gz: 2 unexpected bytes"):
        load_mnist(tmp_path)


def test_bad_magic(tmp_path, digits_data):
    images, labels = digits_data
    payload = bytearray(idx_bytes(images))
    payload[0] = 0x1A
    write(tmp_path / IMAGES, bytes(payload), False)
    write(tmp_path / LABELS, idx_bytes(labels), False)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: bad IDX magic number 0x1a000803"):
        load_mnist(tmp_path)


def test_files_swapped(tmp_path, digits_data):
    images, labels = digits_data
    # a label file where the images should be: 1 dimension instead of 3
    write(tmp_path / IMAGES, idx_bytes(labels), True)
    write(tmp_path / LABELS, idx_bytes(images), True)
    with pytest.raises(DataError, match=r"images-idx3-ubyte\.gz: IDX header declares 1 dimensions.*expected 3"):
        load_mnist(tmp_path)


def test_wrong_element_type(tmp_path, digits_data):
    images, labels = digits_data
    write(tmp_path / IMAGES, idx_bytes(images, type_code=0x09), True)
    write(tmp_path / LABELS, idx_bytes(labels), True)
    with pytest.raises(DataError, match="element type int8"):
        load_mnist(tmp_path)
    path = tmp_path / "odd.idx"
    path.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 0]))
    with pytest.raises(DataError, match="unknown IDX type code 0x42"):
        read_idx(path)


def test_wrong_image_size(tmp_path):
    write(tmp_path / IMAGES, idx_bytes(np.zeros((3, 27, 27))), True)
    write(tmp_path / LABELS, idx_bytes(np.zeros(3)), True)
    with pytest.raises(DataError, match="27 x 27 pixels, expected 28 x 28"):
        load_mnist(tmp_path)


def test_count_mismatch_names_both_files(tmp_path, digits_data):
    images, labels = digits_data
    write(tmp_path / IMAGES, idx_bytes(images), True)
    write(tmp_path / LABELS, idx_bytes(labels[:-1]), True)
    with pytest.raises(DataError, match=r"labels-idx1-ubyte\.gz holds 11 labels but .*images-idx3-ubyte\.gz holds 12 images"):
        load_mnist(tmp_path)


def test_label_out_of_range(tmp_path, digits_data):
    images, labels = digits_data
    labels = labels.copy()
    labels[4] = 11
    make_folder(tmp_path, images, labels)
    with pytest.raises(DataError, match="label 11 at item 4"):
        load_mnist(tmp_path)


def test_md5_mismatch(tmp_path, digits_data):
    folder = make_folder(tmp_path, *digits_data)
    with pytest.raises(DataError, match=r"images-idx3-ubyte\.gz: MD5 [0-9a-f]{32} does not match the published " + MNIST_MD5[IMAGES + ".gz"]):
        load_mnist(folder, check_md5=True)
    # without the check the same files load
    with pytest.warns(DataWarning):
        load_mnist(folder, check_md5=False)


def test_md5_plain_files_warn(tmp_path, digits_data):
    folder = make_folder(tmp_path, *digits_data, compress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_mnist(folder, check_md5=True)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any("MD5 check not done" in m and IMAGES in m for m in messages)
    assert any("MD5 check not done" in m and LABELS in m for m in messages)


def test_unknown_subset():
    with pytest.raises(ValueError, match="subset"):
        load_mnist(".", subset="validation")


def test_inputs_untouched_by_select(digits_data):
    images, labels = digits_data
    X = images.reshape(12, -1).astype(np.float32)
    y = labels.astype(np.int64)
    X0, y0 = X.copy(), y.copy()
    Xs, ys = select_digits(X, y, [5, 9])
    np.testing.assert_array_equal(ys, [5, 9, 5, 9])
    np.testing.assert_array_equal(Xs, X[[5, 9, 10, 11]])
    Xs[:] = -1
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    Xa, ya = select_digits(X, y, "all")
    assert Xa.shape == X.shape


@pytest.mark.parametrize(
    "digits, message",
    [
        ([0, 10], "unknown digit"),
        ([-1, 3], "unknown digit"),
        ([0, 1.0], "unknown digit"),
        (["five", 9], "unknown digit"),
        ([3, 3], "repeated"),
        ([4], "at least two"),
        ("some", "'all'"),
    ],
)
def test_select_digits_rejects(digits_data, digits, message):
    images, labels = digits_data
    with pytest.raises(ValueError, match=message):
        select_digits(images.reshape(12, -1), labels, digits)


def test_select_digits_absent_and_length(digits_data):
    images, labels = digits_data
    X = images.reshape(12, -1)
    with pytest.raises(ValueError, match=r"\[3\] do not occur"):
        select_digits(X[:3], labels[:3], [0, 3])
    with pytest.raises(ValueError, match="12 rows but y has 11"):
        select_digits(X, labels[:11], [0, 1])


def test_validate_k():
    assert validate_k(50, 784) == 50
    assert validate_k(np.int64(784), 784) == 784
    for bad in (0, 785, -3):
        with pytest.raises(ValueError, match="between 1 and the number of features"):
            validate_k(bad, 784)
    for bad in (2.5, True, "20"):
        with pytest.raises(ValueError, match="integer"):
            validate_k(bad, 784)


def test_internal_split_seeded():
    X = np.arange(200, dtype=float).reshape(100, 2)
    y = np.repeat([0, 1, 2, 3], 25)
    a = internal_split(X, y, test_size=0.2, random_state=3)
    b = internal_split(X, y, test_size=0.2, random_state=3)
    c = internal_split(X, y, test_size=0.2, random_state=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    assert np.bincount(a[3]).tolist() == [5, 5, 5, 5]
    info = a[4]
    assert info["random_state"] == 3 and info["n_train"] == 80 and info["n_test"] == 20


def test_real_mnist(mnist_dir):
    X, y = load_mnist(mnist_dir, check_md5=True)
    assert X.shape == (10_000, 784) and X.dtype == np.float32
    assert y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    # published class counts of the t10k set
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    # the border is almost always empty; the centre is not
    assert X[:, 0].max() == 0.0
    assert X[:, 14 * 28 + 14].mean() > 0.3
    X01, y01 = select_digits(X, y, [0, 1])
    assert len(y01) == 980 + 1135


def test_real_mnist_md5_values_match_readme(mnist_dir):
    for name in (IMAGES + ".gz", LABELS + ".gz"):
        digest = hashlib.md5((mnist_dir / name).read_bytes()).hexdigest()
        assert digest == MNIST_MD5[name]


def test_datasets_package_exports_the_reader():
    from stellar_relevance import datasets
    from stellar_relevance.datasets import mnist

    assert datasets.load_mnist is mnist.load_mnist


def test_the_package_keeps_only_the_reader():
    """Digit selection and the internal split are the benchmarks' business (benchmarks/_mnist.py)."""
    from stellar_relevance.datasets import mnist

    for name in ("select_digits", "validate_k", "internal_split"):
        assert not hasattr(mnist, name)
    assert callable(mnist.load_mnist) and callable(mnist.read_idx)
