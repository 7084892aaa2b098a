"""``stelrel rank``: spectra in, ranked pixels, index match and report out."""

import os
import shlex
import time
import warnings
from pathlib import Path

import click

from stellar_relevance.cli._errors import EXIT_NO_BETTER_THAN_MEAN, cli_output, handle_errors
from stellar_relevance.cli._inputs import label_source, load_spectra
from stellar_relevance.cli._outputs import check_out_folder, check_result_folders
from stellar_relevance.cli._processes import run_in_processes
from stellar_relevance.cli.options import (command_line, compute_options, continuum_opt, input_options,
                                           int_list_callback, overwrite_opt, quiet_opt, seed_opt)


#: Default of --seeds: stellar_relevance.ranking.pipeline.DEFAULT_N_SEEDS (kept equal by tests/test_cli_rank.py; not
#: imported, so that `stelrel --help` stays fast).
DEFAULT_SEEDS = 2
#: Choices of --penalty: stellar_relevance.nn.proximal.PENALTIES (kept equal by tests/test_cli_rank.py; not
#: imported, because importing the nn room imports torch).
PENALTIES = ("l2", "l1", "group")


def _names(option):
    """A click callback: comma-separated names (no empty one, no duplicate) -> tuple, or a usage error naming ``option``."""

    def callback(ctx, param, value):
        if value is None:
            return None
        from stellar_relevance.report.by_label import parse_labels
        from stellar_relevance.exceptions import ParameterError

        try:
            return parse_labels(value)
        except ParameterError as exc:
            raise click.BadParameter(exc.message, param_hint=option) from None

    return callback


def _catalog(ctx, param, value):
    if value is None:
        return None
    from stellar_relevance.indices.catalog import catalog_names

    names = list(catalog_names())
    if value not in names:
        raise click.BadParameter(f"{value!r} is not a catalogue; choose one of {', '.join(names)}", param_hint="--catalog")
    return value


@click.command()
@input_options
@click.option("--label", "label", default="FEH", show_default=True, callback=_names("'--label'"),
              help="Label(s) to predict (columns of the label table); several, e.g. FEH,TEFF,LOGG, write one "
                   "folder per label under --out and relevance_by_label.png.")
@click.option("--given", default=None, callback=_names("'--given'"),
              help="Known labels fed into the network after the spectral layer, e.g. TEFF,LOGG: the relevance "
                   "then measures what the spectrum tells beyond them. Spectra without them are dropped.")
@click.option("--out", "out", default="results", show_default=True, type=click.Path(file_okay=False),
              help="Output folder (not the input folder, nor inside it).")
@seed_opt
@click.option("--seeds", "n_seeds", default=DEFAULT_SEEDS, show_default=True, type=click.IntRange(min=1),
              help="Models (seeds seed, seed+1, ...) averaged into the ranking; 2 or more give the spread, top-k "
                   "overlap and selection frequency (1: none).")
@click.option("--penalty", type=click.Choice(PENALTIES), default="l2", show_default=True,
              help="Penalty on the first-layer eigenvalues: l2 (the paper's squared L2), l1 or group (exact zeros).")
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
@click.option("--test-fraction", default=None, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Share of the labelled spectra held out for the test MAE (default 0.1).")
@continuum_opt
@click.option("--resume", is_flag=True,
              help="Keep the label folders under --out that hold complete results of this same command (a run "
                   "stopped part-way) and compute the missing ones.")
@compute_options
@overwrite_opt
@quiet_opt
@handle_errors
def rank(inputs, label, given, out, seed, n_seeds, penalty, epochs, min_epochs, batch_size, hidden, top, catalog, scaling, ks,
         retrain_ks, retrain_epochs, random_draws, permutations, test_fraction, continuum, resume, device, threads, nproc,
         overwrite, quiet):
    """Rank the pixels of INPUTS by relevance for a label and write a report.

    INPUTS is a packed spectra.fits, a MILES-style folder, the word `miles`
    (the library as `load_miles()` finds it), `synthetic` (spectra with
    planted lines, no data needed), or survey files, folders, globs or
    @list.txt with --labels (as for `stelrel pack`).

    Exit status 3: a model does not beat predicting the training mean.
    """
    command = command_line(click.get_current_context())
    if resume and overwrite:
        raise click.BadParameter("--resume keeps complete results and --overwrite replaces them; give one",
                                 param_hint="'--resume'")
    # every output is checked before any input is read
    check_out_folder(out, inputs)
    todo, kept = check_result_folders(out, label, overwrite=overwrite, resume=resume, command=command)
    import stellar_relevance.nn.distributed as distributed

    if nproc > 1 and todo:  # start nproc copies of this command under torch's elastic launcher, then stop
        distributed.check_nproc(nproc, device)
        with cli_output(quiet), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the first copy shows the readers' warnings, once
            _check_labels(label_source(inputs, seed), label, given)  # before the processes start
        return run_in_processes(distributed.drop_option(shlex.split(command)[1:], "--nproc"), nproc, device)
    quiet = quiet or os.environ.get("RANK", "0") != "0"  # under torchrun: one set of messages, from rank 0
    with cli_output(quiet):
        distributed.init_from_environment(device)
        main = distributed.is_main_process()
        start = time.perf_counter()
        data = load_spectra(inputs, seed=seed) if todo else None
        loaded = time.perf_counter() - start
        if data is not None:
            _check_labels(data, label, given)
        options = _options(click.get_current_context().params, command, progress=not quiet)
        results = {}
        for name, folder in todo.items():
            result = _rank_one(data, inputs, name, options, loaded, start)
            if not main:  # under torchrun only rank 0 writes
                continue
            result.save(folder, overwrite=overwrite)
            results[name] = result
            if not quiet:
                _echo(result, folder)
        if main:
            _combined_figure(label, results, kept, out, overwrite or resume, quiet)
        if not quiet and main:
            click.echo(f"done in {time.perf_counter() - start:.0f} s")
    if main:
        _exit_if_no_better_than_mean(results)


def _options(given, command, progress):
    """The keyword arguments of ``rank_spectra`` from the command's parameters (``given``, by name)."""
    named = {
        "max_epochs": given["epochs"], "min_epochs": given["min_epochs"], "batch_size": given["batch_size"],
        "hidden_layer_sizes": given["hidden"], "ks": given["ks"], "retrain_ks": given["retrain_ks"],
        "retrain_max_epochs": given["retrain_epochs"], "test_fraction": given["test_fraction"],
        "continuum": given["continuum"],
    }
    options = {k: v for k, v in named.items() if v is not None}
    if given["random_draws"] is not None:
        options["n_random"] = options["n_random_retrained"] = given["random_draws"]
    options.update(n_seeds=given["n_seeds"], penalty=given["penalty"], given=given["given"],
                   random_state=given["seed"], top=given["top"], catalog=given["catalog"],
                   input_scaling=given["scaling"], n_permutations=given["permutations"], device=given["device"],
                   n_threads=given["threads"], progress=progress, command=command)
    return options


def _combined_figure(labels, results, kept, out, replace, quiet):
    """relevance_by_label.png of a several-label run (kept folders read back), when anything changed."""
    from stellar_relevance.report.by_label import BY_LABEL_FIGURE, write_relevance_by_label
    from stellar_relevance.report.result import RankingResult

    if len(labels) < 2 or (not results and (Path(out) / BY_LABEL_FIGURE).exists()):
        return
    for name, folder in kept.items():
        if not quiet:
            click.echo(f"{name}: kept the complete results in {folder} (--resume)")
    every = [results[name] if name in results else RankingResult.load(kept[name]) for name in labels]
    path = write_relevance_by_label(every, out, overwrite=replace)
    if not quiet:
        click.echo(f"wrote {path}")


def _exit_if_no_better_than_mean(results):
    """One warning line per label whose model does not beat predicting the training mean; then exit status 3."""
    weak = {name: r.metrics for name, r in results.items() if r.metrics.get("beats_training_mean") is False}
    for name, m in weak.items():
        click.echo(f"Warning: {name}: the model does not beat predicting the training mean (test MAE "
                   f"{m['test_mae']:.4g}, the training mean's {m['training_mean_mae']:.4g}); exit status "
                   f"{EXIT_NO_BETTER_THAN_MEAN}", err=True)
    if weak:
        raise click.exceptions.Exit(EXIT_NO_BETTER_THAN_MEAN)


def _check_labels(data, labels, given):
    """Every label exists and is numeric (DataError, exit 1) and none is also given (usage error naming --given),
    before any training."""
    from stellar_relevance.ranking.conditioning import check_given, check_label

    for label in labels:
        check_label(data, label)
        check_given(data, label, given)


def _rank_one(data, inputs, label, options, loaded, start):
    from stellar_relevance.ranking.pipeline import rank_spectra

    result = rank_spectra(data, label, **options)
    if inputs.paths == ("synthetic",):  # the planted lines are the synthetic set's own ground truth
        from stellar_relevance.datasets.synthetic_spectra import planted_recovery

        result.metrics["ground_truth"] = planted_recovery(result, data)
    result.provenance["timings"]["load"] = round(loaded, 2)
    result.provenance["timings"]["wall_before_saving"] = round(time.perf_counter() - start, 2)
    return result


def _echo(result, folder):
    m, label, top = result.metrics, result.settings["label"], result.settings["top"]
    given = result.settings.get("given") or []
    given_text = f" given {','.join(given)}" if given else ""
    mean = f"; training mean {m['training_mean_mae']:.4f}" if m.get("training_mean_mae") is not None else ""
    click.echo(f"{label}{given_text}: test MAE {m['test_mae']:.4f} with all pixels{mean} ({result.split_text})")
    if m.get("topk_mae") is not None:
        click.echo(f"top-{top} retrained: MAE {m['topk_mae']:.4f} (random-{top}: {m.get('topk_mae_random') or float('nan'):.4f})")
    if m.get("overall_p_value") is not None:
        click.echo(f"index enrichment of the top-{top}: p = {m['overall_p_value']:.4g}")
    stability = m.get("stability") or {}
    overlap = stability.get(f"top{top}_overlap")
    if overlap is not None:
        click.echo(f"top-{top} overlap across {stability.get('n_seeds')} seeds: {overlap:.2f}")
    elif stability.get("note"):
        click.echo(f"stability: {stability['note']}")
    click.echo(f"wrote {Path(folder) / 'report.html'}")
