"""A vectorised flux-conserving resampler and the wavelength grids it resamples onto.

specutils' `~specutils.manipulation.FluxConservingResampler` computes, for
each output bin, the overlap-weighted mean of the input bins (Carnall 2017)
in a Python loop: about 150 ms for one 3,909-pixel LAMOST spectrum. Here the
same quantity is the difference of the cumulative integral of the
piecewise-constant input at the two edges of each output bin, for all bins
at once with numpy:

    flux_j = (F(b_j) - F(a_j)) / (b_j - a_j),   F(x) = integral of f up to x

and the variance, which is not a linear functional of an integral, as the
same sum split into the two partial end bins plus a cumulative sum of
``var_i * w_i**2`` over the bins in between:

    var_j = sum_i var_i * p_ij**2 / (b_j - a_j)**2

(p_ij: overlap of input bin i with output bin j). The input bin edges are
specutils' (``SpectralAxis.bin_edges``: midpoints, outer edges half a step
out). Output bins not fully inside the input's span are NaN; an output bin
that touches a bad input pixel (NaN flux, non-positive inverse variance) is
NaN with inverse variance 0. ``benchmarks/ingest.py`` compares it with
specutils on real LAMOST spectra (speed ratio and agreement).
"""

import numpy as np
from astropy import units as u

from stellar_relevance.exceptions import DataError, ParameterError

__all__ = ["bin_edges", "grid_bins", "resample", "parse_grid", "log_grid"]


def bin_edges(centers):
    """Bin edges of contiguous pixels, as specutils computes them.

    Midpoints between neighbouring centres; the outer edges half a step
    beyond the first and last centre.

    Examples
    --------
    >>> bin_edges(np.array([1.0, 2.0, 4.0]))
    array([0.5, 1.5, 3. , 5. ])
    """
    centers = np.asarray(centers, dtype=float)
    a = np.insert(centers, 0, 2 * centers[0] - centers[1])
    b = np.append(centers, 2 * centers[-1] - centers[-2])
    return (a + b) / 2


def grid_bins(centers, gap_factor=3.0):
    """Lower and upper edges of the output bins of a grid, aware of gaps.

    A grid may be the union of disjoint segments (the two arms of a LAMOST
    medium-resolution spectrum). Where a step is more than ``gap_factor``
    times the steps on both sides, the pixels beside it get half their own
    neighbour's step instead of a midpoint inside the gap.

    Parameters
    ----------
    centers : array-like
        The grid's pixel centres, increasing.
    gap_factor : float, default=3.0
        A step this many times both neighbouring steps is a gap.

    Returns
    -------
    lo, hi : ndarray
        Bin edges (same unit as ``centers``), ``lo[j] < centers[j] < hi[j]``.

    Examples
    --------
    Two segments, 1 apart, with a gap of 6 between them:

    >>> lo, hi = grid_bins([1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 12.0, 13.0])
    >>> lo.tolist()
    [0.5, 1.5, 2.5, 3.5, 9.5, 10.5, 11.5, 12.5]
    >>> hi.tolist()
    [1.5, 2.5, 3.5, 4.5, 10.5, 11.5, 12.5, 13.5]
    """
    centers = np.asarray(centers, dtype=float)
    edges = bin_edges(centers)
    lo, hi = edges[:-1].copy(), edges[1:].copy()
    step = np.diff(centers)
    if step.size >= 3:
        left = np.concatenate([[step[0]], step[:-1]])
        right = np.concatenate([step[1:], [step[-1]]])
        gaps = np.flatnonzero((step > gap_factor * left) & (step > gap_factor * right))
        for g in gaps:  # pixel g ends a segment, pixel g + 1 starts the next
            hi[g] = centers[g] + 0.5 * left[g]
            lo[g + 1] = centers[g + 1] - 0.5 * right[g]
    return lo, hi


def resample(wavelength, flux, ivar, lo, hi):
    """Resample spectra on one input grid onto output bins ``[lo, hi)``, conserving flux.

    Parameters
    ----------
    wavelength : ndarray, (n,)
        Input pixel centres, strictly increasing (same unit as ``lo``/``hi``).
    flux : ndarray, (n,) or (m, n)
        NaN marks a bad pixel.
    ivar : ndarray or None, same shape as ``flux``
        Inverse variance; ``<= 0`` or NaN marks a bad pixel.
    lo, hi : ndarray, (k,)
        Output bin edges (from :func:`grid_bins`).

    Returns
    -------
    flux, ivar : ndarray, (k,) or (m, k)
        NaN flux and 0 inverse variance where an output bin is not fully
        covered by the input or touches a bad input pixel. ``ivar`` is None
        when the input's is.

    Examples
    --------
    >>> wave = np.arange(10.0)
    >>> lo, hi = grid_bins(np.array([2.0, 4.0, 6.0]))
    >>> resample(wave, wave ** 2, None, lo, hi)[0]
    array([ 4.5, 16.5, 36.5])
    """
    wave = np.asarray(wavelength, dtype=float)
    flux = np.asarray(flux, dtype=float)
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    edges = bin_edges(wave)
    # where each output edge falls: lo in [e_k, e_k+1), hi in (e_k, e_k+1]; shared by every row
    ia = np.clip(np.searchsorted(edges, lo, side="right") - 1, 0, wave.size - 1)
    ib = np.clip(np.searchsorted(edges, hi, side="left") - 1, 0, wave.size - 1)
    geometry = (edges, np.diff(edges), ia, ib, lo - edges[ia], hi - edges[ib], hi - lo,
                (lo >= edges[0]) & (hi <= edges[-1]))
    if flux.ndim == 1:
        return _resample_row(flux, None if ivar is None else np.asarray(ivar, dtype=float), geometry)
    ivar = None if ivar is None else np.asarray(ivar, dtype=float)
    rows = [_resample_row(flux[i], None if ivar is None else ivar[i], geometry) for i in range(flux.shape[0])]
    return np.vstack([r[0] for r in rows]), None if ivar is None else np.vstack([r[1] for r in rows])


def _resample_row(flux, ivar, geometry):
    edges, width, ia, ib, from_lo, from_hi, span, inside = geometry
    bad = ~np.isfinite(flux)
    if ivar is not None:
        bad |= ~(ivar > 0)  # also NaN
    f = np.where(bad, 0.0, flux)
    cum = np.empty(f.size + 1)
    cum[0] = 0.0
    np.cumsum(f * width, out=cum[1:])
    # integral up to each edge: whole bins before + the partial bin
    out = (cum[ib] + f[ib] * from_hi - cum[ia] - f[ia] * from_lo) / span
    cum_bad = np.empty(f.size + 1, dtype=np.int32)
    cum_bad[0] = 0
    np.cumsum(bad, out=cum_bad[1:])
    invalid = ((cum_bad[ib + 1] - cum_bad[ia]) > 0) | ~inside
    out[invalid] = np.nan
    if ivar is None:
        return out, None
    var = np.zeros_like(f)
    np.divide(1.0, ivar, out=var, where=~bad)
    cum_var = np.empty(f.size + 1)
    cum_var[0] = 0.0
    np.cumsum(var * width ** 2, out=cum_var[1:])
    first = var[ia] * (width[ia] - from_lo) ** 2
    last = var[ib] * from_hi ** 2
    middle = cum_var[ib] - cum_var[np.minimum(ia + 1, ib)]
    total = np.where(ia == ib, var[ia] * span ** 2, first + middle + last)
    with np.errstate(divide="ignore", invalid="ignore"):
        new_ivar = span ** 2 / total
    new_ivar[invalid | ~np.isfinite(new_ivar)] = 0.0
    return out, new_ivar


def log_grid(start, stop, step_dex):
    """A log-linear grid from ``start`` to at most ``stop`` (Angstrom), ``step_dex`` in log10.

    Parameters
    ----------
    start, stop : float
        The first wavelength and the limit of the last (Angstrom).
    step_dex : float
        The step in log10 wavelength (SDSS and LAMOST: 1e-4).

    Returns
    -------
    astropy.units.Quantity
        The grid in Angstrom.

    Examples
    --------
    >>> grid = log_grid(4000, 4010, 1e-4)
    >>> grid.size, grid[0], round(float(grid[1].value), 3)
    (11, <Quantity 4000. Angstrom>, 4000.921)
    """
    n = int(np.floor((np.log10(stop) - np.log10(start)) / step_dex + 1e-9)) + 1
    return 10.0 ** (np.log10(start) + step_dex * np.arange(n)) * u.AA


def parse_grid(text):
    """A wavelength grid from ``"START:STOP:STEP"`` (Angstrom) or ``"log:START:STOP:DEX"``.

    Parameters
    ----------
    text : str or `~astropy.units.Quantity`
        ``"3800:8900:1.0"``: linear, STEP in Angstrom; ``"log:3800:8900:1e-4"``:
        log-linear, DEX in log10. A Quantity is returned as it is.

    Returns
    -------
    `~astropy.units.Quantity`
        Pixel centres in Angstrom, from START to at most STOP.

    Raises
    ------
    ParameterError
        (parameter ``grid``) malformed text, STOP <= START, a step <= 0 or
        more than 10 million pixels.

    Examples
    --------
    >>> parse_grid("4000:4002:0.5")
    <Quantity [4000. , 4000.5, 4001. , 4001.5, 4002. ] Angstrom>
    >>> parse_grid("log:4000:4001:1e-4").size
    2
    """
    if isinstance(text, u.Quantity):
        return text
    parts = str(text).strip().split(":")
    log = parts[0].lower() == "log"
    if log:
        parts = parts[1:]
    usage = "must be START:STOP:STEP in Angstrom (e.g. 3800:8900:1.0) or log:START:STOP:DEX (e.g. log:3800:8900:1e-4)"
    if len(parts) != 3:
        raise ParameterError("grid", f"{usage}; got {text!r}")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        raise ParameterError("grid", f"{usage}; got {text!r}") from None
    if not (np.isfinite([start, stop, step]).all() and 0 < start < stop and step > 0):
        raise ParameterError("grid", f"needs 0 < START < STOP and STEP > 0; got {text!r}")
    n = (np.log10(stop / start) / step if log else (stop - start) / step) + 1
    if n > 1e7:
        raise ParameterError("grid", f"{text!r} has {n:.3g} pixels; more than 10 million")
    if n < 2:
        raise ParameterError("grid", f"{text!r} has fewer than 2 pixels")
    if log:
        return log_grid(start, stop, step)
    count = int(np.floor((stop - start) / step + 1e-9)) + 1
    return (start + step * np.arange(count)) * u.AA


# ------------------------------------------------- the common grid of many files
def _segments(extents):
    """Per arm name, the overlap of every spectrum's span and the median log step; overlapping arms merged."""
    arms = {}
    for ext in extents:
        for name, lo, hi, step in ext:
            a = arms.setdefault(name, [0.0, np.inf, []])
            a[0], a[1] = max(a[0], lo), min(a[1], hi)
            a[2].append(step)
    segments = sorted((lo, hi, float(np.median(steps)), name) for name, (lo, hi, steps) in arms.items())
    for lo, hi, _, name in segments:
        if not hi > lo:
            raise DataError(f"the spectra do not overlap in wavelength (arm {name or '?'}): read fewer or "
                            "give a common grid", see=("grid",))
    merged = []
    for seg in segments:
        if merged and seg[0] < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], seg[1]), min(last[2], seg[2]), last[3] + seg[3])
        else:
            merged.append(seg)
    return merged


def default_grid(extents):
    """Log-linear grid inside the overlap of all inputs (per arm), at their median step (4 significant digits)."""
    pieces = []
    for lo, hi, step, _ in _segments(extents):
        step = float(f"{step:.4g}")
        start, stop = lo * 10 ** step, hi * 10 ** -step  # one step inside: every output bin is covered
        if stop > start:
            pieces.append(log_grid(start, stop, step).to_value(u.AA))
    if not pieces or sum(p.size for p in pieces) < 2:
        raise DataError("the spectra overlap in less than 2 pixels; give a common grid", see=("grid",))
    return np.concatenate(pieces)


def _shifted_extent(summary, rest_frame, z_override):
    z = z_override.get(summary["id"], summary["z"]) if rest_frame else 0.0
    if z is None:
        z = 0.0  # no redshift: the record is refused in the resampling pass, with its name
    return [(n, lo / (1 + z), hi / (1 + z), s) for n, lo, hi, s in summary["extent"]]


def _native_grid(summaries, rest_frame, z_override):
    """The inputs' own grid when every spectrum is on it and none is shifted, else None."""
    first = summaries[0]["native"]
    if first is None:
        return None
    for s in summaries:
        z = z_override.get(s["id"], s["z"]) if rest_frame else 0.0
        if z not in (0, 0.0) or s["native"] is None or not np.array_equal(s["native"], first):
            return None
    return first
