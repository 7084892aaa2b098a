"""Features, not pixels: the most relevant pixels merged into lines or blends, each with its significance.

A relevance ranking lists pixels; a spectroscopist reads lines. Adjacent top
pixels are one feature (:func:`find_features`): the ``top`` most relevant
pixels are sorted by wavelength and a new feature starts wherever two of them
are more than ``merge`` pixels apart (default :data:`MERGE_PIXELS` = 3: at the
2-3 pixels per resolution element of MILES and the survey grids, a line's
core and wings, and lines closer than the resolution, form one feature).

Each feature's significance comes from a null built from the data itself:
shadow pixels (Boruta, Kursa & Rudnicki 2010), copies of every pixel with the
spectra shuffled between stars, trained beside the real pixels in one more
network. A shadow pixel looks like its real pixel (same flux distribution,
same lines, same correlations with its neighbours) but carries no information
about the label. Each real pixel competes with its own shadow:
``W_i = r_i - k s_i`` (``r``, ``s``: the relevance of the pixel and of its
shadow in that network; ``k`` = median(r) / median(s) removes a difference
between the two blocks as a whole). For a pixel that carries nothing, ``W_i``
is as likely negative as positive, so the number of pixels with ``W <= -t``
estimates the number of false ones among those with ``W >= t``: the knockoff+
filter (Barber & Candes 2015) turns that into a q-value per pixel
(:func:`shadow_q_values`) that controls the false-discovery rate over all
pixels, whichever pixels are later listed. A feature's q-value is the smallest
q-value of its top pixels; it is significant when that is at most ``fdr``.
Like every knockoff+ selection, it needs at least ``1 / fdr`` discovered
pixels before any is significant (10 at 0.1): a label carried by a single
narrow line is reported as not significant.
"""

import astropy.units as u
import numpy as np
from astropy.table import QTable

__all__ = ["find_features", "shadow_q_values", "MERGE_PIXELS"]

#: Top pixels at most this many pixels apart belong to one feature.
MERGE_PIXELS = 3


def shadow_q_values(relevance, shadow_relevance):
    """Knockoff+ q-values of the real pixels against their shadows (one network, same normalisation).

    Parameters
    ----------
    relevance : array-like of float
        The relevance of every real pixel.
    shadow_relevance : array-like of float
        The relevance of every pixel's shadow, in the same order.

    Returns
    -------
    q_values : numpy.ndarray
        One per pixel: the smallest false-discovery rate at which the pixel
        is selected (1 where ``W_i <= 0``).
    statistic : numpy.ndarray
        ``W_i = r_i - k s_i``, with ``k`` = median(r) / median(s).

    Examples
    --------
    Ten pixels that the network uses far more than their shadows, among 2000 that it does not:

    >>> rng = np.random.default_rng(0)
    >>> real, shadow = rng.exponential(size=2000), rng.exponential(size=2000)
    >>> real[:30] += 20.0
    >>> q, w = shadow_q_values(real, shadow)
    >>> int(np.sum(q[:30] <= 0.05)), int(np.sum(q[30:] <= 0.05)) <= 2
    (30, True)
    >>> int(np.sum(shadow_q_values(shadow, real[::-1])[0][:1970] <= 0.05))  # nothing to find: nothing found
    0
    """
    real = np.asarray(relevance, dtype=float)
    shadow = np.asarray(shadow_relevance, dtype=float)
    if real.shape != shadow.shape or real.ndim != 1:
        raise ValueError(f"relevance and shadow_relevance must be 1-D of one length, got {real.shape} and "
                         f"{shadow.shape}")
    scale = np.median(real) / np.median(shadow) if np.median(shadow) > 0 else 1.0
    w = real - scale * shadow
    magnitude = np.abs(w)
    order = np.argsort(-magnitude, kind="stable")  # thresholds t from the largest |W| down
    positive = np.cumsum(w[order] > 0)
    negative = np.cumsum(w[order] < 0)
    # at t = |W| of the j-th pixel: #{W >= t} and #{W <= -t} (ties of |W| share the last count)
    last = np.searchsorted(-magnitude[order], -magnitude[order], side="right") - 1
    estimate = (1.0 + negative[last]) / np.maximum(positive[last], 1)
    estimate[magnitude[order] == 0] = 1.0
    q_sorted = np.minimum.accumulate(estimate[::-1])[::-1]  # the best rate at this threshold or a lower one
    q = np.ones_like(w)
    q[order] = np.minimum(q_sorted, 1.0)
    q[w <= 0] = 1.0
    return q, w


def _groups(pixels, merge):
    pixels = np.sort(np.asarray(pixels, dtype=int))
    return np.split(pixels, np.flatnonzero(np.diff(pixels) > merge) + 1)


def _names(membership, index_names, first, last):
    if membership is None or not len(index_names):
        return ""
    inside = np.asarray(membership)[:, first: last + 1].any(axis=1)
    return ",".join(str(name) for name, hit in zip(index_names, inside) if hit)


def find_features(wavelength, relevance, *, top=30, merge=MERGE_PIXELS, sensitivity=None, membership=None,
                  index_names=(), q_values=None, fdr=0.1):
    """Merge the ``top`` most relevant pixels into features and test each one.

    Parameters
    ----------
    wavelength : astropy.units.Quantity
        The pixel grid (pixel order).
    relevance : array-like of float
        One value >= 0 per pixel.
    top : int, default=30
        How many of the most relevant pixels are merged.
    merge : int, default=:data:`MERGE_PIXELS`
        Top pixels at most this many pixels apart belong to one feature.
    sensitivity : array-like of float, optional
        The signed sensitivity of each pixel; each feature gets the value of
        largest magnitude over its pixel range.
    membership : array-like of bool, shape (n_indices, n_pixels), optional
        Which pixel lies in which index band
        (``match_indices(..., return_membership=True)``).
    index_names : sequence of str
        One name per row of ``membership``.
    q_values : array-like of float, optional
        A q-value per pixel (:func:`shadow_q_values`); without them the
        features have no significance (NaN, not significant).
    fdr : float, default=0.1
        The false-discovery rate at which a feature is significant.

    Returns
    -------
    astropy.table.QTable
        One row per feature, most relevant first: ``feature`` (1, 2, ...),
        ``pixel_lower``, ``pixel_upper``, ``wavelength_lower``,
        ``wavelength_upper`` (centres of its first and last top pixel),
        ``peak_wavelength``, ``n_top_pixels``, ``peak_relevance``,
        ``relevance`` (sum over its top pixels), ``sensitivity``,
        ``indices`` (index bands holding any pixel of its range),
        ``q_value`` (the smallest of its top pixels') and ``significant``
        (``q_value <= fdr``). ``meta`` holds
        ``top``, ``merge_pixels`` and ``fdr``.

    Examples
    --------
    Two lines, the first three pixels wide, and nothing else:

    >>> wave = np.arange(5000.0, 5020.0) * u.AA
    >>> relevance = np.zeros(20)
    >>> relevance[[4, 5, 6, 14]] = [0.2, 0.4, 0.2, 0.1]
    >>> features = find_features(wave, relevance, top=4)
    >>> features["peak_wavelength"].value.tolist(), features["n_top_pixels"].tolist()
    ([5005.0, 5014.0], [3, 1])
    """
    wave = u.Quantity(wavelength, u.AA)
    relevance = np.asarray(relevance, dtype=float)
    top = int(min(top, relevance.size))
    order = np.argsort(-relevance, kind="stable")[:top]
    rows = []
    for pixels in _groups(order, int(merge)):
        first, last = int(pixels[0]), int(pixels[-1])
        peak = int(pixels[np.argmax(relevance[pixels])])
        span = slice(first, last + 1)
        row = {
            "pixel_lower": first, "pixel_upper": last,
            "wavelength_lower": wave[first].value, "wavelength_upper": wave[last].value,
            "peak_wavelength": wave[peak].value, "n_top_pixels": len(pixels),
            "peak_relevance": float(relevance[peak]), "relevance": float(relevance[pixels].sum()),
            "sensitivity": np.nan, "indices": _names(membership, index_names, first, last),
            "q_value": np.nan,
        }
        if sensitivity is not None:
            values = np.asarray(sensitivity, dtype=float)[span]
            row["sensitivity"] = float(values[np.argmax(np.abs(values))])
        if q_values is not None:
            row["q_value"] = float(np.min(np.asarray(q_values, dtype=float)[pixels]))
        rows.append(row)
    rows.sort(key=lambda row: -row["peak_relevance"])
    names = ["pixel_lower", "pixel_upper", "wavelength_lower", "wavelength_upper", "peak_wavelength",
             "n_top_pixels", "peak_relevance", "relevance", "sensitivity", "indices", "q_value"]
    table = QTable({name: [row[name] for row in rows] for name in names} if rows else
                   {name: np.array([], dtype=str if name == "indices" else float) for name in names})
    table.add_column(np.arange(1, len(table) + 1), name="feature", index=0)
    table["significant"] = np.asarray(np.asarray(table["q_value"], dtype=float) <= fdr, dtype=bool)
    for name in ("wavelength_lower", "wavelength_upper", "peak_wavelength"):
        table[name] = table[name] * u.AA
    table.meta.update(top=top, merge_pixels=int(merge), fdr=float(fdr))
    return table
