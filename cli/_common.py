"""What every ``stelrel`` command shares: error handling, logging, loading spectra.

User mistakes never end in a traceback: library errors (``StelrelError``,
``DataError``, ``ValueError``, ``OSError``) become a one-line
``Error: ...`` and exit code 1; click's usage errors, and a library
:class:`~stellar_relevance.exceptions.ParameterError` (reported under the
option's name), exit with 2. Messages speak in command-line options, never
in Python keywords. A closed output pipe (``stelrel catalog | head -1``)
ends the command quietly with exit code 0.
"""

import contextlib
import functools
import logging
import os
import re
import sys
import warnings
from pathlib import Path

import shlex

import click
from click.core import ParameterSource

from .options import option_name

#: Words SPECTRA may be instead of a path.
SPECTRA_KEYWORDS = ("miles", "synthetic")


class CommandError(click.ClickException):
    """A runtime or data error: one line on stderr, exit code 1."""

    exit_code = 1


def _one_line(exc):
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def _option_for(name, ctx):
    return "--overwrite" if name == "overwrite" else option_name(name, ctx)


def cli_words(message, ctx=None, identifiers=False):
    """``message`` with Python keyword advice rewritten in command-line options.

    ``pass overwrite=True`` becomes ``pass --overwrite``; ``top=30`` becomes
    ``--top 30``; advice naming a keyword no option sets (``; pass params=``)
    is dropped with its clause; ``(overwrite=True)`` after ``--overwrite`` is
    dropped as a repeat. With ``identifiers`` (a ParameterError's own
    message), bare parameter names that an option sets (``max_epochs``) are
    replaced too.
    """

    def advice(match):
        option = _option_for(match["name"], ctx)
        if option is None:
            return ""
        value = match["value"]
        shown = option if value in ("True", "...", "") else f"{option} {value}"
        return f"{match['sep']}pass {shown}{match['rest']}"

    def aside(match):
        option = _option_for(match["name"], ctx)
        if option is None or option in message:
            return ""
        return f" ({option})"

    def keyword(match):
        option = _option_for(match["name"], ctx)
        if option is None:
            return match[0]
        value = match["value"]
        return option if value == "True" else f"{option} {value}"

    text = re.sub(r"(?P<sep>[;,]?\s*)pass (?P<name>[a-z_]+)=(?P<value>[^\s;,)]*)(?P<rest>[^;]*)", advice, message)
    text = re.sub(r"\s*\((?P<name>[a-z_]+)=(?P<value>[^\s;,)]*)\)", aside, text)
    text = re.sub(r"(?<![\w-])(?P<name>[a-z][a-z_]*)=(?P<value>[^\s;,)]+)", keyword, text)
    if identifiers:
        text = re.sub(r"(?<![\w/.-])(?P<name>[a-z]+(?:_[a-z]+)+)\b(?![=/.])",
                      lambda m: _option_for(m["name"], ctx) or m[0], text)
    return " ".join(text.split())


def command_line(ctx):
    """The command as typed (the arguments and options given on the command line), for the provenance."""
    parts = ["stelrel", ctx.info_name]
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) != ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if isinstance(param, click.Argument):
            parts.append(str(value))
        elif getattr(param, "is_flag", False):
            parts.append(param.opts[0])
        else:
            if isinstance(value, tuple):
                value = ",".join(str(v) for v in value)
            parts += [param.opts[0], str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def _silence_stdout():
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail on a closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # an in-memory stdout (tests, notebooks) has no file descriptor to redirect


def _parameter_error(exc, ctx):
    """A library ParameterError as a usage error naming the option (exit 2), or exit 1 if no option sets it."""
    option = option_name(exc.parameter, ctx)
    message = cli_words(" ".join(str(exc.message).split()), ctx, identifiers=True)
    if option is None:
        return CommandError(cli_words(_one_line(exc), ctx))
    return click.BadParameter(message, ctx=ctx, param_hint=f"'{option}'")


def handle_errors(func):
    """Turn library errors raised by ``func`` into one-line click errors (exit 1, or 2 for a bad parameter)."""
    from stellar_relevance.exceptions import ParameterError, StelrelError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context(silent=True)
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
            return result
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except BrokenPipeError:
            # the reader went away (`stelrel catalog | head -1`): what it wanted, it got
            _silence_stdout()
            raise click.exceptions.Exit(0) from None
        except ParameterError as exc:
            raise _parameter_error(exc, ctx) from exc
        except (StelrelError, ValueError, KeyError, OSError) as exc:
            message = _one_line(exc)
            if isinstance(exc, OSError) and getattr(exc, "filename", None) and str(exc.filename) not in message:
                message = f"{exc.filename}: {message}"
            raise CommandError(cli_words(message, ctx)) from exc

    return wrapper


@contextlib.contextmanager
def cli_output(quiet):
    """Messages for one command: the library's log on stderr, each warning as one line.

    Everything is restored on exit (handlers, levels, warning filters), so
    running commands in-process (tests, notebooks) leaves no global state.
    """
    level = logging.WARNING if quiet else logging.INFO
    logger = logging.getLogger("stellar_relevance")
    handler = logging.StreamHandler(sys.stderr)
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
        from stellar_relevance.datasets import make_synthetic_spectra

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


def check_writable_file(output, overwrite):
    """Refuse to replace an existing ``output`` without ``--overwrite`` (exit 1), before any work."""
    if output is not None and Path(output).exists() and not overwrite:
        raise CommandError(f"{output} exists; pass --overwrite to replace it")


def check_output_not_in_input(out, spectra):
    """``--out`` may not be the input folder or inside it (results would land among the data): exit 2."""
    source = Path(spectra)
    if not source.exists():
        return
    source, target = source.resolve(), Path(out).resolve()
    if target == source or (source.is_dir() and source in target.parents):
        where = "is" if target == source else "is inside"
        raise click.BadParameter(
            f"{out} {where} the input {spectra}; write the results to a folder of their own",
            param_hint="'--out'",
        )
