"""Index measurement and matching: speed, and a sanity check on real MILES.

    python benchmarks/indices.py                       # full
    python benchmarks/indices.py --quick               # CI
    python benchmarks/indices.py --miles-dir DIR       # or $STELREL_MILES_DIR

Times ``measure_indices`` (1000 MILES-grid spectra x the ``optical``
catalogue) and ``match_indices`` (4300 pixels x 40 indices x 1000 and 10 000
circular shifts), and, when the real MILES library is found, measures the
``optical`` indices on every star and prints their Spearman correlation with
Teff and (at fixed Teff) with [Fe/H]. Prints tables and writes JSON.
"""

import argparse
import os
import time
import warnings

import astropy.units as u
import numpy as np
from scipy.stats import spearmanr

from _common import add_common_args, environment, markdown_table, write_json
from stellar_relevance import load_catalog, match_indices, measure_indices, read_miles
from stellar_relevance.exceptions import DataWarning


def _timed(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), float(np.min(times))


def timings(repeats):
    wave = (3540.5 + 0.9 * np.arange(4300)) * u.AA
    rng = np.random.default_rng(0)
    flux = 1 + rng.normal(0, 0.01, (1000, 4300))
    optical = load_catalog("optical")
    full = load_catalog("all")
    inside = [r["name"] for r in full if r["blue_lower"] > wave[0] and r["red_upper"] < wave[-1]][:40]
    forty = load_catalog(inside)
    relevance = rng.exponential(1.0, 4300)
    rows = []
    median, best = _timed(lambda: measure_indices((wave, flux), optical), repeats)
    rows.append({"task": f"measure_indices 1000 x {len(optical)}", "median_s": median, "min_s": best})
    for n_perm in (1000, 10000):
        median, best = _timed(lambda: match_indices(wave, relevance, forty, n_permutations=n_perm), repeats)
        rows.append({"task": f"match_indices 4300 px x {len(forty)} x {n_perm} shifts", "median_s": median, "min_s": best})
    return rows


def miles_check(folder):
    spectra = read_miles(folder)
    start = time.perf_counter()
    table = measure_indices(spectra, "optical")
    seconds = time.perf_counter() - start
    teff = np.asarray(spectra.labels["TEFF"], float)
    feh = np.asarray(spectra.labels["FEH"], float)
    cool = np.isfinite(teff) & (teff < 9000)
    solar = cool & np.isfinite(feh) & (teff > 5000) & (teff < 6500)
    rows = []
    for name in ("CaHK", "Fe4383", "Hb", "Fe5015", "Mgb", "Fe5270", "Fe5335", "Halpha"):
        values = np.asarray(table[name].value)
        rows.append({
            "index": name,
            "rho_teff": float(spearmanr(teff[cool], values[cool])[0]),
            "rho_feh_5000_6500K": float(spearmanr(feh[solar], values[solar])[0]),
        })
    return {"n_spectra": len(spectra), "n_cool": int(cool.sum()), "n_solar": int(solar.sum()),
            "seconds": seconds, "correlations": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, "benchmarks/results/indices.json", default_seeds=1)
    parser.add_argument("--miles-dir", default=os.environ.get("STELREL_MILES_DIR"))
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", DataWarning)
    rows = timings(3 if args.quick else 7)
    print(markdown_table(rows, ["task", "median_s", "min_s"], floatfmt=".4f"))
    payload = {"benchmark": "indices", "timings": rows, "environment": environment()}
    if args.miles_dir and os.path.isdir(args.miles_dir):
        check = miles_check(args.miles_dir)
        print(f"\nReal MILES: {check['n_spectra']} spectra x optical indices in {check['seconds']:.3f} s; "
              f"Spearman with Teff (Teff < 9000 K, n = {check['n_cool']}) and with [Fe/H] "
              f"(5000 < Teff < 6500 K, n = {check['n_solar']})\n")
        print(markdown_table(check["correlations"], ["index", "rho_teff", "rho_feh_5000_6500K"], floatfmt=".2f"))
        payload["miles"] = check
    else:
        print("\nReal MILES not found (give --miles-dir or set STELREL_MILES_DIR): correlation check skipped")
        payload["miles"] = None
    write_json(args.output, payload)


if __name__ == "__main__":
    main()
