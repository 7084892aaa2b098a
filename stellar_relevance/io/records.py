"""One spectrum as read from a survey file, before it goes on the common grid."""

from dataclasses import dataclass, field

import numpy as np
from astropy import units as u

from ..exceptions import DataError
from ..spectra import as_wavelength

__all__ = ["Arm", "Record", "arm_from_arrays", "arms_from_spectrum", "check_record"]


@dataclass
class Arm:
    """One contiguous piece of a spectrum (a spectrograph arm): vacuum or air wavelengths in Angstrom.

    Bad pixels (mask set, inverse variance <= 0, non-finite) have NaN flux
    and 0 inverse variance.
    """

    name: str
    wavelength: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray


@dataclass
class Record:
    """A spectrum read from a file, with what the file says about it.

    ``keys`` holds the IDs the label table may be joined on (``OBSID``,
    ``FILE``, ``SPECOBJID``, ``PLATE-MJD-FIBER``, ``source_id`` ...), the
    first being the spectrum's ID; ``z`` the redshift from the file (None
    when it has none).
    """

    keys: dict
    source: str
    format: str
    arms: list
    frame: str = "vacuum"
    flux_unit: u.UnitBase = u.dimensionless_unscaled
    z: float = None
    info: dict = field(default_factory=dict)

    @property
    def id(self):
        return str(next(iter(self.keys.values())))

    def extent(self):
        """[(arm name, first, last wavelength, mean log10 step)] in Angstrom.

        The mean step over the arm (not the median of single steps) is robust to
        float32 ``loglam`` columns: it gives SDSS/LAMOST their nominal 1e-4 dex back.
        """
        out = []
        for arm in self.arms:
            w = arm.wavelength
            step = float(np.log10(w[-1] / w[0])) / (w.size - 1)
            out.append((arm.name, float(w[0]), float(w[-1]), step))
        return out


def arm_from_arrays(name, wavelength, flux, ivar=None, mask=None, where="", unit=u.AA, allow_empty=False):
    """An `Arm` with bad pixels as NaN; the grid checked by `as_wavelength`.

    Raises
    ------
    DataError
        Mismatched lengths, a bad grid, or (unless ``allow_empty``: one arm of
        several) no good pixel at all, e.g. an inverse variance that is zero
        everywhere.
    """
    wave = np.asarray(wavelength, dtype=float).ravel()
    flux = np.array(flux, dtype=float).ravel()
    order = slice(None)
    if wave.size > 1 and np.all(np.diff(wave) < 0):  # stored red to blue (LAMOST MRS R exposures)
        order = slice(None, None, -1)
        wave = wave[order]
        flux = flux[order]
    wave = as_wavelength(wave * unit, where).to_value(u.AA)
    if flux.size != wave.size:
        raise DataError(f"{where}: {wave.size} wavelengths for {flux.size} flux values")
    ivar = np.ones_like(flux) if ivar is None else np.array(ivar, dtype=float).ravel()[order]
    if ivar.size != flux.size:
        raise DataError(f"{where}: {ivar.size} inverse variances for {flux.size} flux values")
    bad = ~np.isfinite(flux) | ~(ivar > 0)
    if mask is not None:
        bad |= np.asarray(mask).ravel()[order] != 0
    if bad.all() and not allow_empty:
        why = "the inverse variance is zero everywhere" if not (ivar > 0).any() else \
            "every pixel is masked or non-finite"
        raise DataError(f"{where}: no good pixel ({why})")
    flux[bad] = np.nan
    ivar[bad] = 0.0
    return Arm(name, wave, flux, ivar)


def arms_from_spectrum(spectrum, where, names=None):
    """`Arm`s from a specutils `Spectrum` (1-D, or 2-D: one arm list per row).

    Returns a list (one entry per row) of single arms; the mask and an
    `InverseVariance` (or other) uncertainty are honoured. An arm may have no
    good pixel (`check_record` refuses a record whose arms all have none).
    """
    from astropy.nddata import InverseVariance

    wave = spectrum.spectral_axis.to_value(u.AA, equivalencies=u.spectral())
    flux = np.atleast_2d(spectrum.flux.value)
    ivar = None
    if spectrum.uncertainty is not None:
        ivar = np.atleast_2d(spectrum.uncertainty.represent_as(InverseVariance).array)
    mask = None if spectrum.mask is None else np.atleast_2d(np.asarray(spectrum.mask))
    out = []
    for row in range(flux.shape[0]):
        out.append(arm_from_arrays(names or "", wave, flux[row], None if ivar is None else ivar[row],
                                   None if mask is None else mask[row], where=where, allow_empty=True))
    return out


def check_record(record):
    """A DataError message when no arm of ``record`` has a good pixel, else None."""
    if any(np.isfinite(arm.flux).any() for arm in record.arms):
        return None
    where = record.source + (f" (spectrum {record.id})" if record.id else "")
    if not any((arm.ivar > 0).any() for arm in record.arms):
        return f"{where}: no good pixel (the inverse variance is zero everywhere)"
    return f"{where}: no good pixel (every pixel is masked or non-finite)"
