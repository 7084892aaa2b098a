"""Write the packed format (:mod:`.packed`) in chunks, so that memory does not grow with the number of spectra.

Rows arrive in order (from :func:`~stellar_relevance.io.ingest.ingest`) and
go to raw scratch files beside the output; at the end the FITS file is
assembled with `astropy.io.fits.StreamingHDU`, a chunk at a time, inside
:func:`~stellar_relevance.io.atomic.atomic_write` (the file is complete or
absent). The layout is the one :func:`~stellar_relevance.io.read_packed`
reads: ``FLUX`` (primary, float32), ``WAVELENGTH`` (float64, the grid is
log-linear), ``IVAR`` (float32), ``MASK`` (uint8, 1 = NaN flux), ``LABELS``.
"""

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

from stellar_relevance.io.atomic import atomic_write
from stellar_relevance.io.packed import _labels_hdu, _primary_cards

__all__ = ["PackedStream"]

log = logging.getLogger(__name__)

#: Rows copied per chunk when the file is assembled.
CHUNK_ROWS = 512


class PackedStream:
    """Collect rows on disk, then write one packed FITS file.

    Parameters
    ----------
    path : str or Path
        The output file (its folder holds the scratch files).
    overwrite : bool

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, astropy.units as u
    >>> from astropy.table import Table
    >>> from stellar_relevance.io import read_packed
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "train.fits"
    >>> with PackedStream(out) as stream:
    ...     stream([{}], np.ones((1, 5), np.float32), np.ones((1, 5), np.float32))
    ...     stream([{}], np.full((1, 5), 2, np.float32), np.ones((1, 5), np.float32))
    ...     _ = stream.finish(np.arange(4000.0, 4005.0) * u.AA, Table({"ID": ["a", "b"]}), "vacuum",
    ...                       u.dimensionless_unscaled, {})
    >>> read_packed(out).flux[:, 0]
    array([1., 2.], dtype=float32)
    """

    def __init__(self, path, overwrite=False):
        self.path = Path(path).expanduser()
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path}: already exists; pass overwrite=True to replace it")
        self.overwrite = overwrite
        self.rows = 0
        self.n_pixels = None
        self._scratch = tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        self._files = {name: open(os.path.join(self._scratch, name), "wb") for name in ("flux", "ivar", "mask")}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __call__(self, summaries, flux, ivar):
        """Append rows (float32 flux with NaN for bad pixels, float32 ivar)."""
        if self.n_pixels is None:
            self.n_pixels = flux.shape[1]
        flux = np.ascontiguousarray(flux, dtype=np.float32)
        flux.tofile(self._files["flux"])
        np.ascontiguousarray(ivar, dtype=np.float32).tofile(self._files["ivar"])
        (~np.isfinite(flux)).astype(np.uint8).tofile(self._files["mask"])
        self.rows += flux.shape[0]

    def close(self):
        """Remove the scratch files."""
        for handle in self._files.values():
            handle.close()
        for name in ("flux", "ivar", "mask"):
            try:
                os.remove(os.path.join(self._scratch, name))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self._scratch)
        except OSError:
            pass

    def _copy(self, tmp, name, header, dtype):
        stream = fits.StreamingHDU(tmp, header)
        with open(os.path.join(self._scratch, name), "rb") as handle:
            while True:
                chunk = np.fromfile(handle, dtype=dtype, count=CHUNK_ROWS * self.n_pixels)
                if chunk.size == 0:
                    break
                stream.write(chunk.reshape(-1, self.n_pixels))
        stream.close()

    def _image_header(self, bitpix, extname=None):
        header = fits.Header()
        if extname is None:
            header["SIMPLE"] = True
        else:
            header["XTENSION"] = "IMAGE"
        header["BITPIX"] = bitpix
        header["NAXIS"] = 2
        header["NAXIS1"] = self.n_pixels
        header["NAXIS2"] = self.rows
        if extname is None:
            header["EXTEND"] = True
        else:
            header["PCOUNT"] = 0
            header["GCOUNT"] = 1
            header["EXTNAME"] = extname
        return header

    def finish(self, wavelength, labels, frame, flux_unit, meta):
        """Assemble the FITS file atomically; returns its path."""
        for handle in self._files.values():
            handle.flush()
        if not self.rows:
            raise ValueError("no rows were written")
        header = self._image_header(-32)
        table_hdu, label_info = _labels_hdu(labels)
        _primary_cards(header, frame, flux_unit, self.rows, meta, label_info)
        wave = fits.ImageHDU(np.asarray(u.Quantity(wavelength).to_value(u.AA), dtype=float), name="WAVELENGTH")
        wave.header["BUNIT"] = "Angstrom"
        wave.header["CTYPE1"] = header["CTYPE1"]

        def write(tmp):
            os.remove(tmp)  # StreamingHDU creates the primary file itself
            self._copy(tmp, "flux", header, np.float32)
            fits.append(tmp, wave.data, wave.header)
            self._copy(tmp, "ivar", self._image_header(-32, "IVAR"), np.float32)
            self._copy(tmp, "mask", self._image_header(8, "MASK"), np.uint8)
            fits.append(tmp, table_hdu.data, table_hdu.header)

        atomic_write(self.path, write, overwrite=self.overwrite)
        log.info("wrote %d spectra x %d pixels to %s", self.rows, self.n_pixels, self.path)
        return self.path
