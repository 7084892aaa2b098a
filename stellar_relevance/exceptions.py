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

    An error may name the parameters that would resolve it (``see``); the
    message shows their Python names, the command line shows its options:

    >>> err = DataError("m1.fits: no redshift in the file", see=("rv_column", "rest_frame"))
    >>> str(err), err.see
    ('m1.fits: no redshift in the file (see rv_column, rest_frame)', ('rv_column', 'rest_frame'))
    >>> err.describe(lambda name: "--" + name.replace("_", "-"))
    'm1.fits: no redshift in the file (see --rv-column, --rest-frame)'
"""

    def __init__(self, *args, see=()):
        super().__init__(*args)
        self.see = tuple(see)

    @property
    def text(self):
        """The message without the parameters to see."""
        return str(self.args[0]) if self.args else ""

    def describe(self, spell=str):
        """The message, with the parameters to see spelled by ``spell`` (name -> words)."""
        if not self.see:
            return self.text
        return f"{self.text} (see {', '.join(spell(name) for name in self.see)})"

    def __str__(self):
        return self.describe()


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
    see : tuple of str, optional
        Other parameters that would resolve the error (shown after the message).

    Examples
    --------
    >>> err = ParameterError("min_epochs", "must not exceed epochs (3), got 50")
    >>> err.parameter, str(err)
    ('min_epochs', 'min_epochs must not exceed epochs (3), got 50')
    """

    def __init__(self, parameter, message, *, see=()):
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter} {message}", see=see)
