"""The retrained error-vs-k curve on MILES [Fe/H]: one network at a time against one stacked training.

``stelrel rank`` retrains a fresh network on the top-k pixels, and on random
k, for every k of the curve (24 networks with the defaults). This script
times the two ways of training them, interleaved in one run so that a busy
machine slows both alike:

``sequential``
    :func:`stellar_relevance.topk_curve` with ``make_model`` (one
    ``SpectralRelevanceRegressor.fit`` per network, as before);
``stacked``
    the same curve with ``fit_predict_many`` =
    :func:`stellar_relevance.estimators.stacked.fit_predict_subsets` (every network in
    a few stacked trainings, as ``rank`` does now).

Same MILES stars, same train/test split, same ranking (the ANOVA F-test, so
that no long training comes first), same retrain settings as ``rank``'s
defaults. Reports seconds per way, the speed-up, and the largest difference
between the two curves' MAEs (they train the same networks: float noise).

    python benchmarks/curve_batched.py                 # the rank defaults, 1 repeat
    python benchmarks/curve_batched.py --quick         # CI: 2 k values, 20 epochs
"""

import argparse
import time
import warnings
from inspect import signature
from pathlib import Path

import numpy as np

from _common import environment, load_miles_feh, markdown_table, write_json


def _params(quick):
    from stellar_relevance import rank_spectra

    d = {name: value.default for name, value in signature(rank_spectra).parameters.items()}
    max_epochs = 20 if quick else min(300, d["max_epochs"])  # rank's retrain rule (curve._retrain_params)
    return dict(
        hidden_layer_sizes=tuple(d["hidden_layer_sizes"]), eigenvalue_penalty=d["eigenvalue_penalty"],
        eigenvector_penalty=d["eigenvector_penalty"], learning_rate=d["learning_rate"], max_epochs=max_epochs,
        batch_size=d["batch_size"], validation_fraction=d["validation_fraction"], early_stopping=True,
        n_iter_no_change=d["n_iter_no_change"], min_epochs=0, loss="mae", input_scaling=d["input_scaling"],
        target_scaling="standard", random_state=d["random_state"],
    ), d


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--miles", help="MILES folder (default: $STELREL_MILES_DIR, ../shared/data/miles)")
    parser.add_argument("--repeats", type=int, default=1, help="timed repeats of each way, interleaved")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--quick", action="store_true", help="2 k values, 20 epochs (checks the plumbing)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/curve_batched.json"))
    args = parser.parse_args(argv)

    import torch
    from sklearn.feature_selection import f_regression
    from sklearn.model_selection import train_test_split

    from stellar_relevance import SpectralRelevanceRegressor, topk_curve
    from stellar_relevance.estimators.stacked import fit_predict_subsets

    if args.threads:
        torch.set_num_threads(args.threads)
    spectra = load_miles_feh(args.miles)
    if spectra is None:
        return 0
    X, y = spectra.to_xy("FEH")
    X = np.where(np.isfinite(X), X, np.nanmean(X, axis=0))
    params, defaults = _params(args.quick)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    order = np.argsort(-np.nan_to_num(f_regression(X_train, y_train)[0]), kind="stable")
    ks = (10, 100) if args.quick else [k for k in defaults["ks"] or (5, 10, 20, 30, 50, 100, 300, 1000)
                                       if k != "all" and k < X.shape[1]]
    n_random = 1 if args.quick else 2
    mae = lambda t, p: float(np.mean(np.abs(t - p)))  # noqa: E731
    estimator = SpectralRelevanceRegressor(**params)
    ways = {
        "sequential": dict(make_model=lambda: SpectralRelevanceRegressor(**params)),
        "stacked": dict(fit_predict_many=lambda keeps: fit_predict_subsets(
            estimator, X_train, y_train, X_test, keeps).predictions),
    }
    seconds, curves = {name: [] for name in ways}, {}
    for repeat in range(args.repeats):
        for name, how in ways.items():
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                curves[name] = topk_curve(order, ks, X_train, y_train, X_test, y_test, metric=mae,
                                          n_random=n_random, random_state=0, protocols=("retrained",), **how)
            seconds[name].append(time.perf_counter() - t0)
            print(f"repeat {repeat + 1}: {name} {seconds[name][-1]:.1f} s", flush=True)
    diff = float(np.max(np.abs(np.asarray(curves["sequential"]["score"]) - np.asarray(curves["stacked"]["score"]))))
    n_networks = len(ks) * (1 + n_random)
    rows = [{"way": name, "networks": n_networks, "seconds": float(np.median(s)), "speed_up": 
             float(np.median(seconds["sequential"]) / np.median(s))} for name, s in seconds.items()]
    print(markdown_table(rows, ["way", "networks", "seconds", "speed_up"], floatfmt=".2f"))
    print(f"largest |MAE difference| between the two curves: {diff:.2e} dex")
    write_json(args.output, {"benchmark": "curve_batched", "settings": {**params, "ks": list(ks), "n_random": n_random,
                                                                        "quick": args.quick, "repeats": args.repeats,
                                                                        "threads": torch.get_num_threads()},
                             "rows": rows, "seconds": seconds, "max_mae_difference": diff,
                             "environment": environment()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
