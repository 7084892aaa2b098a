"""Exceptions and warnings raised by stellar_relevance.

Library code raises these; the command-line interface turns them into
one-line messages and exit codes.
"""


class StelrelError(Exception):
    """Base class of every error stellar_relevance raises on purpose."""


class DataError(StelrelError, ValueError):
    """Input data (a file, a table, an array) is not what was expected.

    The message names the file, HDU, row, column or index and what was
    expected.
    """


class DataWarning(UserWarning):
    """Input data had a quirk that was handled; the message says how."""
