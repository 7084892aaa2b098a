"""Synthetic validation of the spectral relevance (paper Sec. 3.1, 3.2 and XOR).

For every seed the data *and* the network initialisation are re-drawn
(``random_state=seed`` for both), the estimator is trained on 80 % of the
rows and tested on the other 20 %, and the relevance is scored against the
ground truth:

- ``auc``: ROC-AUC of ``relevance_`` separating relevant from irrelevant
  features (1.0 = every relevant feature outranks every irrelevant one);
- ``spearman``: Spearman correlation of ``relevance_`` with the true
  per-feature strength (mean shift / flip probability / 0-1 for XOR);
- ``pairs_above_noise`` (correlated set): both members of every informative
  pair outrank every noise feature;
- ``top2`` (XOR): fraction of the 2 true features among the 2 most relevant;
- ``accuracy``: test accuracy.

Writes a Markdown table to stdout, JSON (``--output``, default
``benchmarks/results/synthetic.json``) and, next to it, PNG figures in the
style of the paper's Figs. 3 and 4 plus an XOR summary.

Usage::

    python benchmarks/synthetic.py                  # 10 seeds, all sets
    python benchmarks/synthetic.py --quick          # CI: 2 seeds, small sets
    python benchmarks/synthetic.py --sets xor --xor-dims 512,2048
    python benchmarks/synthetic.py --settings paper # the paper's own settings
    python benchmarks/synthetic.py --sets xor --xor-dims 1024 --penalty l1 --eigenvalue-penalty 0.01 \
        --batch-size 100 --max-epochs 1000 --select-k 2 --select-epochs 50   # proximal l1, then select
    python benchmarks/synthetic.py --combine a.json b.json --output all.json
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from _common import add_common_args, atomic_savefig, environment, markdown_table, write_json
from stellar_relevance import SpectralRelevanceClassifier
from stellar_relevance.datasets import make_correlated_pairs, make_independent_gaussian, make_xor

logger = logging.getLogger("benchmarks.synthetic")

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "synthetic.json"
SETS = ("independent", "independent_wellposed", "correlated", "xor")
XOR_DIMS = (32, 128, 512, 2048)

# --------------------------------------------------------------------------
# settings: data sizes and estimator parameters per set
# --------------------------------------------------------------------------
# "tuned" is what this benchmark found to meet the targets (docs/synthetic.md
# has the measurements behind every number); "paper" is the paper's own
# recipe (lr 1e-2, penalties 1e-2 / 1e-4, tanh, 1000 / 500 epochs; the paper
# gives no XOR setting, so XOR gets the trial settings).
_PAPER_GAUSSIAN = dict(
    activation="tanh", learning_rate=1e-2, eigenvalue_penalty=1e-2,
    eigenvector_penalty=1e-4, max_epochs=100, early_stopping=False,
)
SETTINGS = {
    "tuned": {
        # the paper's / notebook's generator: sigma 0.5, shifts U(0, 1.4)
        "independent": dict(data=dict(n_samples=60000), estimator=dict(_PAPER_GAUSSIAN)),
        # every relevant feature needed (sigma 1) and detectable (shift >= 0.2)
        "independent_wellposed": dict(
            data=dict(n_samples=60000, sigma=1.0, min_shift=0.2),
            estimator=dict(_PAPER_GAUSSIAN),
        ),
        "correlated": dict(data=dict(n_samples=100000), estimator=dict(_PAPER_GAUSSIAN)),
        "xor": dict(
            data=dict(n_samples=1000),
            estimator=dict(
                activation="relu", learning_rate=1e-3, eigenvalue_penalty=1e-2,
                eigenvector_penalty=1e-4, max_epochs=3000, early_stopping=False,
            ),
            # longer training for wide inputs: at d = 512, 3000 epochs found
            # both features on 4/10 seeds; one seed needed ~4000-5000
            max_epochs_by_d={512: 6000, 2048: 6000},
        ),
    },
    "paper": {
        "independent": dict(
            data=dict(n_samples=60000),
            estimator=dict(_PAPER_GAUSSIAN, max_epochs=1000),
        ),
        "independent_wellposed": dict(
            data=dict(n_samples=60000, sigma=1.0, min_shift=0.2),
            estimator=dict(_PAPER_GAUSSIAN, max_epochs=1000),
        ),
        "correlated": dict(
            data=dict(n_samples=100000),
            estimator=dict(
                activation="tanh", learning_rate=1e-2, eigenvalue_penalty=1e-2,
                eigenvector_penalty=1e-4, max_epochs=500, early_stopping=False,
            ),
        ),
        "xor": dict(
            data=dict(n_samples=1000),
            estimator=dict(
                activation="relu", learning_rate=1e-3, eigenvalue_penalty=1e-2,
                eigenvector_penalty=1e-4, max_epochs=300, early_stopping=False,
            ),
        ),
    },
}

# --quick: small enough for CI (2 seeds, under ~90 s on 2 cores)
QUICK = {
    "independent": dict(data=dict(n_samples=4000), estimator=dict(max_epochs=40)),
    "independent_wellposed": dict(data=dict(n_samples=4000), estimator=dict(max_epochs=40)),
    "correlated": dict(data=dict(n_samples=6000), estimator=dict(max_epochs=40)),
    "xor": dict(data=dict(n_samples=1000), estimator=dict(max_epochs=300)),
}
QUICK_SEEDS = 2
QUICK_XOR_DIMS = (32,)


def resolve_settings(name, quick, overrides=None):
    """The per-set settings dict for a run (a deep copy; quick/overrides applied)."""
    settings = copy.deepcopy(SETTINGS[name])
    if quick:
        for key, value in QUICK.items():
            settings[key]["data"].update(value["data"])
            settings[key]["estimator"].update(value["estimator"])
    for key, value in (overrides or {}).items():
        for part in settings.values():
            part["estimator"][key] = value
    if quick or (overrides and "max_epochs" in overrides):
        for part in settings.values():
            part.pop("max_epochs_by_d", None)
    return settings


def estimator_settings(settings, n_features=None):
    """The estimator keywords of one run (``max_epochs_by_d`` applied)."""
    params = dict(settings["estimator"])
    by_d = settings.get("max_epochs_by_d") or {}
    if n_features in by_d:
        params["max_epochs"] = by_d[n_features]
    return params


# --------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------
def make_data(set_name, seed, data_settings, n_features=None):
    """Draw the data set ``set_name`` with ``random_state=seed``."""
    if set_name in ("independent", "independent_wellposed"):
        return make_independent_gaussian(random_state=seed, **data_settings)
    if set_name == "correlated":
        return make_correlated_pairs(random_state=seed, **data_settings)
    if set_name == "xor":
        # shuffled positions: an index-ordered tie-break cannot favour the truth
        return make_xor(n_features=n_features, shuffle_features=True, random_state=seed, **data_settings)
    raise ValueError(f"unknown set {set_name!r}; expected one of {SETS}")


def score_relevance(relevance, truth):
    """The relevance metrics of one run (dict)."""
    relevance = np.asarray(relevance, dtype=float)
    relevant = truth.relevant
    out = {}
    if relevant.any() and not relevant.all():
        out["auc"] = float(roc_auc_score(relevant, relevance))
        # margin: weakest relevant over strongest irrelevant (> 1: clean split)
        top_irrelevant = relevance[~relevant].max()
        out["margin"] = float(relevance[relevant].min() / top_irrelevant) if top_irrelevant > 0 else None
    if "informative_features" not in truth:
        # (XOR's truth is 0/1: Spearman adds nothing to the AUC there)
        rho = spearmanr(relevance, truth.score)[0]
        out["spearman"] = None if not np.isfinite(rho) else float(rho)
    if "pairs" in truth:
        informative = truth.pairs[truth.flip_probability[truth.pairs[:, 0]] > 0].ravel()
        noise = truth.noise_features
        out["pairs_above_noise"] = bool(
            noise.size == 0 or relevance[informative].min() > relevance[noise].max()
        )
    if "informative_features" in truth:
        top2 = np.argsort(-relevance, kind="stable")[:2]
        out["top2"] = len(set(top2.tolist()) & set(truth.informative_features.tolist())) / 2
        ranks = np.empty(len(relevance), dtype=int)
        ranks[np.argsort(-relevance, kind="stable")] = np.arange(1, len(relevance) + 1)
        out["true_feature_ranks"] = ranks[truth.informative_features].tolist()
    return out


def run_one(set_name, seed, settings, n_threads=1, n_features=None, select_k=None, select_epochs=None):
    """Draw, split, fit and score one seed (and, with ``select_k``, its ``select``); returns a record (dict)."""
    X, y, truth = make_data(set_name, seed, settings["data"], n_features)
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(X))
    n_train = int(round(0.8 * len(X)))
    train, test = order[:n_train], order[n_train:]
    estimator = SpectralRelevanceClassifier(
        random_state=seed, n_threads=n_threads, **estimator_settings(settings, X.shape[1])
    )
    started = time.perf_counter()
    estimator.fit(X[train], y[train])
    seconds = time.perf_counter() - started
    record = {
        "set": set_name,
        "seed": seed,
        "n_features": X.shape[1],
        "n_samples": len(X),
        "accuracy": float(estimator.score(X[test], y[test])),
        "train_seconds": seconds,
        "epochs": int(estimator.n_epochs_),
        "final_train_loss": estimator.history_[-1]["train_loss"],
        "final_val_loss": estimator.history_[-1]["val_loss"],
        # 6 significant digits keep the JSON small (d = 2048 x 10 seeds)
        "relevance": [float(f"{v:.6g}") for v in estimator.relevance_],
        "truth_score": truth.score.tolist(),
        "truth_relevant": truth.relevant.tolist(),
    }
    record.update(score_relevance(estimator.relevance_, truth), n_selected=int(estimator.n_selected_))
    if select_k:
        started = time.perf_counter()
        chosen = estimator.select(X[train], y[train], select_k, max_epochs=select_epochs)
        by_rank = np.empty(X.shape[1])  # the select ranking as a score: pruned inputs all have relevance 0
        by_rank[chosen.ranking_] = np.arange(X.shape[1], 0, -1)
        record["select"] = {"k": select_k, "epochs_per_stage": select_epochs, "seconds": time.perf_counter() - started,
                            "accuracy": float(chosen.score(X[test], y[test])), **score_relevance(by_rank, truth)}
    if "shift" in truth:
        # what the training rows themselves say: |difference of the class means|
        # per feature. Not a competitor (it knows the features are independent),
        # a check that the data of this seed allow a perfect split at all.
        Xt, yt = X[train], y[train]
        oracle = np.abs(Xt[yt == 1].mean(0) - Xt[yt == 0].mean(0))
        record["oracle_auc"] = float(roc_auc_score(truth.relevant, oracle))
        record["weakest_shift"] = float(truth.shift[truth.relevant].min())
    logger.info("%s d=%d seed=%d: %s", set_name, X.shape[1], seed,
                {k: record.get(k) for k in ("auc", "spearman", "accuracy", "top2")})
    return record


# --------------------------------------------------------------------------
# summaries
# --------------------------------------------------------------------------
def _stat(values, fn):
    values = [v for v in values if v is not None]
    return float(fn(values)) if values else None


def summarise(records):
    """One summary row per (set, n_features)."""
    rows = []
    keys = sorted(
        {(r["set"], r["n_features"], r["epochs"]) for r in records},
        key=lambda k: (SETS.index(k[0]), k[1], k[2]),
    )
    for set_name, d, epochs in keys:
        group = [r for r in records if (r["set"], r["n_features"], r["epochs"]) == (set_name, d, epochs)]
        aucs = [r.get("auc") for r in group]
        row = {
            "set": set_name,
            "d": d,
            "epochs": epochs,
            "seeds": len(group),
            "auc_mean": _stat(aucs, np.mean),
            "auc_min": _stat(aucs, np.min),
            "auc_eq_1": sum(1 for a in aucs if a is not None and a >= 1.0),
            "spearman_mean": _stat([r.get("spearman") for r in group], np.mean),
            "spearman_min": _stat([r.get("spearman") for r in group], np.min),
            "accuracy_mean": _stat([r["accuracy"] for r in group], np.mean),
            "seconds_mean": _stat([r["train_seconds"] for r in group], np.mean),
        }
        if set_name.startswith("independent"):
            row["oracle_auc_min"] = _stat([r.get("oracle_auc") for r in group], np.min)
        if set_name == "correlated":
            row["pairs_ok"] = sum(bool(r["pairs_above_noise"]) for r in group)
        if set_name == "xor":
            row["top2_mean"] = _stat([r["top2"] for r in group], np.mean)
            row["both_found"] = sum(1 for r in group if r["top2"] == 1.0)
            if all("select" in r for r in group):
                row["select_both_found"] = sum(1 for r in group if r["select"]["top2"] == 1.0)
                row["select_accuracy_mean"] = _stat([r["select"]["accuracy"] for r in group], np.mean)
        if all("n_selected" in r for r in group):
            row["n_selected_mean"] = _stat([r["n_selected"] for r in group], np.mean)
        rows.append(row)
    return rows


TABLE_COLUMNS = [
    ("set", "set"), ("d", "d"), ("epochs", "epochs"), ("seeds", "seeds"),
    ("auc_mean", "AUC mean"), ("auc_min", "AUC min"), ("auc_eq_1", "AUC=1"),
    ("spearman_mean", "Spearman mean"), ("spearman_min", "Spearman min"),
    ("pairs_ok", "pairs > noise"), ("top2_mean", "top-2 frac"), ("both_found", "both in top 2"),
    ("oracle_auc_min", "oracle AUC min"), ("accuracy_mean", "test acc"), ("seconds_mean", "fit s"),
    ("n_selected_mean", "n_selected_"), ("select_both_found", "select: both in top 2"),
    ("select_accuracy_mean", "select: test acc"),
]


# --------------------------------------------------------------------------
# figures (paper Figs. 3 and 4)
# --------------------------------------------------------------------------
def _normalised(record):
    r = np.asarray(record["relevance"])
    return r / r.max() if r.max() > 0 else r


def plot_independent(records, path, title="independent"):
    """Fig. 3 analogue: relevance by true-shift rank (mean ± std) and vs the shift."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    # the relevant features move between seeds (data re-drawn), so the left
    # panel orders the features of every seed by their true shift
    stacked = []
    for rec in records:
        order = np.argsort(-np.asarray(rec["truth_score"]), kind="stable")
        stacked.append(_normalised(rec)[order])
    stacked = np.array(stacked)
    n_relevant = int(np.sum(records[0]["truth_relevant"]))
    x = np.arange(1, stacked.shape[1] + 1)
    colors = ["tab:red" if i < n_relevant else "tab:gray" for i in range(len(x))]
    left.errorbar(x, stacked.mean(0), yerr=stacked.std(0), fmt="none", ecolor="tab:red", capsize=3)
    left.scatter(x, stacked.mean(0), c=colors, zorder=3)
    left.set_xlabel("feature, ordered by true mean shift (largest first)")
    left.set_ylabel("relevance / max relevance")
    left.set_title(f"{title}: mean ± std over {len(records)} seeds")
    left.axvline(n_relevant + 0.5, color="k", lw=0.5, ls=":")
    for rec in records:
        right.scatter(rec["truth_score"], _normalised(rec), s=12, alpha=0.6)
    right.set_xlabel("true shift |mu_1 - mu_0|")
    right.set_ylabel("relevance / max relevance")
    rho = np.mean([r["spearman"] for r in records if r.get("spearman") is not None])
    right.set_title(f"relevance vs shift (mean Spearman {rho:.3f})")
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)


def plot_correlated(records, path):
    """Fig. 4 (right column) analogue: relevance per feature and vs p_n."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    stacked = np.array([_normalised(r) for r in records])
    x = np.arange(stacked.shape[1])
    left.errorbar(x, stacked.mean(0), yerr=stacked.std(0), fmt="o", color="tab:red", capsize=3)
    left.set_xticks(x)
    left.set_xlabel("feature (pairs (0,1) (2,3) (4,5) (6,7); 8, 9 noise)")
    left.set_ylabel("relevance / max relevance")
    left.set_title(f"correlated pairs: mean ± std over {len(records)} seeds")
    p = np.asarray(records[0]["truth_score"])
    right.errorbar(p, stacked.mean(0), yerr=stacked.std(0), fmt="o", color="tab:red", capsize=3)
    right.set_xlabel("flip probability p_n (0 for noise)")
    right.set_ylabel("relevance / max relevance")
    rho = np.mean([r["spearman"] for r in records if r.get("spearman") is not None])
    right.set_title(f"relevance vs p_n (mean Spearman {rho:.3f})")
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)


def plot_xor(rows, path):
    """Fraction of the two true XOR features in the top 2, against d."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["set"] == "xor"]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for i, epochs in enumerate(sorted({r["epochs"] for r in rows})):
        part = [r for r in rows if r["epochs"] == epochs]
        color = f"C{i}"
        ax.plot([r["d"] for r in part], [r["top2_mean"] for r in part], "o-", color=color,
                label=f"top-2 fraction, {epochs} epochs")
        ax.plot([r["d"] for r in part], [r["accuracy_mean"] for r in part], "s--", color=color,
                alpha=0.6, label=f"test accuracy, {epochs} epochs")
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("number of features d (2 informative)")
    ax.set_title("XOR, n = 1000")
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def _int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError(f"expected integers >= 2, got {text!r}")
    return values


def _set_list(text):
    values = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in values if v not in SETS]
    if not values or unknown:
        raise argparse.ArgumentTypeError(f"unknown set(s) {unknown or text!r}; choose from {', '.join(SETS)}")
    return values


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser, DEFAULT_OUTPUT, default_seeds=10)
    parser.add_argument("--sets", type=_set_list, default=list(SETS), help="comma-separated subset of " + ",".join(SETS))
    parser.add_argument("--xor-dims", type=_int_list, default=None,
                        help="XOR dimensions (default 32,128,512,2048; 32 with --quick)")
    parser.add_argument("--settings", choices=sorted(SETTINGS), default="tuned",
                        help="'tuned' (this benchmark's recipe) or 'paper' (the paper's)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed .. first-seed+seeds-1")
    parser.add_argument("--max-epochs", type=int, default=None, help="override max_epochs for every set")
    parser.add_argument("--eigenvalue-penalty", type=float, default=None, help="override c_lambda for every set")
    parser.add_argument("--eigenvector-penalty", type=float, default=None, help="override c_psi for every set")
    parser.add_argument("--learning-rate", type=float, default=None, help="override the learning rate for every set")
    parser.add_argument("--activation", default=None, help="override the activation for every set")
    parser.add_argument("--penalty", choices=("l2", "l1", "group"), default=None,
                        help="override the eigenvalue penalty type for every set")
    parser.add_argument("--batch-size", type=int, default=None, help="override the batch size for every set")
    parser.add_argument("--select-k", type=int, default=None,
                        help="also prune every fitted net to this many inputs with select and score its ranking")
    parser.add_argument("--select-epochs", type=int, default=None,
                        help="fine-tuning epochs per select stage (default: select's, max_epochs // 4)")
    parser.add_argument("--combine", nargs="+", type=Path, default=None, metavar="JSON",
                        help="no training: merge the runs of earlier result files, re-tabulate and re-plot into --output")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every run")
    return parser.parse_args(argv)


def _combine(paths):
    """Runs and provenance from earlier JSON results of this benchmark."""
    records, sources = [], []
    for path in paths:
        try:
            payload = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            sys.exit(f"--combine: cannot read {path}: {exc}")
        if payload.get("benchmark") != "synthetic" or "runs" not in payload:
            sys.exit(f"--combine: {path} is not a result of benchmarks/synthetic.py")
        records.extend(payload["runs"])
        sources.append({
            "file": Path(path).name,
            "command": payload.get("command"),
            "settings_name": payload.get("settings_name"),
            "overrides": payload.get("overrides"),
            "settings": payload.get("settings"),
            "total_seconds": payload.get("total_seconds"),
            "environment": payload.get("environment"),
        })
    return records, sources


def _figures(records, rows, output):
    """Write the PNG figures next to ``output``; returns {name: file name}."""
    stem = output.with_suffix("")
    figures = {}
    by_set = {s: [r for r in records if r["set"] == s] for s in SETS}
    for name in ("independent", "independent_wellposed"):
        if by_set[name]:
            figures[f"fig3_{name}"] = f"{stem.name}_fig3_{name}.png"
            plot_independent(by_set[name], output.parent / figures[f"fig3_{name}"], title=name.replace("_", " "))
    if by_set["correlated"]:
        figures["fig4_correlated"] = f"{stem.name}_fig4_correlated.png"
        plot_correlated(by_set["correlated"], output.parent / figures["fig4_correlated"])
    if by_set["xor"]:
        figures["xor"] = f"{stem.name}_xor.png"
        plot_xor(rows, output.parent / figures["xor"])
    return figures


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    torch.set_num_threads(args.threads)
    command = "python benchmarks/synthetic.py " + " ".join(sys.argv[1:] if argv is None else argv)
    output = Path(args.output)
    started = time.perf_counter()
    if args.combine:
        records, sources = _combine(args.combine)
        seeds = sorted({r["seed"] for r in records})
        payload = {"benchmark": "synthetic", "command": command.strip(), "combined_from": sources}
        heading = f"combined from {', '.join(src['file'] for src in sources)}"
    else:
        n_seeds = args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else 10)
        if n_seeds < 1:
            sys.exit("--seeds must be >= 1")
        for option, value in (("--batch-size", args.batch_size), ("--select-k", args.select_k),
                              ("--select-epochs", args.select_epochs)):
            if value is not None and value < 1:
                sys.exit(f"{option} must be >= 1, got {value}")
        seeds = list(range(args.first_seed, args.first_seed + n_seeds))
        xor_dims = args.xor_dims or (list(QUICK_XOR_DIMS) if args.quick else list(XOR_DIMS))
        overrides = {
            key: value
            for key, value in (
                ("max_epochs", args.max_epochs),
                ("eigenvalue_penalty", args.eigenvalue_penalty),
                ("eigenvector_penalty", args.eigenvector_penalty),
                ("learning_rate", args.learning_rate),
                ("activation", args.activation),
                ("penalty", args.penalty),
                ("batch_size", args.batch_size),
            )
            if value is not None
        }
        settings = resolve_settings(args.settings, args.quick, overrides)
        records = []
        for set_name in args.sets:
            dims = xor_dims if set_name == "xor" else [None]
            for d in dims:
                for seed in seeds:
                    records.append(run_one(set_name, seed, settings[set_name], args.threads, d,
                                           args.select_k, args.select_epochs))
        payload = {
            "benchmark": "synthetic",
            "command": command.strip(),
            "quick": bool(args.quick),
            "settings_name": args.settings,
            "overrides": overrides,
            "settings": {s: settings[s] for s in args.sets},
            "xor_dims": xor_dims if "xor" in args.sets else [],
            "select": {"k": args.select_k, "epochs_per_stage": args.select_epochs} if args.select_k else None,
            "split": "80 % train (of which the estimator holds out 10 % as validation) / 20 % test, seeded per run",
        }
        heading = (f"{args.settings} settings{', quick' if args.quick else ''}"
                   f"{'; overrides ' + str(overrides) if overrides else ''}")
    rows = summarise(records)
    total = time.perf_counter() - started

    print(f"## Synthetic validation ({heading}; seeds {seeds[0]}..{seeds[-1]}; {total:.0f} s)\n")
    print(markdown_table(rows, TABLE_COLUMNS))
    figures = {} if args.no_figures else _figures(records, rows, output)
    payload.update({
        "seeds": seeds,
        "total_seconds": total,
        "environment": environment(),
        "summary": rows,
        "runs": records,
        "figures": figures,
    })
    write_json(output, payload)
    print(f"\nJSON: {output}")
    for name in figures.values():
        print(f"figure: {output.parent / name}")
    return payload


if __name__ == "__main__":
    main()
