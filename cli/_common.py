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

from stellar_relevance.cli.options import option_name

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

    # the library's "(grid=, --grid)" and "rest_frame=False (--no-rest-frame)": the option alone
    message = re.sub(r"\b[a-z_]+=, (--[a-z][a-z-]*)", r"\1", message)
    message = re.sub(r"\b[a-z_]+=[\w.]+ \((--[a-z][a-z-]*)\)", r"\1", message)
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
            parts.extend(str(v) for v in (value if isinstance(value, tuple) else (value,)))
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
        click.echo(f"Warning: {cli_words(' '.join(str(message).split()), click.get_current_context(silent=True))}",
                   err=True)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = show
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def _keyword(inputs):
    """The word (``miles``, ``synthetic``) when INPUTS is one such word and no file of that name exists."""
    if len(inputs.paths) == 1 and inputs.paths[0] in SPECTRA_KEYWORDS and not Path(inputs.paths[0]).exists():
        return inputs.paths[0]
    return None


def _as_inputs(spectra):
    from stellar_relevance.cli.options import Inputs

    return spectra if isinstance(spectra, Inputs) else Inputs([str(spectra)])


def _check_paths_exist(inputs):
    """A named file or folder that does not exist is a usage error (exit 2); globs and @lists are the library's."""
    for text in inputs.paths:
        if text.startswith("@") or set("*?[") & set(text):
            continue
        if not Path(text).expanduser().exists():
            raise click.BadParameter(
                f"{text!r}: no such file or folder (expected survey files, folders, globs or @list.txt, "
                f"a packed spectra.fits, a MILES-style folder, or one of the words {', '.join(SPECTRA_KEYWORDS)})",
                param_hint="INPUTS",
            )


def _refuse_survey_options(inputs, what):
    options = {k: v for k, v in inputs.survey_options().items() if k not in ("jobs", "on_error", "rest_frame")}
    if options:
        name = next(iter(options)).replace("_", "-")
        raise click.BadParameter(f"applies to survey files; {what}", param_hint=f"'--{name}'")


def load_spectra(spectra, seed=0, grid=None):
    """Read INPUTS (an `~cli.options.Inputs`, or one path / word) into a `SpectralSet`.

    Survey files, folders, globs and ``@list.txt`` go to
    :func:`~stellar_relevance.io.read_spectra` with the options given; a
    packed ``spectra.fits``, a MILES-style folder, ``miles`` and
    ``synthetic`` are read as before. ``grid`` is the grid to use when
    ``--grid`` was not given (``predict``: the model's). A named path that
    does not exist is a usage error (exit code 2).
    """
    inputs = _as_inputs(spectra)
    word = _keyword(inputs)
    if word is not None:
        _refuse_survey_options(inputs, f"{word!r} is a built-in data set")
        if word == "miles":
            from stellar_relevance.io import load_miles

            return load_miles()
        from stellar_relevance.datasets import make_synthetic_spectra

        return make_synthetic_spectra(random_state=seed)
    _check_paths_exist(inputs)
    from stellar_relevance.io import read_spectra
    from stellar_relevance.io.dispatch import input_kind

    options = dict(inputs.survey_options(), progress=_progress())
    if grid is not None and "grid" not in options and input_kind(list(inputs.paths), options.get("labels")) == "survey":
        options["grid"] = grid
    return read_spectra(list(inputs.paths), **options)


def _progress():
    """Progress bars unless the running command was given --quiet."""
    ctx = click.get_current_context(silent=True)
    return not (ctx is not None and ctx.params.get("quiet"))


def pack_inputs(inputs, output, overwrite=False):
    """``stelrel pack``: INPUTS to one packed file (:func:`~stellar_relevance.io.pack_spectra`); its ``meta``."""
    word = _keyword(inputs)
    if word is not None:
        from stellar_relevance.io import write_packed

        spectra = load_spectra(inputs)
        write_packed(spectra, output, overwrite=overwrite)
        return dict(spectra.meta, output=str(output), n_spectra=len(spectra))
    _check_paths_exist(inputs)
    from stellar_relevance.io import pack_spectra

    return pack_spectra(list(inputs.paths), output, overwrite=overwrite, progress=_progress(),
                        **inputs.survey_options())


def _count(n, one, many):
    return f"{n} {one if n == 1 else many}"


def ingest_summary(meta):
    """The lines ``stelrel pack`` prints about what it read: spectra, files skipped, the label join."""
    ingest = meta.get("ingest")
    if not ingest:
        return []
    skipped = ingest.get("skipped", 0)
    frame = "rest frame" if meta.get("rest_frame") else "observed frame"
    grid = meta.get("grid") or {}
    lines = [f"read {_count(ingest['spectra'], 'spectrum', 'spectra')} from {_count(ingest['files'], 'file', 'files')}"
             + (f" ({_count(skipped, 'unreadable file or spectrum', 'unreadable files or spectra')} skipped, "
                "named in the warnings above)" if skipped else ", none skipped")
             + (f"; {meta.get('survey')}" if meta.get("survey") else "")
             + (f"; grid {grid['start']:.2f}-{grid['stop']:.2f} A, {grid['n_pixels']} pixels, "
                f"{meta.get('frame', '?')} wavelengths, {frame}" if grid else "")]
    counts = ingest.get("labels")
    if counts:
        lines.append(f"labels ({counts['id_column']} matched on {counts['key']}): {counts['matched']} matched, "
                     f"{_count(counts['unmatched'], 'spectrum', 'spectra')} without a row, "
                     f"{_count(counts['unused'], 'row', 'rows')} without a spectrum, "
                     f"{_count(counts['duplicated'], 'duplicated ID', 'duplicated IDs')}")
    return lines


def check_writable_file(output, overwrite):
    """Refuse to replace an existing ``output`` without ``--overwrite`` (exit 1), before any work."""
    if output is not None and Path(output).exists() and not overwrite:
        raise CommandError(f"{output} exists; pass --overwrite to replace it")


def check_output_not_in_input(out, spectra):
    """``--out`` may not be an input folder or inside one (results would land among the data): exit 2."""
    paths = _as_inputs(spectra).paths
    for text in paths:
        source = Path(text)
        if not source.exists():
            continue
        source, target = source.resolve(), Path(out).resolve()
        if target == source or (source.is_dir() and source in target.parents):
            where = "is" if target == source else "is inside"
            raise click.BadParameter(
                f"{out} {where} the input {text}; write the results to a folder of their own",
                param_hint="'--out'",
            )
