"""The survey round trip through the ``stelrel`` command line: pack one half, rank it, predict the other half.

Makes ``--files`` LAMOST low-resolution files (DR6/DR7 image layout) from
the two real ones in ``../shared/data/surveys/`` (the folder the tests use:
``$STELREL_SHARED_DATA/surveys``, else ``../shared/data/surveys`` beside the
repository), with ``make_files`` of ``benchmarks/ingest.py`` (OBSID,
redshift and flux noise changed), and a label table ``labels.csv`` (``OBSID``, ``PLANTED``).
``PLANTED`` is a synthetic label planted in the spectra: drawn uniformly in
[-1, 0.5] per file, it deepens ten absorption lines of the real spectrum
(Mg b, Fe 5270 / 5335, Na D, the Ca II triplet; Gaussian profiles of 1.5
Angstrom, 20 % deeper at the top of the range), at the file's redshift
``Z`` so that the rest-frame shift lines them up. The two real stars
alternate, so the label says nothing about which star a file came from:
a model has to read the line depths. The files are split into two
disjoint halves (the first and the second half of the file numbers; each
holds both stars), and then, as a user types them (``cd`` into the work
folder)::

    stelrel pack half1 -o A.fits --labels labels.csv
    stelrel rank A.fits --label PLANTED --out runA --continuum running
    stelrel pack half2 -o B_model_grid.fits --grid-from runA/model.pt --labels labels.csv
    stelrel predict runA/model.pt B_model_grid.fits -o pred_model_grid.ecsv
    stelrel pack half2 -o B_hand.fits --grid log:START:STOP:DEX --labels labels.csv   (the model's grid, by hand)
    stelrel predict runA/model.pt B_hand.fits -o pred_hand.ecsv
    stelrel pack half2 -o B.fits --labels labels.csv                                  (the half's own grid)
    stelrel predict runA/model.pt B.fits -o pred_plain.ecsv                           (resampled onto the model's)

``rank`` uses the default training settings (``--quick``: a short
training, said so in the output) with ``--continuum running``, as its
warning about raw LAMOST flux (counts of order 10^3) advises: the model
file records the rule and ``predict`` applies it to the raw packs of the
second half. Reported: files, spectra and grid sizes,
the exit code, seconds and last stderr line of every step, whether the
predictions of ``--grid-from`` equal those of the grid typed by hand (max
absolute difference), how far the predictions on the half's own grid
(resampled by ``predict``) are from them, and the MAE of each against the
planted label with the MAE of predicting the training half's mean.

Prints Markdown tables and writes JSON (``--output``, default
``benchmarks/results/round_trip.json``). Without the real files it says so,
writes ``{"skipped": reason}`` and exits 0.

Usage::

    python benchmarks/round_trip.py [--quick] [--files N] [--jobs N] [--output PATH] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import environment, markdown_table, write_json
from ingest import REAL, SURVEYS, make_files

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "round_trip.json"
LABEL = "PLANTED"
LABEL_RANGE = (-1.0, 0.5)
#: Rest-frame vacuum wavelengths (Angstrom) of the lines whose depth carries the label.
LINES = (5168.8, 5174.1, 5185.0, 5271.0, 5336.2, 5891.6, 5897.6, 8500.4, 8544.4, 8664.5)
LINE_SIGMA, LINE_DEPTH = 1.5, 0.2
#: The short training of --quick (the full run uses rank's defaults).
QUICK_RANK = ["--epochs", "40", "--min-epochs", "20", "--seeds", "1", "--ks", "30,all", "--retrain-ks", "30",
              "--random-draws", "1", "--permutations", "20"]


def stelrel():
    """The ``stelrel`` command of this Python (its console script, else ``python -m stellar_relevance.cli``)."""
    script = Path(sys.executable).parent / "stelrel"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "stellar_relevance.cli"]


def planted_files(folder, n, seed=0):
    """``n`` LAMOST-layout files (``make_files`` of benchmarks/ingest.py), each with a label planted in its
    line depths; ``{OBSID: label}``."""
    from astropy.io import fits

    make_files(folder, n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    labels = {}
    for path in sorted(folder.iterdir()):
        value = float(rng.uniform(*LABEL_RANGE))
        with fits.open(path, mode="update") as hdul:
            flux, wavelength, header = hdul[0].data[0], hdul[0].data[2], hdul[0].header
            observed = np.asarray(LINES) * (1 + header["Z"])
            profile = np.exp(-0.5 * ((wavelength[:, None] - observed[None, :]) / LINE_SIGMA) ** 2).sum(axis=1)
            strength = LINE_DEPTH * (value - LABEL_RANGE[0]) / (LABEL_RANGE[1] - LABEL_RANGE[0])
            flux *= (1 - strength * np.minimum(profile, 1)).astype(flux.dtype)
            labels[int(header["OBSID"])] = value
    return labels


def grid_option(grid):
    """A wavelength grid (Angstrom) as ``--grid`` takes it: ``log:START:STOP:DEX`` or ``START:STOP:STEP``."""
    grid = [float(value) for value in np.asarray(grid, float)]
    ratios, steps = np.diff(np.log10(grid)), np.diff(grid)
    if np.ptp(ratios) <= 1e-9 * abs(ratios.mean()):
        return f"log:{grid[0]!r}:{grid[-1]!r}:{float(f'{ratios.mean():.4g}')!r}"
    if np.ptp(steps) <= 1e-9 * abs(steps.mean()):
        return f"{grid[0]!r}:{grid[-1]!r}:{float(f'{steps.mean():.6g}')!r}"
    raise SystemExit("the model's grid is neither linear nor log-linear: --grid cannot name it")


def run_step(name, args, work):
    """Run ``stelrel *args`` in ``work``; a row: name, command, exit code, seconds, last stderr line."""
    t0 = time.perf_counter()
    proc = subprocess.run([*stelrel(), *args], cwd=work, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith(("INFO:", "\r"))]
    row = dict(step=name, command="stelrel " + shlex.join(args), exit=proc.returncode, seconds=seconds,
               last_line=lines[-1] if lines else "", traceback="Traceback" in proc.stderr)
    print(f"{name}: exit {proc.returncode} in {seconds:.1f} s: {row['command']}", flush=True)
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{row['command']} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return row


def packed_size(path):
    from stellar_relevance.io import read_packed

    packed = read_packed(path, memmap=True)
    return len(packed), packed.n_pixels


def predictions(path):
    from astropy.table import Table

    table = Table.read(path, format="ascii.ecsv")
    order = np.argsort(np.asarray(table["ID"]).astype(str))
    return (np.asarray(table["ID"]).astype(str)[order], np.asarray(table[f"{LABEL}_pred"], float)[order],
            np.asarray(table[LABEL], float)[order])


def compare(work, train_mean):
    """Predictions of the three packs of the second half against each other and against the planted label."""
    ids, by_model_grid, truth = predictions(work / "pred_model_grid.ecsv")
    rows = []
    for name, file in (("--grid-from model.pt", "pred_model_grid.ecsv"), ("--grid typed by hand", "pred_hand.ecsv"),
                       ("own grid, resampled by predict", "pred_plain.ecsv")):
        other_ids, values, _ = predictions(work / file)
        if not np.array_equal(other_ids, ids):
            raise SystemExit(f"{file} predicts other spectra than pred_model_grid.ecsv")
        rows.append(dict(pack=name, spectra=len(values), equal_to_grid_from=bool(np.array_equal(values, by_model_grid)),
                         max_abs_diff=float(np.max(np.abs(values - by_model_grid))),
                         mae=float(np.mean(np.abs(values - truth)))))
    baseline = float(np.mean(np.abs(truth - train_mean)))
    return rows, baseline


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="48 files and a short training (for the smoke test)")
    parser.add_argument("--files", type=int, default=None, help="files to make (default 200; quick 48), even")
    parser.add_argument("--jobs", type=int, default=1, help="--jobs of every pack (default 1)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON to write")
    parser.add_argument("--workdir", type=Path, default=None, help="where to make the work folder (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (its path is printed)")
    args = parser.parse_args(argv)
    if not all(p.is_file() for p in REAL):
        reason = (f"skipped: the real LAMOST files are not in {SURVEYS} (set STELREL_SHARED_DATA to the folder "
                  "that holds surveys/)")
        print(reason)
        write_json(args.output, dict(skipped=reason, environment=environment()))
        return 0
    n = args.files or (48 if args.quick else 200)
    if n % 2 or n < 44:
        parser.error("--files must be even and at least 44 (rank needs 20 labelled spectra in a half)")
    work = Path(tempfile.mkdtemp(prefix="stelrel-round-trip-", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        labels = planted_files(work / "all", n)
        for i, path in enumerate(sorted((work / "all").iterdir())):
            half = work / ("half1" if i < n // 2 else "half2")
            half.mkdir(exist_ok=True)
            path.rename(half / path.name)
        (work / "all").rmdir()
        (work / "labels.csv").write_text(f"OBSID,{LABEL}\n" + "".join(f"{k},{v!r}\n" for k, v in labels.items()))
        make_s = time.perf_counter() - t0
        jobs = ["--jobs", str(args.jobs)] if args.jobs > 1 else []
        training = QUICK_RANK if args.quick else []
        steps = [run_step("pack half 1", ["pack", "half1", "-o", "A.fits", "--labels", "labels.csv", *jobs], work),
                 run_step("rank half 1", ["rank", "A.fits", "--label", LABEL, "--out", "runA", "--continuum",
                                                 "running", *training], work),
                 run_step("pack half 2 --grid-from", ["pack", "half2", "-o", "B_model_grid.fits", "--grid-from",
                                                      "runA/model.pt", "--labels", "labels.csv", *jobs], work),
                 run_step("predict (grid-from)", ["predict", "runA/model.pt", "B_model_grid.fits", "-o",
                                                  "pred_model_grid.ecsv"], work)]
        from stellar_relevance.report.model_file import model_grid

        grid = model_grid(work / "runA" / "model.pt")
        typed = grid_option(grid.value)
        steps += [run_step("pack half 2 --grid by hand", ["pack", "half2", "-o", "B_hand.fits", "--grid", typed,
                                                          "--labels", "labels.csv", *jobs], work),
                  run_step("predict (by hand)", ["predict", "runA/model.pt", "B_hand.fits", "-o", "pred_hand.ecsv"],
                           work),
                  run_step("pack half 2 (own grid)", ["pack", "half2", "-o", "B.fits", "--labels", "labels.csv", *jobs],
                           work),
                  run_step("predict (own grid)", ["predict", "runA/model.pt", "B.fits", "-o", "pred_plain.ecsv"], work)]
        sizes = {name: packed_size(work / name) for name in ("A.fits", "B_model_grid.fits", "B_hand.fits", "B.fits")}
        train_mean = float(np.mean([labels[k] for k in sorted(labels)[: n // 2]]))
        comparison, baseline = compare(work, train_mean)
        import json

        summary_json = json.loads((work / "runA" / "summary.json").read_text())
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    packs = [dict(file=name, spectra=s, pixels=p) for name, (s, p) in sizes.items()]
    packs.append(dict(file="runA/model.pt (grid)", spectra=None, pixels=int(grid.size)))
    metrics = summary_json["metrics"]
    print(f"\n{n} files ({n // 2} per half), label {LABEL} planted in the line depths; rank: "
          + ("a short training (--quick: " + " ".join(QUICK_RANK) + ")" if args.quick else "default settings"))
    print(markdown_table(steps, ["step", "exit", "seconds", "command"], floatfmt=".1f"))
    print(markdown_table(packs, ["file", "spectra", "pixels"]))
    print(markdown_table(comparison, ["pack", "spectra", "equal_to_grid_from", "max_abs_diff", "mae"], floatfmt=".3g"))
    print(f"half 2, predicting half 1's mean label: MAE {baseline:.3g}; rank's own test MAE {metrics['test_mae']:.3g} "
          f"(training mean {metrics['training_mean_mae']:.3g}); --grid typed: {typed}")
    equal = comparison[1]["equal_to_grid_from"]
    print(f"predictions of --grid-from {'equal' if equal else 'DIFFER FROM'} those of the grid typed by hand "
          f"(max abs difference {comparison[1]['max_abs_diff']:.3g})")
    write_json(args.output, dict(
        settings=dict(files=n, per_half=n // 2, label=LABEL, label_range=LABEL_RANGE, lines=LINES,
                      line_sigma=LINE_SIGMA, line_depth=LINE_DEPTH, quick=args.quick, jobs=args.jobs,
                      rank_options=training or "defaults", make_files_s=make_s),
        steps=steps, packs=packs, grid_typed=typed, predictions=comparison, half2_training_mean_mae=baseline,
        rank_metrics=dict(test_mae=metrics["test_mae"], training_mean_mae=metrics["training_mean_mae"],
                          beats_training_mean=metrics["beats_training_mean"]),
        predictions_equal=equal, environment=environment()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
