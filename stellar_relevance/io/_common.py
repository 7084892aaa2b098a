"""Helpers shared by the readers: file checks, FITS grids, label joins, warnings."""

import logging
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

from stellar_relevance.exceptions import DataError, DataWarning

log = logging.getLogger(__name__)

FITS_MAGIC = b"SIMPLE  ="


class WarningLog:
    """Emit `DataWarning`s and remember their text for ``meta["warnings"]``."""

    def __init__(self):
        self.messages = []

    def __call__(self, message, stacklevel=3):
        self.messages.append(message)
        warnings.warn(message, DataWarning, stacklevel=stacklevel)


def existing_path(path, what="file"):
    """``Path(path)``, or a DataError when it does not exist."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such {what}")
    return path


def is_fits(path):
    """True when the file starts like a FITS file (also gzip-compressed FITS)."""
    with open(path, "rb") as handle:
        start = handle.read(len(FITS_MAGIC))
    if start[:2] == b"\x1f\x8b":  # gzip: let astropy decide
        import gzip

        with gzip.open(path, "rb") as handle:
            start = handle.read(len(FITS_MAGIC))
    return start == FITS_MAGIC


def require_fits(path):
    """Raise a DataError unless ``path`` is an existing FITS file."""
    path = existing_path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a FITS file")
    if not is_fits(path):
        raise DataError(f"{path}: not a FITS file (it does not start with 'SIMPLE  =')")
    return path


#: astropy warnings that mean the file is cut short or damaged (raised as DataError by `open_fits`)
_DAMAGED = ("truncated", "not a multiple of 2880", "not multiple of 2880", "corrupted")


def _damage(message):
    text = str(message)
    return any(word in text for word in _DAMAGED)


@contextmanager
def open_fits(path, what="FITS file"):
    """Open a FITS file for reading; a damaged file becomes one `DataError` naming it.

    All HDU headers are read at once (``lazy_load_hdus=False``), so a file cut
    short shows up here, not later as numpy's "cannot reshape array of size
    ... into shape ...". astropy's truncation warning, a gzip stream that
    ends early, an invalid header (e.g. a bad ``TFORMn``) and a data array
    shorter than its header says all raise ``DataError("<path>: ...")``,
    also when they happen while the caller reads the data inside the
    ``with`` block.

    Yields
    ------
    `~astropy.io.fits.HDUList`
    """
    path = require_fits(path)
    size = path.stat().st_size
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hdul = fits.open(path, memmap=False, lazy_load_hdus=False)
    except (OSError, EOFError, ValueError, IndexError, KeyError, fits.VerifyError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable {what}: {_short(exc)}") from exc
    for warning in caught:
        if _damage(warning.message):
            hdul.close()
            raise DataError(f"{path}: truncated or damaged {what} ({size} bytes): {_short(warning.message)}")
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    try:
        with hdul:
            yield hdul
    except DataError:
        raise
    except fits.VerifyError as exc:
        for i, hdu in enumerate(hdul):
            if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)):
                error = bad_tform(hdu.header, f"{path}[{hdu.name or i}]")
                if error is not None:
                    raise error from exc
        raise DataError(f"{path}: invalid {what}: {_short(exc)}") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: truncated or damaged {what} ({size} bytes): {_short(exc)}") from exc
    except ValueError as exc:  # numpy's view of a data block shorter than its header says
        if "reshape" not in str(exc) and "buffer" not in str(exc):
            raise
        raise DataError(f"{path}: truncated or damaged {what} ({size} bytes): {_short(exc)}") from exc


@contextmanager
def open_mapped(path, what="packed spectra file"):
    """``fits.open(memmap=True)`` of a packed file; a file shorter than its headers say is one `DataError`.

    The data are not read: every image HDU's data block must fit in the
    file (``datLoc + NAXIS1 * NAXIS2 * |BITPIX| / 8 <= size``), which is
    what a truncated store fails.

    Parameters
    ----------
    path : Path
        An existing FITS file.
    what : str
        What to call it in messages.

    Yields
    ------
    astropy.io.fits.HDUList

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.fits"
    >>> fits.PrimaryHDU(np.ones((2, 3), np.float32)).writeto(path)
    >>> with open(path, "r+b") as handle:
    ...     _ = handle.truncate(2880 + 8)  # the header and a piece of the data
    >>> with open_mapped(path) as hdul:
    ...     pass
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.DataError: ...s.fits: truncated or damaged packed spectra file (2888 bytes): ...
    """
    size = path.stat().st_size
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hdul = fits.open(path, memmap=True, mode="readonly", lazy_load_hdus=False)
    except (OSError, EOFError, ValueError, IndexError, KeyError, fits.VerifyError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable {what}: {_short(exc)}") from exc
    try:
        for warning in caught:
            if _damage(warning.message):
                raise DataError(f"{path}: truncated or damaged {what} ({size} bytes): {_short(warning.message)}")
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        for i, hdu in enumerate(hdul):
            info = hdul.fileinfo(i)
            header = hdu.header
            if not header.get("NAXIS") or "BITPIX" not in header:
                continue
            n_bytes = abs(int(header["BITPIX"])) // 8
            for axis in range(1, int(header["NAXIS"]) + 1):
                n_bytes *= int(header.get(f"NAXIS{axis}", 0))
            if header.get("XTENSION") == "BINTABLE":
                n_bytes += int(header.get("PCOUNT", 0))
            if info["datLoc"] + n_bytes > size:
                raise DataError(f"{path}: truncated {what}: HDU {i} ({hdu.name or 'PRIMARY'}) needs "
                                f"{info['datLoc'] + n_bytes} bytes, the file has {size}")
        yield hdul
    except fits.VerifyError as exc:
        raise DataError(f"{path}: invalid {what}: {_short(exc)}") from exc
    finally:
        hdul.close()


def bad_tform(header, where):
    """A DataError naming the first ``TFORMn`` of a table header that astropy cannot use, else None."""
    for i in range(1, int(header.get("TFIELDS", 0) or 0) + 1):
        form = header.get(f"TFORM{i}")
        try:
            fits.Column(name="x", format=str(form).strip())
        except (ValueError, TypeError, KeyError, fits.VerifyError):
            name = header.get(f"TTYPE{i}", f"column {i}")
            return DataError(f"{where}: column {i} ({name!r}) has TFORM{i} = {form!r}, not a valid FITS "
                             "binary-table format (e.g. 'E', 'D', 'J', '10A', '4300E')")
    return None


def _short(exc):
    """An exception's or warning's text on one line (astropy's multi-line verify messages joined)."""
    text = str(exc).replace("(note: Astropy uses zero-based indexing)", "").strip().splitlines()
    lines = [line.strip().rstrip(".") for line in text[:2] if line.strip()]
    return "; ".join(lines) if lines else type(exc).__name__


def header_unit(header, key, default=u.AA, where=""):
    """The unit in header ``key`` (e.g. CUNIT1), ``default`` when absent."""
    text = header.get(key)
    if text is None or not str(text).strip():
        return default
    text = str(text).strip()
    aliases = {"angstrom": u.AA, "angstroms": u.AA, "a": u.AA, "ang": u.AA}
    if text.lower() in aliases:
        return aliases[text.lower()]
    try:
        return u.Unit(text, format="fits")
    except ValueError:
        try:
            return u.Unit(text)
        except ValueError as exc:
            raise DataError(f"{where}: {key} = {text!r} is not a unit astropy understands") from exc


#: CTYPE algorithm codes of FITS WCS Paper III that make a spectral axis non-linear
NONLINEAR_CODES = ("-LOG", "-F2W", "-F2V", "-F2A", "-V2W", "-V2F", "-V2A", "-W2F", "-W2V", "-W2A",
                   "-A2F", "-A2V", "-A2W", "-TAB", "-GRI", "-GRA")


def linear_grid(header, n_pixels, where, axis=1):
    """The wavelength grid of FITS axis ``axis``, read with `astropy.wcs`.

    The axis keywords (``CTYPEi``, ``CUNITi``, ``CRVALi``, ``CDELTi`` or
    ``CDi_i``, ``CRPIXi``) go to `astropy.wcs.WCS`, so every algorithm of FITS
    WCS Paper III is read as the standard defines it: ``CTYPE = 'WAVE-LOG'``
    is ``CRVAL * exp(CDELT * (p - CRPIX) / CRVAL)`` with CRVAL in wavelength
    units, ``-F2W`` etc. as grisms and frequency-linear axes. One exception,
    explicit: IRAF's ``DC-FLAG = 1`` (with a CTYPE that has no algorithm
    code) means CRVAL/CDELT are ``log10`` of the wavelength, a convention
    outside the standard that LAMOST, SDSS-I/II and many archives use.

    A linear axis is evaluated in the header's own unit (wcslib would convert
    a ``WAVE`` axis to metres and back, which is not bit-exact), so grids
    written as ``CRVAL + CDELT * i`` are read back exactly.

    Returns
    -------
    (wavelength Quantity, description dict) or raises DataError when the
    header has no spectral axis or the grid it describes is not usable.
    """
    from astropy.wcs import WCS, FITSFixedWarning

    crval = header.get(f"CRVAL{axis}")
    cdelt = header.get(f"CDELT{axis}", header.get(f"CD{axis}_{axis}"))
    if crval is None or cdelt is None:
        raise DataError(
            f"{where}: no spectral axis: the header has no CRVAL{axis}/CDELT{axis} (or CD{axis}_{axis}) "
            "keywords and there is no wavelength column or HDU"
        )
    crpix = header.get(f"CRPIX{axis}", 1.0)
    unit = header_unit(header, f"CUNIT{axis}", where=where)
    if unit.physical_type != "length":
        raise DataError(f"{where}: CUNIT{axis} = {unit!s} is not a length unit")
    ctype = str(header.get(f"CTYPE{axis}", "") or "").strip().upper()
    code = ctype[4:8] if len(ctype) > 4 else ""
    iraf_log = header.get("DC-FLAG", 0) == 1 and code not in NONLINEAR_CODES
    description = dict(crval=float(crval), cdelt=float(cdelt), crpix=float(crpix), n_pixels=int(n_pixels),
                       unit=unit.to_string(), ctype=ctype, log=bool(iraf_log or code == "-LOG"))
    pixels = np.arange(n_pixels, dtype=float)
    if iraf_log:
        values = 10.0 ** (float(crval) + float(cdelt) * (pixels + 1.0 - float(crpix)))
        description["convention"] = "IRAF DC-FLAG = 1: log10 wavelength"
    else:
        card = fits.Header()
        # a plain-linear axis is evaluated without a spectral type (no SI round trip);
        # an algorithm code keeps its CTYPE so that wcslib applies it
        card["CTYPE1"] = ctype if code in NONLINEAR_CODES else ""
        card["CUNIT1"] = unit.to_string("fits")
        card["CRVAL1"] = float(crval)
        card["CDELT1"] = float(cdelt)
        card["CRPIX1"] = float(crpix)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(card, naxis=1)
                values = np.asarray(wcs.pixel_to_world_values(pixels), dtype=float)
                world_unit = u.Unit(wcs.wcs.cunit[0]) if str(wcs.wcs.cunit[0]) else unit
        except Exception as exc:  # noqa: BLE001 - wcslib's errors become one DataError
            raise DataError(f"{where}: the spectral axis (CTYPE{axis} = {ctype!r}) cannot be read "
                            f"by astropy.wcs: {exc}") from exc
        if world_unit != unit:
            values = (values * world_unit).to_value(unit)
        description["convention"] = f"FITS WCS ({ctype or 'linear'})"
    if not np.all(np.isfinite(values)):
        raise DataError(f"{where}: the spectral axis (CTYPE{axis} = {ctype!r}, CRVAL{axis} = {crval}, "
                        f"CDELT{axis} = {cdelt}) gives non-finite wavelengths")
    return values * unit, description


def wave_frame_from_ctype(ctype, default):
    """'air' for CTYPE 'AWAV', 'vacuum' for 'WAVE', else ``default``."""
    ctype = str(ctype or "").upper()
    if ctype.startswith("AWAV"):
        return "air"
    if ctype.startswith("WAVE"):
        return "vacuum"
    return default
