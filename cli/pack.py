"""``stelrel pack``: a MILES-style folder of spectra into one packed FITS file."""

import click

from ._common import cli_output, handle_errors, load_spectra


@click.command()
@click.argument("folder")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Packed FITS file to write.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors.")
@handle_errors
def pack(folder, output, overwrite, quiet):
    """Pack the spectra of FOLDER (a MILES-style folder, or `miles`) into one FITS file."""
    from stellar_relevance.io import write_packed

    with cli_output(quiet):
        spectra = load_spectra(folder)
        write_packed(spectra, output, overwrite=overwrite)
        if not quiet:
            click.echo(f"wrote {len(spectra)} spectra x {spectra.n_pixels} pixels to {output}")
