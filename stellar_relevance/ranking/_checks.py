"""The pipeline's checks of what it was given: the spectra, the parameters, the k values, the flux level.

Private to :mod:`stellar_relevance.ranking`; used by
:func:`~stellar_relevance.ranking.pipeline.rank_spectra`. Each check raises a
:class:`~stellar_relevance.exceptions.ParameterError` naming the parameter,
or warns (and notes the warning for the result's provenance).
"""

import numpy as np

from stellar_relevance.exceptions import ParameterError
from stellar_relevance.ranking._features import SIGNIFICANCE_METHODS
from stellar_relevance.ranking._prepare import note
from stellar_relevance.nn.proximal import penalty_strength
from stellar_relevance.ranking.evaluation import resolve_ks

__all__ = ["DEFAULT_KS", "check_spectra", "check_parameters", "curve_ks", "check_flux_level", "FLUX_LEVELS"]

#: k values of the error-vs-k curve ("all" = every pixel); those above the
#: number of pixels are left out when the default is used.
DEFAULT_KS = (5, 10, 20, 30, 50, 100, 300, 1000, "all")
#: The median absolute flux of the training spectra outside this range gets a warning (unnormalised flux).
FLUX_LEVELS = (1e-2, 1e2)


def check_spectra(spectra):
    """ParameterError naming ``spectra`` unless it is a SpectralSet (anything with flux, wavelength and labels)."""
    if not all(hasattr(spectra, name) for name in ("flux", "wavelength", "labels", "with_label")):
        raise ParameterError("spectra", f"must be a SpectralSet (flux, wavelength grid and label table), got "
                             f"{type(spectra).__name__}; wrap arrays as SpectralSet(wavelength, flux, labels=table) "
                             "or read files with read_spectra")


def check_parameters(p, notes):
    """Validate the scalar parameters; resolve ``min_epochs`` and the continuum rule; warn about 'standard' scaling."""
    from stellar_relevance.io.continuum import continuum_settings

    rs = p.random_state
    if isinstance(rs, bool) or not isinstance(rs, (int, np.integer)) or rs < 0:
        raise ParameterError("random_state", f"must be a non-negative integer, got {rs!r}")
    if int(p.n_seeds) < 1:
        raise ParameterError("n_seeds", f"must be >= 1, got {p.n_seeds}")
    p.eigenvalue_penalty = penalty_strength(p.penalty, p.eigenvalue_penalty)
    if int(p.top) < 1:
        raise ParameterError("top", f"must be >= 1, got {p.top}")
    if int(p.max_epochs) < 1:
        raise ParameterError("max_epochs", f"must be >= 1, got {p.max_epochs}")
    if p.min_epochs is None:
        p.min_epochs = min(300, int(p.max_epochs))
    elif int(p.min_epochs) > int(p.max_epochs):
        raise ParameterError("min_epochs", f"must not exceed the maximum number of epochs ({p.max_epochs}), "
                             f"got {p.min_epochs}", see=("max_epochs",))
    if isinstance(p.fdr, bool) or not (isinstance(p.fdr, (float, int)) and 0 < p.fdr < 1):
        raise ParameterError("fdr", f"must be a number between 0 and 1 (a false-discovery rate), got {p.fdr!r}")
    if p.significance not in SIGNIFICANCE_METHODS:
        raise ParameterError("significance", f"must be one of {', '.join(SIGNIFICANCE_METHODS)}, got {p.significance!r}")
    if isinstance(p.continuum, dict):
        p.continuum_rule = continuum_settings(p.continuum.get("method"), p.continuum.get("window", 100.0),
                                              p.continuum.get("percentile", 90.0))
    else:
        p.continuum_rule = continuum_settings(p.continuum)
    if p.input_scaling == "standard":
        note(notes, "standard input scaling divides each pixel by its spread across stars; on normalised "
              "spectra this is known to crowd the top pixels into the flux-normalisation window (5400-5630 A "
              "for MILES) instead of the absorption features. Centring alone (the default) keeps the flux units.",
              UserWarning)


def curve_ks(ks, retrain_ks, n_pixels):
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


def check_flux_level(X, rule, notes):
    """Warn when the networks would see flux far from order 1 (raw survey counts): a named option fixes it.

    Without a continuum rule, a median absolute flux outside
    :data:`FLUX_LEVELS` (e.g. LAMOST counts near 1e3) is warned about: the
    networks' learning rate and penalties assume flux of order 1, and such
    flux makes short trainings diverge. The flux is not rescaled silently.
    """
    if rule["method"] != "none":
        return
    step = max(1, X.shape[0] // 200)
    level = float(np.nanmedian(np.abs(np.asarray(X[::step], dtype=np.float64))))
    if not FLUX_LEVELS[0] <= level <= FLUX_LEVELS[1]:
        note(notes, f"the flux is of order {level:.3g} (median absolute value), far from 1: networks train poorly "
              "on unnormalised flux (short trainings can diverge); divide each spectrum by its continuum with "
              "continuum='running' (--continuum running on the command line) or normalise the flux before ranking")
