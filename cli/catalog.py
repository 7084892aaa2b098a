"""``stelrel catalog``: list the index catalogues, or the indices of one."""

import click

from stellar_relevance.cli._errors import handle_errors


@click.command()
@click.argument("name", required=False)
@click.option("--frame", type=click.Choice(["air", "vacuum"]), default="air", show_default=True,
              help="Wavelength frame of the band limits shown.")
@handle_errors
def catalog(name, frame):
    """List the catalogues, or the indices of catalogue NAME with their bands."""
    import warnings

    from stellar_relevance.exceptions import DataWarning
    from stellar_relevance.indices.catalog import catalog_names, load_catalog

    with warnings.catch_warnings():
        # sidebands that touch the central band are published that way (Trager et al. 1998); not news here
        warnings.filterwarnings("ignore", message=".*sideband", category=DataWarning)
        names = list(catalog_names())
        if name is None:
            for cat in names:
                table = load_catalog(cat, frame=frame)
                click.echo(f"{cat:<12} {len(table):>4} indices")
            return
        if name not in names:
            raise click.BadParameter(f"{name!r} is not a catalogue; choose one of {', '.join(names)}", param_hint="NAME")
        table = load_catalog(name, frame=frame)
        click.echo(f"{'name':<14} {'band [A, ' + frame + ']':<22} {'sensitive to':<22} reference")
        for row in table:
            band = f"{row['band_lower'].value:9.3f}-{row['band_upper'].value:9.3f}"
            click.echo(f"{str(row['name']):<14} {band:<22} {str(row['sensitive_to']):<22} {row['reference']}")
