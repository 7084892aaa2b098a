"""Put survey spectra (one file each, own grids) on one grid and join their labels."""

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy import units as u

from ..exceptions import DataError
from ..spectra import SpectralSet, as_wavelength
from ._common import WarningLog, join_labels

log = logging.getLogger(__name__)


@dataclass
class OneSpectrum:
    """One spectrum as read from a survey file."""

    id: str
    wavelength: u.Quantity
    flux: np.ndarray
    ivar: np.ndarray
    mask: np.ndarray
    source: str
    info: dict = field(default_factory=dict)


def check_one(spec, where):
    """Validate one survey spectrum (the grid through `as_wavelength`, flux not all NaN)."""
    as_wavelength(spec.wavelength, where)
    if spec.wavelength.size != spec.flux.size:
        raise DataError(f"{where}: {spec.wavelength.size} wavelengths for {spec.flux.size} flux values")
    if not np.isfinite(spec.flux).any():
        raise DataError(f"{where}: the flux is all NaN/inf")


def common_grid(spectra):
    """A log-linear grid inside the overlap of all spectra, step = the coarsest mean log step."""
    lo = max(s.wavelength.to_value(u.AA)[0] for s in spectra)
    hi = min(s.wavelength.to_value(u.AA)[-1] for s in spectra)
    if not hi > lo:
        raise DataError("the spectra do not overlap in wavelength: "
                        + ", ".join(f"{s.id} {s.wavelength[0]:.1f}-{s.wavelength[-1]:.1f}" for s in spectra[:10]))
    # mean log step of each input (robust to float32 loglam), rounded to 4 significant digits
    # so that SDSS/LAMOST grids get their nominal 1e-4 dex back; the coarsest one wins
    step = max(float(np.log10(s.wavelength[-1] / s.wavelength[0])) / (s.wavelength.size - 1) for s in spectra)
    step = float(f"{step:.4g}")
    # stay one step inside the overlap so every output bin is covered by input bins
    start, stop = np.log10(lo) + step, np.log10(hi) - step
    n = int(np.floor((stop - start) / step)) + 1
    if n < 2:
        raise DataError(f"the spectra overlap only in {lo:.2f}-{hi:.2f} Angstrom, less than 2 pixels")
    return 10.0 ** (start + step * np.arange(n)) * u.AA


def _resample(spec, grid):
    from astropy.nddata import InverseVariance
    from specutils import Spectrum
    from specutils.manipulation import FluxConservingResampler

    wave = spec.wavelength.to(u.AA)
    bad = spec.mask | ~np.isfinite(spec.flux) | ~np.isfinite(spec.ivar)
    flux = np.where(bad, 0.0, spec.flux)
    ivar = np.where(bad, 0.0, spec.ivar)
    resampler = FluxConservingResampler(extrapolation_treatment="nan_fill")
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        out = resampler(Spectrum(flux=flux * u.dimensionless_unscaled, spectral_axis=wave,
                                 uncertainty=InverseVariance(ivar)), grid)
        touched = resampler(Spectrum(flux=bad.astype(float) * u.dimensionless_unscaled, spectral_axis=wave),
                            grid)
    new_flux = np.asarray(out.flux.value, dtype=float)
    new_ivar = np.asarray(out.uncertainty.array, dtype=float) if out.uncertainty is not None else \
        np.zeros_like(new_flux)
    new_ivar[~np.isfinite(new_ivar)] = 0.0
    new_mask = (np.asarray(touched.flux.value) > 0) | ~np.isfinite(new_flux) | (new_ivar <= 0)
    return new_flux, new_ivar, new_mask


def combine(spectra, labels, *, reader, wave_frame, flux_unit, id_column="ID", grid=None, meta=None):
    """Stack survey spectra into a `SpectralSet`, resampling when their grids differ."""
    warn = WarningLog()
    if not spectra:
        raise DataError(f"{reader}: no spectra given")
    ids = [s.id for s in spectra]
    seen = {}
    for s in spectra:
        if s.id in seen:
            raise DataError(f"{reader}: two files give the spectrum ID {s.id!r}: {seen[s.id]} and {s.source}")
        seen[s.id] = s.source
    same = grid is None and all(
        s.wavelength.unit == spectra[0].wavelength.unit and np.array_equal(s.wavelength.value,
                                                                            spectra[0].wavelength.value)
        for s in spectra)
    if same:
        wavelength = spectra[0].wavelength
        flux = np.vstack([s.flux for s in spectra]).astype(float)
        ivar = np.vstack([s.ivar for s in spectra]).astype(float)
        mask = np.vstack([s.mask for s in spectra])
        resampled = False
    else:
        target = common_grid(spectra) if grid is None else u.Quantity(grid).to(u.AA)
        rows = [_resample(s, target) for s in spectra]
        flux = np.vstack([r[0] for r in rows])
        ivar = np.vstack([r[1] for r in rows])
        mask = np.vstack([r[2] for r in rows])
        wavelength = target
        resampled = True
        warn(f"{reader}: {len(spectra)} spectra on {len({s.wavelength.size for s in spectra})} different "
             f"grid length(s) were resampled (flux-conserving, specutils FluxConservingResampler) onto "
             f"{'the given grid' if grid is not None else 'a common log-linear grid'} of {target.size} pixels, "
             f"{target[0]:.2f} - {target[-1]:.2f} ({wave_frame}); masked pixels were zeroed before and the "
             "output pixels they touch are masked")
        for i, s in enumerate(spectra):
            if not np.isfinite(flux[i]).any() or mask[i].all():
                raise DataError(f"{s.source}: no good pixel on the common grid after resampling")
    table = join_labels(ids, labels, reader, warn, id_column="ID")
    meta = dict(meta or {})
    meta.update(reader=reader, files=[s.source for s in spectra], resampled=resampled,
                warnings=list(warn.messages))
    if labels is not None and "source" in labels.meta:
        meta["labels_source"] = labels.meta["source"]
    return SpectralSet(wavelength, flux, ivar=ivar, mask=mask, labels=table, wave_frame=wave_frame,
                       meta=meta, flux_unit=flux_unit)


def as_label_table(labels, id_column):
    """A label table from a path or a Table, its ID column named ``ID``."""
    from astropy.table import Table

    from .labels import read_labels

    if labels is None:
        return None
    if isinstance(labels, Table):
        if id_column not in labels.colnames:
            raise DataError(f"label table: no {id_column!r} column (columns: {', '.join(labels.colnames)})")
        table = labels.copy()
        if id_column != "ID":
            table.rename_column(id_column, "ID")
        return table
    return read_labels(labels, id_column=id_column)
