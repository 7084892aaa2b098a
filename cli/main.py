"""The ``stelrel`` click group. Commands are thin layers over the library."""

import click

from stellar_relevance import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stelrel")
def cli():
    """stelrel: which wavelengths of a spectrum carry the information about a label."""


def main():
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
