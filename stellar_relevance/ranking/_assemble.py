"""The pipeline's last steps: the index match, and the result's tables and dictionaries.

Private to :mod:`stellar_relevance.ranking`; used by
:func:`~stellar_relevance.ranking.pipeline.rank_spectra`. Nothing here trains.
"""

import datetime as _dt
import warnings
from types import SimpleNamespace

import astropy.units as u
import numpy as np
from astropy.table import QTable

from stellar_relevance.exceptions import DataWarning
from stellar_relevance.indices.claims import group_counts, paper_claims
from stellar_relevance.indices.features import MERGE_PIXELS
from stellar_relevance.io.provenance import versions
from stellar_relevance.ranking._stability import OVERLAP_TOLERANCE
from stellar_relevance.ranking._train import mae

__all__ = ["match", "ranking_table", "result_metrics", "result_settings", "result_provenance"]


# ----------------------------------------------------------------------------- the index match
def _load_catalog(catalog, wave_frame):
    if catalog is None or not isinstance(catalog, str):
        return catalog
    from stellar_relevance.indices.catalog import load_catalog

    with warnings.catch_warnings():
        # published sidebands that touch the central band: irrelevant here (the match uses the bands only)
        warnings.filterwarnings("ignore", message=".*sideband", category=DataWarning)
        return load_catalog(catalog, frame=wave_frame)


def match(subset, relevance, order, p):
    """The index table, each pixel's index names and the paper-group counts (one band membership for all)."""
    from stellar_relevance.indices.matching import match_indices, pixel_index_names

    n_pixels = len(relevance)
    cat_table = _load_catalog(p.catalog, subset.wave_frame)
    if cat_table is None or not len(cat_table):
        empty = QTable({"name": np.array([], dtype=str)})
        return SimpleNamespace(table=cat_table, indices=empty, pixel_names=np.full(n_pixels, "", dtype=str),
                               membership=np.zeros((0, n_pixels), dtype=bool), overall_p=None, group_counts=None)
    _bins, indices, membership = match_indices(
        subset.wavelength, relevance, cat_table, top=int(p.top), n_permutations=p.n_permutations,
        random_state=p.random_state, wave_frame=subset.wave_frame, return_membership=True,
    )
    overall_p = indices.meta.get("overall_p_value")
    return SimpleNamespace(
        table=cat_table,
        indices=QTable(indices),
        pixel_names=pixel_index_names(membership, indices["name"]),
        membership=membership,
        overall_p=None if overall_p is None else float(overall_p),
        group_counts=group_counts(cat_table, indices["name"], membership, order[: int(p.top)]),
    )
def ranking_table(subset, combined, sensitivity, top, estimator, pixel_names):
    """The ``ranking`` table: one row per pixel, most relevant first (the first seed's eigenvalues and mean flux)."""
    order = combined.order
    ranking = QTable({
        "rank": np.arange(1, len(order) + 1),
        "pixel": order,
        "wavelength": u.Quantity(subset.wavelength, u.AA)[order],
        "relevance": combined.relevance[order],
        "relevance_std": combined.relevance_std[order],
        "selection_frequency": combined.selection_frequency[order],
        "signed_eigenvalue": estimator.eigenvalues_[order],
        "mean_flux": estimator.feature_means_[order],
        "indices": np.asarray(pixel_names, dtype=str)[order],
        "sensitivity": sensitivity.mean[order],
        "sensitivity_std": sensitivity.std[order],
    })
    ranking["relevance"].description = ("what the model uses (a filter): mean over seeds of |lambda| ||psi|| / "
                                        "sum(|lambda| ||psi||)")
    ranking["relevance_std"].description = "standard deviation of relevance over seeds (NaN with one seed)"
    ranking["selection_frequency"].description = f"share of seeds in whose top-{top} the pixel is (NaN with one seed)"
    ranking["signed_eigenvalue"].description = "first-layer eigenvalue lambda of the first seed's model"
    ranking["mean_flux"].description = f"mean training flux ({subset.flux_unit.to_string() or 'dimensionless'})"
    ranking["sensitivity"].description = (
        "how the pixel responds to the label (a pattern): cov(flux, prediction) / var(prediction) over the training "
        "spectra, both taken after the given labels, divided by the flux scatter the prediction leaves; per label "
        "unit, in units of that scatter, mean over seeds; negative where the flux drops as the label rises")
    ranking["sensitivity_std"].description = "standard deviation of sensitivity over seeds (NaN with one seed)"
    return ranking


def _curve_at_top(curve, top):
    row = [r for r in curve if int(r["k"]) == int(top)]
    if not row:
        return None, None, None
    row = row[0]

    def finite(value):
        return float(value) if np.isfinite(value) else None

    return finite(row["mae_retrained"]), float(row["mae_masked"]), finite(row["mae_random"])


def _spearman(a, b):
    from scipy.stats import spearmanr

    value = spearmanr(a, b).statistic
    return float(value) if np.isfinite(value) else None


def result_metrics(p, data, ensemble, records, combined, sensitivity, curve, matched, eigenvalues):
    """The ``metrics`` dictionary: errors (with the training-mean baseline), stability, index counts, claims."""
    prediction = ensemble.predict(data.X_test)
    test_mae = mae(data.y_test, prediction)
    topk_mae, topk_mae_masked, topk_mae_random = _curve_at_top(curve, p.top)
    errors = np.abs(data.y_test - prediction)
    baseline = mae(data.y_test, np.full(len(data.y_test), float(np.mean(data.y_train))))
    out = {
        "test_mae": test_mae,
        "test_mae_per_seed": [r["test_mae"] for r in records],
        "test_mae_standard_error": float(np.std(errors, ddof=1) / np.sqrt(len(data.y_test))),
        "training_mean_mae": baseline,
        "beats_training_mean": bool(test_mae < baseline),
        "topk_mae": topk_mae,
        "topk_mae_masked": topk_mae_masked,
        "topk_mae_random": topk_mae_random,
        "overall_p_value": matched.overall_p,
        "n_permutations": int(p.n_permutations) if matched.table is not None else 0,
        "seeds": records,
        "stability": combined.stability,
        "relevance_sensitivity_spearman": _spearman(combined.relevance, np.abs(sensitivity.mean)),
        "label_std_test": float(np.std(data.y_test)),
        "paper_index_counts": matched.group_counts,
    }
    out["claims"] = paper_claims(p.label, matched.group_counts, curve, out, int(p.top), eigenvalues)
    return out


def result_settings(p, params, seeds, ks, retrain, label_unit, data, wave_frame):
    """The ``settings`` dictionary: every choice made (``retrain``: ``(retrain_ks, retrain_params)``)."""
    retrain_ks, retrain_params = retrain
    return {
        "label": p.label,
        "label_unit": label_unit,
        "estimator": "SpectralRelevanceRegressor",
        "penalty": p.penalty,
        "given": list(p.given),
        **{k: v for k, v in params.items() if k != "verbose"},
        "test_fraction": p.test_fraction,
        "random_state": int(p.random_state),
        "n_seeds": int(p.n_seeds),
        "seeds": seeds,
        "top": int(p.top),
        "catalog": p.catalog if isinstance(p.catalog, str) or p.catalog is None else "custom",
        "ks": ks,
        "retrain_ks": retrain_ks,
        "retrain_max_epochs": retrain_params["max_epochs"],
        "retrain_min_epochs": retrain_params["min_epochs"],
        "n_random": int(p.n_random),
        "n_random_retrained": p.n_random_retrained,
        "n_permutations": int(p.n_permutations),
        "masked_fill": "training mean of each pixel",
        "overlap_tolerance_pixels": OVERLAP_TOLERANCE,
        "stratified_split": bool(data.stratified),
        "test_ids_given": p.test_ids is not None,
        "wave_frame": wave_frame,
        "continuum": p.continuum_rule,
        "significance": p.significance,
        "fdr": float(p.fdr),
        "feature_merge_pixels": MERGE_PIXELS,
    }


def result_provenance(spectra, subset, data, est0, timings, notes, command):
    """The ``provenance`` dictionary: split sizes, data source and warnings, versions, timings, command."""
    wave = u.Quantity(subset.wavelength, u.AA).value
    reader_warnings = [str(w) for w in (spectra.meta.get("warnings", []) or [])]
    return {
        "split": {
            "n_spectra": len(spectra),
            "n_with_label": len(subset),
            "n_train": int(est0.n_train_samples_),
            "n_validation": int(est0.n_validation_samples_),
            "n_test": len(data.test_idx),
            "test_ids": [str(i) for i in subset.ids[data.test_idx]],
        },
        "data": {
            "source": str(spectra.meta.get("source", "")),
            "reader": str(spectra.meta.get("reader", "")),
            "n_pixels": int(wave.size),
            "wavelength_range_AA": [float(wave[0]), float(wave[-1])],
            "wave_frame": subset.wave_frame,
            "n_warnings": len(reader_warnings),
            "warnings": reader_warnings,
        },
        "warnings": list(notes),
        "versions": versions(),
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
    }


