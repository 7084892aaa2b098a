"""The MNIST reader (IDX files).

MNIST is distributed as four IDX files (LeCun, Cortes & Burges; see
http://yann.lecun.com/exdb/mnist/): a big-endian header (two zero bytes, a
type code, the number of dimensions, one 32-bit size per dimension) followed
by the raw values. Only the 10 000-image test set (``t10k``) ships with this
project's reference data, so every experiment draws an internal, seeded split
from it and states that split in its output; the helpers for that (the
split, digit selection) belong to the experiments and live in
``benchmarks/_mnist.py``.

``stellar_relevance.datasets`` exports :func:`load_mnist`.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import warnings
import zlib
from pathlib import Path

import numpy as np

from stellar_relevance.io.data_paths import MNIST_ENV, env_dir
from stellar_relevance.exceptions import DataError, DataWarning

__all__ = [
    "MNIST_FILES",
    "MNIST_MD5",
    "IMAGE_SHAPE",
    "load_mnist",
    "read_idx",
]

logger = logging.getLogger(__name__)

#: Height and width of an MNIST image.
IMAGE_SHAPE = (28, 28)

#: File names of the published (gzip) files, per subset.
MNIST_FILES = {
    "t10k": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
}

#: Published MD5 sums of the gzip files.
MNIST_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
}

# IDX type codes -> numpy big-endian dtypes
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_EXPECTED_COUNT = {"t10k": 10_000, "train": 60_000}


def _md5(path, chunk=1 << 20):
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_bytes(path):
    """Raw (decompressed) bytes of an IDX file, gzip or plain."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(2)
    try:
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(
            f"{path}: cannot decompress the gzip stream ({exc}); "
            "the file is truncated or corrupt"
        ) from exc


def read_idx(path, *, expected_ndim=None, expected_dtype=None):
    """Read one IDX file (gzip-compressed or plain) into a numpy array.

    Parameters
    ----------
    path : str or Path
        The file.
    expected_ndim : int, optional
        Number of dimensions the header must declare (3 for images, 1 for
        labels).
    expected_dtype : numpy dtype, optional
        The element type the header must declare (``uint8`` for MNIST).

    Returns
    -------
    numpy.ndarray
        Array with the shape the header declares, native byte order.

    Raises
    ------
    DataError
        Missing file, bad magic number, unexpected type or number of
        dimensions, or a data section that is shorter or longer than the
        header says. The message names the file.

    Examples
    --------
    A three-item label file: magic (two zero bytes, type 0x08 = uint8, one
    dimension), the size as a big-endian uint32, then the values.

    >>> import struct, tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
    >>> _ = path.write_bytes(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 3) + bytes([7, 2, 1]))
    >>> read_idx(path, expected_ndim=1).tolist()
    [7, 2, 1]
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: IDX file not found")
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes, too short for an IDX header (4 bytes magic)")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(
            f"{path}: bad IDX magic number 0x{raw[:4].hex()} "
            "(expected two zero bytes, a type code and the number of dimensions)"
        )
    type_code, ndim = raw[2], raw[3]
    dtype = _IDX_DTYPES.get(type_code)
    if dtype is None:
        raise DataError(f"{path}: unknown IDX type code 0x{type_code:02x} in magic 0x{raw[:4].hex()}")
    if expected_dtype is not None and dtype.newbyteorder("=") != np.dtype(expected_dtype):
        raise DataError(
            f"{path}: IDX element type {dtype.newbyteorder('=')} (magic 0x{raw[:4].hex()}), "
            f"expected {np.dtype(expected_dtype)}"
        )
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataError(
            f"{path}: IDX header declares {ndim} dimensions (magic 0x{raw[:4].hex()}), "
            f"expected {expected_ndim}"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(
            f"{path}: truncated IDX header ({len(raw)} bytes, {header_size} needed for {ndim} dimensions)"
        )
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    n_values = int(np.prod(shape, dtype=np.int64))
    expected_bytes = header_size + n_values * dtype.itemsize
    if len(raw) < expected_bytes:
        raise DataError(
            f"{path}: truncated IDX data: header declares shape {shape} "
            f"({expected_bytes} bytes in all), file holds {len(raw)} bytes"
        )
    if len(raw) > expected_bytes:
        raise DataError(
            f"{path}: {len(raw) - expected_bytes} unexpected bytes after the IDX data "
            f"(header declares shape {shape}, {expected_bytes} bytes in all)"
        )
    data = np.frombuffer(raw, dtype=dtype, count=n_values, offset=header_size)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def _find(directory, name):
    """The gzip file ``name`` or its uncompressed twin in ``directory``."""
    candidates = [directory / name]
    if name.endswith(".gz"):
        stem = name[: -len(".gz")]
        candidates += [directory / stem, directory / stem.replace("-idx", ".idx")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(
        f"{directory}: MNIST file {name} not found (looked for "
        + ", ".join(c.name for c in candidates)
        + ")"
    )


def _check_md5(path):
    expected = MNIST_MD5.get(path.name)
    if expected is None:
        warnings.warn(
            f"{path}: no published MD5 for this file name (published sums are for the "
            "gzip files); MD5 check not done",
            DataWarning,
            stacklevel=3,
        )
        return
    actual = _md5(path)
    if actual != expected:
        raise DataError(f"{path}: MD5 {actual} does not match the published {expected}")
    logger.debug("%s: MD5 %s matches", path, actual)


def load_mnist(directory=None, check_md5=False, *, subset="t10k"):
    """Read the MNIST images and labels from their IDX files.

    Parameters
    ----------
    directory : str or Path, optional
        Folder holding the IDX files (gzip or plain). Defaults to
        ``$STELREL_MNIST_DIR``.
    check_md5 : bool
        Compare each gzip file with its published MD5 sum first.
    subset : {"t10k", "train"}
        Which pair of files: the 10 000-image test set (the only one shipped
        with the reference data) or the 60 000-image training set.

    Returns
    -------
    X : numpy.ndarray of float32, shape (n, 784)
        Pixel intensities divided by 255 (in [0, 1]), each image flattened
        row by row (pixel ``i`` is row ``i // 28``, column ``i % 28``).
    y : numpy.ndarray of int64, shape (n,)
        Digit labels 0-9.

    Raises
    ------
    DataError
        A file is missing, truncated, corrupt, of the wrong kind, fails the
        MD5 check, holds labels outside 0-9, or the image and label files
        disagree on the number of items. The message names the file(s).
    ValueError
        Unknown ``subset`` or no folder given and ``$STELREL_MNIST_DIR`` unset.

    Examples
    --------
    With the MNIST files in ``$STELREL_MNIST_DIR`` (not shipped with the package):

    >>> X, y = load_mnist(check_md5=True)  # doctest: +SKIP
    >>> X.shape, y[:5].tolist()  # doctest: +SKIP
    ((10000, 784), [7, 2, 1, 0, 4])
    """
    if subset not in MNIST_FILES:
        raise ValueError(f"subset must be one of {sorted(MNIST_FILES)}, got {subset!r}")
    if directory is None:
        directory = env_dir(MNIST_ENV)
        if directory is None:
            raise ValueError(
                f"no MNIST folder given; pass directory=... or set ${MNIST_ENV}"
            )
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: MNIST folder not found")
    image_path = _find(directory, MNIST_FILES[subset][0])
    label_path = _find(directory, MNIST_FILES[subset][1])
    if check_md5:
        _check_md5(image_path)
        _check_md5(label_path)

    images = read_idx(image_path, expected_ndim=3, expected_dtype=np.uint8)
    if images.shape[1:] != IMAGE_SHAPE:
        raise DataError(
            f"{image_path}: images of {images.shape[1]} x {images.shape[2]} pixels, "
            f"expected {IMAGE_SHAPE[0]} x {IMAGE_SHAPE[1]}"
        )
    labels = read_idx(label_path, expected_ndim=1, expected_dtype=np.uint8)
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{label_path} holds {labels.shape[0]} labels but {image_path} holds "
            f"{images.shape[0]} images: the files do not belong together"
        )
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise DataError(
            f"{label_path}: label {int(labels[bad[0]])} at item {int(bad[0])} "
            f"({bad.size} in all) is not a digit 0-9"
        )
    if images.shape[0] != _EXPECTED_COUNT[subset]:
        warnings.warn(
            f"{image_path}: {images.shape[0]} images, the published {subset} set has "
            f"{_EXPECTED_COUNT[subset]}; using the {images.shape[0]} found",
            DataWarning,
            stacklevel=2,
        )
    X = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0)
    y = labels.astype(np.int64)
    logger.info("read %d MNIST images from %s", X.shape[0], image_path)
    return X, y
