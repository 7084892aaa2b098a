"""The running percentile behind :mod:`.continuum`: rank-filter runs, and sorted windows where those cannot serve.

Pixels whose window holds the same number of pixels form runs; over a run
of at least `MIN_RUN` pixels the two order statistics the percentile needs
come from `scipy.ndimage.rank_filter` run once over the rows laid end to
end (a window never crosses from one row into the next: only positions
whose window lies inside its row are kept). Windows that hold a non-finite
value, are cut short at an end of the grid, or belong to a short run are
gathered, all spectra at once, and sorted (non-finite values as +inf, so
they sort last and the rank is taken among the finite ones).
"""

import numpy as np

from stellar_relevance.exceptions import ParameterError

#: Runs of at least this many pixels with one window length use the rank filter; shorter ones are sorted.
MIN_RUN = 16
#: The narrowest window accepted, in pixels.
MIN_WINDOW_PIXELS = 3


def window_bounds(wave_aa, window_aa):
    """First and one-past-last pixel of each pixel's window (``|lambda_j - lambda_i| <= window / 2``)."""
    half = window_aa / 2.0
    lo = np.searchsorted(wave_aa, wave_aa - half, side="left")
    hi = np.searchsorted(wave_aa, wave_aa + half, side="right")
    width = hi - lo
    if width.min() < MIN_WINDOW_PIXELS:
        i = int(np.argmin(width))
        step = float(np.diff(wave_aa)[min(i, wave_aa.size - 2)])
        raise ParameterError("window", f"of {window_aa:g} Angstrom holds only {int(width[i])} pixel(s) at "
                                       f"{wave_aa[i]:.1f} Angstrom, where the grid step is {step:.3g} Angstrom; "
                                       f"give at least {MIN_WINDOW_PIXELS} steps")
    return lo, hi


def _lerp(a, b, frac):
    """numpy's linear interpolation between neighbouring order statistics (its ``_lerp``)."""
    with np.errstate(invalid="ignore"):  # windows without a finite value: inf - inf, set to NaN by the caller
        diff = b - a
        out = a + diff * frac
        return np.where(frac >= 0.5, b - diff * (1.0 - frac), out)


def _runs(width):
    """(window length, columns) for each run of nearby pixels whose windows hold the same number of pixels."""
    for w in np.unique(width):
        cols = np.flatnonzero(width == w)
        for run in np.split(cols, np.flatnonzero(np.diff(cols) > w) + 1):
            yield int(w), run


def _rank_run(x, lo, w, q):
    """The percentile over windows of ``w`` pixels starting at ``lo`` (one run), every row at once."""
    from scipy.ndimage import rank_filter

    start, stop = int(lo.min()), int(lo.max()) + w
    segment = np.ascontiguousarray(x[:, start:stop])
    flat = segment.ravel()
    where = (np.arange(x.shape[0])[:, None] * segment.shape[1] + (lo - start)[None, :] + w // 2).ravel()
    pos = q * (w - 1)
    k = int(np.floor(pos))
    low = rank_filter(flat, k, size=w, mode="nearest")[where].astype(float)
    frac = pos - k
    if frac == 0.0:
        return low.reshape(x.shape[0], lo.size)
    high = rank_filter(flat, k + 1, size=w, mode="nearest")[where].astype(float)
    return _lerp(low, high, frac).reshape(x.shape[0], lo.size)


def _sorted_windows(x, rows, cols, lo, w, n_finite, q, block=1 << 22):
    """The percentile of the finite values of single windows (gathered and sorted), ``block`` values at a time."""
    out = np.empty(rows.size)
    step = max(1, block // w)
    offsets = np.arange(w)
    for s in range(0, rows.size, step):
        r, c = rows[s : s + step], cols[s : s + step]
        values = np.sort(x[r[:, None], lo[c][:, None] + offsets], axis=1)  # bad pixels are +inf: last
        nf = n_finite[s : s + step]
        pos = q * (np.maximum(nf, 1) - 1)
        k = np.floor(pos).astype(int)
        k1 = np.minimum(k + 1, np.maximum(nf, 1) - 1)
        low = np.take_along_axis(values, k[:, None], axis=1)[:, 0].astype(float)
        high = np.take_along_axis(values, k1[:, None], axis=1)[:, 0].astype(float)
        out[s : s + step] = np.where(nf > 0, _lerp(low, high, pos - k), np.nan)
    return out


def running_percentile(flux, lo, hi, q):
    """Pseudo-continuum of a chunk of rows: float64 (n, p), NaN where a window holds no finite value."""
    bad = ~np.isfinite(flux)
    x = np.where(bad, np.inf, flux)
    n, p = x.shape
    width = hi - lo
    counts = np.zeros((n, p + 1), dtype=np.int32)
    np.cumsum(bad, axis=1, out=counts[:, 1:])
    n_bad = counts[:, hi] - counts[:, lo]
    out = np.full((n, p), np.nan)
    done = np.zeros((n, p), dtype=bool)
    for w, run in _runs(width):
        if run.size >= MIN_RUN:
            clean = n_bad[:, run] == 0
            out[:, run] = np.where(clean, _rank_run(x, lo[run], w, q), np.nan)
            done[:, run] = clean
    rows, cols = np.nonzero(~done)
    for w in np.unique(width[cols]):
        pick = width[cols] == w
        r, c = rows[pick], cols[pick]
        out[r, c] = _sorted_windows(x, r, c, lo, int(w), w - n_bad[r, c], q)
    return out
