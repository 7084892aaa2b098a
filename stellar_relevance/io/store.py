"""Training data read from the packed FITS store without loading it.

The store is the project's packed file (:mod:`stellar_relevance.io.packed`):
an uncompressed float32 ``FLUX`` image that astropy memory-maps. FITS keeps
its numbers big-endian, so the mapped array cannot be handed to torch as
it is; :func:`stellar_relevance.nn.batches.gather_rows` reads the rows of
one mini-batch (in file order, for locality) and converts only those to
native float32, and :func:`stellar_relevance.nn.batches.column_moments`
takes per-pixel statistics in one streaming pass with float64 accumulators
(what the estimators use on a store). :func:`memory_status` reads the
anonymous and the file-backed resident memory apart (``/proc/self/status``),
which is how the benchmarks tell the data mapped from the file from real
copies.
"""

import errno
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import Table

from stellar_relevance.exceptions import DataError

__all__ = ["Store", "open_store", "memory_status", "write_synthetic_store", "store_bytes"]

logger = logging.getLogger(__name__)


@dataclass
class Store:
    """A memory-mapped store: ``flux`` (read-only, big-endian float32), ``labels``, ``wavelength``, ``path``.

    Made by :func:`open_store`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = open_store(write_synthetic_store(pathlib.Path(tempfile.mkdtemp()) / "s.fits", 8, n_pixels=30))
    >>> store.n_spectra, store.n_pixels, store.labels.colnames
    (8, 30, ['ID', 'Y'])
    >>> float(store.wavelength[0].to_value("Angstrom")), store.path.name
    (3500.0, 's.fits')
    """

    flux: np.ndarray
    labels: Table
    wavelength: u.Quantity
    path: Path

    @property
    def n_spectra(self):
        return self.flux.shape[0]

    @property
    def n_pixels(self):
        return self.flux.shape[1]

    def require_pixels(self, n_features, what="the model"):
        """A `DataError` unless the store has ``n_features`` pixels per spectrum.

        Parameters
        ----------
        n_features : int
            The pixels per spectrum that ``what`` takes.
        what : str, default="the model"
            Named in the error.

        Raises
        ------
        DataError
            When the store has another number of pixels.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> store = open_store(write_synthetic_store(pathlib.Path(tempfile.mkdtemp()) / "s.fits", 4, n_pixels=30))
        >>> store.require_pixels(30)
        >>> store.require_pixels(4300)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        stellar_relevance.exceptions.DataError: .../s.fits: 30 pixels per spectrum, but the model takes 4300
        """
        if self.n_pixels != int(n_features):
            raise DataError(f"{self.path}: {self.n_pixels} pixels per spectrum, but {what} takes {int(n_features)}")


def open_store(path):
    """Map a packed store: no flux value is read (nor validated) until it is used.

    Raises
    ------
    DataError
        Not a packed FITS file, a truncated one, no flux image.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = write_synthetic_store(pathlib.Path(tempfile.mkdtemp()) / "s.fits", 10, n_pixels=50)
    >>> store = open_store(path)
    >>> store.n_spectra, store.n_pixels, store.flux.dtype.str
    (10, 50, '>f4')
    """
    from stellar_relevance.io._common import require_fits
    from stellar_relevance.io.packed import _flux_hdu, _image, _open_mapped

    path = require_fits(path)
    with _open_mapped(path, "packed store") as hdul:
        flux = _image(_flux_hdu(hdul, path), memmap=True)
        if flux.ndim != 2:
            raise DataError(f"{path}: the flux image has {flux.ndim} axes; a store holds spectra x pixels")
        labels = Table.read(hdul["LABELS"]) if "LABELS" in hdul else Table()
        if "WAVELENGTH" in hdul:
            wavelength = np.asarray(hdul["WAVELENGTH"].data, dtype=float) * u.AA
        else:
            header = hdul[0].header
            wavelength = (header.get("CRVAL1", 0.0) + header.get("CDELT1", 1.0) * np.arange(flux.shape[1])) * u.AA
    return Store(flux, labels, wavelength, path)


def memory_status():
    """Resident memory of this process (bytes): ``anon``, ``file`` (mapped files), ``peak`` (VmHWM).

    From ``/proc/self/status`` (Linux); empty dict elsewhere.

    Returns
    -------
    dict
        ``anon``, ``file``, ``peak`` and ``rss``, in bytes.

    Examples
    --------
    >>> status = memory_status()  # on Linux; an empty dict elsewhere
    >>> sorted(status) in (["anon", "file", "peak", "rss"], [])
    True
    """
    keys = {"RssAnon": "anon", "RssFile": "file", "VmHWM": "peak", "VmRSS": "rss"}
    out = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                name, _, value = line.partition(":")
                if name in keys:
                    out[keys[name]] = int(value.split()[0]) * 1024
    except OSError:
        return {}
    return out


def store_bytes(n_spectra, n_pixels):
    """Bytes of a store: float32 flux and inverse variance, uint8 mask (labels not counted).

    Parameters
    ----------
    n_spectra, n_pixels : int
        The store's shape.

    Returns
    -------
    int
        Bytes of its arrays.

    Examples
    --------
    >>> store_bytes(1_000_000, 4300) / 2**30  # a million MILES-like spectra, in GiB
    36.04...
    """
    return int(n_spectra) * int(n_pixels) * (4 + 4 + 1)


def write_synthetic_store(path, n_spectra, n_pixels=4300, chunk_rows=2048, seed=0, overwrite=False):
    """Write ``n_spectra`` synthetic spectra straight into a store, ``chunk_rows`` at a time.

    Each spectrum is a flat continuum with 20 absorption lines whose depths
    follow a label ``Y`` (plus noise), so a network has something to learn.
    Memory does not grow with ``n_spectra``. The free disk space is checked
    first (the store is assembled from scratch files: about twice its size).

    Parameters
    ----------
    path : str or Path
        The store to write.
    n_spectra : int
        How many spectra.
    n_pixels : int, default=4300
        Pixels per spectrum (a log-linear grid from 3500 Angstrom, 1e-4 dex).
    chunk_rows : int, default=2048
        Spectra made and written at a time.
    seed : int, default=0
        Seed of the line positions, labels and noise.
    overwrite : bool, default=False
        Replace an existing file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        When the disk has too little free space.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from stellar_relevance import read_packed
    >>> path = write_synthetic_store(pathlib.Path(tempfile.mkdtemp()) / "s.fits", 100, n_pixels=200, chunk_rows=32)
    >>> spectra = read_packed(path)
    >>> spectra.flux.shape, spectra.label_names
    ((100, 200), ['Y'])
    """
    from stellar_relevance.io.stream import PackedStream

    path = Path(path)
    needed = 2 * store_bytes(n_spectra, n_pixels)
    free = shutil.disk_usage(path.parent).free
    if free < needed:
        raise OSError(errno.ENOSPC, f"{path}: a store of {n_spectra} x {n_pixels} needs about "
                      f"{needed / 2**30:.1f} GiB free while it is written, {free / 2**30:.1f} GiB are", str(path))
    rng = np.random.default_rng(seed)
    centres = rng.choice(n_pixels, size=min(20, n_pixels), replace=False)
    width = max(n_pixels / 2000.0, 1.0)
    pixels = np.arange(n_pixels)
    profile = np.exp(-0.5 * ((pixels[None, :] - centres[:, None]) / width) ** 2).astype(np.float32)
    labels = np.empty(n_spectra)
    with PackedStream(path, overwrite=overwrite) as stream:
        for start in range(0, n_spectra, chunk_rows):
            m = min(chunk_rows, n_spectra - start)
            y = rng.uniform(-1, 1, m)
            depth = 0.3 + 0.2 * y[:, None] * rng.uniform(0.5, 1.5, (1, len(centres)))
            flux = 1.0 - depth.astype(np.float32) @ profile
            flux += rng.normal(0, 0.02, flux.shape).astype(np.float32)
            stream([{}] * m, flux, np.full(flux.shape, 2500.0, np.float32))
            labels[start : start + m] = y
        table = Table({"ID": [f"syn{i:07d}" for i in range(n_spectra)], "Y": labels})
        wave = 3500.0 * 10 ** (1e-4 * pixels) * u.AA
        stream.finish(wave, table, "vacuum", u.dimensionless_unscaled, {"synthetic": "stellar_relevance.io.store"})
    logger.info("wrote a synthetic store of %d x %d to %s", n_spectra, n_pixels, path)
    return path
