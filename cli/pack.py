"""``stelrel pack``: survey files, a MILES folder or ``miles`` into one packed FITS file."""

import click

from stellar_relevance.cli._common import check_writable_file, cli_output, handle_errors, ingest_summary, pack_inputs
from stellar_relevance.cli.options import input_options, output_opt, overwrite_opt, quiet_opt


@click.command()
@input_options
@output_opt(required=True, help="Packed FITS file to write (atomically: complete or absent).")
@overwrite_opt
@quiet_opt
@handle_errors
def pack(inputs, output, overwrite, quiet):
    """Pack INPUTS into one FITS file (a training set for `stelrel rank`).

    INPUTS are survey files of one survey (LAMOST, SDSS, APOGEE, DESI,
    Gaia XP), folders of them, glob patterns or @list.txt (one path per
    line); or a MILES-style folder, or the word `miles`. Survey spectra are
    shifted to their rest frame, resampled onto one grid and joined with
    --labels.
    """
    check_writable_file(output, overwrite)  # before reading ten thousand files, not after
    with cli_output(quiet):
        # the library reports what it wrote (INFO, shown unless --quiet); the summary says what it read
        meta = pack_inputs(inputs, output, overwrite=overwrite)
        if not quiet:
            for line in ingest_summary(meta):
                click.echo(line, err=True)
