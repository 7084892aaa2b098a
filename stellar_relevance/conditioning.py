"""The pipeline's use of the estimator's newer options: ``penalty`` and known labels fed as ``given``.

``given`` labels (e.g. Teff and log g) enter the network after the spectral
layer (the estimator's ``fit(X, y, given=...)``), so the pixel relevance
measures what the spectrum tells about the label beyond them. This module
checks the names (:func:`check_given`), checks that the installed estimator
takes the option (:func:`check_estimator_supports`), and adapts the fitted
models to the pipeline's masked error curve, which calls ``predict(X)`` on
the test rows only (:class:`GivenEnsemble`).
"""

import inspect

import numpy as np

from .exceptions import ParameterError
from .model_file import SeedEnsemble

__all__ = ["PENALTIES", "check_penalty", "check_given", "check_estimator_supports", "GivenEnsemble", "fit_kwargs"]

#: Penalty types of the first-layer eigenvalues ("l2": the paper's squared L2).
PENALTIES = ("l2", "l1", "group")


def _estimator_class():
    from .estimators import SpectralRelevanceRegressor

    return SpectralRelevanceRegressor


def check_penalty(penalty):
    """``penalty`` if it is one of :data:`PENALTIES` (ParameterError naming ``penalty`` otherwise)."""
    if penalty not in PENALTIES:
        raise ParameterError("penalty", f"must be one of {', '.join(PENALTIES)}, got {penalty!r}")
    return penalty


def check_estimator_supports(penalty, given, estimator_class=None):
    """Raise ParameterError when the installed estimator lacks ``penalty=`` or ``fit(..., given=)``.

    The paper's squared L2 (``penalty="l2"``) needs no support: it is what
    estimators without the parameter do.

    Returns
    -------
    bool
        Whether ``penalty`` is to be passed to the estimator.
    """
    cls = _estimator_class() if estimator_class is None else estimator_class
    takes_penalty = "penalty" in inspect.signature(cls.__init__).parameters
    if not takes_penalty and penalty != "l2":
        raise ParameterError("penalty", f"{penalty!r} needs an estimator with a penalty parameter; the installed "
                             f"{cls.__name__} has only the squared L2 penalty ('l2')")
    if given and "given" not in inspect.signature(cls.fit).parameters:
        raise ParameterError("given", f"the installed {cls.__name__} cannot take known labels "
                             "(its fit has no given= argument)")
    return takes_penalty


def check_given(spectra, label, given):
    """The tuple of given label names, checked against the label table of ``spectra``.

    Raises
    ------
    ParameterError
        Naming ``given``: an empty name, a duplicate, a name that is not a
        label (the message lists the labels), a non-numeric label, or the
        label to predict itself.
    """
    if given is None:
        return ()
    names = tuple(str(g).strip() for g in ([given] if isinstance(given, str) else given))
    if any(not name for name in names):
        raise ParameterError("given", f"holds an empty label name: {','.join(names)!r}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ParameterError("given", f"names {', '.join(duplicates)} more than once")
    for name in names:
        if name == label:
            raise ParameterError("given", f"{name!r} is the label to predict; a label cannot also be given")
        if name not in spectra.label_names:
            raise ParameterError("given", f"no label {name!r} in the spectra; available labels: "
                                 f"{', '.join(spectra.label_names) or 'none'}")
        kind = spectra.labels[name].dtype.kind
        if kind not in "biuf":
            raise ParameterError("given", f"label {name!r} is not numeric (dtype {spectra.labels[name].dtype})")
    return names


def fit_kwargs(G):
    """``{"given": G}``, or nothing when no label is given."""
    return {} if G is None else {"given": G}


class GivenEnsemble(SeedEnsemble):
    """Mean prediction of several fitted regressors on the test rows, each fed the test rows' given labels.

    Parameters
    ----------
    estimators : sequence of fitted regressors
    G_test : numpy.ndarray or None
        Given labels of the rows every ``predict`` is called with (None: a
        plain :class:`~stellar_relevance.model_file.SeedEnsemble`).
    """

    def __init__(self, estimators, G_test):
        super().__init__(estimators)
        self.G_test = G_test

    def predict(self, X):
        """Mean of the estimators' predictions."""
        return np.mean([est.predict(X, **fit_kwargs(self.G_test)) for est in self.estimators], axis=0)
