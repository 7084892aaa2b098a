"""How fast survey files become one training set: ``pack_spectra`` on LAMOST-layout files.

Makes ``--files`` LAMOST low-resolution files (DR6/DR7 image layout) from
the two real ones in ``../shared/data/surveys/`` (OBSID, redshift and flux
perturbed), then packs them with ``stellar_relevance.io.pack_spectra``
(rest-frame shift from the header ``Z``, flux-conserving resampling, chunked
writing), each run in a fresh Python process so that its peak memory is its
own:

- files/s with 1 and 2 jobs, with the grid given (one pass), and at a
  tenth of the files also with the default grid (the inputs' overlap: a
  scan pass, then the resampling pass);
- peak resident memory of the main process and of the largest worker, at
  ``--files`` and at a tenth of it (memory must not grow with the files);
- the share of time in reading, resampling and writing;
- a bare astropy loop over the same files (open, header, data), measured in
  the same run: the issue's "reading alone is ~1,000/s" on an idle machine;
  on a loaded one the ratio pack / bare read is the comparable figure;
- the resampler against specutils' ``FluxConservingResampler`` on the same
  spectra: time per spectrum, speed ratio and the largest relative
  difference where both are defined.

Prints a Markdown table and writes JSON (``--output``, default
``benchmarks/results/ingest.json``). ``--quick``: 200 files, only the runs
with the grid given, 2 spectra for the specutils comparison.

Usage::

    python benchmarks/ingest.py [--quick] [--files N] [--jobs 1,2] [--output PATH] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from _common import SHARED_DATA, environment, markdown_table, write_json

REPO = Path(__file__).resolve().parents[1]
SURVEYS = SHARED_DATA / "surveys"  # $STELREL_SHARED_DATA, else ../shared/data beside the repository
REAL = [SURVEYS / "spec-58397-EG014118N254444M01_sp03-031.fits",
        SURVEYS / "spec-57287-KP193637N444141V03_sp10-161.fits.gz"]
DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "ingest.json"
GRID = "log:3800:9000:1e-4"
TARGETS = {"files_per_s_per_process": 300, "peak_memory_mb": 1024, "resampler_speedup": 100,
           "resampler_rel_diff": 1e-6}

RUNNER = r"""
import json, resource, sys, time, warnings
from stellar_relevance.exceptions import DataWarning
from stellar_relevance.io import pack_spectra
warnings.simplefilter("ignore", DataWarning)
args = json.loads(sys.argv[1])
t0 = time.perf_counter()
meta = pack_spectra(args["inputs"], args["output"], grid=args["grid"], jobs=args["jobs"], overwrite=True)
wall = time.perf_counter() - t0
print(json.dumps(dict(wall=wall, ingest=meta["ingest"],
                      main_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      worker_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)))
"""


def make_files(folder, n, seed=0):
    """``n`` LAMOST-layout files from the real ones (OBSID, Z and flux perturbed)."""
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for path in REAL:
        with fits.open(path) as hdul:
            sources.append((hdul[0].data.copy(), hdul[0].header.copy()))
    for i in range(n):
        data, header = sources[i % 2]
        data = data.copy()
        data[0] *= (1 + 0.01 * rng.standard_normal(data.shape[1])).astype(np.float32)
        header = header.copy()
        header["OBSID"] = 900000000 + i
        header["Z"] = float(rng.uniform(-3e-4, 3e-4))
        fits.PrimaryHDU(data, header).writeto(folder / f"spec-{i:06d}.fits")
    return folder


def bare_read_rate(files):
    """Files/s of a bare astropy loop (open, header, data): the floor any reader pays, measured here."""
    from astropy.io import fits

    t0 = time.perf_counter()
    for path in files:
        with fits.open(path, memmap=False) as hdul:
            _ = hdul[0].header["Z"], hdul[0].data.sum()
    return len(files) / (time.perf_counter() - t0)


def pack_run(inputs, output, grid, jobs):
    """pack_spectra in a fresh process: wall time, ingest timing and peak memory."""
    listing = Path(output).with_suffix(".txt")  # an @list.txt: 10,000 paths do not fit on a command line
    listing.write_text("\n".join(str(p) for p in inputs) + "\n")
    payload = json.dumps(dict(inputs=f"@{listing}", output=str(output), grid=grid, jobs=jobs))
    proc = subprocess.run([sys.executable, "-c", RUNNER, payload], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"pack_spectra failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def resampler_comparison(n_spectra):
    """Our resampler and specutils' on the real spectra (rest-frame shifted), interleaved."""
    import astropy.units as u
    from astropy.io import fits
    from astropy.nddata import InverseVariance
    from specutils import Spectrum
    from specutils.manipulation import FluxConservingResampler

    from stellar_relevance.io.resample import grid_bins, parse_grid, resample

    grid = parse_grid(GRID).value
    lo, hi = grid_bins(grid)
    ours, theirs, diffs = [], [], []
    for i in range(n_spectra):
        with fits.open(REAL[i % 2]) as hdul:
            data, z = hdul[0].data.astype(float), hdul[0].header["Z"]
        flux, ivar, wave = data[0], data[1], data[2] / (1 + z)
        good = ivar > 0
        spec = Spectrum(flux=np.where(good, flux, 0) * u.dimensionless_unscaled, spectral_axis=wave * u.AA,
                        uncertainty=InverseVariance(np.where(good, ivar, 0)))
        t0 = time.perf_counter()
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            ref = FluxConservingResampler(extrapolation_treatment="nan_fill")(spec, grid * u.AA)
        t1 = time.perf_counter()
        repeats = 20
        for _ in range(repeats):
            out, out_ivar = resample(wave, np.where(good, flux, np.nan), ivar, lo, hi)
        t2 = time.perf_counter()
        theirs.append(t1 - t0)
        ours.append((t2 - t1) / repeats)
        both = np.isfinite(out) & np.isfinite(ref.flux.value)
        rel = np.abs(out[both] - ref.flux.value[both]) / np.abs(ref.flux.value[both])
        rel_ivar = np.abs(out_ivar[both] - ref.uncertainty.array[both]) / np.abs(ref.uncertainty.array[both])
        diffs.append(max(float(rel.max()), float(rel_ivar.max())))
    return dict(spectra=n_spectra, grid=GRID, n_pixels=int(grid.size), specutils_ms=1e3 * float(np.median(theirs)),
                ours_ms=1e3 * float(np.median(ours)), speedup=float(np.median(theirs) / np.median(ours)),
                max_rel_diff=float(max(diffs)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 files, grid-given runs only, 2 spectra against specutils")
    parser.add_argument("--files", type=int, default=None, help="files to pack (default 10000; quick 200)")
    parser.add_argument("--jobs", default="1,2", help="comma-separated job counts (default 1,2)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON to write")
    parser.add_argument("--workdir", type=Path, default=None, help="where to make the files (default: a temp dir)")
    args = parser.parse_args(argv)
    if not all(p.is_file() for p in REAL):
        reason = f"real LAMOST files not found in {SURVEYS}"
        print(reason)
        write_json(args.output, dict(skipped=reason, environment=environment()))
        return 0
    n = args.files or (200 if args.quick else 10000)
    jobs = [int(j) for j in args.jobs.split(",")]
    work = Path(tempfile.mkdtemp(prefix="stelrel-ingest-", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        folder = make_files(work / "spectra", n)
        make_s = time.perf_counter() - t0
        files = sorted(folder.iterdir())
        bare = bare_read_rate(files[: min(n, 2000)])
        print(f"bare astropy read: {bare:.0f} files/s", flush=True)
        runs = []
        plan = [(n, j, GRID) for j in jobs]
        if not args.quick:  # a tenth of the files (is memory flat?), and the default grid (scan pass) there
            plan += [(max(n // 10, 20), jobs[0], GRID), (max(n // 10, 20), jobs[0], None)]
        for count, j, grid in plan:
            result = pack_run(files[:count], work / "train.fits", grid, j)
            ing = result["ingest"]
            spent = ing["read_s"] + ing["resample_s"] + ing["write_s"]
            runs.append(dict(files=count, jobs=j, grid=grid or "default (scan pass)", wall_s=result["wall"],
                             files_per_s=count / result["wall"],
                             files_per_s_per_process=count / result["wall"] / j,
                             main_peak_mb=result["main_mb"], worker_peak_mb=result["worker_mb"],
                             read_share=ing["read_s"] / spent, resample_share=ing["resample_s"] / spent,
                             write_share=ing["write_s"] / spent))
            print(f"packed {count} files with {j} job(s), grid {grid}: {runs[-1]['files_per_s']:.0f} files/s",
                  flush=True)
        comparison = resampler_comparison(2 if args.quick else 20)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    columns = ["files", "jobs", "grid", "files_per_s", "files_per_s_per_process", "main_peak_mb",
               "worker_peak_mb", "read_share", "resample_share", "write_share"]
    print(markdown_table(runs, columns, floatfmt=".2f"))
    print(markdown_table([comparison], ["spectra", "n_pixels", "specutils_ms", "ours_ms", "speedup",
                                        "max_rel_diff"], floatfmt=".3g"))
    best_single = max(r["files_per_s"] for r in runs if r["jobs"] == 1 and r["files"] == n)
    summary = dict(
        files_per_s_1_job=best_single, bare_read_files_per_s=bare,
        pack_over_bare_read=best_single / bare,
        scaling={str(r["jobs"]): r["files_per_s"] / best_single for r in runs if r["files"] == n and r["grid"] == GRID},
        peak_mb=max(max(r["main_peak_mb"], r["worker_peak_mb"]) for r in runs),
        resampler_speedup=comparison["speedup"], resampler_max_rel_diff=comparison["max_rel_diff"],
    )
    met = dict(files_per_s_per_process=best_single >= TARGETS["files_per_s_per_process"],
               peak_memory=summary["peak_mb"] < TARGETS["peak_memory_mb"],
               resampler_speedup=comparison["speedup"] >= TARGETS["resampler_speedup"],
               resampler_agreement=comparison["max_rel_diff"] <= TARGETS["resampler_rel_diff"])
    print(json.dumps(dict(summary=summary, targets_met=met), indent=1))
    write_json(args.output, dict(settings=dict(files=n, jobs=jobs, grid=GRID, quick=args.quick, make_files_s=make_s),
                                 runs=runs, resampler=comparison, summary=summary, targets=TARGETS, targets_met=met,
                                 environment=environment()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
