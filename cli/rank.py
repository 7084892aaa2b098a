"""``stelrel rank``: spectra in, ranked pixels, index match and report out."""

import shlex
import time
from pathlib import Path

import click

from ._common import check_output_not_in_input, cli_output, command_line, handle_errors, load_spectra
from .options import compute_options, int_list_callback, overwrite_opt, quiet_opt, seed_opt


def _catalog(ctx, param, value):
    if value is None:
        return None
    from stellar_relevance.indices import catalog_names

    names = list(catalog_names())
    if value not in names:
        raise click.BadParameter(f"{value!r} is not a catalogue; choose one of {', '.join(names)}", param_hint="--catalog")
    return value


@click.command()
@click.argument("spectra")
@click.option("--label", default="FEH", show_default=True, help="Label to predict (a column of the label table).")
@click.option("--out", "out", default="results", show_default=True, type=click.Path(file_okay=False),
              help="Output folder (not the input folder, nor inside it).")
@seed_opt
@click.option("--seeds", "n_seeds", default=1, show_default=True, type=click.IntRange(min=1),
              help="Number of models (seeds seed, seed+1, ...) averaged into the ranking.")
@click.option("--epochs", default=None, type=click.IntRange(min=1), help="Maximum training epochs (default 1000).")
@click.option("--min-epochs", default=None, type=click.IntRange(min=0),
              help="Epochs before any checkpoint, so the relevance is sparse (default 300; at most --epochs).")
@click.option("--batch-size", default=None, type=click.IntRange(min=1), help="Mini-batch size (default 128).")
@click.option("--hidden", default=None, callback=int_list_callback(),
              help="Hidden layer sizes, e.g. 200,50,50 (default).")
@click.option("--top", default=30, show_default=True, type=click.IntRange(min=1), help="Pixels matched against the index bands.")
@click.option("--catalog", default="optical", show_default=True, callback=_catalog,
              help="Index catalogue (see `stelrel catalog`).")
@click.option("--scaling", type=click.Choice(["center", "standard", "none"]), default="center", show_default=True,
              help="Input scaling; 'standard' is known to mislead on normalised spectra.")
@click.option("--ks", default=None, callback=int_list_callback(allow_all=True),
              help="k values of the error-vs-k curve, e.g. 5,10,30,all (each at most the number of pixels).")
@click.option("--retrain-ks", default=None, callback=int_list_callback(allow_all=True),
              help="k values retrained on the top-k alone, each one of --ks (default: all of --ks but 'all').")
@click.option("--retrain-epochs", default=None, type=click.IntRange(min=1),
              help="Maximum epochs of the models retrained on k pixels (default min(300, --epochs)).")
@click.option("--random-draws", default=None, type=click.IntRange(min=0), help="Random-k draws per k (default 5 masked, 2 retrained).")
@click.option("--permutations", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Permutations in the index-match test.")
@compute_options
@overwrite_opt
@quiet_opt
@handle_errors
def rank(spectra, label, out, seed, n_seeds, epochs, min_epochs, batch_size, hidden, top, catalog, scaling, ks,
         retrain_ks, retrain_epochs, random_draws, permutations, device, threads, nproc, overwrite, quiet):
    """Rank the pixels of SPECTRA by relevance for a label and write a report.

    SPECTRA is a packed spectra.fits, a MILES-style folder, the word `miles`
    (the library as `load_miles()` finds it) or `synthetic` (spectra with
    planted lines, no data needed).
    """
    from stellar_relevance.outputs import check_output_dir
    from stellar_relevance.pipeline import rank_spectra

    check_output_not_in_input(out, spectra)
    from stellar_relevance import distributed

    if nproc > 1:  # start nproc copies of this command under torch's elastic launcher, then stop
        argv = shlex.split(command_line(click.get_current_context()))[1:]
        return distributed.launch(distributed.drop_option(argv, "--nproc"), nproc, device)
    distributed.init_from_environment(device)
    quiet = quiet or not distributed.is_main_process()  # one set of messages, from rank 0
    with cli_output(quiet):
        start = time.perf_counter()
        check_output_dir(out, overwrite=overwrite)  # fail before hours of work, not after
        data = load_spectra(spectra, seed=seed)
        loaded = time.perf_counter() - start
        given = {
            "max_epochs": epochs, "min_epochs": min_epochs, "batch_size": batch_size, "hidden_layer_sizes": hidden,
            "ks": ks, "retrain_ks": retrain_ks, "retrain_max_epochs": retrain_epochs,
        }
        options = {k: v for k, v in given.items() if v is not None}
        if random_draws is not None:
            options["n_random"] = options["n_random_retrained"] = random_draws
        result = rank_spectra(
            data, label, n_seeds=n_seeds, random_state=seed, top=top, catalog=catalog, input_scaling=scaling,
            n_permutations=permutations, device=device, n_threads=threads, progress=not quiet,
            command=command_line(click.get_current_context()), **options,
        )
        if spectra == "synthetic":  # the planted lines are the synthetic set's own ground truth
            from stellar_relevance.datasets.synthetic_spectra import planted_recovery

            result.metrics["ground_truth"] = planted_recovery(result, data)
        result.provenance["timings"]["load"] = round(loaded, 2)
        result.provenance["timings"]["wall_before_saving"] = round(time.perf_counter() - start, 2)
        if not distributed.is_main_process():  # under torchrun only rank 0 writes
            return
        result.save(out, overwrite=overwrite)
        if not quiet:
            m = result.metrics
            click.echo(f"{label}: test MAE {m['test_mae']:.4f} with all pixels ({result.split_text})")
            if m.get("topk_mae") is not None:
                click.echo(f"top-{top} retrained: MAE {m['topk_mae']:.4f} (random-{top}: {m.get('topk_mae_random') or float('nan'):.4f})")
            if m.get("overall_p_value") is not None:
                click.echo(f"index enrichment of the top-{top}: p = {m['overall_p_value']:.4g}")
            click.echo(f"wrote {Path(out) / 'report.html'} in {time.perf_counter() - start:.0f} s")
