"""How many seeds does `stelrel rank` need? Top-k overlap of n-seed rankings on real MILES [Fe/H].

Trains ``2 * max(n)`` models (seeds 0, 1, ...) on one seeded split of the
MILES stars with [Fe/H] (the split and network of :func:`rank_spectra`), then
for each n compares the mean relevance of seeds ``0..n-1`` with that of
seeds ``n..2n-1``: two independent n-seed runs. Printed: top-k overlap
(exact and +-2 pixels) between the two n-seed rankings, the mean pairwise
overlap of single seeds, and the training wall time per seed.

    python benchmarks/seed_stability.py                        # defaults of rank_spectra (slow)
    python benchmarks/seed_stability.py --epochs 400 --min-epochs 300   # reduced settings
    python benchmarks/seed_stability.py --quick                 # plumbing only
"""

import argparse
import inspect
import sys
import time
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import torch

from _common import data_dir, environment, markdown_table, write_json


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", default="1,3,5", help="ensemble sizes compared (default 1,3,5)")
    parser.add_argument("--epochs", type=int, default=None, help="max epochs (default: rank_spectra's)")
    parser.add_argument("--min-epochs", type=int, default=None)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--label", default="FEH")
    parser.add_argument("--quick", action="store_true", help="few epochs, ns 1,2 (plumbing only)")
    parser.add_argument("--output", default="benchmarks/results/seed_stability.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    from stellar_relevance.ranking.evaluation import topk_overlap
    from stellar_relevance.io import load_miles
    from stellar_relevance.ranking._train import network_params, train_seeds
    from stellar_relevance.ranking.pipeline import rank_spectra
    from stellar_relevance.ranking._prepare import select_labelled, split_train_test

    ns = [1, 2] if args.quick else [int(n) for n in args.ns.split(",")]
    defaults = {k: v.default for k, v in inspect.signature(rank_spectra).parameters.items()
                if v.default is not inspect.Parameter.empty}
    p = argparse.Namespace(**{**defaults, "label": args.label})
    if args.epochs is not None:
        p.max_epochs = args.epochs
    if args.quick:
        p.max_epochs, p.min_epochs = 20, 10
    p.min_epochs = args.min_epochs if args.min_epochs is not None else (p.min_epochs or min(300, p.max_epochs))
    p.progress = False
    spectra = load_miles(data_dir("miles", "STELREL_MILES_DIR"))
    notes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        subset, X, y, _ = select_labelled(spectra, args.label, 20, notes)
        data = split_train_test(subset, X, y, p, notes)
        params = network_params(p)
        t0 = time.perf_counter()
        estimators, records = train_seeds(params, list(range(2 * max(ns))), data)
    wall = time.perf_counter() - t0
    importances = np.array([est.feature_importances_ for est in estimators])
    single = [np.argsort(-imp, kind="stable") for imp in importances]
    rows = [{
        "n_seeds": "single (pairwise)",
        "overlap_exact": topk_overlap(single, args.top),
        "overlap_tol2": topk_overlap(single, args.top, tolerance=2),
        "train_seconds": float(np.mean([r["seconds"] for r in records])),
    }]
    for n in ns:
        a = np.argsort(-importances[:n].mean(axis=0), kind="stable")
        b = np.argsort(-importances[n:2 * n].mean(axis=0), kind="stable")
        rows.append({
            "n_seeds": n,
            "overlap_exact": topk_overlap([a, b], args.top),
            "overlap_tol2": topk_overlap([a, b], args.top, tolerance=2),
            "train_seconds": float(sum(r["seconds"] for r in records[:n])),
        })
    print(f"MILES {args.label}: {len(data.y_train)} train / {len(data.y_test)} test, max_epochs {p.max_epochs}, "
          f"min_epochs {p.min_epochs}; {len(records)} models in {wall:.0f} s (loaded machine)")
    print(markdown_table(rows, ["n_seeds", "overlap_exact", "overlap_tol2", "train_seconds"], floatfmt=".2f"))
    print("test MAE per seed:", ", ".join(f"{r['test_mae']:.3f}" for r in records))
    write_json(Path(args.output), {"rows": rows, "records": records, "top": args.top, "max_epochs": p.max_epochs,
                                    "min_epochs": p.min_epochs, "environment": environment(),
                                    "command": " ".join(sys.argv)})


if __name__ == "__main__":
    main()
