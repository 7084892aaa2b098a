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
library is reported in the words of the command line (``--retrain-ks``, not
``retrain_ks``).
"""

import click

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
    "spectra": "SPECTRA",
    "output": "--output",
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
    "--threads", default=1, show_default=True, type=click.IntRange(min=1),
    help="torch CPU threads (1 measured fastest on small shared machines).",
)


nproc_opt = click.option(
    "--nproc", default=1, show_default=True, type=click.IntRange(min=1),
    help="Processes training together (torch DistributedDataParallel; at most the CPU cores, or the GPUs "
         "with CUDA). Under torchrun leave it at 1: torchrun starts the processes.",
)


def compute_options(command):
    """``--device``, ``--threads`` and ``--nproc``: where and on how many cores/processes the networks train."""
    for option in (nproc_opt, threads_opt, device_opt):
        command = option(command)
    return command


def output_opt(required=False, help="File to write."):
    """``-o/--output FILE``: a file (never a folder) written atomically."""
    return click.option("-o", "--output", required=required, default=None, type=click.Path(dir_okay=False), help=help)


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
