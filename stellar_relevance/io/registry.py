"""The one registry of the formats stelrel reads: which format a file or folder is, and its reader.

Every format lives in one ``format_*.py`` module of :mod:`stellar_relevance.io`
and is described there by a `~stellar_relevance.io.records.Format` in the
module's ``FORMATS`` tuple; the registry finds those modules by their name,
orders every format by priority and tries them in turn:

================== ============== ======== ================================================
format             module         priority what
================== ============== ======== ================================================
``stelrel-packed`` format_packed  10       the project's packed file (a set)
``MILES``          format_miles   10       a MILES folder with its parameter table (a set)
``LAMOST-MRS``     format_lamost  20       LAMOST medium resolution (two arms)
``LAMOST-LRS``     format_lamost  21       LAMOST low resolution (both layouts)
``Gaia-XP``        format_gaia_xp 30       Gaia DR3 XP continuous spectra (FITS, CSV, ECSV)
``specutils``      format_sdss    40       SDSS, APOGEE, DESI: specutils' own loaders
``FITS-image``     format_packed  90       any FITS image with a spectral axis (a set)
================== ============== ======== ================================================

The formats that name a specutils class (``Format.specutils``) are also
registered with specutils' registry, so after ``import stellar_relevance.io``
``Spectrum.read(path)`` reads LAMOST low resolution, Gaia XP and packed
files, and ``SpectrumList.read(path)`` LAMOST medium resolution (whose
``Spectrum.read`` says to use ``SpectrumList.read``). Each `Spectrum` has bad
pixels as NaN flux and ``mask`` True, an `~astropy.nddata.InverseVariance`
uncertainty, and ``meta``: ``header``, ``id`` (the join keys), ``z``,
``wave_frame``.

Adding a survey is one new file, ``format_<survey>.py``, with its reader and
its ``FORMATS`` entry, plus its tests (docs/spectra.md gives the steps).

Examples
--------
>>> import stellar_relevance.io  # registers the loaders with specutils
>>> [f.name for f in formats()][:3]
['MILES', 'stelrel-packed', 'LAMOST-MRS']
>>> from specutils import Spectrum
>>> s = Spectrum.read("../shared/data/surveys/spec-58397-EG014118N254444M01_sp03-031.fits")  # doctest: +SKIP
>>> s.meta["id"]["OBSID"]  # doctest: +SKIP
'677503031'
"""

import importlib
import pkgutil
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import InverseVariance

from stellar_relevance.exceptions import DataError
from stellar_relevance.io._common import is_fits, open_fits
from stellar_relevance.io.records import check_record

__all__ = ["formats", "identify", "find_set", "read_records", "family", "format_of", "to_spectrum"]

#: above specutils' generic "tabular-fits" (6) and equal to its survey loaders (10)
PRIORITY = 20
#: The prefix of the modules that hold formats.
MODULE_PREFIX = "format_"
_FOUND = []


def formats():
    """Every registered `~stellar_relevance.io.records.Format`, in the order they are tried.

    Returns
    -------
    tuple of Format
        Sorted by priority, then name.

    Examples
    --------
    >>> [(f.name, f.kind) for f in formats()][-2:]
    [('specutils', 'survey'), ('FITS-image', 'set')]
    """
    if not _FOUND:
        found = []
        folder = str(Path(__file__).parent)
        for info in sorted(pkgutil.iter_modules([folder]), key=lambda i: i.name):
            if info.name.startswith(MODULE_PREFIX):
                found.extend(importlib.import_module(f"{__package__}.{info.name}").FORMATS)
        _FOUND.extend(sorted(found, key=lambda f: (f.priority, f.name)))
    return tuple(_FOUND)


def format_of(label):
    """The `Format` that reports ``label`` (``"LAMOST-LRS"``, ``"SDSS-III/IV spec"`` ...).

    Examples
    --------
    >>> format_of("SDSS-III/IV spec").name, format_of("LAMOST-MRS").specutils
    ('specutils', 'SpectrumList')
    """
    for fmt in formats():
        if label in fmt.labels:
            return fmt
    raise KeyError(f"no registered format reports {label!r}")


def family(label):
    """The survey family of a format label (files of one family are read together).

    Examples
    --------
    >>> family("LAMOST-LRS"), family("DESI coadd")
    ('LAMOST', 'DESI')
    """
    return format_of(label).family_of(label)


def _match(path, hdul):
    """(Format, label) of an open FITS file (``hdul``) or another file (``hdul`` None)."""
    inputs = "fits" if hdul is not None else "text"
    for fmt in formats():
        if inputs in fmt.inputs:
            label = fmt.identify(path, hdul)
            if label:
                return fmt, label
    if hdul is None:
        raise DataError(f"{path}: not a FITS file (it does not start with 'SIMPLE  =') and not a Gaia XP "
                        "CSV/ECSV file")
    raise DataError(f"{path}: not a spectrum format stelrel reads: no spectral axis (CRVAL1/CDELT1) and not "
                    "a LAMOST (low/medium resolution), SDSS, APOGEE, DESI or Gaia XP file "
                    f"(HDUs: {', '.join(h.name for h in hdul)})")


def identify(path):
    """The format of a file or folder: ``(Format, label)``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    fmt : Format
    label : str
        The format label (a key of ``fmt.labels``).

    Raises
    ------
    DataError
        No such file or folder, a damaged FITS file, or no format takes it
        (the message names the file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "spec-101.fits"
    >>> wave = np.linspace(4000.0, 4100.0, 50)
    >>> fits.PrimaryHDU(np.vstack([np.ones(50), np.ones(50), wave]), fits.Header({"OBSID": 101})).writeto(path)
    >>> fmt, label = identify(path)
    >>> fmt.name, fmt.kind, label
    ('LAMOST-LRS', 'survey', 'LAMOST-LRS')
    """
    path = Path(path)
    if path.is_dir():
        for fmt in formats():
            if "folder" in fmt.inputs and fmt.identify(path, None):
                return fmt, fmt.identify(path, None)
        raise DataError(f"{path}: a folder that no format reads as a whole")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if not is_fits(path):
        return _match(path, None)
    with open_fits(path, "spectrum file") as hdul:
        return _match(path, hdul)


def find_set(path):
    """The set format (packed file, MILES folder, FITS image) that reads ``path`` whole, else None.

    None also for survey files and for what no format reads (their reader
    says why, with the other files).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from astropy.io import fits
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "star.fits"
    >>> fits.PrimaryHDU(np.ones(50), fits.Header({"CRVAL1": 4000.0, "CDELT1": 1.0})).writeto(path)
    >>> find_set(path).name, find_set(path.with_name("absent.fits"))
    ('FITS-image', None)
    """
    try:
        fmt, _ = identify(path)
    except (DataError, OSError):
        return None
    return fmt if fmt.kind == "set" else None


def read_records(path, exposures=False, sample_grid=None):
    """(format label, [Record], [message]) of one survey file: the usable records, and why others were refused.

    A file whose records are all refused raises the first refusal as a DataError.

    Parameters
    ----------
    path : str or Path
    exposures : bool
        LAMOST medium resolution: the single exposures instead of the coadd.
    sample_grid : Quantity, optional
        Gaia XP: the wavelengths gaiaxpy samples at.

    Returns
    -------
    label : str
        The format label.
    records : list of Record
        The usable spectra.
    problems : list of str
        Why the other spectra of the file were refused.

    Raises
    ------
    DataError
        No such file, not a format stelrel reads, a set (packed file) among
        survey files, or no usable spectrum.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> path = Path(tempfile.mkdtemp()) / "spec-101.fits"
    >>> wave = np.linspace(4000.0, 4100.0, 50)
    >>> fits.PrimaryHDU(np.vstack([np.ones(50), np.ones(50), wave]), fits.Header({"OBSID": 101})).writeto(path)
    >>> label, records, problems = read_records(path)
    >>> label, records[0].id, problems
    ('LAMOST-LRS', '101', [])
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    options = dict(exposures=exposures, sample_grid=sample_grid)
    if is_fits(path):
        with open_fits(path, "spectrum file") as hdul:
            fmt, label = _match(path, hdul)
            _survey_only(fmt, path)
            records = fmt.read(path, hdul, label, **options)
    else:
        fmt, label = _match(path, None)
        _survey_only(fmt, path)
        records = fmt.read(path, None, label, **options)
    problems = [check_record(r) for r in records]
    good = [r for r, p in zip(records, problems) if p is None]
    if not good:
        raise DataError(problems[0])
    return label, good, [p for p in problems if p is not None]


def _survey_only(fmt, path):
    if fmt.kind != "survey":
        what = "a packed stelrel file" if fmt.name == "stelrel-packed" else f"a {fmt.name} file"
        raise DataError(f"{path}: {what}; give it as the only input, not among survey files")


# ------------------------------------------------------------------ specutils
def _path(file_obj):
    if isinstance(file_obj, fits.HDUList):
        return Path(file_obj.filename() or "HDUList")
    return Path(getattr(file_obj, "name", file_obj))


def to_spectrum(records, header=None):
    """A `~specutils.Spectrum` per arm of ``records`` (same grid for all records of one arm).

    What the specutils loaders registered here (``Spectrum.read`` of a
    LAMOST, Gaia XP or packed file) return.

    Parameters
    ----------
    records : list of Record
        One file's records (several: one row each, on one grid per arm).
    header : astropy.io.fits.Header, optional
        Kept in ``meta["header"]``.

    Returns
    -------
    list of specutils.Spectrum
        One per arm: flux in the records' unit, inverse-variance
        uncertainty, mask on NaN flux; ``meta`` holds ``id``, ``z``,
        ``wave_frame``, ``arm``, ``format`` and ``info``.

    Examples
    --------
    >>> from stellar_relevance.io.records import Record, arm_from_arrays
    >>> arm = arm_from_arrays("LRS", [4000.0, 4001.0, 4002.0], [1.0, np.nan, 0.9])
    >>> record = Record(keys={"OBSID": "101"}, source="spec-101.fits", format="LAMOST-LRS", arms=[arm], z=1e-4)
    >>> [spectrum] = to_spectrum([record])
    >>> spectrum.spectral_axis.to_value("Angstrom").tolist(), spectrum.mask.tolist(), spectrum.meta["z"]
    ([4000.0, 4001.0, 4002.0], [False, True, False], 0.0001)
    """
    from specutils import Spectrum

    out = []
    for i, arm in enumerate(records[0].arms):
        flux = np.vstack([r.arms[i].flux for r in records]) if len(records) > 1 else records[0].arms[i].flux
        ivar = np.vstack([r.arms[i].ivar for r in records]) if len(records) > 1 else records[0].arms[i].ivar
        rec = records[0]
        meta = dict(header=header, id=rec.keys if len(records) == 1 else [r.keys for r in records],
                    z=rec.z if len(records) == 1 else [r.z for r in records], wave_frame=rec.frame,
                    arm=arm.name, format=rec.format, info=rec.info)
        out.append(Spectrum(flux=flux * rec.flux_unit, spectral_axis=arm.wavelength * u.AA,
                            uncertainty=InverseVariance(ivar / rec.flux_unit ** 2), mask=~np.isfinite(flux),
                            meta=meta))
    return out


def _specutils_identifier(fmt):
    from specutils.io.parsing_utils import read_fileobj_or_hdulist

    def identify(origin, *args, **kwargs):
        target = args[0]
        try:
            if isinstance(target, (str, Path)):
                path = Path(target)
                if not path.is_file():
                    return False
                if not is_fits(path):
                    return "text" in fmt.inputs and bool(fmt.identify(path, None))
            if "fits" not in fmt.inputs:
                return False
            with read_fileobj_or_hdulist(*args, **kwargs) as hdul:
                return bool(fmt.identify(_path(target), hdul))
        except Exception:  # noqa: BLE001 - an identifier that cannot read the file means "not this format"
            return False
    return identify


def _specutils_loader(fmt, as_list):
    from specutils import SpectrumList
    from specutils.io.parsing_utils import read_fileobj_or_hdulist

    def load(file_obj, **kwargs):
        path = _path(file_obj)
        if fmt.kind == "set":
            return fmt.read(path).to_spectrum()
        if not isinstance(file_obj, fits.HDUList) and path.is_file() and not is_fits(path):
            records, header = fmt.read(path, None, fmt.identify(path, None), **kwargs), None
        else:
            with read_fileobj_or_hdulist(file_obj) as hdul:
                records = fmt.read(path, hdul, fmt.identify(path, hdul) or fmt.name, **kwargs)
                header = hdul[0].header.copy()
        if as_list:
            return SpectrumList([s for rec in records for s in to_spectrum([rec], header)])
        return to_spectrum(records, header)[0]

    load.__doc__ = f"Read a {fmt.name} file with stelrel's reader (``Spectrum.read(path)``)."
    return load


def _refuse_single(fmt):
    def refuse(file_obj, **kwargs):
        holds = fmt.note or f"a {fmt.name} file holds several spectra or arms"
        raise DataError(f"{_path(file_obj)}: {holds}; read it with SpectrumList.read(path) or "
                        "stellar_relevance.read_spectra")
    return refuse


def _register_with_specutils():
    from specutils import Spectrum, SpectrumList
    from specutils.io.registers import data_loader

    for fmt in formats():
        if fmt.specutils is None:
            continue
        extensions = ["fits", "fits.gz"] + (["csv", "ecsv"] if "text" in fmt.inputs else [])
        identifier = _specutils_identifier(fmt)
        as_list = fmt.specutils == "SpectrumList"
        data_loader(fmt.name, identifier=identifier, dtype=SpectrumList if as_list else Spectrum,
                    extensions=extensions, priority=PRIORITY)(_specutils_loader(fmt, as_list))
        if as_list:
            data_loader(f"{fmt.name}-single", identifier=identifier, dtype=Spectrum, extensions=extensions,
                        priority=PRIORITY, autogenerate_spectrumlist=False)(_refuse_single(fmt))


_register_with_specutils()
