"""``stelrel predict``: labels for spectra from a saved model."""

import click

from ._common import cli_output, handle_errors, load_spectra


@click.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("spectra")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="ECSV file for the predictions (default: print them).")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--quiet", "-q", is_flag=True)
@handle_errors
def predict(model, spectra, output, overwrite, quiet):
    """Predict the label of every spectrum in SPECTRA with MODEL (a model.pt from `stelrel rank`)."""
    import numpy as np
    from astropy.table import Table

    from stellar_relevance.model_file import load_model, predict_labels
    from stellar_relevance.outputs import replace_file as _atomic_write

    with cli_output(quiet):
        payload = load_model(model)
        data = load_spectra(spectra)
        values = predict_labels(payload, data)
        label = payload["label"]
        table = Table({"ID": np.asarray(data.ids, dtype=str), f"{label}_pred": values})
        table[f"{label}_pred"].unit = payload.get("label_unit") or None
        if label in data.label_names and data.labels[label].dtype.kind in "biuf":
            table[label] = data.labels[label]
        table.meta = {"model": str(model), "label": label, "model_split": payload.get("split")}
        if output is None:
            table.write(click.get_text_stream("stdout"), format="ascii.ecsv")
            return
        from pathlib import Path

        if Path(output).exists() and not overwrite:
            raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
        _atomic_write(output, lambda tmp: table.write(tmp, format="ascii.ecsv", overwrite=True))
        if not quiet:
            click.echo(f"wrote {len(table)} predictions of {label} to {output}")
