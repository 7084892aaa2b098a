"""``stelrel pack``: a MILES-style folder of spectra into one packed FITS file."""

import click

from ._common import check_writable_file, cli_output, handle_errors, load_spectra
from .options import output_opt, overwrite_opt, quiet_opt


@click.command()
@click.argument("folder")
@output_opt(required=True, help="Packed FITS file to write.")
@overwrite_opt
@quiet_opt
@handle_errors
def pack(folder, output, overwrite, quiet):
    """Pack the spectra of FOLDER (a MILES-style folder, or `miles`) into one FITS file."""
    from stellar_relevance.io import write_packed

    check_writable_file(output, overwrite)  # before reading a thousand files, not after
    with cli_output(quiet):
        spectra = load_spectra(folder)
        # the library reports what it wrote (INFO, shown unless --quiet): one line, not two
        write_packed(spectra, output, overwrite=overwrite)
