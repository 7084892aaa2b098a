"""Formats specutils reads (SDSS, APOGEE, DESI): through ``Spectrum.read`` / ``SpectrumList.read``.

One registry entry (``FORMATS``) covers them: it identifies a file with
specutils' own registry (``identify_spectrum_format``) and reports
specutils' format name. Only what specutils does not give is added here: the IDs to join a label
table on, the redshift and other header quantities, and bad pixels as NaN.

- **SDSS** ``spec-PLATE-MJD-FIBER.fits`` (format ``"SDSS-III/IV spec"``):
  IDs ``FILE`` (file name without ``.fits``), ``PLATE-MJD-FIBER``
  (``0266-51602-0031``), ``SPECOBJID``; redshift ``Z`` of the ``SPECOBJ``
  table; vacuum wavelengths; flux in 1e-17 erg/s/cm2/Angstrom.
- **APOGEE** ``apStar`` / ``aspcapStar`` / ``apVisit``: ID ``APOGEE_ID``
  (header ``OBJID``); apStar and aspcapStar spectra are already in the
  stellar rest frame (z = 0).
- **DESI** coadd / spectra files (format ``"DESI coadd"``, ``"DESI
  spectra"``): one record per target, the ``b``, ``r`` and ``z`` arms
  kept apart (they overlap; the resampler combines them, weighted by inverse
  variance); ID ``TARGETID``; no redshift in the file.
"""

import logging
import warnings
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

from stellar_relevance.io.records import Format, Record, arms_from_spectrum

__all__ = ["SDSS_FLUX_UNIT", "is_sdss_spec", "specutils_records", "specutils_label", "SPECUTILS_FORMATS", "FORMATS"]

log = logging.getLogger(__name__)

#: Flux unit of SDSS spectra.
SDSS_FLUX_UNIT = 1e-17 * u.erg / u.s / u.cm ** 2 / u.AA

#: specutils formats read through its registry -> (survey family, rest frame known?)
SPECUTILS_FORMATS = {
    "SDSS-III/IV spec": "SDSS", "SDSS-I/II spSpec": "SDSS", "SDSS-V spec": "SDSS",
    "APOGEE apStar": "APOGEE", "APOGEE aspcapStar": "APOGEE", "APOGEE apVisit": "APOGEE",
    "SDSS-V apStar": "APOGEE", "SDSS-V apVisit": "APOGEE",
    "DESI coadd": "DESI", "DESI spectra": "DESI",
}


def is_sdss_spec(hdul):
    """True for an SDSS ``spec`` file: a ``COADD`` table (HDU 1) with ``loglam`` and ``flux``.

    Parameters
    ----------
    hdul : astropy.io.fits.HDUList
        An open FITS file.

    Returns
    -------
    bool
        Whether it is read with specutils' ``"SDSS-III/IV spec"`` loader.

    Examples
    --------
    >>> from pathlib import Path
    >>> from astropy.io import fits
    >>> from astropy.table import Table
    >>> n = 100  # an SDSS spec file: the COADD table in HDU 1, plate, MJD and fibre in the header
    >>> coadd = fits.BinTableHDU(Table({"flux": np.ones(n, "f4"), "loglam": 3.6 + 1e-4 * np.arange(n),
    ...                                 "ivar": np.ones(n, "f4"), "and_mask": np.zeros(n, "i4")}), name="COADD")
    >>> hdul = fits.HDUList([fits.PrimaryHDU(header=fits.Header({"PLATEID": 266, "MJD": 51602, "FIBERID": 31})),
    ...                      coadd])
    >>> is_sdss_spec(hdul), is_sdss_spec(fits.HDUList([fits.PrimaryHDU()]))
    (True, False)
    """
    if len(hdul) < 2 or not isinstance(hdul[1], fits.BinTableHDU):
        return False
    cols = {c.lower() for c in hdul[1].columns.names}
    return {"loglam", "flux"} <= cols


def _sdss_keys(hdul, path):
    header = hdul[0].header
    keys = {"FILE": path.name.split(".fit")[0]}
    plate, mjd, fiber = (header.get(k) for k in ("PLATEID", "MJD", "FIBERID"))
    if None not in (plate, mjd, fiber):
        keys["PLATE-MJD-FIBER"] = f"{int(plate):04d}-{int(mjd):05d}-{int(fiber):04d}"
    z = None
    info = {k: header[k] for k in ("PLATEID", "MJD", "FIBERID", "RA", "DEC") if k in header}
    if "SPECOBJ" in hdul:
        row = hdul["SPECOBJ"].data[0]
        names = hdul["SPECOBJ"].columns.names
        if "SPECOBJID" in names:
            keys["SPECOBJID"] = str(row["SPECOBJID"]).strip()
        if "Z" in names and np.isfinite(row["Z"]):
            z = float(row["Z"])
        for name in ("CLASS", "SUBCLASS", "SN_MEDIAN_ALL", "ZWARNING"):
            if name in names:
                value = row[name]
                info[name] = value.strip() if isinstance(value, str) else value.item()
    return keys, z, info


def _header_id(header, path):
    for key in ("APOGEE_ID", "OBJID", "TARGETID", "OBJNAME"):
        if header.get(key) not in (None, ""):
            return {key: str(header[key]).strip(), "FILE": path.name.split(".fit")[0]}
    return {"FILE": path.name.split(".fit")[0]}


def specutils_records(hdul, path, label):
    """`Record`s of a file in a format specutils reads (``label``: its registry name).

    Parameters
    ----------
    hdul : astropy.io.fits.HDUList
        The open file.
    path : pathlib.Path
        Its path (for the ``FILE`` ID and messages).
    label : str
        The specutils format, one of :data:`SPECUTILS_FORMATS`.

    Returns
    -------
    list of Record
        One record (SDSS, APOGEE) or one per target (DESI), vacuum
        wavelengths, bad pixels NaN.

    Examples
    --------
    >>> from pathlib import Path
    >>> from astropy.io import fits
    >>> from astropy.table import Table
    >>> n = 100  # an SDSS spec file: the COADD table in HDU 1, plate, MJD and fibre in the header
    >>> coadd = fits.BinTableHDU(Table({"flux": np.ones(n, "f4"), "loglam": 3.6 + 1e-4 * np.arange(n),
    ...                                 "ivar": np.ones(n, "f4"), "and_mask": np.zeros(n, "i4")}), name="COADD")
    >>> hdul = fits.HDUList([fits.PrimaryHDU(header=fits.Header({"PLATEID": 266, "MJD": 51602, "FIBERID": 31})),
    ...                      coadd])
    >>> [record] = specutils_records(hdul, Path("spec-0266-51602-0031.fits"), "SDSS-III/IV spec")
    >>> record.keys
    {'FILE': 'spec-0266-51602-0031', 'PLATE-MJD-FIBER': '0266-51602-0031'}
    >>> record.flux_unit == SDSS_FLUX_UNIT, record.arms[0].wavelength.size
    (True, 100)
    """
    with warnings.catch_warnings():
        # SDSS BUNIT '1E-17 erg/cm^2/s/Angstrom' parses correctly despite astropy's style warning;
        # InverseVariance -> variance divides by the zero ivar of bad pixels (they become NaN here)
        warnings.simplefilter("ignore", u.UnitsWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return _specutils_records(hdul, path, label)


def _specutils_records(hdul, path, label):
    from specutils import Spectrum, SpectrumList

    family = SPECUTILS_FORMATS[label]
    where = str(path)
    if family == "DESI":
        arms = SpectrumList.read(hdul, format=label)
        fibermap = arms[0].meta.get("fibermap")
        n = np.atleast_2d(arms[0].flux.value).shape[0]
        ids = [str(t) for t in fibermap["TARGETID"]] if fibermap is not None else [str(i) for i in range(n)]
        per_arm = [arms_from_spectrum(s, f"{where}[{s.meta.get('band', '?').upper()}]",
                                      names=s.meta.get("band", "?")) for s in arms]
        return [Record(keys={"TARGETID": ids[i], "FILE": f"{path.name.split('.fit')[0]}-{i}"}, source=where,
                       format=label, arms=[a[i] for a in per_arm], frame="vacuum",
                       flux_unit=arms[0].flux.unit, z=None, info={"row": i}) for i in range(n)]
    spectrum = Spectrum.read(hdul, format=label)
    if family == "APOGEE":
        flux = np.atleast_2d(spectrum.flux.value)
        if flux.shape[0] > 1:  # apStar: row 0 is the combined spectrum
            spectrum = spectrum[0]
        arm = arms_from_spectrum(spectrum, where, names="APOGEE")[0]
        return [Record(keys=_header_id(hdul[0].header, path), source=where, format=label, arms=[arm],
                       frame="vacuum", flux_unit=spectrum.flux.unit, z=0.0 if "apVisit" not in label else None,
                       info={"rest_frame_note": "apStar/aspcapStar spectra are in the stellar rest frame"})]
    keys, z, info = _sdss_keys(hdul, path)
    arm = arms_from_spectrum(spectrum, f"{where}[{hdul[1].name or 1}]", names="SDSS")[0]
    return [Record(keys=keys, source=where, format=label, arms=[arm], frame="vacuum",
                   flux_unit=spectrum.flux.unit, z=z, info=info)]


def specutils_label(path, hdul=None):
    """The specutils format of a file among `SPECUTILS_FORMATS` (an SDSS ``spec`` file at once), else None.

    Parameters
    ----------
    path : str or Path
        The file (specutils' identifiers read it).
    hdul : astropy.io.fits.HDUList, optional
        The open file, to recognise an SDSS ``spec`` file without specutils.

    Returns
    -------
    str or None

    Examples
    --------
    >>> from astropy.table import Table
    >>> coadd = fits.BinTableHDU(Table({"flux": np.ones(10, "f4"), "loglam": 3.6 + 1e-4 * np.arange(10)}))
    >>> specutils_label("spec-0266-51602-0031.fits", fits.HDUList([fits.PrimaryHDU(), coadd]))
    'SDSS-III/IV spec'
    """
    if hdul is not None and is_sdss_spec(hdul):
        return "SDSS-III/IV spec"
    from specutils import Spectrum, SpectrumList
    from specutils.io.registers import identify_spectrum_format

    for cls in (Spectrum, SpectrumList):
        try:
            found = identify_spectrum_format(str(path), cls)
        except Exception:  # noqa: BLE001 - an identifier that fails means "not this format"
            continue
        found = [found] if isinstance(found, str) else list(found or [])
        known = [f for f in found if f in SPECUTILS_FORMATS]
        if known:
            return known[0]
    return None


def _read(path, hdul, label, **options):
    return specutils_records(hdul, Path(path), label)


#: The registry's entry (:mod:`.registry`): specutils' own loaders, after stelrel's formats.
FORMATS = (
    Format("specutils", identify=specutils_label, read=_read, labels=tuple(SPECUTILS_FORMATS),
           families=SPECUTILS_FORMATS, priority=40),
)
