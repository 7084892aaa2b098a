"""The pipeline's check of the known labels fed as ``given``.

``given`` labels (e.g. Teff and log g) enter the network after the spectral
layer (the estimator's ``fit(X, y, given=...)``), so the pixel relevance
measures what the spectrum tells about the label beyond them, and the
sensitivity is taken after them. This module checks their names
(:func:`check_given`); the penalty is checked by
:func:`stellar_relevance.nn.proximal.check_penalty`.
"""

from stellar_relevance.exceptions import ParameterError

__all__ = ["check_given"]


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
