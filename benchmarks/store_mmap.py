"""Does astropy's memory map serve as the training store? Open time and resident memory of a large flux image.

Writes an uncompressed float32 FITS image (``--rows`` x 4,300, default
1.5 GB) in chunks, then, each in a fresh process: maps it
(``stellar_relevance.io.store.open_store``), gathers 50 random batches of 500
spectra (``stellar_relevance.nn.batches.gather_rows``), takes the streaming
per-pixel mean (``column_moments``), and reads it whole
(``read_packed(memmap=False)``) for comparison. Reports seconds and
resident memory (anonymous vs file-backed, ``/proc/self/status``).

    python benchmarks/store_mmap.py --rows 90000
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import environment, markdown_table, write_json


def _probe(path, what):
    from stellar_relevance.io import read_packed
    from stellar_relevance.io.store import memory_status, open_store
    from stellar_relevance.nn.batches import column_moments, gather_rows

    t0 = time.perf_counter()
    if what == "read_packed(memmap=False)":
        flux = read_packed(path).flux
        seconds = time.perf_counter() - t0
    else:
        store = open_store(path)
        seconds = time.perf_counter() - t0
        flux = store.flux
    after_open = memory_status()
    extra = {}
    if what == "open_store + 50 batches":
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        for _ in range(50):
            gather_rows(flux, rng.choice(flux.shape[0], 500, replace=False))
        extra["batch_ms"] = 1e3 * (time.perf_counter() - t0) / 50
    if what == "open_store + pixel_mean":
        t0 = time.perf_counter()
        column_moments(flux)
        extra["pass_s"] = time.perf_counter() - t0
    end = memory_status()
    return {"what": what, "open_s": seconds, "anon_after_open_mib": after_open["anon"] / 2**20,
            "file_after_open_mib": after_open["file"] / 2**20, "anon_end_mib": end["anon"] / 2**20,
            "file_end_mib": end["file"] / 2**20, "peak_mib": end["peak"] / 2**20, **extra}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=90_000)
    parser.add_argument("--pixels", type=int, default=4300)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/store_mmap.json"))
    parser.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(_probe(Path(args.probe[0]), args.probe[1])))
        return
    from astropy.io import fits

    with tempfile.TemporaryDirectory(dir=args.output.parent if args.output.parent.exists() else None) as tmp:
        path = Path(tmp) / "flux.fits"
        header = fits.Header([("SIMPLE", True), ("BITPIX", -32), ("NAXIS", 2), ("NAXIS1", args.pixels),
                              ("NAXIS2", args.rows), ("CTYPE1", "WAVE"), ("CUNIT1", "Angstrom"),
                              ("CRVAL1", 3500.0), ("CDELT1", 0.9), ("CRPIX1", 1.0)])
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        stream = fits.StreamingHDU(path, header)
        for start in range(0, args.rows, 5000):
            stream.write(rng.random((min(5000, args.rows - start), args.pixels), dtype=np.float32))
        stream.close()
        written = time.perf_counter() - t0
        rows = []
        for what in ("open_store", "open_store + 50 batches", "open_store + pixel_mean", "read_packed(memmap=False)"):
            out = subprocess.run([sys.executable, __file__, "--probe", str(path), what], capture_output=True,
                                 text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        size_gb = path.stat().st_size / 1e9
    print(f"float32 image {args.rows} x {args.pixels} ({size_gb:.2f} GB, written in {written:.1f} s)\n")
    print(markdown_table(rows, ["what", "open_s", "anon_after_open_mib", "file_after_open_mib", "anon_end_mib",
                                "file_end_mib", "peak_mib"], floatfmt=".2f"))
    for row in rows:
        if "batch_ms" in row:
            print(f"\ngather of a random batch of 500 from the map: {row['batch_ms']:.1f} ms")
        if "pass_s" in row:
            print(f"streaming per-pixel mean over the map: {row['pass_s']:.1f} s")
    write_json(args.output, {"benchmark": "store_mmap", "rows": args.rows, "pixels": args.pixels,
                             "size_gb": size_gb, "write_s": written, "probes": rows, "environment": environment()})


if __name__ == "__main__":
    main()
