"""Our loaders in specutils' registry: ``Spectrum.read(path)`` for LAMOST, Gaia XP and packed files.

Imported by :mod:`stellar_relevance.io`, so after ``import
stellar_relevance.io`` (or any reader of the package) specutils recognises:

- ``"LAMOST-LRS"`` (`~specutils.Spectrum`): LAMOST low resolution, both layouts;
- ``"LAMOST-MRS"`` (`~specutils.SpectrumList`): the ``COADD_B`` and ``COADD_R``
  arms (``exposures=True``: the single exposures). ``Spectrum.read`` of such a
  file raises an error that says to use ``SpectrumList.read``;
- ``"Gaia-XP"`` (`~specutils.Spectrum`, 2-D: one row per source): Gaia DR3 XP
  continuous spectra sampled with gaiaxpy (``sampling=`` a wavelength
  Quantity; the ``gaia`` extra);
- ``"stelrel-packed"`` (`~specutils.Spectrum`, 2-D): the project's packed file.

Each `Spectrum` has bad pixels as NaN flux and ``mask`` True, an
`~astropy.nddata.InverseVariance` uncertainty, and ``meta``: ``header``,
``id`` (the join keys), ``z`` (redshift from the file or None),
``wave_frame`` ("vacuum" or "air").

Examples
--------
>>> import stellar_relevance.io  # registers the loaders
>>> from specutils import Spectrum
>>> s = Spectrum.read("../shared/data/surveys/spec-58397-EG014118N254444M01_sp03-031.fits")  # doctest: +SKIP
>>> s.meta["id"]["OBSID"]  # doctest: +SKIP
'677503031'
"""

from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import InverseVariance
from specutils import Spectrum, SpectrumList
from specutils.io.parsing_utils import read_fileobj_or_hdulist
from specutils.io.registers import data_loader

from stellar_relevance.exceptions import DataError
from stellar_relevance.io.gaia_xp import gaia_records, is_gaia_xp
from stellar_relevance.io.lamost import is_lamost_lrs, is_lamost_mrs, lrs_records, mrs_records

__all__ = ["to_spectrum"]

#: above specutils' generic "tabular-fits" (6) and equal to its survey loaders (10)
PRIORITY = 20


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


def _fits_identifier(test):
    def identify(origin, *args, **kwargs):
        if isinstance(args[0], (str, Path)) and not str(args[0]).lower().endswith((".fits", ".fit", ".fits.gz",
                                                                                     ".fit.gz")):
            return False
        with read_fileobj_or_hdulist(*args, **kwargs) as hdul:
            return test(hdul)
    return identify


@data_loader("LAMOST-LRS", identifier=_fits_identifier(is_lamost_lrs), dtype=Spectrum,
             extensions=["fits", "fits.gz"], priority=PRIORITY)
def lamost_lrs_loader(file_obj, **kwargs):
    """A LAMOST low-resolution file as a `~specutils.Spectrum` (either layout)."""
    with read_fileobj_or_hdulist(file_obj, **kwargs) as hdul:
        records = lrs_records(hdul, _path(file_obj))
        header = hdul[0].header.copy()
    return to_spectrum(records, header)[0]


@data_loader("LAMOST-MRS", identifier=_fits_identifier(is_lamost_mrs), dtype=SpectrumList,
             extensions=["fits", "fits.gz"], priority=PRIORITY)
def lamost_mrs_loader(file_obj, exposures=False, **kwargs):
    """A LAMOST medium-resolution file as a `~specutils.SpectrumList`: the B and R arms (or every exposure)."""
    with read_fileobj_or_hdulist(file_obj, **kwargs) as hdul:
        records = mrs_records(hdul, _path(file_obj), exposures=exposures)
        header = hdul[0].header.copy()
    return SpectrumList([s for rec in records for s in to_spectrum([rec], header)])


@data_loader("LAMOST-MRS-single", identifier=_fits_identifier(is_lamost_mrs), dtype=Spectrum,
             extensions=["fits", "fits.gz"], priority=PRIORITY, autogenerate_spectrumlist=False)
def lamost_mrs_refuse(file_obj, **kwargs):
    """``Spectrum.read`` of a medium-resolution file: a clear error (it holds two arms)."""
    raise DataError(f"{_path(file_obj)}: a LAMOST medium-resolution file holds two arms (COADD_B, COADD_R); "
                    "read it with SpectrumList.read(path) or stellar_relevance.read_spectra")


def _gaia_identify(origin, *args, **kwargs):
    target = args[0]
    if isinstance(target, (str, Path)) and str(target).lower().endswith((".csv", ".ecsv", ".csv.gz")):
        return is_gaia_xp(target)
    if isinstance(target, (str, Path)) and not str(target).lower().endswith((".fits", ".fit")):
        return False
    with read_fileobj_or_hdulist(*args, **kwargs) as hdul:
        return is_gaia_xp(None, hdul)


@data_loader("Gaia-XP", identifier=_gaia_identify, dtype=Spectrum, extensions=["csv", "ecsv", "fits"],
             priority=PRIORITY)
def gaia_xp_loader(file_obj, sampling=None, **kwargs):
    """Gaia XP continuous spectra sampled by gaiaxpy: a 2-D `~specutils.Spectrum`, one row per source."""
    records = gaia_records(_path(file_obj), sampling)
    return to_spectrum(records)[0]


def _packed_identify(origin, *args, **kwargs):
    target = args[0]
    if isinstance(target, (str, Path)) and not str(target).lower().endswith((".fits", ".fit", ".fits.gz")):
        return False
    with read_fileobj_or_hdulist(*args, **kwargs) as hdul:
        return hdul[0].header.get("FORMAT") == "stelrel-spectra"


@data_loader("stelrel-packed", identifier=_packed_identify, dtype=Spectrum, extensions=["fits"],
             priority=PRIORITY)
def packed_loader(file_obj, **kwargs):
    """The project's packed file as a 2-D `~specutils.Spectrum` (labels in ``meta["labels"]``)."""
    from stellar_relevance.io.packed import read_packed

    return read_packed(_path(file_obj)).to_spectrum()
