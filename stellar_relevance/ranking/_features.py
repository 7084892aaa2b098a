"""The pipeline's features: the top pixels merged into lines, tested against shadow pixels in one more network.

Private to :mod:`stellar_relevance.ranking`. The shadow network is trained
like the first seed's (same parameters, a seed of its own) on the training
spectra with a shadow copy of every pixel beside the real ones: the same
flux with the spectra shuffled between stars (one permutation for all
shadows, so a shadow spectrum is a real spectrum given to another star).
Each real pixel is set against its own shadow
(:func:`~stellar_relevance.indices.features.shadow_q_values`, knockoff+); the
features and their significance are those of
:func:`~stellar_relevance.indices.features.find_features`.
"""

import logging

import numpy as np

import stellar_relevance.nn.batches as batches
from stellar_relevance.indices.features import find_features, shadow_q_values
from stellar_relevance.ranking._train import fit_kwargs

__all__ = ["SIGNIFICANCE_METHODS", "shadow_relevance", "feature_table", "feature_counts"]

logger = logging.getLogger(__name__)

#: ``"shadow"``: one more network with shadow pixels; ``"none"``: features without significance.
SIGNIFICANCE_METHODS = ("shadow", "none")


def shadow_relevance(data, params, seed):
    """The relevance of the real pixels and of their shadows in one network trained on both.

    The network's input (training spectra and their shadows, float32) is
    held in memory, at most :data:`~stellar_relevance.nn.batches.CHUNK_BYTES`
    (32 MiB): with more training spectra than fit, a seeded subset of them.

    Returns
    -------
    real, shadow : numpy.ndarray
        Each of shape (n_pixels,), from the same normalised relevance.
    """
    from stellar_relevance.estimators import SpectralRelevanceRegressor

    rng = np.random.default_rng(seed)
    rows = np.asarray(data.train_idx)
    n_pixels = data.X.shape[1]
    most = max(20, batches.CHUNK_BYTES // (2 * 4 * n_pixels))  # one chunk of working memory (all of MILES fits)
    if rows.size > most:
        logger.info("features: the shadow network trains on %d of the %d training spectra", most, rows.size)
        rows = np.sort(rng.choice(rows, most, replace=False))
    X = np.empty((rows.size, 2 * n_pixels), dtype=np.float32)
    for start in range(0, rows.size, 256):  # the (memory-mapped) flux read a block of rows at a time
        X[start:start + 256, :n_pixels] = data.X[rows[start:start + 256]]
    X[:, n_pixels:] = X[rng.permutation(rows.size), :n_pixels]
    given = None if data.G is None else data.G[rows]
    logger.info("features: training one network on %d spectra with %d real and %d shadow pixels",
                len(rows), n_pixels, n_pixels)
    est = SpectralRelevanceRegressor(**params, random_state=seed)
    est.fit(X, data.y[rows], **fit_kwargs(given))
    relevance = np.asarray(est.feature_importances_, dtype=float)
    return relevance[:n_pixels], relevance[n_pixels:]


def _method_text(p):
    if p.significance == "none":
        return "No significance was computed (significance='none')."
    return (f"Significance: one more network trained beside a shadow copy of every pixel (the same flux with the "
            f"spectra shuffled between stars, so a shadow carries no information about the label); each pixel "
            f"competes with its own shadow (knockoff+, false-discovery rate over all pixels); a feature is "
            f"significant when one of its top pixels is selected at a false-discovery rate of {p.fdr}.")


def feature_table(subset, data, params, combined, sensitivity, matched, p, seed):
    """The features of the ranking (:func:`~stellar_relevance.indices.features.find_features`), tested."""
    q_values = None
    if p.significance == "shadow":
        real, shadow = shadow_relevance(data, params, seed)
        q_values, _ = shadow_q_values(real, shadow)
    features = find_features(subset.wavelength, combined.relevance, top=int(p.top), sensitivity=sensitivity.mean,
                             membership=matched.membership, index_names=list(matched.indices["name"]),
                             q_values=q_values, fdr=p.fdr)
    features.meta["significance"] = _method_text(p)
    features.meta["shadow_seed"] = int(seed) if q_values is not None else None
    if q_values is not None:
        features.meta["n_pixels_selected"] = int(np.sum(q_values <= p.fdr))
    return features


def feature_counts(features, significance):
    """``n_features`` and ``n_significant_features`` (None without significance) for the metrics."""
    n_significant = int(np.sum(np.asarray(features["significant"], bool))) if significance != "none" else None
    return {"n_features": len(features), "n_significant_features": n_significant}
