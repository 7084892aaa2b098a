"""Mini-batches gathered from an array that may not fit in memory, and streaming column statistics.

The estimators never copy the training inputs whole: they keep the
(possibly memory-mapped, ``np.load(..., mmap_mode="r")``) array and index
arrays of the training and validation rows, and :class:`ArrayBatches`
gathers, scales and moves one batch at a time. Per-feature statistics come
from :func:`column_moments`, one pass in chunks with float64 accumulators.
"""

import numpy as np
import torch

#: bytes of float64 work space per chunk of :func:`column_moments`
CHUNK_BYTES = 32 * 2**20


def chunk_length(n_features):
    """Rows of ``n_features`` float64 values in :data:`CHUNK_BYTES` (at least 1).

    Examples
    --------
    >>> chunk_length(4300)
    975
    """
    return max(1, CHUNK_BYTES // (8 * max(1, int(n_features))))


def row_chunks(rows, n_features):
    """Consecutive slices of ``rows`` of about :data:`CHUNK_BYTES` of float64 each.

    Parameters
    ----------
    rows : array of int
        The rows to go through, in order.
    n_features : int
        Values per row.

    Yields
    ------
    ndarray of int
        The next slice of ``rows``.

    Examples
    --------
    >>> [len(chunk) for chunk in row_chunks(np.arange(10), CHUNK_BYTES // 32)]
    [4, 4, 2]
    """
    step = chunk_length(n_features)
    for start in range(0, len(rows), step):
        yield rows[start : start + step]


def gather_rows(X, rows, dtype=np.float32):
    """``X[rows]`` as a new native-order array of ``dtype``.

    A memory map (or any array that is not an in-memory ``ndarray`` of
    ``dtype``) is read in increasing row order, where it lies on disk; the
    rows come back in the order of ``rows``, and a big-endian FITS array is
    byte-swapped in the same pass.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        A numpy array or memory map.
    rows : array of int
        The rows wanted, in the order wanted.
    dtype : numpy dtype, default=float32

    Returns
    -------
    ndarray of shape (len(rows), ...)

    Examples
    --------
    >>> a = np.arange(12, dtype=">f4").reshape(4, 3)
    >>> gather_rows(a, [3, 1])
    array([[ 9., 10., 11.],
           [ 3.,  4.,  5.]], dtype=float32)
    """
    rows = np.asarray(rows, dtype=np.int64)
    if type(X) is np.ndarray and X.dtype == np.dtype(dtype):
        # in memory, nothing to sort for: one copy (a third of the time of the sorted gather for 128 x 4300)
        return np.take(X, rows, axis=0)
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows),) + tuple(X.shape[1:]), dtype=dtype)
    out[order] = X[rows[order]]
    return out


def column_moments(X, rows=None):
    """Mean and (population) standard deviation of every column over ``rows``, in one chunked pass.

    Chunks of about :data:`CHUNK_BYTES` are converted to float64 and merged
    with Chan et al.'s pairwise update, so a float32 memory map is read once
    and never copied whole.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Any array supporting ``X[index_array]`` (a numpy array or memmap).
    rows : array of int or None
        The rows to use (None: all).

    Returns
    -------
    mean, std : ndarray of shape (n_features,), float64

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12, dtype=np.float32).reshape(4, 3)
    >>> mean, std = column_moments(X, rows=[0, 2])
    >>> mean.tolist(), std.tolist()
    ([3.0, 4.0, 5.0], [3.0, 3.0, 3.0])
    """
    rows = np.arange(X.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    n_features = X.shape[1]
    count, mean, m2 = 0, np.zeros(n_features), np.zeros(n_features)
    for chunk_rows in row_chunks(rows, n_features):
        chunk = np.asarray(X[np.sort(chunk_rows)], dtype=np.float64)  # the order of rows does not matter here
        n_b = len(chunk)
        mean_b = chunk.mean(axis=0)
        chunk -= mean_b  # in place: the chunk is the only float64 work space
        m2_b = np.square(chunk, out=chunk).sum(axis=0)
        total = count + n_b
        delta = mean_b - mean
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta**2 * (count * n_b / total)
        count = total
    if count == 0:
        return mean, np.zeros(n_features)
    return mean, np.sqrt(m2 / count)


class ArrayBatches:
    """Rows of an array, gathered, scaled to float32 and moved to a device one batch at a time.

    Indexing with a slice or an index tensor / array of positions (into
    ``rows``) returns ``(X[rows[positions]] - offset) / scale`` as a float32
    tensor on ``device``; :func:`stellar_relevance.train` uses it in place of
    an input tensor.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        A numpy array or memory map; never copied whole.
    rows : array of int
        The rows this view serves, in order.
    offset, scale : array of shape (n_features,)
        Subtracted from, then divided into, every row.
    device : str or torch.device, default="cpu"
    given : array of shape (len(rows), n_given) or None
        Known labels fed to the network after the spectral layer; when
        given, indexing returns ``(inputs, given[positions])``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> X = np.arange(12, dtype=np.float32).reshape(4, 3)
    >>> batches = ArrayBatches(X, rows=[3, 1], offset=np.ones(3), scale=np.full(3, 2.0))
    >>> len(batches), batches.shape
    (2, (2, 3))
    >>> batches[torch.tensor([1, 0])]
    tensor([[1.0000, 1.5000, 2.0000],
            [4.0000, 4.5000, 5.0000]])
    """

    def __init__(self, X, rows, offset, scale, device="cpu", given=None):
        self.X = X
        self.rows = np.asarray(rows, dtype=np.int64)
        self.offset = torch.as_tensor(np.asarray(offset, dtype=np.float32))
        scale = np.asarray(scale, dtype=np.float32)
        self.scale = None if np.all(scale == 1) else torch.as_tensor(scale)
        self.device = torch.device(device)
        self.shape = (len(self.rows), int(X.shape[1]))
        self.given = None
        if given is not None:
            self.given = torch.as_tensor(np.asarray(given, dtype=np.float32), device=self.device)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, slice):
            positions = key
        else:
            positions = key.cpu().numpy() if torch.is_tensor(key) else np.asarray(key)
        rows = self.rows[positions]
        batch = torch.from_numpy(gather_rows(self.X, rows)).sub_(self.offset)
        if self.scale is not None:
            batch.div_(self.scale)
        if self.device.type == "cuda":
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        if self.given is None:
            return batch
        return batch, self.given[torch.as_tensor(positions) if not isinstance(positions, slice) else positions]
