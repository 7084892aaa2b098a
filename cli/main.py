"""The ``stelrel`` click group. Commands are thin layers over the library."""

import click

from stellar_relevance import __version__
from stellar_relevance.cli._processes import (EXIT_INTERRUPTED, INTERRUPTED, exit_interrupted,
                                              interrupts_for_the_command)
from stellar_relevance.cli.catalog import catalog
from stellar_relevance.cli.pack import pack
from stellar_relevance.cli.predict import predict
from stellar_relevance.cli.rank import rank
from stellar_relevance.cli.report import report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stelrel")
def cli():
    """stelrel: which wavelengths of a spectrum carry the information about a label."""


cli.add_command(rank)
cli.add_command(pack)
cli.add_command(catalog)
cli.add_command(report)
cli.add_command(predict)


def main():
    """Console-script entry point.

    Ctrl-C before the command starts or while it runs ends in one line and
    exit code 130; after the command has returned (its outputs complete)
    it is ignored, and the exit status is the command's own
    (:func:`stellar_relevance.cli._processes.interrupts_for_the_command`).
    """
    interrupts_for_the_command()
    try:
        cli()
    except KeyboardInterrupt:
        click.echo(INTERRUPTED, err=True)
        exit_interrupted()
    except SystemExit as stop:
        if stop.code == EXIT_INTERRUPTED:  # the command printed the line
            exit_interrupted()
        raise


if __name__ == "__main__":
    main()
