"""Match ranked wavelengths (a relevance vector) to absorption-index bands.

``match_indices`` answers two questions about a relevance spectrum:

* per index: how much of the total relevance falls inside its central band,
  how that compares with the band's share of pixels (enrichment), and how
  often a circularly shifted copy of the relevance vector puts at least as
  much relevance in the band (p-value);
* overall: do the top-``top`` bins fall inside the catalogue's bands more
  often than the same circular shifts would place them?

A circular shift keeps the autocorrelation of the relevance vector (a line
spread over several pixels stays spread over several pixels), which a
pixel-wise permutation would destroy and so overstate significance. See
``docs/indices.md`` for the definitions.
"""

from __future__ import annotations

import logging
import warnings

import astropy.units as u
import numpy as np
from astropy.table import QTable

from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.indices.catalog import as_catalog, check_wavelength
from stellar_relevance.indices.measure import pixel_edges

log = logging.getLogger(__name__)

__all__ = ["match_indices", "pixel_index_names"]


def _check_relevance(relevance, n_pixels):
    if isinstance(relevance, u.Quantity):
        relevance = relevance.value
    rel = np.asarray(relevance, dtype=float)
    if rel.ndim != 1:
        raise DataError(f"relevance must be 1-D (one value per pixel), got shape {rel.shape}")
    if rel.size != n_pixels:
        raise DataError(f"relevance has {rel.size} values but the wavelength grid has "
                        f"{n_pixels} pixels")
    bad = np.flatnonzero(~np.isfinite(rel))
    if bad.size:
        raise DataError(f"relevance has {bad.size} non-finite value(s), first at pixel "
                        f"{bad[0]}; expected finite values >= 0")
    neg = np.flatnonzero(rel < 0)
    if neg.size:
        raise DataError(f"relevance has {neg.size} negative value(s), first at pixel {neg[0]} "
                        f"({rel[neg[0]]:g}); relevance is |lambda| * ||psi||, expected >= 0 "
                        f"(pass np.abs of a signed relevance)")
    if not rel.sum() > 0:
        raise DataError("relevance is zero everywhere; fractions and p-values are undefined")
    return rel


def _regions(row):
    """Wavelength intervals that define an index for matching (its *bands*).

    The central band for line indices (atomic, molecular); for bandheads,
    which have no central band, the two sidebands, whose flux ratio is the
    index. Sidebands of line indices are not part of the index's bands: they
    measure the continuum, not the feature.
    """
    if str(row["kind"]) == "bandhead":
        return [(row["blue_lower"].to_value(u.AA), row["blue_upper"].to_value(u.AA)),
                (row["red_lower"].to_value(u.AA), row["red_upper"].to_value(u.AA))]
    return [(row["band_lower"].to_value(u.AA), row["band_upper"].to_value(u.AA))]


def pixel_index_names(membership, names):
    """For each pixel, the comma-joined names of the indices whose bands hold it.

    Parameters
    ----------
    membership : numpy.ndarray of bool, shape (n_indices, n_pixels)
        As returned by ``match_indices(..., return_membership=True)``.
    names : sequence of str
        One name per row of ``membership`` (the ``name`` column of the
        indices table).

    Returns
    -------
    numpy.ndarray of str, shape (n_pixels,)
        ``""`` for a pixel outside every band.

    Examples
    --------
    >>> import numpy as np
    >>> pixel_index_names(np.array([[True, True, False], [False, True, False]]), ["A", "B"]).tolist()
    ['A', 'A,B', '']
    """
    membership = np.asarray(membership, dtype=bool)
    names = np.asarray([str(n) for n in names], dtype=object)
    if membership.ndim != 2 or membership.shape[0] != names.size:
        raise ValueError(f"membership must have one row per name ({names.size}), got shape {membership.shape}")
    return np.array([",".join(names[column]) for column in membership.T], dtype=str)


def match_indices(wavelength, relevance, catalog="lick", top=30, n_permutations=1000,
                  random_state=0, *, wave_frame=None, return_membership=False):
    """Match the most relevant wavelengths to absorption-index bands.

    Parameters
    ----------
    wavelength : astropy.units.Quantity
        Pixel centres, 1-D, strictly increasing, length unit.
    relevance : array-like
        One value >= 0 per pixel (e.g. ``estimator.relevance_``).
    catalog : str, list or QTable, default "lick"
        Catalogue name, list of index names, ECSV path or table (see
        :func:`stellar_relevance.load_catalog`).
    top : int, default 30
        How many of the most relevant bins to list and test.
    n_permutations : int, default 1000
        Number of random circular shifts for the permutation tests.
    random_state : int, numpy Generator or None, default 0
        Seed of the shifts; the same seed gives the same p-values.
    wave_frame : {"air", "vacuum"}, optional
        Frame of ``wavelength``; the catalogue is converted to it. By
        default the catalogue is used in its own frame.
    return_membership : bool, default False
        Also return the per-pixel band membership, the one place where
        "pixel i lies in index j" is decided (the pipeline's ``indices``
        column, its counts and the report all read it).

    Returns
    -------
    bins : astropy.table.QTable
        The ``top`` most relevant pixels, most relevant first: ``rank``
        (1-based), ``pixel``, ``wavelength``, ``relevance``,
        ``relevance_fraction`` (of the total) and ``indices`` (comma-joined
        names of the indices whose bands hold the pixel centre).
    indices : astropy.table.QTable
        One row per index on the grid, in catalogue order: ``name``,
        ``display_name``, ``kind``, ``band_lower``, ``band_upper``,
        ``n_pixels``, ``pixel_fraction``, ``n_top_bins``,
        ``relevance_fraction`` (share of total relevance inside the band),
        ``enrichment`` (relevance_fraction / pixel_fraction) and ``p_value``
        (circular-shift test of relevance_fraction, one-sided, ``(1 + #{shifted
        >= observed}) / (1 + n_permutations)``). ``meta`` holds
        ``overall_p_value`` and ``overall_statistic`` (number of top bins
        inside any band, same shifts), ``overall_expected``,
        ``n_permutations``, ``top``, ``random_state``, ``excluded`` (index ->
        reason) and ``union_pixel_fraction``.
    membership : numpy.ndarray of bool, shape (len(indices), n_pixels)
        Only with ``return_membership=True``: ``membership[j, i]`` is True
        when the centre of pixel ``i`` lies in a band of index ``j`` (row
        ``j`` of ``indices``). An index's bands are its central band, or
        for a bandhead (no central band) its two sidebands; indices excluded
        from the match (off the grid) have no row. ``n_top_bins`` and
        ``n_pixels`` are sums of this array.

    Raises
    ------
    DataError
        Unit-less or non-increasing wavelength; relevance of the wrong
        length, negative, non-finite or all zero.
    ValueError
        ``top`` not in 1..n_pixels, ``n_permutations`` < 1.

    Warns
    -----
    DataWarning
        Indices whose bands fall (partly) off the grid, or hold no pixel
        centre, are excluded and named.

    Examples
    --------
    A relevance that is high only across Mg b: the top pixels all fall in
    its band, none in Fe5270 or H-beta.

    >>> import numpy as np
    >>> import astropy.units as u
    >>> from stellar_relevance import match_indices
    >>> wave = np.arange(4000.0, 6000.0, 1.0) * u.AA
    >>> relevance = np.where((wave > 5160 * u.AA) & (wave < 5190 * u.AA), 1.0, 0.0)
    >>> bins, indices = match_indices(wave, relevance, ["Mgb", "Fe5270", "H-beta"], top=5, n_permutations=200)
    >>> bins["indices"].tolist()
    ['Mgb', 'Mgb', 'Mgb', 'Mgb', 'Mgb']
    >>> dict(zip(indices["name"].tolist(), indices["n_top_bins"].tolist()))
    {'Mgb': 5, 'Fe5270': 0, 'Hb': 0}
    """
    wave = check_wavelength(wavelength)
    rel = _check_relevance(relevance, wave.size)
    n = wave.size
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= n:
        raise ValueError(f"top must be an integer between 1 and the number of pixels ({n}), "
                         f"got {top!r}")
    if (isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer))
            or n_permutations < 1):
        raise ValueError(f"n_permutations must be a positive integer, got {n_permutations!r}")
    table = as_catalog(catalog, wave_frame)
    edges = pixel_edges(wave)
    total = rel.sum()

    # pixel ranges [a, b) of each index (pixel centres inside the region)
    kept, ranges, excluded = [], [], {}
    for i, row in enumerate(table):
        regions = _regions(row)
        lo, hi = min(r[0] for r in regions), max(r[1] for r in regions)
        if lo < edges[0] or hi > edges[-1]:
            excluded[str(row["name"])] = (f"band {lo:.2f}-{hi:.2f} A is not inside the grid "
                                          f"{edges[0]:.2f}-{edges[-1]:.2f} A")
            continue
        pix = [(int(np.searchsorted(wave, a, "left")), int(np.searchsorted(wave, b, "right")))
               for a, b in regions]
        if sum(b - a for a, b in pix) == 0:
            excluded[str(row["name"])] = "no pixel centre inside the band"
            continue
        kept.append(i)
        ranges.append(pix)
    if excluded:
        shown = "; ".join(f"{k}: {v}" for k, v in list(excluded.items())[:10])
        more = f"; ... and {len(excluded) - 10} more (all in the indices table's meta['excluded'])" \
            if len(excluded) > 10 else ""
        warnings.warn(f"{len(excluded)} index(es) excluded from matching: {shown}{more}", DataWarning, stacklevel=2)

    rng = np.random.default_rng(random_state)
    shifts = rng.integers(1, n, size=n_permutations) if n > 1 else np.zeros(n_permutations, int)

    # relevance inside each index: observed and under every circular shift,
    # from the cumulative sum of the doubled vector (O(1) per shift and range)
    csum = np.concatenate([[0.0], np.cumsum(np.concatenate([rel, rel]))])
    n_idx = len(kept)
    observed = np.zeros(n_idx)
    shifted = np.zeros((n_permutations, n_idx))
    members = np.zeros((n_idx, n), dtype=bool)
    for k, pix in enumerate(ranges):
        for a, b in pix:
            length = b - a
            if length == 0:
                continue
            members[k, a:b] = True
            observed[k] += csum[a + length] - csum[a]
            start = (a - shifts) % n  # np.roll(rel, s)[a:b] == rel[(a - s) % n ...]
            shifted[:, k] += csum[start + length] - csum[start]
    tol = 1e-9 * total
    p_values = (1 + np.count_nonzero(shifted >= observed - tol, axis=0)) / (1 + n_permutations)

    # top bins, most relevant first (ties: lower wavelength first)
    order = np.argsort(-rel, kind="stable")[:top]
    union = members.any(axis=0)
    n_pix = members.sum(axis=1)
    n_top = members[:, order].sum(axis=1)
    overall_stat = int(union[order].sum())
    moved = (order[None, :] + shifts[:, None]) % n  # the top bins after each shift
    null = union[moved].sum(axis=1)
    overall_p = (1 + int(np.count_nonzero(null >= overall_stat))) / (1 + n_permutations)

    names = np.array([str(table["name"][i]) for i in kept], dtype=object)
    bins = QTable()
    bins["rank"] = np.arange(1, top + 1)
    bins["pixel"] = order
    bins["wavelength"] = u.Quantity(wavelength)[order]
    bins["relevance"] = rel[order]
    bins["relevance_fraction"] = rel[order] / total
    bins["indices"] = pixel_index_names(members[:, order], names)

    out = QTable()
    sub = table[kept] if kept else table[:0]
    out["name"] = np.array(names, dtype=str) if n_idx else np.array([], dtype=str)
    out["display_name"] = sub["display_name"]
    out["kind"] = sub["kind"]
    out["band_lower"] = sub["band_lower"]
    out["band_upper"] = sub["band_upper"]
    out["n_pixels"] = n_pix
    out["pixel_fraction"] = n_pix / n
    out["n_top_bins"] = n_top
    out["relevance_fraction"] = observed / total
    out["enrichment"] = (observed / total) / (n_pix / n) if n_idx else np.array([])
    out["p_value"] = p_values
    out.meta.update(
        overall_p_value=overall_p,
        overall_statistic=overall_stat,
        overall_expected=float(null.mean()),
        overall_test=("number of the top bins whose centre lies in any index region, against "
                      "the same number after each random circular shift"),
        union_pixel_fraction=float(union.mean()),
        n_permutations=int(n_permutations),
        top=int(top),
        random_state=random_state if isinstance(random_state, (int, type(None))) else repr(random_state),
        excluded=excluded,
        catalog=table.meta.get("subset", "custom"),
        wave_frame=wave_frame or (str(table["wave_frame"][0]) if len(table) else None),
        p_value_test=("one-sided circular-shift permutation test of relevance_fraction, "
                      "p = (1 + #{shifted >= observed}) / (1 + n_permutations)"),
    )
    log.info("matched %d top bins to %d indices: %d in a band (expected %.1f), p = %.3g",
             top, n_idx, overall_stat, null.mean(), overall_p)
    if return_membership:
        return bins, out, members
    return bins, out
