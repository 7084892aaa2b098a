"""What every ``stelrel`` command shares: error handling, logging, loading spectra.

User mistakes never end in a traceback: library errors (``StelrelError``,
``DataError``, ``ValueError``, ``OSError``) become a one-line
``Error: ...`` and exit code 1; click's usage errors exit with 2.
"""

import contextlib
import functools
import logging
import warnings
from pathlib import Path

import click

#: Words SPECTRA may be instead of a path.
SPECTRA_KEYWORDS = ("miles", "synthetic")


class CommandError(click.ClickException):
    """A runtime or data error: one line on stderr, exit code 1."""

    exit_code = 1


def _one_line(exc):
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def handle_errors(func):
    """Turn library errors raised by ``func`` into :class:`CommandError`."""
    from stellar_relevance.exceptions import StelrelError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except (StelrelError, ValueError, KeyError, OSError) as exc:
            message = _one_line(exc)
            if isinstance(exc, OSError) and getattr(exc, "filename", None) and str(exc.filename) not in message:
                message = f"{exc.filename}: {message}"
            raise CommandError(message) from exc

    return wrapper


@contextlib.contextmanager
def cli_output(quiet):
    """Messages for one command: the library's log on stderr, each warning as one line.

    Everything is restored on exit (handlers, levels, warning filters), so
    running commands in-process (tests, notebooks) leaves no global state.
    """
    level = logging.WARNING if quiet else logging.INFO
    logger = logging.getLogger("stellar_relevance")
    handler = logging.StreamHandler(click.get_text_stream("stderr"))
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False

    def show(message, category, filename, lineno, file=None, line=None):
        click.echo(f"Warning: {' '.join(str(message).split())}", err=True)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = show
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def load_spectra(spectra, seed=0):
    """Read SPECTRA: a packed ``spectra.fits``, a MILES-style folder, ``miles`` or ``synthetic``.

    A missing path is a usage error (exit code 2).
    """
    if spectra in SPECTRA_KEYWORDS and not Path(spectra).exists():
        if spectra == "miles":
            from stellar_relevance.io import load_miles

            return load_miles()
        from stellar_relevance.datasets.synthetic_spectra import make_synthetic_spectra

        return make_synthetic_spectra(random_state=seed)
    path = Path(spectra)
    if not path.exists():
        raise click.BadParameter(
            f"{spectra!r}: no such file or folder (expected a packed spectra.fits, a MILES-style folder, "
            f"or one of the words {', '.join(SPECTRA_KEYWORDS)})",
            param_hint="SPECTRA",
        )
    from stellar_relevance.io import read_spectra

    return read_spectra(path)
