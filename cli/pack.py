"""``stelrel pack``: survey files, a MILES folder or ``miles`` into one packed FITS file."""

import click

from stellar_relevance.cli._errors import cli_output, handle_errors
from stellar_relevance.cli._inputs import keyword, pack_inputs
from stellar_relevance.cli._outputs import check_output_file
from stellar_relevance.cli.options import continuum_opt, input_options, output_opt, overwrite_opt, quiet_opt


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


def _grid_from(inputs, model):
    """``--grid-from MODEL``: the model's wavelength grid as the grid of INPUTS (not with --grid), in its frame."""
    if model is None:
        return
    if keyword(inputs) is not None:
        raise click.BadParameter(f"applies to files; {keyword(inputs)!r} is a built-in data set",
                                 param_hint="'--grid-from'")
    if inputs.grid is not None:
        raise click.BadParameter("give --grid or --grid-from, not both", param_hint="'--grid-from'")
    from stellar_relevance.report.model_file import model_grid

    grid = model_grid(model)
    rest = (grid.info.meta or {}).get("rest_frame")
    if rest is not None and bool(rest) != inputs.rest_frame:
        frame, advice = ("rest", "leave out --no-rest-frame") if rest else ("observed", "add --no-rest-frame")
        raise click.BadParameter(f"{model} was trained on spectra in the {frame} frame; {advice}",
                                 param_hint="'--grid-from'")
    inputs.grid = grid


@click.command()
@input_options
@click.option("--grid-from", "grid_from", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Resample onto the wavelength grid of this model (a model.pt of `stelrel rank`), so that "
                   "`stelrel predict` can apply the model to the packed file.")
@continuum_opt
@output_opt(required=True, help="Packed FITS file to write (atomically: complete or absent).", example="train.fits")
@overwrite_opt
@quiet_opt
@handle_errors
def pack(inputs, grid_from, continuum, output, overwrite, quiet):
    """Pack INPUTS into one FITS file (a training set for `stelrel rank`).

    INPUTS are survey files of one survey (LAMOST, SDSS, APOGEE, DESI,
    Gaia XP), folders of them, glob patterns or @list.txt (one path per
    line); or a MILES-style folder, or the word `miles`. Survey spectra are
    shifted to their rest frame, resampled onto one grid and joined with
    --labels.
    """
    # before reading ten thousand files, not after
    check_output_file(output, overwrite, inputs, also=[grid_from] if grid_from else [])
    with cli_output(quiet):
        _grid_from(inputs, grid_from)
        # the library reports what it wrote (INFO, shown unless --quiet); the summary says what it read
        meta = pack_inputs(inputs, output, overwrite=overwrite, continuum=continuum)
        if not quiet:
            for line in ingest_summary(meta):
                click.echo(line, err=True)
