"""The ``rank_spectra`` pipeline: spectra in, a ranked and index-matched result out.

Steps (each stated in every output), one short function each:

1. check the parameters (:func:`_check_parameters`, :func:`_curve_ks`);
2. keep the spectra that have the label (at least ``min_labels`` of them),
   filling masked and non-finite pixels first
   (:func:`~stellar_relevance.ranking._prepare.select_labelled`);
3. a seeded, label-stratified train/test split that says whether it could
   stratify (:func:`~stellar_relevance.ranking._prepare.split_train_test`); the estimator then holds out
   ``validation_fraction`` of the training part, seeded, for early stopping;
4. train :class:`~stellar_relevance.SpectralRelevanceRegressor`
   (MAE loss, the chosen ``penalty``; ``given`` labels fed after the
   spectral layer) once per seed (:func:`_train_seeds`); with several seeds
   the relevance is the mean of the per-seed normalised relevances, the
   test prediction the mean of the per-seed predictions, and the stability
   is the per-pixel spread, the top-k overlap across seeds with a +-2 pixel
   tolerance and each pixel's selection frequency
   (:func:`~stellar_relevance.ranking._stability.combine_seeds`);
5. the error-vs-k curve: masking all but the top-k pixels of the trained
   model (filled with the training mean, not zero), and retraining on the
   top-k pixels alone, each against random-k draws
   (:func:`~stellar_relevance.ranking._curve.error_curve`);
6. the index match (:func:`~stellar_relevance.indices.matching.match_indices`, which
   also decides which pixel lies in which index band) and its permutation
   test (:func:`_match`);
7. checks of the paper's claims, with the numbers
   (:mod:`~stellar_relevance.indices.claims`).

The result is a :class:`~stellar_relevance.report.result.RankingResult`. The
pipeline knows nothing of where the spectra came from: a data set with a
known answer scores the result itself (e.g.
:func:`~stellar_relevance.datasets.synthetic_spectra.planted_recovery`).
"""

import datetime as _dt
import logging
import time
import warnings
from types import SimpleNamespace

import astropy.units as u
import numpy as np
from astropy.table import QTable

from stellar_relevance.indices.claims import group_counts, paper_claims
from stellar_relevance.ranking.conditioning import GivenEnsemble, check_estimator_supports, check_given, check_penalty, fit_kwargs
from stellar_relevance.ranking._curve import error_curve
from stellar_relevance.nn.distributed import spread, world
from stellar_relevance.ranking.evaluation import resolve_ks
from stellar_relevance.exceptions import DataWarning, ParameterError
from stellar_relevance.ranking._prepare import note, select_labelled, split_train_test
from stellar_relevance.io.provenance import versions
from stellar_relevance.report.result import RankingResult
from stellar_relevance.ranking._stability import OVERLAP_TOLERANCE, combine_seeds

__all__ = ["rank_spectra", "DEFAULT_KS", "OVERLAP_TOLERANCE"]

logger = logging.getLogger(__name__)

#: k values of the error-vs-k curve ("all" = every pixel); those above the
#: number of pixels are left out when the default is used.
DEFAULT_KS = (5, 10, 20, 30, 50, 100, 300, 1000, "all")
#: Models trained by default (seeds random_state, random_state+1, ...); see docs/ranking.md.
DEFAULT_N_SEEDS = 2


def _mae(y_true, y_pred):
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


# ----------------------------------------------------------------------------- 1. parameters
def _check_parameters(p, notes):
    """Validate the scalar parameters; resolve ``min_epochs``; warn about 'standard' scaling."""
    rs = p.random_state
    if isinstance(rs, bool) or not isinstance(rs, (int, np.integer)) or rs < 0:
        raise ParameterError("random_state", f"must be a non-negative integer, got {rs!r}")
    if int(p.n_seeds) < 1:
        raise ParameterError("n_seeds", f"must be >= 1, got {p.n_seeds}")
    check_penalty(p.penalty)
    if int(p.top) < 1:
        raise ParameterError("top", f"must be >= 1, got {p.top}")
    if int(p.max_epochs) < 1:
        raise ParameterError("max_epochs", f"must be >= 1, got {p.max_epochs}")
    if p.min_epochs is None:
        p.min_epochs = min(300, int(p.max_epochs))
    elif int(p.min_epochs) > int(p.max_epochs):
        raise ParameterError("min_epochs", f"must not exceed max_epochs ({p.max_epochs}), got {p.min_epochs}")
    if p.input_scaling == "standard":
        note(notes, "input_scaling='standard' divides each pixel by its spread across stars; on normalised "
              "spectra this is known to crowd the top pixels into the flux-normalisation window (5400-5630 A "
              "for MILES) instead of the absorption features. 'center' (the default) keeps the flux units.",
              UserWarning)


def _curve_ks(ks, retrain_ks, n_pixels):
    """The k values of the curve and of the retraining (ParameterError for k > n_pixels or retrain k not in ks)."""
    if ks is None:
        ks = [k for k in DEFAULT_KS if k == "all" or k <= n_pixels]
    ks_int = resolve_ks(ks, n_pixels, "ks")
    if retrain_ks is None:
        retrain = ks_int
    else:
        retrain = resolve_ks(retrain_ks, n_pixels, "retrain_ks")
        missing = sorted(set(retrain) - set(ks_int))
        if missing:
            raise ParameterError("retrain_ks", f"holds k values that are not in ks {ks_int}: {missing}; "
                                 "every retrained k must also be a k of the curve")
    return ks_int, [k for k in retrain if k < n_pixels]  # all pixels = the trained model itself


# ----------------------------------------------------------------------------- 4. training
def _network_params(p, takes_penalty):
    penalty = {"penalty": p.penalty} if takes_penalty else {}
    return dict(
        **penalty,
        hidden_layer_sizes=tuple(int(h) for h in p.hidden_layer_sizes),
        activation="relu",
        eigenvalue_penalty=p.eigenvalue_penalty,
        eigenvector_penalty=p.eigenvector_penalty,
        learning_rate=p.learning_rate,
        max_epochs=int(p.max_epochs),
        batch_size=int(p.batch_size),
        validation_fraction=p.validation_fraction,
        early_stopping=True,
        n_iter_no_change=int(p.n_iter_no_change),
        min_epochs=int(p.min_epochs),
        loss="mae",
        input_scaling=p.input_scaling,
        target_scaling="standard",
        device=p.device,
        n_threads=p.n_threads,
        verbose=1 if p.progress else 0,
    )


def _fit_seed(params, seed, data):
    """One fitted regressor and its record."""
    from stellar_relevance.estimators import SpectralRelevanceRegressor

    t_seed = time.perf_counter()
    est = SpectralRelevanceRegressor(**params, random_state=seed)
    est.fit(data.X, data.y, sample_index=data.train_idx, **fit_kwargs(data.G))  # training rows read, not copied
    record = {
        "seed": seed,
        "test_mae": _mae(data.y_test, est.predict(data.X_test, **fit_kwargs(data.G_test))),
        "best_epoch": int(est.best_epoch_),
        "n_epochs": int(est.n_epochs_),
        "n_selected": int(getattr(est, "n_selected_", est.n_features_in_)),
        "seconds": round(time.perf_counter() - t_seed, 2),
    }
    logger.info("seed %d: test MAE %.4f (best epoch %d)", seed, record["test_mae"], est.best_epoch_)
    return est, record


def _train_seeds(params, seeds, data):
    """One fitted regressor per seed, and a record of each.

    Under ``torch.distributed`` with at least as many seeds as processes, the
    seeds are dealt out over the processes and each trains its own alone
    (:func:`~stellar_relevance.nn.distributed.spread`: no gradient exchange, and
    each network is the one a single process would train); with fewer seeds
    than processes every seed is trained by all processes together (DDP).
    """
    if world()[1] > 1 and len(seeds) >= world()[1]:
        fitted = spread(seeds, lambda seed: _fit_seed(params, seed, data))
    else:
        fitted = [_fit_seed(params, seed, data) for seed in seeds]
    return [est for est, _ in fitted], [record for _, record in fitted]


# ----------------------------------------------------------------------------- 6. index match
def _load_catalog(catalog, wave_frame):
    if catalog is None or not isinstance(catalog, str):
        return catalog
    from stellar_relevance.indices.catalog import load_catalog

    with warnings.catch_warnings():
        # published sidebands that touch the central band: irrelevant here (the match uses the bands only)
        warnings.filterwarnings("ignore", message=".*sideband", category=DataWarning)
        return load_catalog(catalog, frame=wave_frame)


def _match(subset, relevance, order, p):
    """The index table, each pixel's index names and the paper-group counts (one band membership for all)."""
    from stellar_relevance.indices.matching import match_indices, pixel_index_names

    n_pixels = len(relevance)
    cat_table = _load_catalog(p.catalog, subset.wave_frame)
    if cat_table is None or not len(cat_table):
        empty = QTable({"name": np.array([], dtype=str)})
        return SimpleNamespace(table=cat_table, indices=empty, pixel_names=np.full(n_pixels, "", dtype=str),
                               overall_p=None, group_counts=None)
    _bins, indices, membership = match_indices(
        subset.wavelength, relevance, cat_table, top=int(p.top), n_permutations=p.n_permutations,
        random_state=p.random_state, wave_frame=subset.wave_frame, return_membership=True,
    )
    overall_p = indices.meta.get("overall_p_value")
    return SimpleNamespace(
        table=cat_table,
        indices=QTable(indices),
        pixel_names=pixel_index_names(membership, indices["name"]),
        overall_p=None if overall_p is None else float(overall_p),
        group_counts=group_counts(cat_table, indices["name"], membership, order[: int(p.top)]),
    )


def _ranking_table(subset, combined, top, eigenvalues, mean_flux, pixel_names):
    order = combined.order
    ranking = QTable({
        "rank": np.arange(1, len(order) + 1),
        "pixel": order,
        "wavelength": u.Quantity(subset.wavelength, u.AA)[order],
        "relevance": combined.relevance[order],
        "relevance_std": combined.relevance_std[order],
        "selection_frequency": combined.selection_frequency[order],
        "signed_eigenvalue": eigenvalues[order],
        "mean_flux": mean_flux[order],
        "indices": np.asarray(pixel_names, dtype=str)[order],
    })
    ranking["relevance"].description = "mean over seeds of relevance / sum(relevance)"
    ranking["relevance_std"].description = "standard deviation over seeds (NaN with one seed)"
    ranking["selection_frequency"].description = f"share of seeds in whose top-{top} the pixel is (NaN with one seed)"
    ranking["signed_eigenvalue"].description = "first-layer eigenvalue lambda of the first seed's model"
    ranking["mean_flux"].description = f"mean training flux ({subset.flux_unit.to_string() or 'dimensionless'})"
    return ranking


# ----------------------------------------------------------------------------- 7. numbers
def _curve_at_top(curve, top):
    row = [r for r in curve if int(r["k"]) == int(top)]
    if not row:
        return None, None, None
    row = row[0]

    def finite(value):
        return float(value) if np.isfinite(value) else None

    return finite(row["mae_retrained"]), float(row["mae_masked"]), finite(row["mae_random"])


def _metrics(p, data, ensemble, records, stability, curve, match, eigenvalues):
    prediction = ensemble.predict(data.X_test)
    test_mae = _mae(data.y_test, prediction)
    topk_mae, topk_mae_masked, topk_mae_random = _curve_at_top(curve, p.top)
    errors = np.abs(data.y_test - prediction)
    metrics = {
        "test_mae": test_mae,
        "test_mae_per_seed": [r["test_mae"] for r in records],
        "test_mae_standard_error": float(np.std(errors, ddof=1) / np.sqrt(len(data.y_test))),
        "topk_mae": topk_mae,
        "topk_mae_masked": topk_mae_masked,
        "topk_mae_random": topk_mae_random,
        "overall_p_value": match.overall_p,
        "n_permutations": int(p.n_permutations) if match.table is not None else 0,
        "seeds": records,
        "stability": stability,
        "label_std_test": float(np.std(data.y_test)),
        "paper_index_counts": match.group_counts,
    }
    metrics["claims"] = paper_claims(p.label, match.group_counts, curve, metrics, int(p.top), eigenvalues)
    return metrics


def _settings(p, params, seeds, ks_int, retrain_list, retrain_params, label_unit, data, wave_frame):
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
        "ks": ks_int,
        "retrain_ks": retrain_list,
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
    }


def _provenance(spectra, subset, data, est0, timings, notes, command):
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


# ----------------------------------------------------------------------------- the pipeline
def rank_spectra(
    spectra,
    label="FEH",
    *,
    hidden_layer_sizes=(200, 50, 50),
    max_epochs=1000,
    min_epochs=None,
    n_iter_no_change=100,
    batch_size=128,
    learning_rate=1e-3,
    eigenvalue_penalty=1e-2,
    eigenvector_penalty=1e-4,
    input_scaling="center",
    penalty="l2",
    given=None,
    test_fraction=0.1,
    validation_fraction=0.1,
    test_ids=None,
    n_seeds=DEFAULT_N_SEEDS,
    random_state=0,
    top=30,
    catalog="optical",
    ks=None,
    retrain_ks=None,
    retrain_max_epochs=None,
    retrain_min_epochs=0,
    n_random=5,
    n_random_retrained=2,
    n_permutations=1000,
    min_labels=20,
    device="auto",
    n_threads=None,
    progress=False,
    command=None,
):
    """Rank the pixels of ``spectra`` by their relevance for ``label``.

    Parameters
    ----------
    spectra : SpectralSet
        Spectra on one grid with a label table. Masked and non-finite pixels
        are filled with the mean flux of the other spectra at that pixel
        (a :class:`~stellar_relevance.exceptions.DataWarning` names each star).
    label : str
        Label column to predict (default ``"FEH"``).
    hidden_layer_sizes : tuple of int
        The network's hidden layers (paper: 200-50-50).
    max_epochs, min_epochs, n_iter_no_change, batch_size : int
        Training length. Early stopping keeps the best-validation weights
        found at or after ``min_epochs`` (None: ``min(300, max_epochs)``),
        so the relevance has had time to become sparse (an early checkpoint
        leaves it dense and unstable).
    learning_rate, eigenvalue_penalty, eigenvector_penalty : float
        The step size and the penalties (paper: 1e-3, 1e-2, 1e-4).
    input_scaling : {"center", "standard", "none"}
        ``"center"`` (default) subtracts the training mean and keeps the
        flux units; ``"standard"`` also divides by the per-pixel spread and is
        known to crowd the ranking into the flux-normalisation window
        (a warning is emitted).
    penalty : {"l2", "l1", "group"}
        Penalty on the first-layer eigenvalues, passed to the estimator
        (``"l2"``: the paper's squared L2; ``"l1"`` and ``"group"`` need an
        estimator that has them, a ParameterError otherwise).
    given : sequence of str, optional
        Labels (e.g. ``("TEFF", "LOGG")``) fed into the network after the
        spectral layer (the estimator's ``given=``), so the relevance
        measures what the spectrum tells about ``label`` beyond them.
        Spectra without a finite value of a given label are dropped (a
        warning says how many). The networks retrained on k pixels for the
        error curve take the given labels too.
    test_fraction, validation_fraction : float
        Test share of the labelled spectra (stratified on the label where
        every label quintile has two spectra; ``settings["stratified_split"]``
        says whether it was) and the estimator's validation share of the rest.
        Fewer than 20 test spectra give a warning.
    test_ids : sequence of str, optional
        IDs of the spectra to hold out as the test set instead of a seeded
        split (e.g. one fold of a cross-validation); overrides
        ``test_fraction``.
    n_seeds : int
        Models trained with seeds ``random_state, random_state+1, ...``
        (default :data:`DEFAULT_N_SEEDS`, chosen by the top-30 overlap of
        independent runs on MILES: see docs/ranking.md). With one seed the
        ranking has no spread: ``relevance_std`` and ``selection_frequency``
        are NaN and ``metrics["stability"]["note"]`` says so.
    random_state : int
        Seeds the split, the models, the random-k draws and the permutations
        (>= 0).
    top : int
        Number of top pixels matched against the index catalogue.
    catalog : str or astropy.table.QTable or None
        Index catalogue name for :func:`~stellar_relevance.indices.catalog.load_catalog`,
        a table, or None to skip the match.
    ks : sequence, optional
        k values of the curve (ints or ``"all"``); each at most the number of
        pixels. Default :data:`DEFAULT_KS`, less the values above the number
        of pixels.
    retrain_ks : sequence or None
        k values retrained (default: all of ``ks``); each must be in ``ks``;
        ``()`` skips retraining.
    retrain_max_epochs, retrain_min_epochs : int or None
        Epoch limits of the models retrained on k pixels (defaults:
        ``min(300, max_epochs)`` and 0). They need no sparse relevance, only
        their best validation error, so they may stop early.
    n_random, n_random_retrained : int
        Random-k draws for the masked and retrained curves (None: as
        ``n_random``).
    n_permutations : int
        Permutations in the index-match test.
    min_labels : int
        Fewest spectra with the label that are accepted.
    device : {"auto", "cpu", "cuda"}
        Where the networks train, passed to the estimator.
    n_threads : int or None
        Torch CPU threads, passed to the estimator (one is fastest on small
        machines; None: torch's own setting).
    progress : bool
        Show tqdm bars while training.
    command : str, optional
        The command line that asked for this run, stored in
        ``result.provenance["command"]``.

    Returns
    -------
    RankingResult

    Raises
    ------
    DataError
        When the label is missing (the message lists the labels), has fewer
        than ``min_labels`` finite values, or a pixel has no finite flux at all.
    ParameterError
        For invalid parameters, naming the parameter: ``ks`` above the number
        of pixels, ``retrain_ks`` not in ``ks``, ``min_epochs`` above
        ``max_epochs``, a negative ``random_state`` ...

    Examples
    --------
    >>> import warnings
    >>> from stellar_relevance.datasets import make_synthetic_spectra
    >>> spectra = make_synthetic_spectra(n_spectra=60, random_state=0)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # 6 test spectra: too few to mean much, and it says so
    ...     result = rank_spectra(spectra, "FEH", max_epochs=2, ks=(30, "all"), retrain_ks=(), catalog="lick",
    ...                           n_random=1, n_permutations=10, command="doctest")
    >>> len(result.ranking) == spectra.n_pixels, result.provenance["command"]
    (True, 'doctest')
    >>> result.settings["ks"], result.settings["stratified_split"]
    ([30, 4300], True)
    """
    p = SimpleNamespace(**{k: v for k, v in locals().items() if k != "spectra"})
    if p.n_random_retrained is None:
        p.n_random_retrained = int(n_random)
    t_start, timings, notes = time.perf_counter(), {}, []
    _check_parameters(p, notes)
    p.given = check_given(spectra, label, given)
    takes_penalty = check_estimator_supports(p.penalty, p.given)
    subset, X, y, G = select_labelled(spectra, label, min_labels, notes, given=p.given)
    n_pixels = X.shape[1]
    if int(top) > n_pixels:
        raise ParameterError("top", f"({top}) exceeds the {n_pixels} pixels of the spectra")
    ks_int, retrain_list = _curve_ks(ks, retrain_ks, n_pixels)
    data = split_train_test(subset, X, y, p, notes, G=G)
    unit = subset.labels[label].unit
    label_unit = "" if unit is None else unit.to_string()
    params = _network_params(p, takes_penalty)
    seeds = [int(random_state) + i for i in range(int(n_seeds))]
    logger.info("%s: %d spectra with the label, %d train+validation / %d test; training %d model(s)",
                label, len(subset), len(data.train_idx), len(data.test_idx), len(seeds))

    t0 = time.perf_counter()
    estimators, records = _train_seeds(params, seeds, data)
    timings["train"] = time.perf_counter() - t0
    ensemble = GivenEnsemble(estimators, data.G_test)
    combined = combine_seeds([est.feature_importances_ for est in estimators], top,
                             rankings=[est.ranking_ for est in estimators])
    order, stability = combined.order, combined.stability
    curve, retrain_params = error_curve(order, ks_int, retrain_list, data, ensemble, params, seeds, records,
                                         _mae(data.y_test, ensemble.predict(data.X_test)), label_unit, p, timings)
    t0 = time.perf_counter()
    match = _match(subset, combined.relevance, order, p)
    timings["match"] = time.perf_counter() - t0
    eigenvalues = estimators[0].eigenvalues_
    ranking = _ranking_table(subset, combined, int(top), eigenvalues, estimators[0].feature_means_,
                             match.pixel_names)  # the mean training flux
    metrics = _metrics(p, data, ensemble, records, stability, curve, match, eigenvalues)
    timings["total"] = time.perf_counter() - t_start
    settings = _settings(p, params, seeds, ks_int, retrain_list, retrain_params, label_unit, data, subset.wave_frame)
    provenance = _provenance(spectra, subset, data, estimators[0], timings, notes, command)
    result = RankingResult(ranking, match.indices, curve, metrics, settings, provenance, estimators,
                           wavelength=subset.wavelength)
    logger.debug("%r", result)
    logger.info("%s: test MAE %.4g (%s)", label, metrics["test_mae"], result.split_text)
    return result
