"""``stelrel predict``: labels for spectra from a saved model."""

import sys

import click

from stellar_relevance.cli._errors import cli_output, handle_errors
from stellar_relevance.cli._inputs import load_spectra
from stellar_relevance.cli._outputs import check_output_file
from stellar_relevance.cli.options import input_options, output_opt, overwrite_opt, quiet_opt


@click.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@input_options
@output_opt(help="ECSV file for the predictions (default: print them).", example="predictions.ecsv")
@overwrite_opt
@quiet_opt
@handle_errors
def predict(model, inputs, output, overwrite, quiet):
    """Predict the label of every spectrum in INPUTS with MODEL (a model.pt from `stelrel rank`).

    INPUTS as for `stelrel pack`: a packed file, or survey files, folders,
    globs or @list.txt, read onto the model's wavelength grid unless --grid
    is given. Spectra on another grid are resampled onto the model's; bad
    pixels are filled as training filled them (counted in the n_filled
    column).
    """
    from stellar_relevance import atomic_write, load_model, predict_labels

    check_output_file(output, overwrite, inputs, also=[model])
    with cli_output(quiet):
        payload = load_model(model)
        data = load_spectra(inputs, grid=payload["wavelength"])
        table = predict_labels(payload, data)  # ID, <label>_pred, n_filled (pixels filled per spectrum)
        label = payload["label"]
        if label in data.label_names and data.labels[label].dtype.kind in "biuf":
            table[label] = data.labels[label]
        table.meta = {"model": str(model), "label": label, "model_split": payload.get("split")}
        if output is None:
            table.write(sys.stdout, format="ascii.ecsv")
            return
        atomic_write(output, lambda tmp: table.write(tmp, format="ascii.ecsv", overwrite=True), overwrite=overwrite)
        if not quiet:
            click.echo(f"wrote {len(table)} predictions of {label} to {output}")
