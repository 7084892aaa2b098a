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

from stellar_relevance.exceptions import ParameterError
from stellar_relevance.report.model_file import SeedEnsemble

__all__ = ["PENALTIES", "check_penalty", "check_given", "check_estimator_supports", "GivenEnsemble", "fit_kwargs"]

#: Penalty types of the first-layer eigenvalues ("l2": the paper's squared L2).
PENALTIES = ("l2", "l1", "group")


def _estimator_class():
    from stellar_relevance.estimators import SpectralRelevanceRegressor

    return SpectralRelevanceRegressor


def check_penalty(penalty):
    """``penalty`` if it is one of :data:`PENALTIES` (ParameterError naming ``penalty`` otherwise).

    Parameters
    ----------
    penalty : str
        The penalty type asked for.

    Returns
    -------
    str
        ``penalty``, unchanged.

    Raises
    ------
    ParameterError
        When ``penalty`` is not one of :data:`PENALTIES`.

    Examples
    --------
    >>> check_penalty("group")
    'group'
    >>> check_penalty("l3")
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.ParameterError: penalty must be one of l2, l1, group, got 'l3'
    """
    if penalty not in PENALTIES:
        raise ParameterError("penalty", f"must be one of {', '.join(PENALTIES)}, got {penalty!r}")
    return penalty


def check_estimator_supports(penalty, given, estimator_class=None):
    """Raise ParameterError when the installed estimator lacks ``penalty=`` or ``fit(..., given=)``.

    The paper's squared L2 (``penalty="l2"``) needs no support: it is what
    estimators without the parameter do.

    Parameters
    ----------
    penalty : str
        One of :data:`PENALTIES`.
    given : sequence of str
        The given label names (empty: none).
    estimator_class : type, optional
        The estimator to check (default:
        :class:`~stellar_relevance.SpectralRelevanceRegressor`).

    Returns
    -------
    bool
        Whether ``penalty`` is to be passed to the estimator.

    Raises
    ------
    ParameterError
        Naming ``penalty`` or ``given``, for an option the estimator lacks.

    Examples
    --------
    >>> check_estimator_supports("l1", ("TEFF",))
    True
    >>> class Plain:  # an estimator with neither option
    ...     def __init__(self, alpha=1.0): ...
    ...     def fit(self, X, y): ...
    >>> check_estimator_supports("l2", (), Plain)
    False
    >>> check_estimator_supports("l2", ("TEFF",), Plain)
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.ParameterError: given the installed Plain cannot take known labels (its fit has no given= argument)
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

    Parameters
    ----------
    spectra : SpectralSet
        The spectra with their label table.
    label : str
        The label to predict.
    given : str or sequence of str or None
        The labels fed to the network as known (a name or several).

    Returns
    -------
    tuple of str
        The names (empty for None).

    Raises
    ------
    ParameterError
        Naming ``given``: an empty name, a duplicate, a name that is not a
        label (the message lists the labels), a non-numeric label, or the
        label to predict itself.

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra
    >>> spectra = make_synthetic_spectra(n_spectra=20)
    >>> check_given(spectra, "FEH", "TEFF"), check_given(spectra, "FEH", ["TEFF", "LOGG"])
    (('TEFF',), ('TEFF', 'LOGG'))
    >>> check_given(spectra, "FEH", "FEH")
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.ParameterError: given 'FEH' is the label to predict; a label cannot also be given
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
    """``{"given": G}``, or nothing when no label is given.

    Parameters
    ----------
    G : numpy.ndarray or None
        The given labels of the rows (None: none).

    Returns
    -------
    dict
        Keyword arguments for the estimator's ``fit`` and ``predict``.

    Examples
    --------
    >>> fit_kwargs(None), fit_kwargs(np.zeros((2, 1)))
    ({}, {'given': array([[0.],
           [0.]])})
    """
    return {} if G is None else {"given": G}


class GivenEnsemble(SeedEnsemble):
    """Mean prediction of several fitted regressors on the test rows, each fed the test rows' given labels.

    Parameters
    ----------
    estimators : sequence of fitted regressors
    G_test : numpy.ndarray or None
        Given labels of the rows every ``predict`` is called with (None: a
        plain :class:`~stellar_relevance.report.model_file.SeedEnsemble`).

    Examples
    --------
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> rng = np.random.default_rng(0)
    >>> X, G = rng.normal(size=(60, 5)), rng.normal(size=(60, 1))
    >>> y = X[:, 0] + G[:, 0]
    >>> models = [SpectralRelevanceRegressor((4,), max_epochs=2, random_state=seed).fit(X[:50], y[:50], given=G[:50])
    ...           for seed in (0, 1)]
    >>> GivenEnsemble(models, G[50:]).predict(X[50:]).shape
    (10,)
    """

    def __init__(self, estimators, G_test):
        super().__init__(estimators)
        self.G_test = G_test

    def predict(self, X):
        """Mean of the estimators' predictions.

        Parameters
        ----------
        X : array-like of shape (n_test, n_pixels)
            The rows whose given labels are ``G_test``.

        Returns
        -------
        numpy.ndarray of shape (n_test,)
            The mean prediction.
        """
        return np.mean([est.predict(X, **fit_kwargs(self.G_test)) for est in self.estimators], axis=0)
