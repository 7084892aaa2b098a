"""How a ``stelrel`` command ends: one line per error, the exit code, each warning as one line.

Exit codes: 0 success; 1 a data or runtime error (the library's
``StelrelError``, ``DataError``, ``OSError`` ...); 2 a usage error (click's
own, or a library :class:`~stellar_relevance.exceptions.ParameterError`,
shown under the option that sets the parameter); 3 the model does not beat
predicting the training mean (``rank``); 130 interrupted (Ctrl-C). Library
messages are shown as the library wrote them. A closed output pipe
(``stelrel catalog | head -1``) ends the command quietly with exit code 0.

In a process started by ``stelrel rank --nproc N`` (:mod:`._processes`)
nothing is printed here: the error goes to a report file that the
launching process prints once.
"""

import contextlib
import errno
import functools
import io
import logging
import os
import sys
import warnings

import click

from stellar_relevance.cli import _processes
from stellar_relevance.cli._processes import EXIT_INTERRUPTED, INTERRUPTED  # noqa: F401  (part of this module's face)
from stellar_relevance.cli.options import option_name

#: Exit code of ``rank`` when a model does not beat predicting the training mean.
EXIT_NO_BETTER_THAN_MEAN = 3


class CommandError(click.ClickException):
    """A runtime or data error: one line on stderr, exit code 1."""

    exit_code = 1


def one_line(text):
    """``text`` on one line (runs of white space, newlines included, become one space)."""
    return " ".join(str(text).split())


def _os_error_message(exc):
    """``<file>: <reason>`` for an OSError; a full disk says so."""
    reason = exc.strerror or one_line(exc) or type(exc).__name__
    if exc.errno == errno.ENOSPC and "disk full" not in reason:
        reason = f"disk full ({reason})"
    if exc.filename is not None:
        return one_line(f"{exc.filename}: {reason}")
    return one_line(reason)


def _spelling(ctx):
    """Name -> the option that sets it (``rest_frame`` -> ``--no-rest-frame``), else the name."""
    def spell(name):
        return option_name(name, ctx) or name
    return spell


def _message(exc, ctx=None):
    from stellar_relevance.exceptions import StelrelError

    if isinstance(exc, StelrelError):
        return one_line(exc.describe(_spelling(ctx)))
    if isinstance(exc, OSError) and exc.strerror:
        return _os_error_message(exc)
    if isinstance(exc, KeyError) and exc.args:
        return one_line(exc.args[0])  # str(KeyError) adds quotes around the message
    return one_line(exc) or type(exc).__name__


def usage_error(exc, ctx):
    """A library ParameterError as a usage error under its option (exit 2), or exit 1 if no option sets it."""
    spell = _spelling(ctx)
    option = option_name(exc.parameter, ctx)
    if option is None:
        return CommandError(one_line(exc.describe(spell)))
    message = exc.message if not exc.see else f"{exc.message} (see {', '.join(spell(n) for n in exc.see)})"
    return click.BadParameter(one_line(message), ctx=ctx, param_hint=f"'{option}'")


def _silence_stdout():
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail on a closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # an in-memory stdout (tests, notebooks) has no file descriptor to redirect


def _as_click_error(exc, ctx):
    """The click exception that reports ``exc``, or None when it is not a user-facing error."""
    from stellar_relevance.exceptions import ParameterError, StelrelError

    if isinstance(exc, click.ClickException):
        return exc
    if isinstance(exc, ParameterError):
        return usage_error(exc, ctx)
    if isinstance(exc, (StelrelError, ValueError, KeyError, OSError)):
        return CommandError(_message(exc, ctx))
    return None


def _shown(error):
    """What ``error.show()`` prints, as text."""
    buffer = io.StringIO()
    error.show(file=buffer)
    return buffer.getvalue()


def _silent():
    """Whether this process shows nothing: a copy of ``--nproc N`` other than the first."""
    return _processes.worker_rank() not in (None, 0)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning as one ``Warning:`` line (never Python's two lines with the source line)."""
    click.echo(f"Warning: {one_line(message)}", err=True)


@contextlib.contextmanager
def _one_line_warnings():
    """Every warning the command raises (also outside :func:`cli_output`, while an import runs) as one line."""
    with warnings.catch_warnings():
        if _silent():
            warnings.simplefilter("ignore")
        warnings.showwarning = _show_warning
        yield


def handle_errors(func):
    """Run a command: library errors become one-line click errors, each warning one line, Ctrl-C one line and
    exit code 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context(silent=True)
        try:
            try:
                with _processes.command_running(), _one_line_warnings():
                    result = func(*args, **kwargs)
                sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
                return result
            except BrokenPipeError:
                # the reader went away (`stelrel catalog | head -1`): what it wanted, it got
                _silence_stdout()
                raise click.exceptions.Exit(0) from None
            except (click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt):
                raise
            except Exception as exc:  # noqa: BLE001 - only user-facing errors are converted
                if _processes.interrupted(exc):  # a Ctrl-C that an interrupted import wrapped in its own error
                    raise KeyboardInterrupt from None
                error = _as_click_error(exc, ctx)
                if error is None and _processes.worker_reports() is not None:
                    _processes.report_crash_and_exit(exc)
                if error is None or error is exc:
                    raise
                raise error from exc
        except click.ClickException as error:
            if _processes.worker_reports() is None:
                raise
            _processes.report_and_exit(error.exit_code, _shown(error))
        except click.exceptions.Exit as stop:
            if stop.exit_code and _processes.worker_reports() is not None:
                _processes.report_and_exit(stop.exit_code, "")
            raise
        except KeyboardInterrupt:
            if _processes.worker_reports() is None:
                click.echo(INTERRUPTED, err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None

    return wrapper


@contextlib.contextmanager
def cli_output(quiet):
    """Messages for one command: the library's log on stderr, each warning as one line.

    In a process of ``--nproc N`` other than the first, nothing is shown
    (the first process shows the same messages once). Everything is
    restored on exit (handlers, levels, warning filters), so running
    commands in-process (tests, notebooks) leaves no global state.
    """
    silent = _silent()
    level = logging.CRITICAL + 1 if silent else logging.WARNING if quiet else logging.INFO
    logger = logging.getLogger("stellar_relevance")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore" if silent else "default")
            warnings.showwarning = _show_warning
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
