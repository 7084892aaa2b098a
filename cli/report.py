"""``stelrel report``: re-render the figures and report.html of a results folder."""

from pathlib import Path

import click

from stellar_relevance.cli._errors import cli_output, handle_errors
from stellar_relevance.cli._outputs import check_output_file
from stellar_relevance.cli.options import output_opt, overwrite_opt, quiet_opt


def _results_folder(ctx, param, value):
    """DIRECTORY is a folder: a file (a report.html, a summary.json) is a usage error saying what is wanted."""
    if Path(value).is_file():
        raise click.BadParameter(f"{value} is a file; give the results folder written by `stelrel rank --out` "
                                 "(it holds ranking.ecsv, summary.json and report.html)", ctx, param)
    return value


@click.command()
@click.argument("directory", type=click.Path(exists=True), callback=_results_folder)
@output_opt(help="HTML file to write (default DIRECTORY/report.html, replacing it and the PNG figures).",
            example="report.html")
@overwrite_opt
@quiet_opt
@handle_errors
def report(directory, output, overwrite, quiet):
    """Re-render the report of a `stelrel rank` output DIRECTORY from its saved tables."""
    from stellar_relevance.report.outputs import FIGURE_FILES, OUTPUT_FILES, replace_file
    from stellar_relevance.report.result import RankingResult
    from stellar_relevance.report.html import figure_pngs, write_html

    # the default report.html is the folder's own, re-rendered; -o may not replace the tables it is made from
    check_output_file(output, overwrite, also=[Path(directory) / name for name in OUTPUT_FILES
                                               if name != "report.html"])
    with cli_output(quiet):
        result = RankingResult.load(directory)
        pngs = figure_pngs(result)
        if output is None:
            for name, data in pngs.items():
                replace_file(Path(directory) / FIGURE_FILES[name], lambda tmp, d=data: Path(tmp).write_bytes(d))
            output = Path(directory) / "report.html"
        path = write_html(result, output, pngs)
        if not quiet:
            click.echo(f"wrote {path}")
