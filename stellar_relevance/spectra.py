"""`SpectralSet`: many spectra on one wavelength grid, with their labels.

A :class:`SpectralSet` is what every reader returns and what the estimators
are fed through :meth:`SpectralSet.to_xy`. It is the only place where arrays
leave the astronomy objects (wavelength Quantity, labels Table with units).
"""

import copy
import warnings

import numpy as np
from astropy import units as u

from stellar_relevance.exceptions import DataError

__all__ = ["SpectralSet", "WAVE_FRAMES", "as_wavelength"]

#: The wavelength frames a set can be in.
WAVE_FRAMES = ("air", "vacuum")


def as_wavelength(wavelength, where="wavelength"):
    """Validate a wavelength grid: 1-D, finite, strictly increasing, with a length unit.

    The one wavelength validator of the package: `SpectralSet`, the index
    measurement (:mod:`.indices`, :mod:`.matching`) and the survey readers all
    call it.

    Parameters
    ----------
    wavelength : `~astropy.units.Quantity`
        The grid (pixel centres).
    where : str
        What to name in an error (a file, an argument).

    Returns
    -------
    `~astropy.units.Quantity`
        The grid as a float64 Quantity in its own unit.

    Raises
    ------
    DataError
        A unit-less array, a unit that is not a length, fewer than 2 pixels,
        a non-finite value or a step that is not positive (the message names
        the pixel).

    Examples
    --------
    >>> import numpy as np, astropy.units as u
    >>> as_wavelength(np.array([4000.0, 4001.0]) * u.AA)
    <Quantity [4000., 4001.] Angstrom>
    """
    if not isinstance(wavelength, u.Quantity):
        raise DataError(
            f"{where}: the wavelength grid has no unit; expected an astropy Quantity "
            "with a length unit (e.g. numpy_array * astropy.units.AA)"
        )
    if wavelength.unit.physical_type != "length":
        raise DataError(
            f"{where}: the wavelength grid has unit {wavelength.unit!s} "
            f"({wavelength.unit.physical_type}); expected a length unit such as Angstrom"
        )
    wavelength = np.asarray(wavelength.value, dtype=float) * wavelength.unit
    if wavelength.ndim != 1 or wavelength.size < 2:
        raise DataError(
            f"{where}: the wavelength grid must be 1-D with at least 2 pixels; "
            f"got shape {wavelength.shape}"
        )
    if not np.all(np.isfinite(wavelength.value)):
        bad = np.flatnonzero(~np.isfinite(wavelength.value))
        raise DataError(f"{where}: the wavelength grid has non-finite values at pixels {bad[:10].tolist()}")
    steps = np.diff(wavelength.value)
    if not np.all(steps > 0):
        bad = int(np.flatnonzero(steps <= 0)[0])
        raise DataError(
            f"{where}: the wavelength grid is not strictly increasing: pixel {bad + 1} "
            f"({wavelength[bad + 1]:.6g}) does not exceed pixel {bad} ({wavelength[bad]:.6g})"
        )
    return wavelength


class SpectralSet:
    """A set of spectra on one wavelength grid, with labels.

    Parameters
    ----------
    wavelength : `~astropy.units.Quantity`
        1-D, strictly increasing, with a length unit (n_pixels,).
    flux : array-like or `~astropy.units.Quantity`
        (n_spectra, n_pixels); a 1-D array is one spectrum. A Quantity sets
        ``flux_unit``.
    ivar : array-like, optional
        Inverse variance, same shape as ``flux`` (in ``flux_unit**-2``).
    mask : array-like of bool, optional
        Same shape as ``flux``; True marks a bad pixel.
    labels : `~astropy.table.Table`, optional
        One row per spectrum, with a unique ``ID`` column (converted to str).
        Label columns should carry units (TEFF in K, LOGG in dex(cm/s2), FEH in
        dex). Default: IDs ``"0"``, ``"1"``, ...
    wave_frame : {"air", "vacuum"}
        Whether ``wavelength`` is in air or in vacuum.
    meta : dict, optional
        Resolution ``FWHM`` (Quantity) and provenance (``reader``, ``source``,
        ``warnings`` ...). Copied.
    flux_unit : `~astropy.units.Unit`, optional
        Unit of ``flux`` when ``flux`` is a plain array (default dimensionless,
        as for normalised MILES spectra).

    Raises
    ------
    DataError
        For a unit-less or non-monotonic grid, shape mismatches, a spectrum
        whose flux is all NaN, or a label table without unique IDs.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from astropy.table import Table
    >>> from stellar_relevance import SpectralSet
    >>> wave = np.linspace(4000.0, 4010.0, 11) * u.AA
    >>> labels = Table({"ID": ["a", "b", "c"], "FEH": [-0.5, 0.1, np.nan] * u.dex})
    >>> spectra = SpectralSet(wave, np.ones((3, 11)), labels=labels)
    >>> spectra
    <SpectralSet: 3 spectra x 11 pixels, 4000 Angstrom - 4010 Angstrom (air), labels ['FEH']>
    >>> X, y = spectra.with_label("FEH").to_xy("FEH")  # the stars with a finite [Fe/H]
    >>> X.shape, y.tolist()
    ((2, 11), [-0.5, 0.1])
    >>> spectra["b"].ids.tolist()
    ['b']
    """

    def __init__(self, wavelength, flux, ivar=None, mask=None, labels=None,
                 wave_frame="air", meta=None, *, flux_unit=None):
        self.wavelength = as_wavelength(wavelength)
        if isinstance(flux, u.Quantity):
            if flux_unit is not None and u.Unit(flux_unit) != flux.unit:
                flux = flux.to(flux_unit, equivalencies=u.spectral_density(self.wavelength))
            flux_unit = flux.unit
            flux = flux.value
        self.flux_unit = u.dimensionless_unscaled if flux_unit is None else u.Unit(flux_unit)
        flux = np.asarray(flux)
        if flux.ndim == 1:
            flux = flux[np.newaxis, :]
        if flux.ndim != 2:
            raise DataError(f"flux must be (n_spectra, n_pixels); got shape {flux.shape}")
        if not np.issubdtype(flux.dtype, np.floating):
            flux = flux.astype(float)
        if flux.shape[1] != self.wavelength.size:
            raise DataError(
                f"flux has {flux.shape[1]} pixels per spectrum but the wavelength grid has {self.wavelength.size}"
            )
        self.flux = flux
        self.ivar = self._same_shape(ivar, "ivar", float)
        self.mask = self._same_shape(mask, "mask", bool)
        if wave_frame not in WAVE_FRAMES:
            raise ValueError(f"wave_frame must be one of {WAVE_FRAMES}; got {wave_frame!r}")
        self.wave_frame = wave_frame
        from stellar_relevance.io.conversions import label_table

        self.labels = label_table(labels, flux.shape[0])
        self.meta = copy.deepcopy(dict(meta)) if meta is not None else {}
        self._check_finite()

    # ------------------------------------------------------------------ checks
    def _same_shape(self, array, name, dtype):
        if array is None:
            return None
        array = np.asarray(array)
        if array.ndim == 1 and self.flux.shape[0] == 1:
            array = array[np.newaxis, :]
        if array.shape != self.flux.shape:
            raise DataError(f"{name} has shape {array.shape} but flux has shape {self.flux.shape}")
        if dtype is bool and array.dtype != bool:
            array = array != 0
        elif dtype is float and not np.issubdtype(array.dtype, np.floating):
            array = array.astype(float)
        return array

    def _check_finite(self):
        if self.flux.size == 0:
            return
        # in chunks of rows: a memory-mapped flux is read once, never turned into one whole boolean copy
        step = max(1, (64 << 20) // max(1, self.flux.shape[1]))
        empty = np.concatenate([~np.isfinite(self.flux[start : start + step]).any(axis=1)
                                for start in range(0, self.flux.shape[0], step)])
        if empty.any():
            rows = np.flatnonzero(empty)
            ids = [str(self.labels["ID"][i]) for i in rows[:10]]
            raise DataError(
                f"{len(rows)} spectra have no finite flux value (all NaN/inf): rows {rows[:10].tolist()}, IDs {ids}"
            )

    # ------------------------------------------------------------- container
    def __len__(self):
        return self.flux.shape[0]

    @property
    def n_pixels(self):
        """Number of pixels on the wavelength grid."""
        return self.wavelength.size

    @property
    def n_spectra(self):
        """Number of spectra (same as ``len(self)``)."""
        return self.flux.shape[0]

    @property
    def label_names(self):
        """Names of the label columns (every column but ``ID``)."""
        return [name for name in self.labels.colnames if name != "ID"]

    @property
    def ids(self):
        """The spectrum IDs as a str array."""
        return np.asarray(self.labels["ID"], dtype=str)

    def __repr__(self):
        return (
            f"<SpectralSet: {len(self)} spectra x {self.n_pixels} pixels, "
            f"{self.wavelength[0]:.6g} - {self.wavelength[-1]:.6g} ({self.wave_frame}), "
            f"labels {self.label_names}>"
        )

    def __getitem__(self, index):
        """A new set with the selected spectra (int, slice, bool mask, int array or ID string)."""
        if isinstance(index, str):
            hits = np.flatnonzero(self.ids == index)
            if hits.size == 0:
                raise KeyError(f"no spectrum with ID {index!r}")
            index = hits
        elif isinstance(index, (int, np.integer)):
            n = len(self)
            if not -n <= index < n:
                raise IndexError(f"spectrum index {index} out of range for {n} spectra")
            index = [int(index) % n]
        elif isinstance(index, slice):
            index = np.arange(len(self))[index]
        else:
            index = np.asarray(index)
            if index.dtype == bool:
                if index.shape != (len(self),):
                    raise IndexError(f"boolean selection has shape {index.shape}; expected ({len(self)},)")
                index = np.flatnonzero(index)
            elif index.dtype.kind in "US":
                lookup = {v: i for i, v in enumerate(self.ids)}
                missing = [v for v in index if v not in lookup]
                if missing:
                    raise KeyError(f"no spectra with IDs {missing[:10]}")
                index = np.array([lookup[v] for v in index], dtype=int)
        return self._subset(np.asarray(index, dtype=int))

    def _subset(self, rows):
        return self._replace(flux=self.flux[rows], ivar=None if self.ivar is None else self.ivar[rows],
                             mask=None if self.mask is None else self.mask[rows], labels=self.labels[rows])

    def _replace(self, **changes):
        values = dict(wavelength=self.wavelength, flux=self.flux, ivar=self.ivar, mask=self.mask,
                      labels=self.labels, wave_frame=self.wave_frame, meta=self.meta,
                      flux_unit=self.flux_unit)
        values.update(changes)
        return SpectralSet(**values)

    def copy(self):
        """A deep copy."""
        return self._replace(flux=self.flux.copy(),
                             ivar=None if self.ivar is None else self.ivar.copy(),
                             mask=None if self.mask is None else self.mask.copy())

    # ---------------------------------------------------------------- labels
    def _label_column(self, name):
        if name not in self.labels.colnames or name == "ID":
            raise KeyError(f"no label {name!r}; labels are {self.label_names}")
        return self.labels[name]

    def _label_finite(self, name):
        column = self._label_column(name)
        values = np.ma.getdata(column)
        ok = ~np.ma.getmaskarray(column)
        if values.dtype.kind in "fc":
            ok &= np.isfinite(values)
        elif values.dtype.kind in "US":
            ok &= np.char.strip(values.astype(str)) != ""
        return ok

    def with_label(self, name):
        """The subset of spectra whose label ``name`` is available (finite, not masked).

        When every spectrum has it, the set itself (no copy of a large,
        perhaps memory-mapped, flux).
        """
        finite = self._label_finite(name)
        return self if finite.all() else self[finite]

    def to_xy(self, name, copy=True):
        """Arrays for the estimators.

        Parameters
        ----------
        name : str
            The label.
        copy : bool, default=True
            False: ``X`` is the flux array itself, as stored (a memory map
            stays one); do not write to it.

        Returns
        -------
        X : ndarray, (n_spectra, n_pixels), float
            The flux (a float64 copy unless ``copy=False``; masked pixels are *not* altered).
        y : ndarray, (n_spectra,)
            The label values, float for a numeric label (in its column unit),
            as stored otherwise (e.g. str classes).

        Raises
        ------
        DataError
            When some spectra lack the label; select them first with
            ``s.with_label(name)``.
        """
        ok = self._label_finite(name)
        if not ok.all():
            missing = self.ids[~ok]
            raise DataError(
                f"{(~ok).sum()} of {len(self)} spectra have no finite {name!r} "
                f"(e.g. IDs {missing[:5].tolist()}); use s.with_label({name!r}).to_xy({name!r})"
            )
        column = np.ma.getdata(self._label_column(name))
        y = np.asarray(column, dtype=float) if column.dtype.kind in "biuf" else np.asarray(column)
        return (np.array(self.flux, dtype=float) if copy else self.flux), y

    # ------------------------------------------------------------- summaries
    def mean_flux(self):
        """The mean spectrum over the set, ignoring masked and non-finite pixels.

        Returns
        -------
        `~astropy.units.Quantity`, (n_pixels,)
            In ``flux_unit``; NaN where no spectrum has a good pixel.
        """
        flux = np.array(self.flux, dtype=float)
        bad = ~np.isfinite(flux)
        if self.mask is not None:
            bad |= self.mask
        flux[bad] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(flux, axis=0)
        return mean * self.flux_unit

    # ------------------------------------------------------------ conversion
    def to_frame(self, frame):
        """The same set with its wavelengths converted to ``"air"`` or ``"vacuum"``.

        Uses :func:`specutils.utils.wcs_utils.vac_to_air` (Morton 2000) and its
        iterative inverse :func:`~specutils.utils.wcs_utils.air_to_vac`
        (``scheme="iteration"``), so a round trip is exact. A linear
        grid becomes slightly non-linear; flux values are unchanged.
        """
        if frame not in WAVE_FRAMES:
            raise ValueError(f"frame must be one of {WAVE_FRAMES}; got {frame!r}")
        if frame == self.wave_frame:
            return self.copy()
        from stellar_relevance.io.conversions import frame_wavelengths

        wavelength = frame_wavelengths(self.wavelength, frame)
        meta = dict(self.meta)
        meta["history"] = list(meta.get("history", [])) + [f"wavelengths converted {self.wave_frame} -> {frame} "
                                                            "(Morton 2000)"]
        return self._replace(wavelength=wavelength, wave_frame=frame, meta=meta)

    def to_spectrum(self):
        """A specutils `~specutils.Spectrum` with 2-D flux (n_spectra, n_pixels).

        ``ivar`` becomes an `~astropy.nddata.InverseVariance` uncertainty, the
        labels go to ``meta["labels"]``, the frame to ``meta["wave_frame"]``.
        """
        from stellar_relevance.io.conversions import spectrum_from_arrays

        return spectrum_from_arrays(self.wavelength, self.flux, self.flux_unit, self.ivar, self.mask, self.labels,
                                    self.wave_frame, self.meta)

    @classmethod
    def from_spectrum(cls, spectrum, labels=None, wave_frame=None):
        """Build a set from a specutils `~specutils.Spectrum` (1-D or 2-D flux).

        Parameters
        ----------
        spectrum : `~specutils.Spectrum`
            The spectral axis must be the last axis and convertible to a wavelength.
        labels : `~astropy.table.Table`, optional
            Default: ``spectrum.meta["labels"]`` when present.
        wave_frame : {"air", "vacuum"}, optional
            Default: ``spectrum.meta["wave_frame"]``; when absent "air" is assumed
            and a `DataWarning` says so.
        """
        from stellar_relevance.io.conversions import arrays_from_spectrum

        return cls(**arrays_from_spectrum(spectrum, labels, wave_frame))
