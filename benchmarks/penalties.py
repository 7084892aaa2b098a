"""The eigenvalue penalties on real MILES [Fe/H]: exact zeros, accuracy, masked top-k (docs/method.md).

For each penalty ("l2", the paper's; "l1" and "group", proximal steps) and
strength, trains a SpectralRelevanceRegressor on a seeded 80/20 split of the
MILES stars with finite [Fe/H] and reports: n_selected_ (eigenvalues not
exactly 0), min|lambda| / max|lambda|, test MAE, the masked top-k test MAE
(pixels outside the top k set to their training mean), the top-k overlap
with the l2 ranking, and seconds.

    python benchmarks/penalties.py --epochs 300 --out penalties.json
    python benchmarks/penalties.py --quick --out /tmp/penalties.json   # CI (tests/test_benchmarks_smoke.py)

Reduced settings (``--epochs``) are fine for a first look; the numbers in
docs/method.md give the command they came from.
"""

import argparse
import json
import time
import warnings

import numpy as np

from stellar_relevance import SpectralRelevanceRegressor, load_miles
from stellar_relevance.ranking._prepare import select_labelled

# the proximal strengths are in Adam's metric (stellar_relevance.nn.proximal): around the defaults 3e-3 / 1e-2
CONFIGS = [("l2", 1e-2), ("l1", 1e-3), ("l1", 3e-3), ("l1", 1e-2), ("group", 3e-3), ("group", 1e-2), ("group", 3e-2)]


def masked_mae(model, X, y, k):
    """Test MAE with every pixel outside the model's top k replaced by its training mean."""
    masked = np.array(X, copy=True)
    out = np.setdiff1d(np.arange(X.shape[1]), model.ranking_[:k])
    masked[:, out] = model.feature_means_[out]
    return float(np.mean(np.abs(model.predict(masked) - y)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--miles", default=None, help="MILES folder (default: load_miles's search)")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--configs", default=None, help="e.g. l2:0.01,l1:1 (default: CONFIGS)")
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    parser.add_argument("--quick", action="store_true", help="3 epochs, l2 and l1 only (checks the plumbing)")
    args = parser.parse_args(argv)
    configs = CONFIGS
    if args.quick:
        args.epochs, configs = 3, [("l2", 1e-2), ("l1", 3e-3)]
    if args.configs:
        configs = [(c.split(":")[0], float(c.split(":")[1])) for c in args.configs.split(",")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spectra = load_miles(args.miles)
        _, X, y, _ = select_labelled(spectra, "FEH", 20, [])
    order = np.random.default_rng(args.seed).permutation(len(y))
    n_test = len(y) // 5
    test, train = order[:n_test], order[n_test:]
    X = X.astype(np.float32)
    rows, l2_top = [], None
    for penalty, strength in configs:
        started = time.perf_counter()
        model = SpectralRelevanceRegressor(
            (200, 50, 50), penalty=penalty, eigenvalue_penalty=strength, max_epochs=args.epochs,
            batch_size=128, random_state=args.seed,
        ).fit(X, y, sample_index=train)
        seconds = time.perf_counter() - started
        lam = np.abs(model.eigenvalues_)
        top = set(model.ranking_[: args.k].tolist())
        if penalty == "l2" and l2_top is None:
            l2_top = top
        row = {
            "penalty": penalty,
            "strength": strength,
            "n_selected": model.n_selected_,
            "min_over_max_lambda": float(lam.min() / lam.max()),
            "test_mae": float(np.mean(np.abs(model.predict(X[test]) - y[test]))),
            f"masked_top{args.k}_mae": masked_mae(model, X[test], y[test], args.k),
            f"top{args.k}_overlap_with_l2": None if l2_top is None else len(top & l2_top) / args.k,
            "seconds": round(seconds, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{len(train)} train / {len(test)} test stars, {X.shape[1]} pixels, {args.epochs} epochs, seed {args.seed}")
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    if args.out:
        from stellar_relevance import atomic_write

        payload = json.dumps({"epochs": args.epochs, "seed": args.seed, "rows": rows}, indent=1)
        atomic_write(args.out, lambda tmp: open(tmp, "w").write(payload), overwrite=True)


if __name__ == "__main__":
    main()
