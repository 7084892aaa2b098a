"""The paper's claims about MILES [Fe/H], checked with the numbers of a run.

Each claim is a dict ``{"claim": str, "observed": str, "holds": bool}``;
the pipeline stores the list in ``metrics["claims"]`` and the report shows
it. The index groups the paper names are matched by catalogue name, display
name or alias; their top-pixel counts are read from the band membership that
:func:`~stellar_relevance.indices.matching.match_indices` returns (one place decides
which pixel lies in which index).
"""

import numpy as np

__all__ = ["PAPER_FOUND", "PAPER_NOT_FOUND", "paper_claims", "group_counts"]

#: Indices the paper says the network found for [Fe/H] (alias groups).
PAPER_FOUND = {
    "Ca II H&K": ("cahk", "caiih+k", "caiihk", "cak3933", "cah3968", "ca_hk", "ca4227_hk"),
    "Mgb": ("mgb", "mg_b", "mgb5177"),
    "Fe4383": ("fe4383", "fe4384"),
    "Fe5015": ("fe5015",),
    "Fe5270": ("fe5270",),
    "Fe5335": ("fe5335",),
    "H-beta": ("hb", "hbeta", "h_beta", "hbeta_o", "hbo"),
}
#: Indices the paper says the network did not use for [Fe/H].
PAPER_NOT_FOUND = {"H-alpha": ("halpha", "ha", "h_alpha")}


def _names(row, colnames):
    names = {str(row["name"]).lower()}
    if "display_name" in colnames:
        names.add(str(row["display_name"]).lower())
    if "aliases" in colnames:
        names.update(a.strip().lower() for a in str(row["aliases"]).replace(";", ",").split(",") if a.strip())
    return names


def group_counts(catalog, index_names, membership, top_pixels):
    """Top pixels in each of the paper's index groups.

    Parameters
    ----------
    catalog : astropy.table.Table
        The catalogue (for display names and aliases).
    index_names : sequence of str
        The ``name`` of each row of ``membership`` (the matched indices).
    membership : numpy.ndarray of bool, shape (len(index_names), n_pixels)
        From ``match_indices(..., return_membership=True)``.
    top_pixels : array-like of int
        The top pixels.

    Returns
    -------
    dict or None
        Group -> number of top pixels inside any band of the group's
        indices (a pixel counts once), for the groups present in the
        catalogue; None without a catalogue.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> cat = Table({"name": ["Mgb", "Fe5270"], "display_name": ["Mg b", "Fe5270"]})
    >>> member = np.array([[1, 1, 0, 0], [0, 0, 1, 0]], bool)
    >>> group_counts(cat, ["Mgb", "Fe5270"], member, [0, 1, 3])
    {'Mgb': 2, 'Fe5270': 0}
    """
    if catalog is None:
        return None
    row_of = {str(name): j for j, name in enumerate(index_names)}
    top_pixels = np.asarray(top_pixels, dtype=int)
    out = {}
    for groups in (PAPER_FOUND, PAPER_NOT_FOUND):
        for group, aliases in groups.items():
            rows = [row_of[str(row["name"])] for row in catalog
                    if _names(row, catalog.colnames) & set(aliases) and str(row["name"]) in row_of]
            if rows:
                out[group] = int(np.asarray(membership)[rows][:, top_pixels].any(axis=0).sum())
    return out


def paper_claims(label, catalog_counts, curve, metrics, top, eigenvalues=None):
    """Check the paper's MILES claims against this run (numbers included).

    Parameters
    ----------
    label : str
        The label ranked (the index claims are made for [Fe/H] only).
    catalog_counts : dict or None
        From :func:`group_counts`.
    curve : astropy.table.Table
        The error-vs-k curve (``k``, ``mae_masked``, ``mae_retrained``,
        ``mae_random``).
    metrics : dict
        ``test_mae``, ``topk_mae``, ``overall_p_value``.
    top : int
        How many pixels count as the top.
    eigenvalues : array-like, optional
        First-layer eigenvalues of one model.

    Returns
    -------
    list of dict
        One ``{"claim": str, "observed": str, "holds": bool}`` per claim
        the numbers given can check.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> curve = Table({"k": [10, 30, 100], "mae_masked": [0.30, 0.20, 0.15], "mae_retrained": [0.2, 0.1, 0.12],
    ...                "mae_random": [0.4, 0.3, 0.2]})
    >>> metrics = {"test_mae": 0.11, "topk_mae": 0.1, "overall_p_value": 0.001}
    >>> counts = {"Mgb": 3, "Fe5270": 2, "Fe5335": 1, "Fe4383": 0, "H-alpha": 0}
    >>> for c in paper_claims("FEH", counts, curve, metrics, top=30, eigenvalues=np.r_[np.zeros(90), 1.0]):
    ...     print("holds" if c["holds"] else "fails", "|", c["claim"])
    holds | the first-layer eigenvalues peak close to zero (many inputs unused)
    fails | the minimum test error is reached with about 30 pixels (masked curve)
    holds | the minimum test error is reached with about 30 pixels (retrained curve)
    holds | the top-30 pixels, retrained, predict as well as all pixels (within 0.02)
    holds | the spectral (retrained) curve lies below the random curve at every k <= 300
    holds | the top-30 pixels are enriched in catalogue index bands (overall p < 0.01)
    fails | the top-30 fall in at least 5 of the 7 indices the paper names (Ca II H&K, Mgb, Fe4383, Fe5015, Fe5270, Fe5335, H-beta)
    holds | no top-30 pixel in H-alpha
    """
    claims = []
    if eigenvalues is not None and np.max(np.abs(eigenvalues)) > 0:
        ratio = np.abs(eigenvalues) / np.max(np.abs(eigenvalues))
        counts, edges = np.histogram(ratio, bins=20, range=(0, 1))
        mode = 0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1])
        share = float(np.mean(ratio < 0.05))
        claims.append(
            {
                "claim": "the first-layer eigenvalues peak close to zero (many inputs unused)",
                "observed": f"{share:.0%} of the pixels have |lambda| < 5 % of the largest; the fullest "
                f"histogram bin (of 20) is at |lambda|/max = {mode:.3f}; smallest |lambda|/max = {ratio.min():.3f}",
                "holds": bool(share >= 0.5),
            }
        )
    k = np.asarray(curve["k"])
    for protocol, column in (("masked", "mae_masked"), ("retrained", "mae_retrained")):
        values = np.asarray(curve[column], float)
        ok = np.isfinite(values)
        if ok.sum() < 2:
            continue
        k_best = int(k[ok][np.argmin(values[ok])])
        claims.append(
            {
                "claim": f"the minimum test error is reached with about 30 pixels ({protocol} curve)",
                "observed": f"minimum MAE {values[ok].min():.3f} at k={k_best}",
                "holds": bool(15 <= k_best <= 60),
            }
        )
    retrained_top = metrics.get("topk_mae")
    if retrained_top is not None and np.isfinite(retrained_top):
        diff = retrained_top - metrics["test_mae"]
        claims.append(
            {
                "claim": f"the top-{top} pixels, retrained, predict as well as all pixels (within 0.02)",
                "observed": f"top-{top} retrained MAE {retrained_top:.3f} vs all-pixel {metrics['test_mae']:.3f} "
                f"(difference {diff:+.3f})",
                "holds": bool(diff <= 0.02),
            }
        )
    if "mae_random" in curve.colnames:
        rows = [
            (int(kk), float(s), float(r))
            for kk, s, r in zip(curve["k"], curve["mae_retrained"], curve["mae_random"])
            if kk <= 300 and np.isfinite(s) and np.isfinite(r)
        ]
        if rows:
            worse = [f"k={kk}: {s:.3f} vs {r:.3f}" for kk, s, r in rows if s >= r]
            claims.append(
                {
                    "claim": "the spectral (retrained) curve lies below the random curve at every k <= 300",
                    "observed": "below at every k" if not worse else "not below at " + "; ".join(worse),
                    "holds": not worse,
                }
            )
    p = metrics.get("overall_p_value")
    if p is not None:
        claims.append(
            {
                "claim": f"the top-{top} pixels are enriched in catalogue index bands (overall p < 0.01)",
                "observed": f"p = {p:.4g}",
                "holds": bool(p < 0.01),
            }
        )
    if label.upper() in ("FEH", "[FE/H]", "MH", "[M/H]") and catalog_counts is not None:
        found, missing = [], []
        for group, aliases in PAPER_FOUND.items():
            n = catalog_counts.get(group)
            if n is None:
                continue
            (found if n > 0 else missing).append(f"{group} ({n})")
        if found or missing:
            claims.append(
                {
                    "claim": f"the top-{top} fall in at least 5 of the 7 indices the paper names "
                    "(Ca II H&K, Mgb, Fe4383, Fe5015, Fe5270, Fe5335, H-beta)",
                    "observed": f"{len(found)} found: {', '.join(found) or 'none'}; "
                    f"absent: {', '.join(missing) or 'none'}",
                    "holds": len(found) >= 5,
                }
            )
        for group in PAPER_NOT_FOUND:
            n = catalog_counts.get(group)
            if n is not None:
                claims.append(
                    {
                        "claim": f"no top-{top} pixel in {group}",
                        "observed": f"{n} top-{top} pixels in {group}",
                        "holds": n == 0,
                    }
                )
    return claims
