"""MILES [Fe/H]: 5-fold cross-validated `rank_spectra` with its defaults, against the issue-5 targets.

For every fold of a label-stratified 5-fold split of the MILES stars with
[Fe/H] (seeded), the full pipeline runs with the defaults of
:func:`stellar_relevance.rank_spectra` (the ones `stelrel rank miles` uses),
with ``--seeds`` models per fold averaged into one ensemble. Printed: a table
per fold and the mean; written: JSON (folds, curves, targets, environment),
the mean error-vs-k figure and fold 0's full result folder (report.html).

    python benchmarks/miles.py                  # 5 folds x 1 seed (~10-15 min on one thread)
    python benchmarks/miles.py --seeds 3        # 5 folds x 3-seed ensembles
    python benchmarks/miles.py --quick          # CI: 2 folds, few epochs (checks the plumbing only)

Targets (issue 5): mean test MAE with all pixels <= 0.12 dex; top-30 retrained
within 0.02 dex of it; spectral curve below random at every k <= 300; top-30
in >= 5 of Ca II H&K, Mgb, Fe4383, Fe5015, Fe5270, Fe5335, H-beta; none in
H-alpha; overall p < 0.01; one-seed run < 180 s.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from _common import Timer, add_common_args, atomic_savefig, environment, load_miles_feh, markdown_table, write_json

PAPER_SEVEN = ("Ca II H&K", "Mgb", "Fe4383", "Fe5015", "Fe5270", "Fe5335", "H-beta")


def folds_of(y, n_folds, seed):
    """Label-stratified k-fold test indices (quintiles of the label), seeded."""
    from sklearn.model_selection import StratifiedKFold

    edges = np.quantile(y, [0.2, 0.4, 0.6, 0.8])
    strata = np.digitize(y, edges)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(y)), strata)]


def fold_row(fold, result, seconds):
    m = result.metrics
    curve = result.curve
    counts = m.get("paper_index_counts") or {}
    below = [
        bool(s < r) for k, s, r in zip(curve["k"], curve["mae_retrained"], curve["mae_random"])
        if k <= 300 and np.isfinite(s) and np.isfinite(r)
    ]
    return {
        "fold": fold,
        "n_test": result.provenance["split"]["n_test"],
        "test_mae": m["test_mae"],
        "seed_mae": float(np.mean(m["test_mae_per_seed"])),
        "top30_retrained": m.get("topk_mae"),
        "random30_retrained": m.get("topk_mae_random"),
        "top30_minus_all": None if m.get("topk_mae") is None else m["topk_mae"] - m["test_mae"],
        "below_random_k_le_300": all(below) if below else None,
        "paper_indices_found": sum(1 for g in PAPER_SEVEN if counts.get(g, 0) > 0),
        "halpha_top30": counts.get("H-alpha"),
        "p_value": m.get("overall_p_value"),
        "top30_overlap": (m.get("stability") or {}).get("top30_overlap"),
        "best_epochs": [s["best_epoch"] for s in m["seeds"]],
        "seconds": seconds,
        "train_seconds": result.provenance["timings"]["train"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser, default_output="benchmarks/results/miles.json", default_seeds=1)
    parser.add_argument("--miles", help="MILES folder (default: $STELREL_MILES_DIR, ../shared/data/miles, "
                        "or sdss-mangadap's copy)")
    parser.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the folds and the models (default 0)")
    parser.add_argument("--min-epochs", type=int, default=None,
                        help="checkpoint no earlier than this epoch (default: rank_spectra's)")
    parser.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: rank_spectra's)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from stellar_relevance import rank_spectra

    spectra = load_miles_feh(args.miles)
    if spectra is None:
        return 0
    n_seeds = args.seeds or 1
    settings = {}
    if args.quick:
        settings = dict(max_epochs=15, min_epochs=8, ks=(5, 30, 300, "all"), retrain_ks=(30,), n_random=1,
                        n_random_retrained=1, n_permutations=200)
    if args.min_epochs is not None:
        settings["min_epochs"] = args.min_epochs
    if args.batch_size is not None:
        settings["batch_size"] = args.batch_size
    _, y = spectra.to_xy("FEH")
    folds = folds_of(y, args.folds, args.seed)
    if args.quick:
        folds = folds[:2]
    out_dir = args.output.parent
    rows, curves = [], []
    for fold, test in enumerate(folds):
        with Timer() as timer, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = rank_spectra(spectra, "FEH", test_ids=spectra.ids[test], n_seeds=n_seeds,
                                  random_state=args.seed, **settings)
        rows.append(fold_row(fold, result, timer.seconds))
        curves.append({name: np.asarray(result.curve[name], float).tolist() for name in result.curve.colnames})
        print(f"fold {fold}: test MAE {rows[-1]['test_mae']:.4f} dex, {timer.seconds:.0f} s", file=sys.stderr)
        if fold == 0:
            result.save(out_dir / "miles_fold0", overwrite=True, figures=not args.no_figures)

    def mean(key):
        values = [r[key] for r in rows if r[key] is not None]
        return float(np.mean(values)) if values else None

    mean_row = {key: mean(key) for key in ("n_test", "test_mae", "seed_mae", "top30_retrained",
                                           "random30_retrained", "top30_minus_all", "paper_indices_found",
                                           "halpha_top30", "p_value", "top30_overlap", "seconds", "train_seconds")}
    mean_row["fold"] = "mean"
    mean_row["below_random_k_le_300"] = all(r["below_random_k_le_300"] for r in rows)
    sd = float(np.std([r["test_mae"] for r in rows], ddof=1)) if len(rows) > 1 else None
    targets = {
        "mean test MAE <= 0.12 dex": (mean_row["test_mae"], mean_row["test_mae"] <= 0.12),
        "top-30 retrained within 0.02 dex of all pixels": (
            mean_row["top30_minus_all"],
            mean_row["top30_minus_all"] is not None and mean_row["top30_minus_all"] <= 0.02),
        "spectral below random at every k <= 300 (every fold)": (None, mean_row["below_random_k_le_300"]),
        "top-30 in >= 5 of the paper's 7 indices (every fold)": (
            [r["paper_indices_found"] for r in rows], all(r["paper_indices_found"] >= 5 for r in rows)),
        "no top-30 pixel in H-alpha (every fold)": (
            [r["halpha_top30"] for r in rows], all(r["halpha_top30"] == 0 for r in rows)),
        "overall p < 0.01 (every fold)": ([r["p_value"] for r in rows], all((r["p_value"] or 1) < 0.01 for r in rows)),
        "one-seed pipeline < 180 s (per fold, this machine)": (
            [round(r["seconds"] / n_seeds, 1) for r in rows], all(r["seconds"] / n_seeds < 180 for r in rows)),
    }
    columns = [("fold", "fold"), ("n_test", "n test"), ("test_mae", "MAE all px"), ("seed_mae", "MAE 1 seed"),
               ("top30_retrained", "top-30 retr."), ("random30_retrained", "random-30 retr."),
               ("below_random_k_le_300", "below random k<=300"), ("paper_indices_found", "paper indices (of 7)"),
               ("halpha_top30", "H-alpha px"), ("p_value", "p"), ("seconds", "s")]
    print(f"MILES [Fe/H], {len(rows)} of {args.folds} folds, {n_seeds} seed(s) per fold"
          f"{' (QUICK: plumbing only)' if args.quick else ''}")
    print(markdown_table(rows + [mean_row], columns))
    print(f"\nstd of the fold MAEs: {sd if sd is None else round(sd, 4)}")
    for name, (value, ok) in targets.items():
        print(f"[{'PASS' if ok else 'FAIL'}] {name}: {value}")

    payload = {
        "benchmark": "miles_feh_cv",
        "quick": args.quick,
        "n_folds": args.folds,
        "folds_run": len(rows),
        "n_seeds": n_seeds,
        "seed": args.seed,
        "settings": result.settings,
        "folds": rows,
        "mean": mean_row,
        "fold_mae_std": sd,
        "curves": curves,
        "targets": {k: {"value": v, "pass": bool(ok)} for k, (v, ok) in targets.items()},
        "command": "python benchmarks/miles.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "environment": environment(),
    }
    write_json(args.output, payload)
    if not args.no_figures:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 4), layout="constrained")
        ax = fig.add_subplot()
        k = np.asarray(curves[0]["k"])
        for name, style, label in (("mae_retrained", "o-", "top-k, retrained"),
                                   ("mae_random", "o--", "random-k, retrained"),
                                   ("mae_masked", "s-", "top-k, others masked")):
            values = np.array([c[name] for c in curves])
            ok = np.all(np.isfinite(values), axis=0)
            if ok.any():
                ax.errorbar(k[ok], values[:, ok].mean(axis=0), yerr=values[:, ok].std(axis=0), fmt=style,
                            ms=4, capsize=2, label=label)
        ax.axhline(mean_row["test_mae"], color="0.4", ls=":", label=f"all pixels ({mean_row['test_mae']:.3f})")
        ax.set_xscale("log")
        ax.set_xlabel("pixels kept (k)")
        ax.set_ylabel("test MAE [dex]")
        ax.set_title(f"MILES [Fe/H], mean ± sd over {len(rows)} folds", fontsize=9)
        ax.legend(fontsize=7, frameon=False)
        atomic_savefig(fig, args.output.with_name(args.output.stem + "_curve.png"), dpi=110)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
