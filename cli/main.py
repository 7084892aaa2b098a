"""The ``stelrel`` click group. Commands are thin layers over the library."""

import click

from stellar_relevance import __version__

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
    """Console-script entry point; Ctrl-C outside a command's own handling still ends in one line, exit 130."""
    try:
        cli()
    except KeyboardInterrupt:
        from stellar_relevance.cli._errors import EXIT_INTERRUPTED, INTERRUPTED

        click.echo(INTERRUPTED, err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None


if __name__ == "__main__":
    main()
