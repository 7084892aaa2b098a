"""``stelrel report``: re-render the figures and report.html of a results folder."""

from pathlib import Path

import click

from stellar_relevance.cli._common import check_writable_file, cli_output, handle_errors
from stellar_relevance.cli.options import output_opt, overwrite_opt, quiet_opt


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@output_opt(help="HTML file to write (default DIRECTORY/report.html, replacing it and the PNG figures).")
@overwrite_opt
@quiet_opt
@handle_errors
def report(directory, output, overwrite, quiet):
    """Re-render the report of a `stelrel rank` output DIRECTORY from its saved tables."""
    from stellar_relevance.report.outputs import FIGURE_FILES
    from stellar_relevance.report.outputs import replace_file as _atomic_write
    from stellar_relevance.report.result import RankingResult
    from stellar_relevance.report.html import figure_pngs, write_html

    check_writable_file(output, overwrite)  # the default report.html is the folder's own, re-rendered
    with cli_output(quiet):
        result = RankingResult.load(directory)
        pngs = figure_pngs(result)
        if output is None:
            for name, data in pngs.items():
                _atomic_write(Path(directory) / FIGURE_FILES[name], lambda tmp, d=data: Path(tmp).write_bytes(d))
            output = Path(directory) / "report.html"
        path = write_html(result, output, pngs)
        if not quiet:
            click.echo(f"wrote {path}")
