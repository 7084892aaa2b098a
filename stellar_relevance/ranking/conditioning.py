"""The pipeline's check of the known labels fed as ``given``.

``given`` labels (e.g. Teff and log g) enter the network after the spectral
layer (the estimator's ``fit(X, y, given=...)``), so the pixel relevance
measures what the spectrum tells about the label beyond them, and the
sensitivity is taken after them. This module checks their names
(:func:`check_given`); the penalty is checked by
:func:`stellar_relevance.nn.proximal.check_penalty`.
"""

from stellar_relevance.exceptions import DataError, ParameterError

__all__ = ["check_label", "check_given"]


def _text_note(column):
    """``holds text, not numbers (e.g. 'K0III')``: what a non-numeric label column holds, in words."""
    example = next((str(v).strip() for v in column if str(v).strip() not in ("", "--")), "")
    return "holds text, not numbers" + (f" (e.g. {example!r})" if example else "")


def check_label(spectra, label):
    """A `DataError` unless ``label`` is a numeric label of ``spectra`` (the label to predict).

    Parameters
    ----------
    spectra : SpectralSet
    label : str

    Examples
    --------
    >>> from astropy.table import Table
    >>> from stellar_relevance import make_synthetic_spectra
    >>> spectra = make_synthetic_spectra(n_spectra=3)
    >>> spectra.labels["SPTYPE"] = ["K0III", "G2V", "M1V"]
    >>> check_label(spectra, "FEH")
    >>> check_label(spectra, "SPTYPE")
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.DataError: label 'SPTYPE' holds text, not numbers (e.g. 'K0III'); the label to predict must be numeric
    """
    if label not in spectra.label_names:
        raise DataError(
            f"no label {label!r} in the spectra; available labels: {', '.join(spectra.label_names) or 'none'}"
        )
    column = spectra.labels[label]
    if column.dtype.kind not in "biuf":
        raise DataError(f"label {label!r} {_text_note(column)}; the label to predict must be numeric")


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
        if spectra.labels[name].dtype.kind not in "biuf":
            raise ParameterError("given", f"label {name!r} {_text_note(spectra.labels[name])}; a given label must "
                                 "be numeric")
    return names
