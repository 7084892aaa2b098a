"""Exceptions and warnings raised by stellar_relevance.

Library code raises these; the command-line interface turns them into
one-line messages and exit codes.
"""


class StelrelError(Exception):
    """Base class of every error stellar_relevance raises on purpose.

    Catch it to handle any of the library's own errors at once.

    Examples
    --------
    >>> from stellar_relevance import DataError, ParameterError, StelrelError
    >>> issubclass(DataError, StelrelError), issubclass(ParameterError, StelrelError)
    (True, True)
"""


class DataError(StelrelError, ValueError):
    """Input data (a file, a table, an array) is not what was expected.

    The message names the file, HDU, row, column or index and what was
    expected. It is also a :class:`ValueError`.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from stellar_relevance import DataError, SpectralSet
    >>> try:
    ...     SpectralSet([3, 2, 1] * u.AA, np.ones(3))
    ... except DataError as err:
    ...     print(err)
    wavelength: the wavelength grid is not strictly increasing: pixel 1 (2 Angstrom) does not exceed pixel 0 (3 Angstrom)
    """


class DataWarning(UserWarning):
    """Input data had a quirk that was handled; the message says how.

    Examples
    --------
    >>> import warnings
    >>> from stellar_relevance import DataWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("star m0042: 3 masked pixels filled with the mean", DataWarning)
    >>> caught[0].category.__name__
    'DataWarning'
    """


class ParameterError(StelrelError, ValueError):
    """A parameter value the library cannot use (out of range, inconsistent).

    Parameters
    ----------
    parameter : str
        The Python name of the parameter (``"retrain_ks"``); the command-line
        interface maps it to its option (``--retrain-ks``) in the message.
    message : str
        What is wrong and what is expected, without the parameter's name.

    Examples
    --------
    >>> err = ParameterError("min_epochs", "must not exceed epochs (3), got 50")
    >>> err.parameter, str(err)
    ('min_epochs', 'min_epochs must not exceed epochs (3), got 50')
    """

    def __init__(self, parameter, message):
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter} {message}")
