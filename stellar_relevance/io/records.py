"""One spectrum as read from a survey file, before it goes on the common grid; and what a format is."""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from astropy import units as u

from stellar_relevance.exceptions import DataError
from stellar_relevance.spectra import as_wavelength

__all__ = ["Arm", "Record", "Format", "arm_from_arrays", "arms_from_spectrum", "check_record"]


@dataclass
class Arm:
    """One contiguous piece of a spectrum (a spectrograph arm): vacuum or air wavelengths in Angstrom.

    Bad pixels (mask set, inverse variance <= 0, non-finite) have NaN flux
    and 0 inverse variance. Made by :func:`arm_from_arrays`, which checks
    the grid and marks the bad pixels.

    Parameters
    ----------
    name : str
        The arm (``"B"``, ``"R"``, ``"LRS"`` ...).
    wavelength : numpy.ndarray
        Angstrom, increasing.
    flux : numpy.ndarray
        NaN on bad pixels.
    ivar : numpy.ndarray
        Inverse variance, 0 on bad pixels.

    Examples
    --------
    >>> arm = Arm("B", np.array([4000.0, 4001.0]), np.array([1.0, np.nan]), np.array([4.0, 0.0]))
    >>> arm.name, arm.flux.size
    ('B', 2)
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

    Parameters
    ----------
    keys : dict
        ID kind -> value, the spectrum's own ID first.
    source : str
        The file it was read from.
    format : str
        The format label (``"LAMOST-LRS"``, ``"SDSS-III/IV spec"`` ...).
    arms : list of Arm
        The pieces of the spectrum.
    frame : {"vacuum", "air"}, default="vacuum"
        The frame of the wavelengths.
    flux_unit : astropy.units.UnitBase, default=dimensionless
        The flux unit.
    z : float, optional
        The redshift the file gives.
    info : dict, optional
        Header values worth keeping (class, S/N ...).

    Examples
    --------
    >>> arm = arm_from_arrays("LRS", [4000.0, 4001.0, 4002.0], [1.0, 0.9, 1.0])
    >>> record = Record(keys={"OBSID": "101", "FILE": "spec-101"}, source="spec-101.fits", format="LAMOST-LRS",
    ...                 arms=[arm], z=1e-4)
    >>> record.id, [(name, first, last) for name, first, last, _ in record.extent()]
    ('101', [('LRS', 4000.0, 4002.0)])
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

        Returns
        -------
        list of tuple
            One ``(name, first, last, step_dex)`` per arm.

        Examples
        --------
        >>> wave = 4000.0 * 10 ** (1e-4 * np.arange(11))
        >>> record = Record(keys={"ID": "a"}, source="a.fits", format="x", arms=[arm_from_arrays("B", wave, wave)])
        >>> name, first, last, step = record.extent()[0]
        >>> name, first, round(last, 2), round(step, 6)
        ('B', 4000.0, 4009.22, 0.0001)
        """
        out = []
        for arm in self.arms:
            w = arm.wavelength
            step = float(np.log10(w[-1] / w[0])) / (w.size - 1)
            out.append((arm.name, float(w[0]), float(w[-1]), step))
        return out


@dataclass(frozen=True)
class Format:
    """One file format stelrel reads, as the registry (:mod:`.registry`) knows it.

    Each ``format_*.py`` module of :mod:`stellar_relevance.io` lists its
    formats in a module-level ``FORMATS`` tuple; the registry finds them by
    that file-name prefix.

    Parameters
    ----------
    name : str
        The format label (``"LAMOST-LRS"``); its specutils name when registered there.
    identify : callable
        ``identify(path, hdul)`` -> a label of ``labels`` or None. ``hdul`` is
        the open file for a FITS file, None for a folder or another file.
    read : callable
        A survey format: ``read(path, hdul, label, **options)`` -> list of
        `Record` (``options``: ``exposures``, ``sample_grid``; unknown ones
        are ignored). A set format: ``read(path, **options)`` -> `SpectralSet`.
    family : str, optional
        The survey; files of one family are read together (default ``name``).
    kind : {"survey", "set"}
        ``"survey"``: one or many files onto a common grid;
        ``"set"``: a whole set read on its own (packed file, MILES folder).
    inputs : tuple of {"fits", "text", "folder"}
        What it identifies: open FITS files, other files, folders.
    labels : tuple of str, optional
        Every label ``identify`` returns (default ``(name,)``).
    families : dict, optional
        Label -> family, where the labels belong to several surveys.
    options : tuple of str
        The reader options a set format takes (``read_spectra`` passes them on).
    priority : int
        Lower is tried first.
    specutils : {"Spectrum", "SpectrumList"}, optional
        Registered with specutils' registry under ``name`` as that class.
    shifts : bool
        False for spectra never moved to the rest frame (Gaia XP).
    note : str
        What a message says the format holds, where that explains a refusal.

    Examples
    --------
    >>> fmt = Format("demo", identify=lambda path, hdul: None, read=lambda path, hdul, label: [])
    >>> fmt.labels, fmt.family_of("demo"), fmt.kind
    (('demo',), 'demo', 'survey')
    """

    name: str
    identify: Callable
    read: Callable
    family: str = None
    kind: str = "survey"
    inputs: tuple = ("fits",)
    labels: tuple = ()
    families: dict = None
    options: tuple = ()
    priority: int = 50
    specutils: str = None
    shifts: bool = True
    note: str = ""

    def __post_init__(self):
        if not self.labels:
            object.__setattr__(self, "labels", (self.name,))

    def family_of(self, label):
        """The survey family of one of this format's labels."""
        return (self.families or {}).get(label, self.family or self.name)


def arm_from_arrays(name, wavelength, flux, ivar=None, mask=None, where="", unit=u.AA, allow_empty=False):
    """An `Arm` with bad pixels as NaN; the grid checked by `as_wavelength`.

    Parameters
    ----------
    name : str
        The arm's name.
    wavelength, flux : array-like
        The pixels (a grid stored red to blue is reversed).
    ivar : array-like, optional
        Inverse variance (default 1 everywhere).
    mask : array-like, optional
        Nonzero on bad pixels.
    where : str, default=""
        The file (and HDU), for messages.
    unit : astropy.units.Unit, default=Angstrom
        The unit of ``wavelength``.
    allow_empty : bool, default=False
        Accept an arm without any good pixel (one of several).

    Returns
    -------
    Arm
        Wavelengths in Angstrom; bad pixels NaN flux and 0 inverse variance.

    Raises
    ------
    DataError
        Mismatched lengths, a bad grid, or (unless ``allow_empty``: one arm of
        several) no good pixel at all, e.g. an inverse variance that is zero
        everywhere.

    Examples
    --------
    >>> arm = arm_from_arrays("B", [400.0, 400.1, 400.2, 400.3], [1.0, 2.0, np.inf, 1.5], ivar=[1, 1, 1, 0],
    ...                       unit=u.nm)
    >>> arm.wavelength.round(6).tolist(), arm.flux.tolist(), arm.ivar.tolist()
    ([4000.0, 4001.0, 4002.0, 4003.0], [1.0, 2.0, nan, nan], [1.0, 1.0, 0.0, 0.0])
    >>> arm_from_arrays("B", [4000.0, 4001.0], [1.0, 1.0], ivar=[0, 0], where="spec.fits[1]")
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.DataError: spec.fits[1]: no good pixel (the inverse variance is zero everywhere)
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

    Parameters
    ----------
    spectrum : specutils.Spectrum
        One spectrum, or several on one grid (one per row).
    where : str
        The file, for messages.
    names : str, optional
        The name of every arm made.

    Returns
    -------
    list of Arm
        One per row of the flux.

    Examples
    --------
    >>> from astropy.nddata import InverseVariance
    >>> from specutils import Spectrum
    >>> spectrum = Spectrum(flux=np.array([[1.0, 2.0, 3.0], [1.0, np.nan, 1.0]]) * u.Jy,
    ...                     spectral_axis=[5000.0, 5001.0, 5002.0] * u.AA, spectral_axis_index=1,
    ...                     uncertainty=InverseVariance(np.ones((2, 3)) / u.Jy ** 2))
    >>> arms = arms_from_spectrum(spectrum, "two.fits", names="X")
    >>> len(arms), arms[1].flux.tolist(), arms[1].ivar.tolist()
    (2, [1.0, nan, 1.0], [1.0, 0.0, 1.0])
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
    """A DataError message when no arm of ``record`` has a good pixel, else None.

    Parameters
    ----------
    record : Record
        A spectrum as read.

    Returns
    -------
    str or None
        Why the record cannot be used; None when it can.

    Examples
    --------
    >>> good = Record(keys={"OBSID": "1"}, source="a.fits", format="LAMOST-LRS",
    ...               arms=[arm_from_arrays("LRS", [4000.0, 4001.0], [1.0, 1.0])])
    >>> empty = arm_from_arrays("LRS", [4000.0, 4001.0], [np.nan, np.nan], allow_empty=True)
    >>> bad = Record(keys={"OBSID": "7"}, source="b.fits", format="LAMOST-LRS", arms=[empty])
    >>> check_record(good), check_record(bad)
    (None, 'b.fits (spectrum 7): no good pixel (the inverse variance is zero everywhere)')
    """
    if any(np.isfinite(arm.flux).any() for arm in record.arms):
        return None
    where = record.source + (f" (spectrum {record.id})" if record.id else "")
    if not any((arm.ivar > 0).any() for arm in record.arms):
        return f"{where}: no good pixel (the inverse variance is zero everywhere)"
    return f"{where}: no good pixel (every pixel is masked or non-finite)"
