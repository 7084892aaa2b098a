"""Options shared by the ``stelrel`` commands, defined once (as rasterio's ``rio/options.py``).

A command uses them as decorators::

    @click.command()
    @output_opt(required=True, help="Packed FITS file to write.")
    @overwrite_opt
    @quiet_opt
    def pack(...): ...

:data:`PARAMETER_OPTIONS` maps the library's Python parameter names to the
command-line options that set them, so that a
:class:`~stellar_relevance.exceptions.ParameterError` raised deep in the
library is reported under the option that sets it (``Invalid value for
'--retrain-ks': ...``).
"""

import shlex
from pathlib import Path

import click
from click.core import ParameterSource

#: Largest seed: numpy's ``RandomState`` (and so scikit-learn's ``check_random_state``) takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1

#: Library parameter name -> command-line option, where the two differ in more than ``_`` / ``-``.
PARAMETER_OPTIONS = {
    "hidden_layer_sizes": "--hidden",
    "max_epochs": "--epochs",
    "retrain_max_epochs": "--retrain-epochs",
    "n_random": "--random-draws",
    "n_random_retrained": "--random-draws",
    "n_permutations": "--permutations",
    "n_seeds": "--seeds",
    "random_state": "--seed",
    "input_scaling": "--scaling",
    "n_threads": "--threads",
    "nproc": "--nproc",
    "test_fraction": "--test-fraction",
    "continuum": "--continuum",
    "spectra": "INPUTS",
    "paths": "INPUTS",
    "inputs": "INPUTS",
    "output": "--output",
    "rest_frame": "--no-rest-frame",
    "recursive": "--recursive",
}

quiet_opt = click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors (no progress messages or bars).")

overwrite_opt = click.option("--overwrite", is_flag=True, help="Replace the output if it already exists.")

seed_opt = click.option(
    "--seed", default=0, show_default=True, type=click.IntRange(0, MAX_SEED),
    help=f"Seed of every random choice (0 .. {MAX_SEED}); the same seed gives the same result.",
)

device_opt = click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
    help="Where the networks train ('auto': CUDA when torch sees a GPU).",
)

threads_opt = click.option(
    "--threads", default=None, type=click.IntRange(min=1),
    help="torch CPU threads (default: torch's own, one per core; 1 can be faster on a machine shared with "
         "other jobs).",
)


nproc_opt = click.option(
    "--nproc", default=1, show_default=True, type=click.IntRange(min=1),
    help="Processes training together (torch DistributedDataParallel; at most the CPU cores, or the GPUs "
         "with CUDA). Under torchrun leave it at 1: torchrun starts the processes.",
)


continuum_opt = click.option(
    "--continuum", type=click.Choice(["none", "running"]), default=None,
    help="Continuum normalisation of each spectrum: none, or running (divided by a running upper percentile "
         "of its own flux). Default: the library's.",
)


def compute_options(command):
    """``--device``, ``--threads`` and ``--nproc``: where and on how many cores/processes the networks train."""
    for option in (nproc_opt, threads_opt, device_opt):
        command = option(command)
    return command


#: File-name endings of compressed files: ``-o`` writes plain files only.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".zst")


def _output_callback(example):
    """Check the ``-o`` value while parsing: a file name, not empty, not a folder, not compressed (exit 2)."""

    def callback(ctx, param, value):
        if value is None:
            return None
        text = str(value)
        if not text.strip():
            raise click.BadParameter(f"an empty file name; name the file to write, e.g. {example}", ctx, param)
        folder = text.endswith(("/", "\\")) or Path(text).expanduser().is_dir()
        if folder:
            suggestion = str(Path(text) / example)
            raise click.BadParameter(f"{text!r} is a folder; -o names the file to write, e.g. {suggestion}",
                                     ctx, param)
        if text.lower().endswith(COMPRESSED_SUFFIXES):
            plain = text[: text.rfind(".")]
            raise click.BadParameter(f"{text!r}: compressed output is not written; name it {plain} "
                                     "(and compress it afterwards if you need to)", ctx, param)
        return text

    return callback


def output_opt(required=False, help="File to write.", example="out.fits"):
    """``-o/--output FILE``: a file (never a folder, never compressed) written atomically."""
    return click.option("-o", "--output", required=required, type=click.Path(), callback=_output_callback(example),
                        help=help)


def option_name(parameter, ctx=None):
    """The command-line spelling of library parameter ``parameter``, or None if no option sets it.

    Looks in :data:`PARAMETER_OPTIONS`, then among the options of the running
    command (``batch_size`` -> ``--batch-size``).
    """
    if parameter in PARAMETER_OPTIONS:
        return PARAMETER_OPTIONS[parameter]
    if ctx is not None:
        for param in ctx.command.params:
            if param.name == parameter:
                return param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
    return None


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


# ----------------------------------------------------------------------------- value parsers
def parse_int_list(text, option, *, allow_all=False, maximum=None):
    """``"200,50,50"`` -> ``(200, 50, 50)``; each a positive int (or ``all`` when allowed).

    Raises
    ------
    click.BadParameter
        Naming ``option``, for anything else (exit code 2).
    """
    items = []
    for part in str(text).split(","):
        part = part.strip()
        if allow_all and part.lower() == "all":
            items.append("all")
            continue
        try:
            value = int(part)
        except ValueError:
            raise click.BadParameter(
                f"{text!r}: expected comma-separated positive integers{' or all' if allow_all else ''}",
                param_hint=option,
            ) from None
        if value < 1:
            raise click.BadParameter(f"{text!r}: {value} is not a positive integer", param_hint=option)
        if maximum is not None and value > maximum:
            raise click.BadParameter(f"{text!r}: {value} is larger than {maximum}", param_hint=option)
        items.append(value)
    return tuple(items)


def int_list_callback(allow_all=False):
    """A click callback parsing a comma-separated list with :func:`parse_int_list`."""

    def callback(ctx, param, value):
        if value is None:
            return None
        return parse_int_list(value, param.opts[0], allow_all=allow_all)

    return callback


# ----------------------------------------------------------------------------- spectra in
class Inputs:
    """What the INPUTS argument and the reading options of :func:`input_options` name.

    ``paths`` are the INPUTS as typed (files, folders, globs, ``@list.txt``,
    or one of the words ``miles`` / ``synthetic``); :meth:`survey_options`
    gives the keyword arguments of :func:`stellar_relevance.io.read_spectra`
    that were set.
    """

    def __init__(self, paths, labels=None, id_column=None, grid=None, rv_column=None, rest_frame=True, jobs=1,
                 on_error="skip", recursive=False):
        self.paths = tuple(paths)
        self.labels, self.id_column, self.grid, self.rv_column = labels, id_column, grid, rv_column
        self.rest_frame, self.jobs, self.on_error = rest_frame, jobs, on_error
        self.recursive = recursive

    def survey_options(self):
        """The ``read_spectra`` / ``pack_spectra`` keywords that differ from their defaults."""
        given = dict(labels=self.labels, id_column=self.id_column, grid=self.grid, rv_column=self.rv_column)
        options = {k: v for k, v in given.items() if v is not None}
        if not self.rest_frame:
            options["rest_frame"] = False
        if self.jobs != 1:
            options["jobs"] = self.jobs
        if self.on_error != "skip":
            options["on_error"] = self.on_error
        if self.recursive:
            options["recursive"] = True
        return options

    def __repr__(self):
        return f"Inputs({', '.join(self.paths)}, {self.survey_options()})"


def _grid_callback(ctx, param, value):
    """Check ``--grid`` while parsing (exit 2 naming the option); the library parses it again."""
    if value is None:
        return None
    from stellar_relevance.exceptions import ParameterError
    from stellar_relevance.io.resample import parse_grid

    try:
        parse_grid(value)
    except ParameterError as exc:
        raise click.BadParameter(str(exc.message), ctx=ctx, param=param) from None
    return value


_INPUT_PARAMS = ("inputs", "labels", "id_column", "grid", "rv_column", "no_rest_frame", "jobs", "on_error",
                 "recursive")


def input_options(func):
    """INPUTS... and the options that say how to read them; the command receives one ``inputs`` (`Inputs`).

    INPUTS are files, folders, glob patterns (quoted, or expanded by the
    shell) or ``@list.txt``; a MILES folder, a packed file and the words
    ``miles`` / ``synthetic`` keep their meaning.
    """
    import functools

    decorators = [
        click.argument("inputs", nargs=-1, required=True, metavar="INPUTS..."),
        click.option("--labels", default=None, type=click.Path(exists=True, dir_okay=False),
                     help="Label table (CSV, ECSV or FITS) joined to the spectra by ID."),
        click.option("--id-column", default=None,
                     help="ID column of --labels (default: the first of ID, OBSID, SPECOBJID, source_id, "
                          "TARGETID, APOGEE_ID, FILE it has)."),
        click.option("--grid", default=None, callback=_grid_callback,
                     help="Common wavelength grid: START:STOP:STEP in Angstrom (3800:8900:1.0) or "
                          "log:START:STOP:DEX (log:3800:8900:1e-4). Default: the inputs' overlap at their "
                          "median step."),
        click.option("--rv-column", default=None,
                     help="Column of --labels with the radial velocity (km/s) used for the rest-frame shift "
                          "instead of the file's redshift."),
        click.option("--no-rest-frame", is_flag=True,
                     help="Keep the observed frame (do not shift each spectrum by its redshift)."),
        click.option("--recursive", is_flag=True,
                     help="Read the spectrum files in the subfolders of a folder too (symbolic links to "
                          "folders are not followed)."),
        click.option("--jobs", default=1, show_default=True, type=click.IntRange(min=1),
                     help="Processes that read and resample survey files."),
        click.option("--on-error", type=click.Choice(["skip", "fail"]), default="skip", show_default=True,
                     help="An unreadable file: skip it with a warning (counted in the summary) or stop."),
    ]

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        values = {name: kwargs.pop(name) for name in _INPUT_PARAMS}
        kwargs["inputs"] = Inputs(values["inputs"], labels=values["labels"], id_column=values["id_column"],
                                  grid=values["grid"], rv_column=values["rv_column"],
                                  rest_frame=not values["no_rest_frame"], jobs=values["jobs"],
                                  on_error=values["on_error"], recursive=values["recursive"])
        return func(*args, **kwargs)

    for decorator in reversed(decorators):
        wrapper = decorator(wrapper)
    return wrapper
