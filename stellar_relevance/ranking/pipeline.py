"""The ``rank_spectra`` pipeline: spectra in, a ranked and index-matched result out.

Steps (each stated in every output), one short function each in the
room's private modules:

1. check the spectra and the parameters (``_checks``);
2. keep the spectra that have the label (at least ``min_labels`` of them,
   not constant), divide each spectrum by its pseudo-continuum when
   ``continuum`` asks for it (:mod:`stellar_relevance.io.continuum`; masked
   and non-finite pixels left out of it), then fill the masked and
   non-finite pixels with the mean of the other spectra
   (``_prepare.select_labelled``): the order predictions use; the
   estimator's own scaling comes after;
3. a seeded, label-stratified train/test split that says whether it could
   stratify (``_prepare.split_train_test``); the estimator then holds out
   ``validation_fraction`` of the training part, seeded, for early stopping;
4. train :class:`~stellar_relevance.SpectralRelevanceRegressor`
   (MAE loss, the chosen ``penalty``; ``given`` labels fed after the
   spectral layer) once per seed (``_train``); with several seeds the
   relevance and the sensitivity are the means of the per-seed values, the
   test prediction the mean of the per-seed predictions, and the stability
   is the per-pixel spread, the top-k overlap across seeds with a +-2 pixel
   tolerance and each pixel's selection frequency (``_stability``);
5. the error-vs-k curve: masking all but the top-k pixels of the trained
   model (filled with the training mean, not zero), and retraining on the
   top-k pixels alone, each against random-k draws (``_curve``);
6. the index match (:func:`~stellar_relevance.indices.matching.match_indices`,
   which also decides which pixel lies in which index band) and its
   permutation test (``_assemble``);
7. features: the top pixels merged into lines or blends, each with its
   significance from one more network trained beside shadow pixels
   (``_features``, :mod:`stellar_relevance.indices.features`);
8. checks of the paper's claims, with the numbers
   (:mod:`~stellar_relevance.indices.claims`), and the test error of
   predicting the training mean beside the model's.

The result is a :class:`~stellar_relevance.report.result.RankingResult`. The
pipeline knows nothing of where the spectra came from: a data set with a
known answer scores the result itself (e.g.
:func:`~stellar_relevance.datasets.synthetic_spectra.planted_recovery`).
"""

import logging
import time
from types import SimpleNamespace

import numpy as np

from stellar_relevance.ranking._assemble import (match, ranking_table, result_metrics, result_provenance,
                                                 result_settings)
from stellar_relevance.ranking._checks import DEFAULT_KS, check_flux_level, check_parameters, check_spectra, curve_ks
from stellar_relevance.ranking._curve import error_curve
from stellar_relevance.ranking._features import feature_counts, feature_table
from stellar_relevance.ranking._prepare import note, select_labelled, split_train_test
from stellar_relevance.ranking._stability import OVERLAP_TOLERANCE, combine_seeds, spread_over_seeds
from stellar_relevance.ranking._train import GivenEnsemble, network_params, retrain_params, train_seeds
from stellar_relevance.ranking.conditioning import check_given
from stellar_relevance.report.result import RankingResult
from stellar_relevance.exceptions import ParameterError

__all__ = ["rank_spectra", "DEFAULT_KS", "OVERLAP_TOLERANCE"]

logger = logging.getLogger(__name__)

#: Models trained by default (seeds random_state, random_state+1, ...); see docs/ranking.md.
DEFAULT_N_SEEDS = 2


def _warn_if_no_better_than_mean(metrics, label, notes):
    """A warning (and a note) when predicting the training mean does as well as the model on the test spectra."""
    if not metrics["beats_training_mean"]:
        note(notes, f"the model does not beat predicting the training mean of {label!r}: test MAE "
              f"{metrics['test_mae']:.4g} against {metrics['training_mean_mae']:.4g}; its relevance ranks pixels "
              "of a model that learned nothing useful")


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
    eigenvalue_penalty=None,
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
    continuum="none",
    significance="shadow",
    fdr=0.1,
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
        ``eigenvalue_penalty=None`` takes the default of ``penalty``
        (1e-2 for ``"l2"`` and ``"group"``, 3e-3 for ``"l1"``); the settings
        record the number used.
    input_scaling : {"center", "standard", "none"}
        ``"center"`` (default) subtracts the training mean and keeps the
        flux units; ``"standard"`` also divides by the per-pixel spread and is
        known to crowd the ranking into the flux-normalisation window
        (a warning is emitted).
    penalty : {"l2", "l1", "group"}
        Penalty on the first-layer eigenvalues, passed to the estimator
        (``"l2"``: the paper's squared L2; ``"l1"`` and ``"group"``: proximal
        steps with exact zeros, :mod:`stellar_relevance.nn.proximal`).
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
    continuum : {"none", "running"} or dict
        Divide each spectrum by its pseudo-continuum (the running 90th
        percentile over 100 A: :func:`~stellar_relevance.io.continuum.normalise_continuum`;
        a dict from :func:`~stellar_relevance.io.continuum.continuum_settings`
        sets the window and percentile), masked and non-finite pixels left
        out of it, before they are filled (with the mean of the other
        spectra's normalised flux) and before the estimator's scaling: the
        order :func:`~stellar_relevance.predict_labels` repeats. Recorded in
        ``settings["continuum"]`` and in the model file.
        The default stays "none" until the benchmark of docs/compare.md has
        compared both on MILES. With "none", flux far from order 1 (raw
        survey counts) is warned about.
    significance : {"shadow", "none"}
        How the features (the top pixels merged into lines) are tested:
        ``"shadow"`` trains one more network beside a shadowed copy of every
        pixel (see :mod:`stellar_relevance.indices.features`); ``"none"``
        lists them untested.
    fdr : float
        The false-discovery rate at which a feature is significant (default
        0.1: knockoff+ needs ``1 / fdr`` selected pixels before it selects
        any; on MILES at 0.05 whether any feature was significant depended
        on the shadow network's seed, at 0.1 it did not).
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
        With ``ranking`` (relevance: what the model uses; sensitivity: how
        each pixel responds to the label), ``features``, ``indices``,
        ``curve``, ``metrics``, ``settings`` and ``provenance``.

    Raises
    ------
    DataError
        When the label is missing (the message lists the labels), has fewer
        than ``min_labels`` finite values, is constant, or a pixel has no
        finite flux at all.
    ParameterError
        For invalid parameters, naming the parameter: ``spectra`` that are
        not a SpectralSet, ``ks`` above the number of pixels, ``retrain_ks``
        not in ``ks``, ``min_epochs`` above ``max_epochs``, a negative
        ``random_state``, an unknown ``continuum`` ...

    Warns
    -----
    DataWarning
        Filled pixels, dropped spectra, a small test set, unnormalised flux,
        and a model that does not beat predicting the training mean (both
        test MAEs are in ``metrics``: ``test_mae``, ``training_mean_mae``,
        ``beats_training_mean``).

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
    check_spectra(spectra)
    check_parameters(p, notes)
    p.given = check_given(spectra, label, given)
    subset, X, y, G, fill = select_labelled(spectra, label, min_labels, notes, given=p.given, return_fill=True,
                                            continuum=p.continuum_rule)
    check_flux_level(X, p.continuum_rule, notes)
    n_pixels = X.shape[1]
    if int(top) > n_pixels:
        raise ParameterError("top", f"({top}) exceeds the {n_pixels} pixels of the spectra")
    ks_int, retrain_ks = curve_ks(ks, retrain_ks, n_pixels)
    data = split_train_test(subset, X, y, p, notes, G=G)
    unit = subset.labels[label].unit
    label_unit = "" if unit is None else unit.to_string()
    params = network_params(p)
    seeds = [int(random_state) + i for i in range(int(n_seeds))]
    logger.info("%s: %d spectra with the label, %d train+validation / %d test; training %d model(s)",
                label, len(subset), len(data.train_idx), len(data.test_idx), len(seeds))

    t0 = time.perf_counter()
    estimators, records = train_seeds(params, seeds, data)
    timings["train"] = time.perf_counter() - t0
    ensemble = GivenEnsemble(estimators, data.G_test)
    combined = combine_seeds([est.feature_importances_ for est in estimators], top,
                             rankings=[est.ranking_ for est in estimators])
    sensitivity = spread_over_seeds([est.sensitivity_ for est in estimators])
    retrain = retrain_params(params, p.max_epochs, p.retrain_max_epochs, p.retrain_min_epochs)
    curve, seconds = error_curve(combined.order, data, ensemble, retrain, ks=ks_int, retrain_ks=retrain_ks,
                                 n_random=p.n_random, n_random_retrained=p.n_random_retrained,
                                 random_state=p.random_state, unit=label_unit, progress=p.progress)
    timings.update(seconds)
    t0 = time.perf_counter()
    matched = match(subset, combined.relevance, combined.order, p)
    timings["match"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    features = feature_table(subset, data, params, combined, sensitivity, matched, p, seed=seeds[-1] + 1)
    timings["features"] = time.perf_counter() - t0
    ranking = ranking_table(subset, combined, sensitivity, int(top), estimators[0], matched.pixel_names)
    metrics = result_metrics(p, data, ensemble, records, combined, sensitivity, curve, matched,
                             estimators[0].eigenvalues_)
    metrics.update(feature_counts(features, p.significance))
    _warn_if_no_better_than_mean(metrics, label, notes)
    timings["total"] = time.perf_counter() - t_start
    settings = result_settings(p, params, seeds, ks_int, (retrain_ks, retrain), label_unit, data, subset.wave_frame)
    provenance = result_provenance(spectra, subset, data, estimators[0], timings, notes, command)
    result = RankingResult(ranking, matched.indices, curve, metrics, settings, provenance, estimators,
                           wavelength=subset.wavelength, features=features,
                           preprocessing={"fill_values": fill, "continuum": p.continuum_rule,
                                          "rest_frame": spectra.meta.get("rest_frame"),
                                          "label_range": (float(np.min(data.y_train)), float(np.max(data.y_train)))})
    logger.debug("%r", result)
    logger.info("%s: test MAE %.4g (%s)", label, metrics["test_mae"], result.split_text)
    return result
