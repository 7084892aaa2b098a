"""Significant features on permuted MILES labels: the full pipeline's null check.

``rank_spectra`` (the library behind ``stelrel rank``) runs with its
defaults on MILES [Fe/H] and on ``--permutations`` copies whose [Fe/H]
values are shuffled among the stars (seeded). A shuffled label carries no
information about the spectra, so no feature of ``features.ecsv`` should be
significant (shadow-pixel knockoffs, FDR 0.1); the real label is the
reference. The retrained error curve plays no part in the features and is
skipped (``retrain_ks=[]``) to halve the time; everything else (two seeds,
the shadow network, the merging of pixels into features) is the default.

    python benchmarks/features_null.py                    # real label + 5 permutations (~10 min idle)
    python benchmarks/features_null.py --quick            # plumbing check on 150 stars (numbers mean nothing)
"""

import argparse
import time
from pathlib import Path

import numpy as np

from _common import environment, load_miles_feh, markdown_table, write_json


def permuted(spectra, seed):
    """A copy of ``spectra`` whose FEH values are shuffled among the stars that have one."""
    copy = spectra.copy()
    feh = np.asarray(copy.labels["FEH"], dtype=float)
    known = np.flatnonzero(np.isfinite(feh))
    feh[known] = feh[known][np.random.default_rng(seed).permutation(len(known))]
    copy.labels["FEH"] = feh
    return copy


def run_one(spectra, name, quick):
    from stellar_relevance import rank_spectra

    extra = {"max_epochs": 5, "min_epochs": 0, "n_permutations": 20} if quick else {}
    started = time.perf_counter()
    result = rank_spectra(spectra, "FEH", retrain_ks=[], **extra)
    metrics = result.metrics
    return {"labels": name, "n_features": int(metrics["n_features"]),
            "n_significant": int(metrics["n_significant_features"]), "test_mae": float(metrics["test_mae"]),
            "training_mean_mae": float(metrics["training_mean_mae"]),
            "beats_training_mean": bool(metrics["beats_training_mean"]), "seconds": time.perf_counter() - started}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permutations", type=int, default=5, help="permuted copies of the label (seeds 0..N-1)")
    parser.add_argument("--quick", action="store_true", help="150 stars, 5 epochs: a plumbing check")
    parser.add_argument("--miles", type=Path, default=None, help="MILES folder (default: $STELREL_MILES_DIR, "
                        "../shared/data/miles or the sdss-mangadap wheel)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/features_null.json"))
    args = parser.parse_args(argv)
    spectra = load_miles_feh(args.miles)
    if spectra is None:
        return 0
    if args.quick:
        spectra = spectra[:150]
    rows = [run_one(spectra, "real [Fe/H]", args.quick)]
    print(markdown_table(rows[-1:], list(rows[-1])), flush=True)
    for seed in range(args.permutations):
        rows.append(run_one(permuted(spectra, seed), f"permuted (seed {seed})", args.quick))
        print(f"{rows[-1]['labels']}: {rows[-1]['n_significant']} of {rows[-1]['n_features']} features significant "
              f"({rows[-1]['seconds']:.0f} s)", flush=True)
    nulls = rows[1:]
    verdict = sum(r["n_significant"] == 0 for r in nulls)
    print(markdown_table(rows, list(rows[0])))
    print(f"\npermutations with 0 significant features: {verdict} of {len(nulls)} (target: all)")
    write_json(args.output, {"benchmark": "features_null", "quick": args.quick, "rows": rows,
                             "permutations_with_none_significant": verdict, "environment": environment()})
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
