"""How fast the spectrum loaders are, on the real MILES library.

Times (wall clock, median of ``--repeats`` runs after one warm-up run):

- ``read_miles``: all MILES spectra + the parameter table -> SpectralSet
  (target: under 2 s);
- a bare astropy loop over the same files (header + data, no memmap), the
  floor any FITS-per-star reader has to pay;
- specutils ``Spectrum.read`` over the files (``wcs1d-fits``; full run only);
- ``write_packed`` and ``read_packed`` of the same set as one ``spectra.fits``
  (target for reading: under 0.2 s), and ``read_spectra`` on that file.

Prints a Markdown table and writes JSON (``--output``, default
``benchmarks/results/loaders.json``). ``--quick`` uses 3 repeats and skips
the specutils loop. Without the MILES data (``--miles-dir``, else
``$STELREL_MILES_DIR``, else ``../shared/data/miles``) it says so and writes
a JSON with the reason.

Usage::

    python benchmarks/loaders.py [--quick] [--repeats N] [--output PATH] [--miles-dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

from _common import Timer, environment, markdown_table, write_json

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "loaders.json"
TARGETS = {"read_miles": 2.0, "read_packed": 0.2}


def _time(func, repeats):
    """Run once to warm up, then ``repeats`` times; return (first, median, min, max, result)."""
    with Timer() as first:
        result = func()
    times = []
    for _ in range(repeats):
        with Timer() as t:
            result = func()
        times.append(t.seconds)
    return first.seconds, statistics.median(times), min(times), max(times), result


def _bare_loop(files):
    import numpy as np
    from astropy.io import fits

    rows = []
    for path in files:
        with fits.open(path, memmap=False) as hdul:
            header = hdul[0].header
            rows.append(hdul[0].data)
            header.get("CRVAL1"), header.get("CDELT1")
    return np.vstack(rows)


def _specutils_loop(files):
    from specutils import Spectrum

    return [Spectrum.read(path, format="wcs1d-fits") for path in files]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 repeats, no specutils loop (for CI)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per loader (default 7, quick 3)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON path (default {DEFAULT_OUTPUT})")
    parser.add_argument("--miles-dir", type=Path, default=None, help="MILES folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    repeats = args.repeats or (3 if args.quick else 7)
    folder = args.miles_dir or Path(os.environ.get("STELREL_MILES_DIR", REPO.parent / "shared" / "data" / "miles"))
    payload = {"benchmark": "loaders", "quick": args.quick, "repeats": repeats, "miles_dir": str(folder),
               "targets_s": TARGETS, "environment": environment(),
               "note": "wall-clock seconds; median of the timed runs after one warm-up run"}
    if not (folder / "MILES_res2.50_star_m0001V.fits").exists():
        payload["skipped"] = f"MILES spectra not found at {folder} (set --miles-dir or STELREL_MILES_DIR)"
        print(payload["skipped"])
        write_json(args.output, payload)
        return 0

    from stellar_relevance.exceptions import DataWarning
    from stellar_relevance.io import read_miles, read_packed, read_spectra, write_packed

    warnings.simplefilter("ignore", DataWarning)
    files = sorted(folder.glob("MILES_res2.50_star_m*V.fits"))
    rows = []

    def record(name, timing, n, note=""):
        first, median, low, high, _ = timing
        row = {"loader": name, "n_spectra": n, "first_s": first, "median_s": median, "min_s": low, "max_s": high,
               "target_s": TARGETS.get(name), "note": note}
        if name in TARGETS:
            row["meets_target"] = median < TARGETS[name]
        rows.append(row)
        return row

    timing = _time(lambda: read_miles(folder), repeats)
    spectra = timing[-1]
    record("read_miles", timing, len(spectra), "984 FITS + paramsMILES_v9.1.txt -> SpectralSet")
    record("astropy bare loop", _time(lambda: _bare_loop(files), repeats), len(files),
           "fits.open(memmap=False), header + data, no labels")
    if not args.quick:
        try:
            record("specutils Spectrum.read loop", _time(lambda: _specutils_loop(files), max(1, repeats // 2)),
                   len(files), "format='wcs1d-fits', one Spectrum per file")
        except Exception as exc:  # noqa: BLE001 - report, do not fail the benchmark
            rows.append({"loader": "specutils Spectrum.read loop", "note": f"failed: {exc}"})
    with tempfile.TemporaryDirectory(dir=args.output.parent if args.output.parent.exists() else None) as tmp:
        path = Path(tmp) / "spectra.fits"
        first_write = _time(lambda: write_packed(spectra, path, overwrite=True), repeats)
        record("write_packed", first_write, len(spectra), f"{path.stat().st_size / 1e6:.1f} MB")
        record("read_packed", _time(lambda: read_packed(path), repeats), len(spectra), "same set, one FITS")
        record("read_spectra (packed)", _time(lambda: read_spectra(path), repeats), len(spectra),
               "dispatch + read_packed")
    counts = spectra.meta["counts"]
    payload.update(results=rows, miles_counts=counts, warnings=spectra.meta["warnings"])
    print(markdown_table(rows, ["loader", "n_spectra", ("first_s", "first run [s]"), ("median_s", "median [s]"),
                                ("min_s", "min [s]"), ("max_s", "max [s]"), ("target_s", "target [s]"),
                                ("meets_target", "meets"), "note"]))
    print()
    print("MILES counts: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    write_json(args.output, payload)
    print(f"wrote {args.output}")
    failed = [r["loader"] for r in rows if r.get("meets_target") is False]
    if failed:
        print(f"note: above target: {', '.join(failed)} (timings are noisy on a shared machine)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
