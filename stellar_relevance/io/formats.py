"""Which reader a survey file needs, and reading it into `Record`s."""

import logging
from pathlib import Path

from stellar_relevance.exceptions import DataError
from stellar_relevance.io._common import is_fits, open_fits
from stellar_relevance.io.gaia_xp import gaia_records, is_gaia_xp
from stellar_relevance.io.records import check_record
from stellar_relevance.io.lamost import is_lamost_lrs, is_lamost_mrs, lrs_records, mrs_records
from stellar_relevance.io.sdss import SPECUTILS_FORMATS, is_sdss_spec, specutils_records

__all__ = ["FAMILIES", "identify", "read_records"]

log = logging.getLogger(__name__)

#: format label -> survey family (files of one family can be read together)
FAMILIES = {"LAMOST-LRS": "LAMOST", "LAMOST-MRS": "LAMOST-MRS", "Gaia-XP": "Gaia-XP", **SPECUTILS_FORMATS}


def _specutils_label(path):
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


def identify(path, hdul):
    """The format label of an open FITS file; DataError when stelrel has no reader for it.

    Parameters
    ----------
    path : str or Path
        The file's path (specutils' identifiers may read it again).
    hdul : astropy.io.fits.HDUList
        The open file.

    Returns
    -------
    str
        A key of :data:`FAMILIES`: ``"LAMOST-LRS"``, ``"LAMOST-MRS"``,
        ``"Gaia-XP"`` or a specutils format (``"SDSS-III/IV spec"`` ...).

    Raises
    ------
    DataError
        A packed stelrel file, or a file no reader takes.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> lamost = fits.HDUList([fits.PrimaryHDU(np.ones((5, 10)), fits.Header({"OBSID": 101}))])
    >>> identify("spec-101.fits", lamost)
    'LAMOST-LRS'
    >>> identify("image.fits", fits.HDUList([fits.PrimaryHDU(np.ones((10, 10)))]))
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.DataError: image.fits: not a spectrum format stelrel reads: no spectral axis (CRVAL1/CDELT1) and not a LAMOST (low/medium resolution), SDSS, APOGEE, DESI or Gaia XP file (HDUs: PRIMARY)
    """
    header = hdul[0].header
    if header.get("FORMAT") == "stelrel-spectra":
        raise DataError(f"{path}: a packed stelrel file; read it on its own (read_packed / read_spectra(path)), "
                        "not among survey files")
    if is_lamost_mrs(hdul):
        return "LAMOST-MRS"
    if is_lamost_lrs(hdul):
        return "LAMOST-LRS"
    if is_gaia_xp(path, hdul):
        return "Gaia-XP"
    if is_sdss_spec(hdul):
        return "SDSS-III/IV spec"
    label = _specutils_label(path)
    if label is None:
        raise DataError(f"{path}: not a spectrum format stelrel reads: no spectral axis (CRVAL1/CDELT1) and not "
                        "a LAMOST (low/medium resolution), SDSS, APOGEE, DESI or Gaia XP file "
                        f"(HDUs: {', '.join(h.name for h in hdul)})")
    return label


def read_records(path, exposures=False, sample_grid=None):
    """(format label, [Record], [message]) of one file: the usable records, and why others were refused.

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
        The format (:func:`identify`).
    records : list of Record
        The usable spectra.
    problems : list of str
        Why the other spectra of the file were refused.

    Raises
    ------
    DataError
        No such file, not a format stelrel reads, or no usable spectrum.

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
    label, records = _read_any(Path(path), exposures, sample_grid)
    problems = [check_record(r) for r in records]
    good = [r for r, p in zip(records, problems) if p is None]
    if not good:
        raise DataError(problems[0])
    return label, good, [p for p in problems if p is not None]


def _read_any(path, exposures, sample_grid):
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if not is_fits(path):
        if is_gaia_xp(path):
            return "Gaia-XP", gaia_records(path, sample_grid)
        raise DataError(f"{path}: not a FITS file (it does not start with 'SIMPLE  =') and not a Gaia XP "
                        "CSV/ECSV file")
    with open_fits(path, "spectrum file") as hdul:
        label = identify(path, hdul)
        if label == "LAMOST-LRS":
            return label, lrs_records(hdul, path)
        if label == "LAMOST-MRS":
            return label, mrs_records(hdul, path, exposures=exposures)
        if label != "Gaia-XP":
            return label, specutils_records(hdul, path, label)
    return label, gaia_records(path, sample_grid)
