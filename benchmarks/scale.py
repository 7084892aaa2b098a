"""Training throughput and memory against the number of spectra: the memory-mapped store, in memory, 1 and 2 processes.

For each N, synthetic spectra (4,300 pixels) are written straight into a
packed store in chunks (``stellar_relevance.io.store.write_synthetic_store``),
then each configuration trains the same network (4300 -> 200-50-50 -> 1,
batch 500, Adam + spectral penalty) for ``--epochs`` epochs in a fresh
process:

- ``store``: batches gathered from the memory-mapped FITS file
  (``open_store`` + ``nn.batches.gather_rows``), per-pixel mean from one
  streaming pass (``nn.batches.column_moments``);
- ``memory``: the whole flux converted to one native float32 tensor first
  (only where it fits in half the available memory);
- ``store`` with 2 processes: DistributedDataParallel over gloo, launched
  with torch's elastic launcher, each process gathering its share.

Reported: seconds per epoch (median over epochs), spectra per second,
peak resident memory split into anonymous (real copies) and file-backed
(pages of the mapped store), sampled at every batch.

    python benchmarks/scale.py                      # N = 1e3, 1e4, 1e5
    python benchmarks/scale.py --max-n 1000000      # and 1e6 (37 GB of disk: flux and inverse variance)
    python benchmarks/scale.py --quick              # CI: tiny, one process, workers run in-process

Prints a Markdown table and writes JSON (``--output``).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import add_common_args, environment, markdown_table, write_json

HERE = Path(__file__).resolve()


# ---------------------------------------------------------------- the worker (one configuration, one process)
def worker(args):
    import torch

    from stellar_relevance.nn.distributed import batch_plan, init_from_environment, world
    from stellar_relevance.nn.network import SpectralNetwork
    from stellar_relevance.io.store import memory_status, open_store
    from stellar_relevance.nn.batches import column_moments, gather_rows
    from stellar_relevance.nn.core import make_optimizer

    torch.set_num_threads(args.threads)
    init_from_environment("cpu")
    rank, size = world()
    peak = {"anon": 0, "file": 0}

    def sample():
        status = memory_status()
        for key in peak:
            peak[key] = max(peak[key], status.get(key, 0))

    sample()
    store = open_store(args.store)
    n, n_pixels = store.flux.shape
    y = torch.as_tensor(np.asarray(store.labels["Y"], dtype=np.float32)).unsqueeze(1)
    started = time.perf_counter()
    if args.worker == "memory":
        X = torch.from_numpy(gather_rows(store.flux, np.arange(n)))
        mean = X.mean(0)
    else:
        mean = torch.from_numpy(column_moments(store.flux)[0].astype(np.float32))
    prepare_s = time.perf_counter() - started
    sample()
    torch.manual_seed(0)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    net = SpectralNetwork(n_pixels, 1, hidden)
    optimizer = make_optimizer(net, 1e-3, 1e-2, 1e-4)
    plan = batch_plan(n, args.batch, torch.Generator().manual_seed(1))
    model = plan.wrap(net)
    loss_fn = torch.nn.L1Loss()
    epochs = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        for index, weight in plan.batches():
            if args.worker == "memory":
                xb = X[index] - mean
            else:
                xb = torch.from_numpy(gather_rows(store.flux, index.numpy())) - mean
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), y[index])
            (loss if weight == 1.0 else loss * weight).backward()
            optimizer.step()
            sample()
        epochs.append(time.perf_counter() - t0)
    status = memory_status()
    out = {"rank": rank, "processes": size, "mode": args.worker, "n": n, "n_pixels": n_pixels,
           "epoch_seconds": epochs, "prepare_seconds": prepare_s, "peak_anon": peak["anon"],
           "peak_file": peak["file"], "vm_hwm": status.get("peak", 0), "final_loss": float(loss.detach())}
    Path(f"{args.json}.rank{rank}").write_text(json.dumps(out))


# ---------------------------------------------------------------- the driver
def _available_bytes():
    from stellar_relevance.nn.training import available_memory_bytes

    return available_memory_bytes("cpu") or 0


def run_config(store, mode, processes, args, scratch):
    """One configuration in fresh process(es); the per-rank JSON merged into one row."""
    out = scratch / f"{store.stem}_{mode}_{processes}.json"
    worker_args = [str(HERE), "--worker", mode, "--store", str(store), "--json", str(out), "--epochs",
                   str(args.epochs), "--batch", str(args.batch), "--threads", str(args.threads),
                   "--hidden", args.hidden]
    if processes == 1 and args.quick:  # CI: in this process (no fresh interpreter; memory figures shared)
        main(worker_args[1:])
    elif processes == 1:
        subprocess.run([sys.executable, *worker_args], check=True)
    else:
        from stellar_relevance.nn.distributed import launch

        launch(worker_args, processes, device="cpu", module=None)
    ranks = [json.loads(Path(f"{out}.rank{r}").read_text()) for r in range(processes)]
    seconds = float(np.median([max(r["epoch_seconds"][e] for r in ranks) for e in range(args.epochs)]))
    n = ranks[0]["n"]
    return {
        "n": n, "mode": mode, "processes": processes, "seconds_per_epoch": seconds,
        "spectra_per_s": n / seconds, "prepare_s": max(r["prepare_seconds"] for r in ranks),
        "peak_anon_mib": max(r["peak_anon"] for r in ranks) / 2**20,
        "peak_file_mib": max(r["peak_file"] for r in ranks) / 2**20,
        "vm_hwm_mib": max(r["vm_hwm"] for r in ranks) / 2**20,
        "final_loss": ranks[0]["final_loss"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, "benchmarks/results/scale.json", default_seeds=1)
    parser.add_argument("--max-n", type=int, default=100_000, help="largest N (default 1e5; 1e6 needs 37 GB of disk)")
    parser.add_argument("--pixels", type=int, default=4300)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--hidden", default="200,50,50")
    parser.add_argument("--nproc-max", type=int, default=2, help="largest number of processes (default 2)")
    parser.add_argument("--store-dir", type=Path, default=None, help="where the stores go (default a temp folder)")
    parser.add_argument("--worker", choices=["store", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    from stellar_relevance.io.store import write_synthetic_store

    if args.quick:
        sizes, args.pixels, args.epochs, args.hidden, args.batch = [600], 400, 1, "32,16", 100
        args.nproc_max = min(args.nproc_max, 1)
    else:
        sizes = [n for n in (1_000, 10_000, 100_000, 1_000_000) if n <= args.max_n]
    rows, generation = [], []
    with tempfile.TemporaryDirectory(dir=args.store_dir) as scratch:
        scratch = Path(scratch)
        for n in sizes:
            t0 = time.perf_counter()
            store = write_synthetic_store(scratch / f"synthetic_{n}.fits", n, n_pixels=args.pixels)
            generation.append({"n": n, "write_s": time.perf_counter() - t0,
                               "store_mib": store.stat().st_size / 2**20})
            configs = [("store", 1)]
            if 4 * n * args.pixels < 0.5 * _available_bytes():
                configs.append(("memory", 1))
            configs += [("store", p) for p in range(2, args.nproc_max + 1)]
            for mode, processes in configs:
                rows.append(run_config(store, mode, processes, args, scratch))
                print(f"N={n} {mode} x{processes}: {rows[-1]['seconds_per_epoch']:.2f} s/epoch", flush=True)
            store.unlink()
    print(f"\nTraining from a store, {args.pixels} pixels, {args.hidden} hidden, batch {args.batch} per process, "
          f"{args.threads} thread(s) per process, median of {args.epochs} epochs\n")
    print(markdown_table(rows, ["n", "mode", "processes", "seconds_per_epoch", "spectra_per_s", "peak_anon_mib",
                                "peak_file_mib", "vm_hwm_mib"], floatfmt=".1f"))
    print("\nWriting the stores\n")
    print(markdown_table(generation, ["n", "write_s", "store_mib"], floatfmt=".1f"))
    write_json(args.output, {
        "benchmark": "scale",
        "settings": {"sizes": sizes, "pixels": args.pixels, "epochs": args.epochs, "batch": args.batch,
                     "hidden": args.hidden, "threads": args.threads, "nproc_max": args.nproc_max,
                     "quick": args.quick},
        "runs": rows, "stores": generation, "environment": environment(),
    })


if __name__ == "__main__":
    main()
