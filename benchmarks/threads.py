"""How many torch threads? The networks `stelrel rank` trains, on MILES [Fe/H], at 1..N threads, interleaved.

Two fits, each timed for every thread count in turn (so that a change in the
machine's load hits all counts alike), ``--repeats`` times, median wall time:

``full grid``
    the ranking network (rank's defaults: 4300 -> 200-50-50 -> 1, batch
    128) for ``--epochs`` epochs on the MILES training stars;
``retrained k``
    the error curve's retrained networks, stacked as ``rank`` trains them
    (:func:`stellar_relevance.estimators.stacked.fit_predict_subsets`), top-k and two
    random k for k = 5 ... 1000, for ``--epochs`` epochs.

Run it on an idle machine to choose a default; run it beside other jobs to
see what sharing the cores does.

    python benchmarks/threads.py                     # 1 and all cores, 30 epochs, 2 repeats
    python benchmarks/threads.py --quick             # CI: 3 epochs, 1 repeat
"""

import argparse
import os
import time
import warnings
from inspect import signature
from pathlib import Path

import numpy as np

from _common import environment, load_miles_feh, markdown_table, write_json


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--miles", help="MILES folder (default: $STELREL_MILES_DIR, ../shared/data/miles)")
    parser.add_argument("--threads", default=None, help="comma-separated thread counts (default: 1 and all cores)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="3 epochs, 1 repeat (checks the plumbing)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/threads.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats = 3, 1

    from stellar_relevance import SpectralRelevanceRegressor, rank_spectra
    from stellar_relevance.estimators.stacked import fit_predict_subsets

    spectra = load_miles_feh(args.miles)
    if spectra is None:
        return 0
    cores = len(os.sched_getaffinity(0))
    counts = sorted({1, cores}) if args.threads is None else [int(t) for t in args.threads.split(",")]
    X, y = spectra.to_xy("FEH")
    X = np.where(np.isfinite(X), X, np.nanmean(X, axis=0)).astype(np.float32)
    d = {name: value.default for name, value in signature(rank_spectra).parameters.items()}
    common = dict(hidden_layer_sizes=d["hidden_layer_sizes"], batch_size=d["batch_size"], max_epochs=args.epochs,
                  learning_rate=d["learning_rate"], random_state=0, early_stopping=False)
    rng = np.random.default_rng(0)
    subsets = [keep for k in (5, 10, 20, 30, 50, 100, 300, 1000)
               for keep in (np.arange(k), *(rng.choice(X.shape[1], k, replace=False) for _ in range(2)))]
    fits = {
        "full grid": lambda n: SpectralRelevanceRegressor(**common, n_threads=n).fit(X, y),
        "retrained k (24 stacked)": lambda n: fit_predict_subsets(
            SpectralRelevanceRegressor(**common, n_threads=n), X[:800], y[:800], X[800:], subsets),
    }
    seconds = {}
    for repeat in range(args.repeats):
        for name, fit in fits.items():
            for n in counts:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit(n)
                seconds.setdefault((name, n), []).append(time.perf_counter() - t0)
                print(f"repeat {repeat + 1}: {name}, {n} thread(s): {seconds[name, n][-1]:.1f} s", flush=True)
    rows = []
    for name in fits:
        one = np.median(seconds[name, counts[0]])
        for n in counts:
            rows.append({"fit": name, "threads": n, "seconds": float(np.median(seconds[name, n])),
                         f"speed_up_vs_{counts[0]}": float(one / np.median(seconds[name, n]))})
    print(markdown_table(rows, list(rows[0]), floatfmt=".2f"))
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.2f} on {cores} cores")
    write_json(args.output, {"benchmark": "threads", "settings": {**common, "counts": counts, "repeats": args.repeats,
                                                                 "n_spectra": len(X)},
                             "rows": rows, "seconds": {f"{k[0]}|{k[1]}": v for k, v in seconds.items()},
                             "load_average_end": load, "environment": environment()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
