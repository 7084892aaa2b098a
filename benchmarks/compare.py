"""The spectral ranking against peer methods, on the same splits, judged the same way.

Data sets (``--datasets``):

``mnist``
    All ten digits, k = 50; internal seeded split of the 10k test set.
``correlated``
    The paper's correlated-pairs parity set (Sec. 3.2), k = 8 (the 8 paired
    features carry the label, 2 are noise).
``xor512``, ``xor1024``, ``xor2048``
    XOR of two features among 512 / 1024 / 2048 (Passemiers et al. 2024), k = 2.
``miles``
    MILES [Fe/H] (regression), k = 30, one 80/20 split; skipped with the
    reason when the MILES reader or files are missing. The cross-validated
    MILES comparison (5 folds x seeds, retrained nets, paired intervals,
    Teff bands, the Cannon, index bands) is ``benchmarks/compare_miles.py``.

Rankers: the spectral estimator and the peers of ``peers.py`` (LassoNet
path, Integrated Gradients, saliency and permutation importance of a plain
dense net, stochastic gates, ANOVA F, mutual information, variance, random).

Judged by

- the hold-out score of a model retrained on the top-k features alone:
  ``ExtraTreesClassifier(n_estimators=50)`` accuracy (the LassoNet paper's
  MNIST protocol, used for every classification set here) or
  ``ExtraTreesRegressor(n_estimators=50)`` MAE;
- recovery of the true features (synthetic sets): share of the truly
  relevant features among the top ``n_relevant``;
- stability: mean pairwise overlap of the top-k sets over seeds
  (:func:`stellar_relevance.topk_overlap`);
- time to produce the ranking, training included (wall and CPU), and its
  ratio to the spectral one, all measured in the same run.

Usage::

    python benchmarks/compare.py                 # full (LassoNet on MNIST alone ~7 min)
    python benchmarks/compare.py --quick         # CI (~1-2 min)
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings

import numpy as np

import peers as peer_methods
from _common import add_common_args, atomic_savefig, data_dir, environment, markdown_table, write_json

logger = logging.getLogger("benchmarks.compare")

ALL_DATASETS = ("mnist", "correlated", "xor512", "xor1024", "xor2048", "miles")
ALL_METHODS = ("spectral", "spectral_pruned", "spectral_early") + tuple(peer_methods.PEERS)


class Skip(Exception):
    """A data set that cannot be run here, with the reason."""


# ------------------------------------------------------------------ data sets
def _split(X, y, stratify, seed, test_size=0.2):
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None)


def load_dataset(name, quick, split_seed):
    """Arrays, truth and per-method settings of one data set."""
    spectral_cls = dict(early_stopping=True, learning_rate=1e-3, max_epochs=300, batch_size=500, n_iter_no_change=300)
    lassonet = dict(hidden_dims=(100,), path_multiplier=1.02, n_iters=(1000, 100), patience=(100, 10),
                    input_scaling="center")
    dense = dict(hidden_layer_sizes=(100, 100, 50), learning_rate=1e-3, max_epochs=300, batch_size=500,
                 n_iter_no_change=50, input_scaling="center")
    if quick:
        # an explicit first penalty skips LassoNet's automatic lambda_start search,
        # which alone costs about a minute on 784 features
        lassonet.update(lambda_start=1.0, path_multiplier=1.5, n_iters=(100, 20), patience=(10, 5))
    if name == "mnist":
        from _mnist import internal_split
        from stellar_relevance.datasets import load_mnist

        folder = data_dir("mnist", "STELREL_MNIST_DIR")
        if not (folder / "t10k-images-idx3-ubyte.gz").exists() and not (folder / "t10k-images-idx3-ubyte").exists():
            raise Skip(f"MNIST files not found in {folder} (set STELREL_MNIST_DIR)")
        X, y = load_mnist(folder, check_md5=True)
        note = ""
        if quick:
            X, _, y, _, _ = internal_split(X, y, test_size=0.9, random_state=split_seed)
            note = f" (--quick: stratified subsample of {len(y)} images)"
        X_tr, X_te, y_tr, y_te, info = internal_split(X, y, test_size=0.2, random_state=split_seed)
        ds = dict(task="classification", k=50, relevant=None, curve_ks=[10, 20, 50, 100, 200],
                  prune_epochs=5 if quick else 60,
                  split=f"MNIST t10k internal split {info['n_train']}/{info['n_test']}, stratified, seed {split_seed}{note}")
        if quick:
            spectral_cls.update(max_epochs=30, n_iter_no_change=30)
            dense.update(max_epochs=30, n_iter_no_change=10)
    elif name == "correlated":
        from stellar_relevance.datasets import make_correlated_pairs

        n = 2000 if quick else 20000
        X, y, truth = make_correlated_pairs(n_samples=n, random_state=0)
        X_tr, X_te, y_tr, y_te = _split(X, y, True, split_seed)
        ds = dict(task="classification", k=8, relevant=np.asarray(truth.relevant), curve_ks=[2, 4, 6, 8, 10],
                  prune_epochs=5 if quick else 20,
                  split=f"make_correlated_pairs(n_samples={n}, random_state=0), 80/20 stratified split seed {split_seed}")
        # the paper's notebook settings for this set: tanh first layer, lr 1e-2, c_lambda 1e-6
        spectral_cls.update(learning_rate=1e-2, activation="tanh", eigenvalue_penalty=1e-6,
                            eigenvector_penalty=1e-4, max_epochs=20 if quick else 100,
                            n_iter_no_change=20 if quick else 100)
        dense.update(learning_rate=1e-2, max_epochs=20 if quick else 100, n_iter_no_change=20)
        if not quick:
            lassonet.update(lambda_start=1.0, path_multiplier=1.1)
    elif name.startswith("xor"):
        from stellar_relevance.datasets import make_xor

        d = int(name[3:])
        n = 2000 if quick else 20000
        if quick:
            d = d // 8
        X, y, truth = make_xor(n_samples=n, n_features=d, random_state=0)
        X_tr, X_te, y_tr, y_te = _split(X, y, True, split_seed)
        ds = dict(task="classification", k=2, relevant=np.asarray(truth.relevant), curve_ks=[1, 2, 4, 8, 16, 32],
                  prune_epochs=None,
                  prune_skip="not run on XOR: halving 512/2048 inputs down to 2 is 8-10 fine-tuning stages, "
                             "over the CPU budget of this suite",
                  split=f"make_xor(n_samples={n}, n_features={d}, random_state=0), 80/20 stratified split seed {split_seed}")
        spectral_cls.update(max_epochs=15 if quick else 60, n_iter_no_change=15 if quick else 60)
        dense.update(max_epochs=15 if quick else 60, n_iter_no_change=15 if quick else 20)
        if not quick:
            # explicit first penalty (LassoNet's automatic search costs minutes on 2048 inputs),
            # mini-batches and a coarser path: all in LassoNet's favour on the time ratio
            lassonet.update(lambda_start=1.0, path_multiplier=1.2, n_iters=(100, 10), patience=(10, 3),
                            batch_size=500)
    elif name == "miles":
        try:
            from stellar_relevance import load_miles
        except (ImportError, AttributeError) as exc:  # the spectra issue has not landed
            raise Skip(f"stellar_relevance.load_miles is not available ({exc})") from None
        folder = data_dir("miles", "STELREL_MILES_DIR")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the reader's DataWarnings are documented there
                spectra = load_miles(folder)
            X, y = spectra.with_label("FEH").to_xy("FEH")
        except Exception as exc:
            raise Skip(f"MILES could not be read from {folder}: {exc}") from None
        step = 4 if quick else 1
        X = X[:, ::step]
        X_tr, X_te, y_tr, y_te = _split(X, y, False, split_seed)
        ds = dict(task="regression", k=30, relevant=None, curve_ks=[5, 10, 30, 100, 300],
                  prune_epochs=5 if quick else 60,
                  split=f"MILES stars with [Fe/H] ({len(y)}), 80/20 random split seed {split_seed}"
                        + (" (--quick: every 4th pixel)" if quick else ""),
                  wavelength=np.asarray(spectra.wavelength.value)[::step].tolist())
        # the paper's MILES settings (Sec. 3.4): 200-50-50, MAE, lr 1e-3
        spectral_cls.update(hidden_layer_sizes=(200, 50, 50), max_epochs=30 if quick else 500,
                            n_iter_no_change=30 if quick else 500)
        dense.update(hidden_layer_sizes=(200, 50, 50), max_epochs=30 if quick else 500, n_iter_no_change=50)
        if not quick:
            # explicit first penalty: LassoNet's automatic search costs minutes on 4300 inputs
            lassonet.update(lambda_start=1.0, path_multiplier=1.1)
    else:
        raise ValueError(f"unknown data set {name!r}")
    ds.update(name=name, X_train=np.asarray(X_tr, dtype=np.float32), X_test=np.asarray(X_te, dtype=np.float32),
              y_train=np.asarray(y_tr), y_test=np.asarray(y_te), spectral=spectral_cls, lassonet=lassonet,
              dense=dense)
    return ds


# ------------------------------------------------------------------ judging
def judge(ds, features, seed=0):
    """Hold-out score of ExtraTrees(50) retrained on ``features``."""
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
    from sklearn.metrics import accuracy_score, mean_absolute_error

    features = np.asarray(features, dtype=int)
    if ds["task"] == "classification":
        model = ExtraTreesClassifier(n_estimators=50, random_state=seed, n_jobs=1)
        model.fit(ds["X_train"][:, features], ds["y_train"])
        return float(accuracy_score(ds["y_test"], model.predict(ds["X_test"][:, features])))
    model = ExtraTreesRegressor(n_estimators=50, random_state=seed, n_jobs=1)
    model.fit(ds["X_train"][:, features], ds["y_train"])
    return float(mean_absolute_error(ds["y_test"], model.predict(ds["X_test"][:, features])))


def recovery(ranking, relevant):
    """Share of the true features among the top n_relevant, and how deep the last one sits."""
    if relevant is None:
        return None, None
    true = np.flatnonzero(relevant)
    positions = np.flatnonzero(np.isin(ranking, true))
    return float(np.isin(ranking[: len(true)], true).mean()), int(positions.max() + 1)


def rank_spectral(ds, seed, threads, early=False):
    """One spectral training; ``early``: stop like the dense net (50 epochs without improvement)."""
    from stellar_relevance import SpectralRelevanceClassifier, SpectralRelevanceRegressor

    cls = SpectralRelevanceClassifier if ds["task"] == "classification" else SpectralRelevanceRegressor
    settings = dict(ds["spectral"])
    if early:
        settings["n_iter_no_change"] = ds["dense"]["n_iter_no_change"]
    t0, c0 = time.perf_counter(), time.process_time()
    model = cls(**settings, n_threads=threads, random_state=seed).fit(ds["X_train"], ds["y_train"])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    own = float(model.score(ds["X_test"], ds["y_test"]))
    result = peer_methods.PeerResult(
        "spectral_early" if early else "spectral", ranking=np.asarray(model.ranking_),
        scores=np.asarray(model.relevance_), seconds=seconds, cpu_seconds=cpu,
        details={"settings": settings, "n_epochs": int(model.n_epochs_), "best_epoch": int(model.best_epoch_),
                 "own_test_score": own, "own_score_kind": "accuracy" if ds["task"] == "classification" else "R2"},
    )
    return result, model


def rank_spectral_pruned(ds, spectral_result, model):
    """The fitted spectral net pruned in stages to k and fine-tuned: the library's ``model.select``."""
    from stellar_relevance.estimators._selection import pruning_schedule

    if not ds.get("prune_epochs"):
        return peer_methods.PeerResult("spectral_pruned", skipped=ds.get(
            "prune_skip", "pruning not configured for this data set"))
    schedule = pruning_schedule(model, ds["k"])
    t0, c0 = time.perf_counter(), time.process_time()
    pruned = model.select(ds["X_train"], ds["y_train"], ds["k"], max_epochs=ds["prune_epochs"])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    # the pruned inputs contribute nothing: its prediction on the full test inputs is the masked protocol
    pred = pruned.predict(ds["X_test"])
    if ds["task"] == "classification":
        own = float(np.mean(pred == ds["y_test"]))
    else:
        own = float(np.mean(np.abs(pred - ds["y_test"])))
    return peer_methods.PeerResult(
        "spectral_pruned", ranking=np.asarray(pruned.ranking_), scores=np.asarray(pruned.relevance_),
        seconds=spectral_result.seconds + seconds, cpu_seconds=spectral_result.cpu_seconds + cpu,
        details={"schedule": schedule, "epochs_per_stage": ds["prune_epochs"], "n_selected": int(pruned.n_selected_),
                 "prune_seconds": seconds, "pruned_net_masked_test_score": own,
                 "pruned_net_score_kind": "accuracy" if ds["task"] == "classification" else "MAE"},
    )


def run_dataset(ds, methods, n_seeds, lassonet_seeds, threads, max_attribution_rows, n_repeats=5):
    """Every ranking on every seed, then the judging."""
    from stellar_relevance import topk_overlap

    peers = [m for m in methods if not m.startswith("spectral")]
    runs = {m: [] for m in methods}
    for seed in range(n_seeds):
        if "spectral" in methods or "spectral_pruned" in methods:
            logger.info("%s seed %d: spectral", ds["name"], seed)
            result, model = rank_spectral(ds, seed, threads)
            if "spectral" in methods:
                runs["spectral"].append(result)
            if "spectral_pruned" in methods:
                logger.info("%s seed %d: spectral, pruned to k", ds["name"], seed)
                runs["spectral_pruned"].append(rank_spectral_pruned(ds, result, model))
        if "spectral_early" in methods:
            logger.info("%s seed %d: spectral, early stopping", ds["name"], seed)
            runs["spectral_early"].append(rank_spectral(ds, seed, threads, early=True)[0])
        names = [p for p in peers if p != "lassonet" or seed < lassonet_seeds]
        logger.info("%s seed %d: %s", ds["name"], seed, ", ".join(names))
        for result in peer_methods.run_peers(
            ds["X_train"], ds["y_train"], ds["task"], names, random_state=seed,
            lassonet=ds["lassonet"], dense=ds["dense"], max_attribution_rows=max_attribution_rows,
            n_repeats=n_repeats,
        ):
            runs[result.name].append(result)

    k = ds["k"]
    n_features = ds["X_train"].shape[1]
    all_features = judge(ds, np.arange(n_features))
    spectral_seconds = np.mean([r.seconds for r in runs.get("spectral", [])]) if runs.get("spectral") else None
    spectral_cpu = np.mean([r.cpu_seconds for r in runs.get("spectral", [])]) if runs.get("spectral") else None
    summary = []
    for method in methods:
        done = [r for r in runs[method] if r.skipped is None]
        if not done:
            reason = runs[method][0].skipped if runs[method] else "not run"
            summary.append({"dataset": ds["name"], "method": method, "skipped": reason})
            continue
        scores = [judge(ds, r.ranking[:k], seed=0) for r in done]
        rec = [recovery(r.ranking, ds["relevant"]) for r in done]
        seconds = np.array([r.seconds for r in done])
        cpu = np.array([r.cpu_seconds for r in done])
        row = {
            "dataset": ds["name"], "method": method, "k": k, "n_seeds": len(done),
            "score": float(np.mean(scores)), "score_std": float(np.std(scores)),
            "score_min": float(np.min(scores)), "score_max": float(np.max(scores)),
            "scores": scores,
            "recall": None if rec[0][0] is None else float(np.mean([a for a, _ in rec])),
            "depth_of_last_true": None if rec[0][1] is None else float(np.mean([b for _, b in rec])),
            "stability": topk_overlap([r.ranking for r in done], k) if len(done) > 1 else None,
            "seconds": float(seconds.mean()), "cpu_seconds": float(cpu.mean()),
            "time_ratio": float(seconds.mean() / spectral_seconds) if spectral_seconds else None,
            "cpu_ratio": float(cpu.mean() / spectral_cpu) if spectral_cpu else None,
            "details": [r.details for r in done],
            "top_k": [r.ranking[:k].tolist() for r in done],
        }
        summary.append(row)
    # top-k curves of the seed-0 rankings
    curves = {}
    ks = [kk for kk in ds["curve_ks"] if kk <= n_features]
    for method in methods:
        done = [r for r in runs[method] if r.skipped is None]
        if done:
            curves[method] = [{"k": kk, "score": judge(ds, done[0].ranking[:kk])} for kk in ks]
    return {"name": ds["name"], "task": ds["task"], "k": k, "split": ds["split"],
            "n_train": len(ds["y_train"]), "n_test": len(ds["y_test"]), "n_features": n_features,
            "score_kind": "accuracy (ExtraTreesClassifier, 50 trees)" if ds["task"] == "classification"
            else "MAE (ExtraTreesRegressor, 50 trees)",
            "all_features_score": all_features,
            "settings": {"spectral": ds["spectral"], "lassonet": ds["lassonet"], "dense": ds["dense"]},
            "summary": summary, "curves": curves}


def plot_curves(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    done = [r for r in results if "curves" in r]
    fig, axes = plt.subplots(1, len(done), figsize=(4.6 * len(done), 4), squeeze=False)
    for ax, res in zip(axes[0], done):
        for method, pts in res["curves"].items():
            i = ALL_METHODS.index(method)  # one colour per method in every panel
            style = "-" if method == "spectral" else "--"
            lw = 2.2 if method == "spectral" else 1.0
            ax.plot([p["k"] for p in pts], [p["score"] for p in pts], style, lw=lw, marker="o", ms=3,
                    color=f"C{i}", label=method)
        ax.axhline(res["all_features_score"], color="k", lw=0.8, ls=":", label="all features")
        ax.axvline(res["k"], color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("k (top features)")
        ax.set_ylabel(res["score_kind"].split(" (")[0])
        ax.set_title(f"{res['name']} ({res['n_train']}/{res['n_test']})", fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)
    return path


def warm_up(threads):
    """Pay one-time import and first-call costs before any clock starts.

    torch's optimisers pull in heavy modules on first use (seconds); without
    this the first ranker timed would be charged for them.
    """
    from stellar_relevance import SpectralRelevanceClassifier, SpectralRelevanceRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    SpectralRelevanceClassifier(hidden_layer_sizes=(4,), max_epochs=2, n_threads=threads, random_state=0).fit(X, y)
    SpectralRelevanceRegressor(hidden_layer_sizes=(4,), max_epochs=2, n_threads=threads, random_state=0).fit(X, X[:, 0])
    peer_methods.rank_dense_attributions(X, y, "classification", network=dict(hidden_layer_sizes=(4,), max_epochs=2),
                                         ig_steps=2, n_repeats=1)
    peer_methods.rank_univariate(X, y, "classification")
    if peer_methods.missing_package("lassonet") is None:
        peer_methods.rank_lassonet(X, y, "classification", lambda_start=10.0, path_multiplier=10.0,
                                   n_iters=(2, 1), patience=(1, 1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser, "benchmarks/results/compare.json", default_seeds=3)
    parser.add_argument("--datasets", nargs="+", default=list(ALL_DATASETS), choices=ALL_DATASETS)
    parser.add_argument("--methods", nargs="+", default=list(ALL_METHODS), choices=ALL_METHODS)
    parser.add_argument("--lassonet-seeds", type=int, default=1,
                        help="seeds on which the (slow) LassoNet path runs (default 1)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--max-attribution-rows", type=int, default=2000,
                        help="IG / saliency averaged over at most this many training rows (seeded; default 2000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("stellar_relevance").setLevel(logging.WARNING)

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    n_seeds = args.seeds or (2 if args.quick else 3)
    started = time.perf_counter()
    warm_up(args.threads)
    results = []
    for name in args.datasets:
        try:
            ds = load_dataset(name, args.quick, args.split_seed)
        except Skip as exc:
            logger.warning("%s skipped: %s", name, exc)
            results.append({"name": name, "skipped": str(exc)})
            continue
        logger.info("%s: %s", name, ds["split"])
        rows_cap = min(args.max_attribution_rows, 300) if args.quick else args.max_attribution_rows
        results.append(run_dataset(ds, args.methods, n_seeds, args.lassonet_seeds, args.threads,
                                   rows_cap, n_repeats=2 if args.quick else 5))
        # partial results survive an interrupted long run
        write_json(args.output.with_name(args.output.stem + ".partial.json"),
                   {"benchmark": "compare", "partial": True, "results": results})

    rows = []
    for res in results:
        if "skipped" in res:
            rows.append({"dataset": res["name"], "method": "(all)", "note": "skipped: " + res["skipped"]})
            continue
        rows.append({"dataset": res["name"], "method": "all features", "k": res["n_features"],
                     "score": res["all_features_score"], "note": res["split"]})
        for row in res["summary"]:
            if "skipped" in row:
                rows.append({"dataset": res["name"], "method": row["method"], "note": "skipped: " + row["skipped"]})
            else:
                rows.append(dict(row, score_pm=f"{row['score']:.3f} ± {row['score_std']:.3f}"))
    table = markdown_table(rows, [
        "dataset", "method", "k", ("score_pm", "score ± std (seeds)"), ("score", "score"), "n_seeds",
        ("recall", "true features recovered"), ("stability", "top-k overlap over seeds"),
        ("seconds", "wall [s]"), ("time_ratio", "wall / spectral"), ("cpu_ratio", "CPU / spectral"), "note",
    ])
    print(table)
    payload = {
        "benchmark": "compare",
        "command": "python benchmarks/compare.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "quick": args.quick, "n_seeds": n_seeds, "lassonet_seeds": args.lassonet_seeds,
        "split_seed": args.split_seed, "max_attribution_rows": args.max_attribution_rows,
        "timing_note": "wall and CPU seconds on a machine shared with other jobs; torch and BLAS limited "
                       f"to {args.threads} thread(s)",
        "environment": environment(), "results": results, "table": rows, "table_markdown": table,
        "seconds": time.perf_counter() - started,
    }
    if not args.no_figures and any("curves" in r for r in results):
        payload["figure"] = str(plot_curves(results, args.output.with_name(args.output.stem + "_topk.png")))
    write_json(args.output, payload)
    print(f"wrote {args.output}")
    partial = args.output.with_name(args.output.stem + ".partial.json")
    if partial.exists():
        partial.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
