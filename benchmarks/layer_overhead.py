"""Cost of the spectral first layer against a dense one, and of torch threads.

Times one training step (forward + backward + Adam step) of the same MLP
with ``SpectralLinear`` and with ``nn.Linear`` as first layer, in the same
process, interleaved (A B A B ...), so that machine load hits both alike.
Also times the two naive formulations the fused layer replaces, both steps
with torch's fused Adam kernel, and everything at 1 and 2 torch threads
(all interleaved in one loop).

    python benchmarks/layer_overhead.py               # full: 4300 -> 200, batch 500
    python benchmarks/layer_overhead.py --quick       # CI

Prints a Markdown table and writes JSON (``--output``).
"""

import argparse
import time
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from _common import add_common_args, environment, markdown_table, write_json
from stellar_relevance.nn.layers import SpectralLinear
from stellar_relevance.nn.core import make_optimizer


class _NaiveScaledInput(nn.Module):
    """``F.linear(x * lambda, psi)`` + autograd penalty: the textbook form."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.eigenvalues = nn.Parameter(torch.ones(n_in))
        self.eigenvectors = nn.Parameter(nn.Linear(n_in, n_out).weight.detach().clone())
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return nn.functional.linear(x * self.eigenvalues, self.eigenvectors, self.bias)


class _NaiveWeight(_NaiveScaledInput):
    """``W = psi * lambda`` formed by autograd, then ``F.linear``."""

    def forward(self, x):
        return nn.functional.linear(x, self.eigenvectors * self.eigenvalues, self.bias)


def _mlp(first, hidden):
    layers = [first, nn.ReLU()]
    for a, b in zip(hidden[:-1], hidden[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(hidden[-1], 1))
    return nn.Sequential(*layers)


def _step_function(variant, n_in, hidden, penalties=(1e-2, 1e-4)):
    c_lambda, c_psi = penalties
    fused_adam = variant.endswith(", fused Adam")
    base = variant.removesuffix(", fused Adam")
    if base == "dense":
        net = _mlp(nn.Linear(n_in, hidden[0]), hidden)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused_adam or None)
        penalty = None
    elif base == "spectral (fused)":
        first = SpectralLinear(n_in, hidden[0])
        net = _mlp(first, hidden)
        opt = make_optimizer(SimpleNamespace(spectral=first, parameters=net.parameters), 1e-3, c_lambda, c_psi)
        if fused_adam:  # the same groups (penalties as weight decay), in torch's fused Adam kernel
            opt = torch.optim.Adam(opt.param_groups, lr=1e-3, fused=True)
        penalty = None
    else:
        first = (_NaiveScaledInput if base == "naive x*lambda" else _NaiveWeight)(n_in, hidden[0])
        net = _mlp(first, hidden)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)

        def penalty():
            return c_lambda * first.eigenvalues.pow(2).sum() + c_psi * first.eigenvectors.pow(2).sum()

    loss_fn = nn.L1Loss()

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        if penalty is not None:
            loss = loss + penalty()
        loss.backward()
        opt.step()

    return step


def time_variants(variants, n_in, hidden, batch, repeats, rounds, threads, seed=0):
    """Median seconds per step of each (variant, threads), interleaved over ``rounds``.

    ``threads`` is an int or a sequence of ints; every round runs every
    variant at every thread count, so machine load hits all of them alike.
    Returns ``{name: seconds}`` for one thread count, else
    ``{(name, threads): seconds}``.
    """
    thread_list = [threads] if isinstance(threads, int) else list(threads)
    torch.manual_seed(seed)
    x = torch.randn(batch, n_in)
    y = torch.randn(batch, 1)
    steps = {name: _step_function(name, n_in, hidden) for name in variants}
    samples = {(name, t): [] for name in variants for t in thread_list}
    for t in thread_list:  # warm-up
        torch.set_num_threads(t)
        for step in steps.values():
            for _ in range(3):
                step(x, y)
    for _ in range(rounds):
        for t in thread_list:
            torch.set_num_threads(t)
            for name, step in steps.items():
                start = time.perf_counter()
                for _ in range(repeats):
                    step(x, y)
                samples[name, t].append((time.perf_counter() - start) / repeats)
    medians = {key: float(np.median(s)) for key, s in samples.items()}
    if isinstance(threads, int):
        return {name: medians[name, threads] for name in variants}
    return medians


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, "benchmarks/results/layer_overhead.json", default_seeds=1)
    parser.add_argument("--inputs", type=int, default=4300)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    hidden = (200, 50, 50)
    repeats, rounds = (2, 3) if args.quick else (10, 15)
    variants = ["dense", "spectral (fused)", "naive x*lambda", "naive W=psi*lambda",
                "dense, fused Adam", "spectral (fused), fused Adam"]
    thread_counts = (1, 2)
    times = time_variants(variants, args.inputs, hidden, args.batch, repeats, rounds, thread_counts)
    rows = []
    for threads in thread_counts:
        for name in variants:
            dense = times["dense, fused Adam" if name.endswith("fused Adam") else "dense", threads]
            rows.append({"threads": threads, "variant": name, "ms_per_step": 1e3 * times[name, threads],
                         "ratio_to_dense": times[name, threads] / dense})
    thread_rows = [
        {"threads": t, "ms_per_step": 1e3 * times["spectral (fused)", t],
         "dense_ms_per_step": 1e3 * times["dense", t],
         "speedup_vs_1_thread": times["spectral (fused)", 1] / times["spectral (fused)", t]}
        for t in thread_counts
    ]
    torch.set_num_threads(args.threads)
    print(f"Training step, {args.inputs} -> {'-'.join(map(str, hidden))} -> 1, batch {args.batch}, "
          f"median of {rounds} rounds x {repeats} steps, every variant and thread count interleaved "
          "(ratio_to_dense: against the dense step with the same optimiser and threads)\n")
    print(markdown_table(rows, ["threads", "variant", "ms_per_step", "ratio_to_dense"]))
    print("\nSpectral step against the number of torch threads\n")
    print(markdown_table(thread_rows, ["threads", "ms_per_step", "dense_ms_per_step", "speedup_vs_1_thread"]))
    write_json(
        args.output,
        {
            "benchmark": "layer_overhead",
            "settings": {"inputs": args.inputs, "hidden": hidden, "batch": args.batch, "threads": thread_counts,
                         "repeats": repeats, "rounds": rounds, "quick": args.quick},
            "steps": rows,
            "threads": thread_rows,
            "target_ratio": 1.05,
            "environment": environment(),
        },
    )


if __name__ == "__main__":
    main()
