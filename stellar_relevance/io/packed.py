"""The project's own multi-spectrum FITS file (``spectra.fits``).

Layout (see docs/spectra.md):

- primary HDU ``FLUX``: image (n_spectra x n_pixels; FITS NAXIS1 = pixels),
  1-D spectral WCS on axis 1: ``CTYPE1`` = ``'AWAV'`` (air) or ``'WAVE'``
  (vacuum), ``CUNIT1``, ``CRVAL1``/``CDELT1``/``CRPIX1`` when the grid is
  linear (and reproduces the wavelengths bit for bit), ``BUNIT``, ``FWHM``;
  ``STMETA`` holds the whole ``meta`` dict as JSON (long-string keyword).
- ``WAVELENGTH`` image HDU (1-D) when the grid is not exactly linear.
- optional ``IVAR`` (float) and ``MASK`` (uint8, 1 = bad) image HDUs.
- ``LABELS`` binary table, units in ``TUNITn`` (astropy generic strings, so
  ``dex`` survives).
"""

import json
import logging
import warnings

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.table import Table
from astropy.units import UnitsWarning

from stellar_relevance.io.atomic import atomic_write
from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.io.provenance import from_jsonable, jsonable
from stellar_relevance.spectra import SpectralSet
from stellar_relevance.io._common import linear_grid, open_fits, open_mapped, require_fits, wave_frame_from_ctype

__all__ = ["read_packed", "write_packed", "FORMAT_NAME", "FORMAT_VERSION"]
# open_mapped and flux_image are for the rest of the io room (the store): not on an API page

log = logging.getLogger(__name__)

FORMAT_NAME = "stelrel-spectra"
FORMAT_VERSION = 1


# --------------------------------------------------------------- meta <-> JSON
def _unit_string(unit, where):
    try:
        return unit.to_string("fits")
    except (ValueError, TypeError):
        return unit.to_string()


def _parse_unit(text):
    text = (text or "").strip()
    if not text:
        return None
    for fmt in ("generic", "fits"):
        try:
            return u.Unit(text, format=fmt)
        except ValueError:
            continue
    return u.Unit(text, parse_strict="silent")


# ------------------------------------------------------------------- writing
def _set_card(header, key, value, comment=""):
    """``header[key] = (value, comment)``, dropping the comment when the card would not fit.

    astropy truncates such a comment with a "Card is too long" VerifyWarning;
    a long string value is written on CONTINUE cards.
    """
    if comment:
        with warnings.catch_warnings():
            warnings.simplefilter("error", VerifyWarning)
            try:
                _ = fits.Card(key, value, comment).image
            except VerifyWarning:
                comment = ""
    header[key] = (value, comment) if comment else value


def _is_linear(wavelength):
    """(crval, cdelt) when ``crval + cdelt * i`` reproduces the grid bit for bit, else None.

    The step is tried as computed and rounded to 15, 12 and 9 significant
    digits (a grid made as ``3540.5 + 0.9 * i`` is found with cdelt = 0.9).
    """
    values = wavelength.value
    crval = float(values[0])
    pixels = np.arange(values.size, dtype=float) + 1.0 - 1.0
    step = float((values[-1] - values[0]) / (values.size - 1))
    for cdelt in (step, float(f"{step:.15g}"), float(f"{step:.12g}"), float(f"{step:.9g}"),
                  float(values[1] - values[0])):
        if np.array_equal(crval + cdelt * pixels, values):
            return crval, cdelt
    return None


def _labels_hdu(labels):
    """The ``LABELS`` binary-table HDU of a label table, and what FITS cannot hold (units, descriptions).

    Returns
    -------
    hdu : astropy.io.fits.BinTableHDU
    label_info : dict
        ``{"units": {column: unit string}, "descriptions": {column: text},
        "utf8": [columns of non-ASCII text, stored as UTF-8 bytes]}``,
        recorded in ``STMETA`` by :func:`_primary_cards`.
    """
    table = Table()
    units, descriptions, utf8 = {}, {}, []
    for name in labels.colnames:
        column = labels[name]
        data = np.asarray(np.ma.getdata(column))
        if data.dtype.kind == "U" and not all(str(v).isascii() for v in data.ravel()):
            data = np.char.encode(data, "utf-8")  # FITS text is ASCII: non-ASCII names travel as UTF-8 bytes
            utf8.append(name)
        table[name] = data
        if column.unit is not None:
            units[name] = column.unit.to_string()
        if column.description:
            descriptions[name] = column.description
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitsWarning)
        hdu = fits.table_to_hdu(table)
    for i, name in enumerate(table.colnames, start=1):
        if name in units:
            hdu.header[f"TUNIT{i}"] = units[name]
    hdu.name = "LABELS"
    return hdu, {"units": units, "descriptions": descriptions, "utf8": utf8}


def _primary_cards(header, frame, flux_unit, n_spectra, meta, label_info, wave_unit=u.AA):
    """Write the cards every packed file's ``FLUX`` header carries (both writers call it).

    ``EXTNAME``, ``FORMAT``, ``FMTVERS``, ``CTYPE1`` (``'AWAV'`` air or
    ``'WAVE'`` vacuum), ``CUNIT1``, ``BUNIT``, ``FLUXUNIT``, ``NSPEC``,
    ``CONTNORM`` (the method of the continuum rule ``meta["continuum"]``;
    ``'none'`` without one) and ``STMETA`` (``meta`` as JSON, with
    ``label_info``).
    """
    ctype = "AWAV" if frame == "air" else "WAVE"
    flux_unit = u.Unit(flux_unit)
    _set_card(header, "EXTNAME", "FLUX", "flux, one spectrum per row")
    _set_card(header, "FORMAT", FORMAT_NAME, "stellar_relevance packed spectra")
    _set_card(header, "FMTVERS", FORMAT_VERSION, "format version")
    _set_card(header, "CTYPE1", ctype, f"wavelength in {frame}")
    header["CUNIT1"] = _unit_string(u.Unit(wave_unit), "CUNIT1")
    bunit = _unit_string(flux_unit, "BUNIT")
    if bunit:
        header["BUNIT"] = bunit
    _set_card(header, "FLUXUNIT", flux_unit.to_string(), "flux unit (astropy generic)")
    _set_card(header, "NSPEC", int(n_spectra), "number of spectra")
    rule = meta.get("continuum") or {"method": "none"}
    _set_card(header, "CONTNORM", str(rule.get("method", "none")), "continuum rule (STMETA 'continuum')")
    meta = dict(meta)
    meta["_labels"] = label_info
    _set_card(header, "STMETA", json.dumps(jsonable(meta, tagged=True), ensure_ascii=True, separators=(",", ":")),
              "meta (JSON)")


def write_packed(spectra, path, overwrite=False):
    """Write a `SpectralSet` to the project's multi-spectrum FITS file.

    Parameters
    ----------
    spectra : SpectralSet
    path : str or Path
    overwrite : bool
        Replace an existing file (otherwise a FileExistsError).

    Returns
    -------
    Path
        The file written (atomically: a temporary file in the same folder,
        then ``os.replace``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from stellar_relevance import SpectralSet, read_packed, write_packed
    >>> spectra = SpectralSet(np.arange(5000.0, 5010.0) * u.AA, np.ones((3, 10)))
    >>> path = write_packed(spectra, Path(tempfile.mkdtemp()) / "spectra.fits")
    >>> read_packed(path).flux.shape
    (3, 10)
    """
    if not isinstance(spectra, SpectralSet):
        raise TypeError(f"write_packed expects a SpectralSet; got {type(spectra).__name__}")
    wavelength = spectra.wavelength
    primary = fits.PrimaryHDU(data=spectra.flux)
    header = primary.header
    table_hdu, label_info = _labels_hdu(spectra.labels)
    _primary_cards(header, spectra.wave_frame, spectra.flux_unit, len(spectra), spectra.meta, label_info,
                  wave_unit=wavelength.unit)
    linear = _is_linear(wavelength)
    if linear is not None:
        header["CRPIX1"] = 1.0
        header["CRVAL1"] = linear[0]
        header["CDELT1"] = linear[1]
    fwhm = spectra.meta.get("FWHM")
    if isinstance(fwhm, u.Quantity) and fwhm.isscalar:
        _set_card(header, "FWHM", float(fwhm.to_value(u.AA)), "resolution FWHM (Angstrom)")
    hdus = [primary]
    if linear is None:
        wave_hdu = fits.ImageHDU(data=np.asarray(wavelength.value, dtype=float), name="WAVELENGTH")
        wave_hdu.header["BUNIT"] = _unit_string(wavelength.unit, "BUNIT")
        wave_hdu.header["CTYPE1"] = header["CTYPE1"]
        hdus.append(wave_hdu)
    if spectra.ivar is not None:
        hdus.append(fits.ImageHDU(data=spectra.ivar, name="IVAR"))
    if spectra.mask is not None:
        hdus.append(fits.ImageHDU(data=spectra.mask.astype(np.uint8), name="MASK"))
    hdus.append(table_hdu)
    hdul = fits.HDUList(hdus)

    def write(tmp):
        hdul.writeto(tmp, overwrite=True, output_verify="exception")

    path = atomic_write(path, write, overwrite=overwrite)
    log.info("wrote %d spectra x %d pixels to %s", len(spectra), spectra.n_pixels, path)
    return path


# ------------------------------------------------------------------- reading
def _flux_hdu(hdul, path):
    if "FLUX" in hdul and hdul["FLUX"].data is not None:
        return hdul["FLUX"]
    for hdu in hdul:
        if hdu.is_image and hdu.data is not None and hdu.data.ndim in (1, 2):
            return hdu
    raise DataError(f"{path}: no 2-D flux image (expected the primary HDU or an HDU named FLUX "
                    "holding spectra x pixels)")


def flux_image(hdul, path, memmap=False):
    """The flux image of an open packed file (``FLUX``, else the first 1-D/2-D image).

    Parameters
    ----------
    hdul : astropy.io.fits.HDUList
        From :func:`open_mapped` (``memmap=True``) or ``fits.open``.
    path : Path
        The file, for messages.
    memmap : bool, default=False
        True: the read-only memory map as FITS stores it (big-endian);
        False: a native-order copy.

    Raises
    ------
    DataError
        No flux image.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, astropy.units as u
    >>> from stellar_relevance.spectra import SpectralSet
    >>> path = write_packed(SpectralSet(np.arange(4000.0, 4003.0) * u.AA, np.ones((2, 3), np.float32)),
    ...                     pathlib.Path(tempfile.mkdtemp()) / "s.fits")
    >>> with open_mapped(path) as hdul:
    ...     flux = flux_image(hdul, path, memmap=True)
    ...     print(flux.shape, flux.dtype.str, flux.flags.writeable)
    (2, 3) >f4 False
    """
    return _image(_flux_hdu(hdul, path), memmap)


#: io.store imports the private name
_open_mapped = open_mapped


def _image(hdu, memmap):
    """An HDU's data in native byte order (a copy), or the read-only memory map (FITS is big-endian)."""
    data = hdu.data
    if memmap:
        data = data.view(np.ndarray) if isinstance(data, np.ndarray) else np.asarray(data)
        data.flags.writeable = False
        return data
    data = np.asarray(data)
    return data.astype(data.dtype.newbyteorder("="), copy=False)


def read_packed(path, memmap=False):
    """Read the project's multi-spectrum FITS file into a `SpectralSet`.

    Parameters
    ----------
    path : str or Path
    memmap : bool, default=False
        Map flux, inverse variance and mask from the file instead of reading
        them: the arrays are read-only views of the file (big-endian
        float32, as FITS stores them; the mask a ``bool`` view of the
        ``uint8`` image), so opening costs no memory whatever the number of
        spectra, and pages are read when they are used. Training gathers
        each mini-batch from them (see :mod:`stellar_relevance.io.store`).

    Raises
    ------
    DataError
        Not a FITS file, a truncated or damaged one, a label table with an
        invalid column format (``TFORMn``), no flux image, no spectral axis (no ``WAVELENGTH``
        HDU and no ``CRVAL1``/``CDELT1``), shapes that disagree, a bad grid.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, astropy.units as u
    >>> from stellar_relevance.spectra import SpectralSet
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "s.fits"
    >>> _ = write_packed(SpectralSet(np.arange(4000.0, 4003.0) * u.AA, np.ones((2, 3), np.float32)), out)
    >>> mapped = read_packed(out, memmap=True)
    >>> mapped.flux.dtype.str, mapped.flux.flags.writeable
    ('>f4', False)
    """
    path = require_fits(path)
    opener = open_mapped(path) if memmap else open_fits(path, "packed spectra file")
    with opener as hdul:
        flux_hdu = _flux_hdu(hdul, path)
        hdu_name = flux_hdu.name or "PRIMARY"
        where = f"{path}[{hdu_name}]"
        header = flux_hdu.header
        flux = _image(flux_hdu, memmap)
        if flux.ndim == 1:
            flux = flux[np.newaxis]
        n_pixels = flux.shape[1]
        frame = wave_frame_from_ctype(header.get("CTYPE1"), None)
        if "WAVELENGTH" in hdul:
            wave_hdu = hdul["WAVELENGTH"]
            unit = _parse_unit(wave_hdu.header.get("BUNIT"))
            if unit is None:
                raise DataError(f"{path}[WAVELENGTH]: the wavelength grid has no unit (BUNIT)")
            wavelength = np.asarray(wave_hdu.data, dtype=float).ravel() * unit
            frame = frame or wave_frame_from_ctype(wave_hdu.header.get("CTYPE1"), None)
            if wavelength.size != n_pixels:
                raise DataError(f"{path}[WAVELENGTH]: {wavelength.size} wavelengths for {n_pixels} flux pixels")
        else:
            wavelength, _ = linear_grid(header, n_pixels, where)
        if frame is None:
            warnings.warn(f"{where}: CTYPE1 = {header.get('CTYPE1')!r} does not say air ('AWAV') or vacuum "
                          "('WAVE'); assumed air", DataWarning, stacklevel=2)
            frame = "air"
        ivar = mask = None
        if "IVAR" in hdul:
            ivar = _image(hdul["IVAR"], memmap)
        if "MASK" in hdul:
            mask = _image(hdul["MASK"], memmap)
            mask = mask.view(bool) if memmap and mask.dtype == np.uint8 else np.asarray(mask) != 0
        meta_json = header.get("STMETA")
        try:
            meta = from_jsonable(json.loads(meta_json)) if meta_json else {}
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: the STMETA keyword is not valid JSON ({exc})") from exc
        label_info = meta.pop("_labels", {"units": {}, "descriptions": {}})
        labels = None
        if "LABELS" in hdul:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnitsWarning)
                labels = Table.read(hdul["LABELS"], unit_parse_strict="silent")
            ltab = hdul["LABELS"].header
            labels.meta.clear()
            for i, name in enumerate(labels.colnames, start=1):
                data = labels[name]
                if data.dtype.byteorder not in ("=", "|"):
                    labels[name] = np.asarray(data).astype(data.dtype.newbyteorder("="))
                if name in label_info.get("utf8", ()):
                    labels[name] = np.char.decode(np.asarray(data), "utf-8")
                labels[name].unit = _parse_unit(label_info["units"].get(name, ltab.get(f"TUNIT{i}")))
                if name in label_info["descriptions"]:
                    labels[name].description = label_info["descriptions"][name]
    if "FWHM" not in meta and header.get("FWHM") is not None:
        meta["FWHM"] = float(header["FWHM"]) * u.AA
    flux_unit = _parse_unit(header.get("FLUXUNIT") or header.get("BUNIT")) or u.dimensionless_unscaled
    meta["read_from"] = str(path)
    try:
        return SpectralSet(wavelength, flux, ivar=ivar, mask=mask, labels=labels, wave_frame=frame,
                           meta=meta, flux_unit=flux_unit)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from exc
