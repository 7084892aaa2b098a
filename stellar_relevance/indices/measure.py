"""Index measurement: equivalent widths, magnitudes and bandhead ratios of a catalogue on a set of spectra.

``measure_indices`` measures every index of a catalogue
(:func:`~stellar_relevance.indices.catalog.load_catalog`) with the Lick
pseudo-continuum and exact fractional-pixel integration; see
``docs/indices.md`` for the method and its checks.
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
from astropy.table import QTable

from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.indices.catalog import BAND_COLUMNS, FRAMES, INDEX_UNITS, _optional, as_catalog, check_wavelength

__all__ = ["measure_indices", "pixel_edges", "band_weights"]


def pixel_edges(wave):
    """Pixel boundaries of a grid of pixel centres (midpoints; outer edges half a step out)."""
    edges = np.empty(wave.size + 1)
    edges[1:-1] = 0.5 * (wave[:-1] + wave[1:])
    edges[0] = wave[0] - 0.5 * (wave[1] - wave[0])
    edges[-1] = wave[-1] + 0.5 * (wave[-1] - wave[-2])
    return edges


def band_weights(edges, lower, upper):
    """Exact overlap (Angstrom) of each pixel with ``[lower, upper]``.

    Returns ``(start, weights)``: the first pixel touched and the overlap
    lengths of pixels ``start .. start + len(weights) - 1``; they sum to
    ``upper - lower`` when the band lies inside the grid.
    """
    start = max(int(np.searchsorted(edges, lower, side="right")) - 1, 0)
    stop = min(int(np.searchsorted(edges, upper, side="left")), edges.size - 1)
    lo = np.maximum(edges[start:stop], lower)
    hi = np.minimum(edges[start + 1: stop + 1], upper)
    return start, np.clip(hi - lo, 0.0, None)


def _unpack_spectra(spectra):
    """(wavelength Quantity, 2-D flux array, labels or None, frame or None, mask or None)."""
    if hasattr(spectra, "wavelength") and hasattr(spectra, "flux"):
        wavelength, flux = spectra.wavelength, spectra.flux
        labels = getattr(spectra, "labels", None)
        frame = getattr(spectra, "wave_frame", None)
        mask = getattr(spectra, "mask", None)
    elif isinstance(spectra, (tuple, list)) and len(spectra) == 2:
        (wavelength, flux), labels, frame, mask = spectra, None, None, None
    else:
        raise TypeError("spectra must be a SpectralSet (or any object with .wavelength and "
                        ".flux) or a (wavelength Quantity, flux array) pair")
    if isinstance(flux, u.Quantity):
        flux = flux.value
    flux = np.asarray(flux, dtype=float)
    if flux.ndim == 1:
        flux = flux[np.newaxis, :]
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim == 1:
            mask = mask[np.newaxis, :]
    return wavelength, flux, labels, frame, mask


def measure_indices(spectra, catalog="lick", *, wave_frame=None):
    """Measure absorption indices on a set of spectra.

    Equivalent widths (Angstrom) and magnitudes use the Lick
    pseudo-continuum: the straight line through the mean fluxes of the blue
    and red sidebands, placed at the sideband midpoints. Flux is taken as
    constant across each pixel (boundaries half-way between pixel centres);
    bands cut pixels exactly at their edges (fractional-pixel weights).

    ``EW = sum_i w_i (1 - F_i / C_i)`` ;
    ``mag = -2.5 log10( sum_i w_i F_i / C_i / (band_upper - band_lower) )``;
    bandheads: ratio of the mean integrand (F_lambda, or F_nu ~ F_lambda *
    lambda**2) in the two bands, red/blue (``r_b``) or blue/red (``b_r``).

    Parameters
    ----------
    spectra : SpectralSet or (Quantity, array)
        Anything with ``.wavelength`` (Quantity, strictly increasing) and
        ``.flux`` (n_spectra, n_pixels); ``.labels`` (Table with ``ID``),
        ``.wave_frame`` and ``.mask`` (True = bad) are used when present.
        Or a plain ``(wavelength, flux)`` pair; 1-D flux is one spectrum.
    catalog : str, list or QTable, default "lick"
        A packaged subset name, a list of index names, an ECSV path or a
        catalogue table (see :func:`load_catalog`).
    wave_frame : {"air", "vacuum"}, optional
        Frame of the spectra; defaults to ``spectra.wave_frame`` and, when
        that is absent, to the catalogue's frame (no conversion). Band edges
        are converted to this frame.

    Returns
    -------
    astropy.table.QTable
        One row per spectrum: ``ID`` (when labels carry one) and one column
        per index, named by the catalogue's ``name``, unit Angstrom, mag or
        dimensionless. ``meta["nan_reasons"]`` maps an index to why it is
        NaN (band off the grid; counts of spectra with non-finite or masked
        flux or a non-positive continuum).

    Warns
    -----
    DataWarning
        One warning listing the indices returned as NaN and why.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from stellar_relevance import SpectralSet, measure_indices
    >>> wave = np.arange(4000.0, 6000.0, 1.0) * u.AA
    >>> flux = np.ones((2, wave.size))
    >>> flux[1, (wave > 5160 * u.AA) & (wave < 5190 * u.AA)] = 0.5  # half depth across Mg b
    >>> table = measure_indices(SpectralSet(wave, flux), ["Mgb"])
    >>> np.round(table["Mgb"].to_value(u.AA), 2).tolist()
    [0.0, 14.31]
    """
    wavelength, flux, labels, frame, mask = _unpack_spectra(spectra)
    wave = check_wavelength(wavelength, "spectra wavelength")
    if flux.shape[1] != wave.size:
        raise DataError(f"flux has {flux.shape[1]} pixels per spectrum but the wavelength grid "
                        f"has {wave.size}")
    if mask is not None:
        if mask.shape != flux.shape:
            raise DataError(f"mask shape {mask.shape} does not match flux shape {flux.shape}")
        if mask.any():
            flux = np.where(mask, np.nan, flux)  # a new array: the input is not modified
    frame = wave_frame or frame
    if frame is not None and frame not in FRAMES:
        raise ValueError(f"wave_frame must be one of {FRAMES}, got {frame!r}")
    table = as_catalog(catalog, frame)
    edges = pixel_edges(wave)
    n_spec = flux.shape[0]

    out = QTable()
    if labels is not None and "ID" in getattr(labels, "colnames", ()):
        if len(labels) != n_spec:
            raise DataError(f"labels have {len(labels)} rows but there are {n_spec} spectra")
        out["ID"] = labels["ID"]
    reasons = {}
    for row in table:
        name = str(row["name"])
        unit = INDEX_UNITS[str(row["index_unit"])]
        values, reason = _measure_one(row, wave, edges, flux)
        if reason:
            reasons[name] = reason
        out[name] = values * unit
    if reasons:
        warnings.warn(
            f"{len(reasons)} index(es) have NaN values: "
            + "; ".join(f"{k}: {v}" for k, v in reasons.items()),
            DataWarning, stacklevel=2,
        )
    out.meta["catalog"] = table.meta.get("subset", "custom")
    out.meta["wave_frame"] = frame or (str(table["wave_frame"][0]) if len(table) else None)
    out.meta["method"] = ("Lick pseudo-continuum (line through blue/red sideband mean fluxes at "
                          "sideband midpoints), fractional-pixel integration")
    out.meta["nan_reasons"] = reasons
    return out


def _band_mean(edges, wave, flux, lower, upper, integrand="flambda"):
    start, w = band_weights(edges, lower, upper)
    block = flux[:, start: start + w.size]
    if integrand == "fnu":
        block = block * wave[start: start + w.size] ** 2
    return block @ w / w.sum()


def _measure_one(row, wave, edges, flux):
    """Values for one index over all spectra, and a NaN reason (or "")."""
    e = {c: row[c].to_value(u.AA) for c in BAND_COLUMNS}
    bandhead = str(row["kind"]) == "bandhead"
    bands = ("blue", "red") if bandhead else ("blue", "band", "red")
    lo = min(e[f"{b}_lower"] for b in bands)
    hi = max(e[f"{b}_upper"] for b in bands)
    n_spec = flux.shape[0]
    if lo < edges[0] or hi > edges[-1]:
        return (np.full(n_spec, np.nan),
                f"bands span {lo:.3f}-{hi:.3f} A, beyond the grid {edges[0]:.3f}-{edges[-1]:.3f} A")
    with np.errstate(invalid="ignore", divide="ignore"):
        if bandhead:
            integrand = _optional(row, "integrand") or "flambda"
            blue = _band_mean(edges, wave, flux, e["blue_lower"], e["blue_upper"], integrand)
            red = _band_mean(edges, wave, flux, e["red_lower"], e["red_upper"], integrand)
            values = blue / red if _optional(row, "ratio_order") == "b_r" else red / blue
            cont = np.minimum(blue, red)
        else:
            blue = _band_mean(edges, wave, flux, e["blue_lower"], e["blue_upper"])
            red = _band_mean(edges, wave, flux, e["red_lower"], e["red_upper"])
            x_blue = 0.5 * (e["blue_lower"] + e["blue_upper"])
            x_red = 0.5 * (e["red_lower"] + e["red_upper"])
            start, w = band_weights(edges, e["band_lower"], e["band_upper"])
            x = wave[start: start + w.size]
            t = (x - x_blue) / (x_red - x_blue)
            continuum = blue[:, None] * (1.0 - t) + red[:, None] * t
            ratio = flux[:, start: start + w.size] / continuum
            if str(row["index_unit"]) == "mag":
                values = -2.5 * np.log10(ratio @ w / w.sum())
            else:
                values = w.sum() - ratio @ w
            cont = continuum.min(axis=1)
    notes = []
    n_nonfinite = int(np.count_nonzero(~np.isfinite(values) & ~(cont <= 0)))
    n_negative = int(np.count_nonzero(cont <= 0))
    if n_nonfinite:
        notes.append(f"{n_nonfinite} spectra with non-finite or masked flux in the bands")
    if n_negative:
        notes.append(f"{n_negative} spectra with a non-positive continuum")
        values = np.where(cont <= 0, np.nan, values)
    return values, "; ".join(notes)
