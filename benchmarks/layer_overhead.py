"""Cost of the spectral first layer against a dense one, and of torch threads.

Times one training step (forward + backward + Adam step) of the same MLP
with ``SpectralLinear`` and with ``nn.Linear`` as first layer, in the same
process, interleaved (A B A B ...), so that machine load hits both alike.
Also times the two naive formulations the fused layer replaces, and the
spectral step with 1 and 2 torch threads.

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
from stellar_relevance.layers import SpectralLinear
from stellar_relevance.training import make_optimizer


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
    if variant == "dense":
        net = _mlp(nn.Linear(n_in, hidden[0]), hidden)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        penalty = None
    elif variant == "spectral (fused)":
        first = SpectralLinear(n_in, hidden[0])
        net = _mlp(first, hidden)
        opt = make_optimizer(SimpleNamespace(spectral=first, parameters=net.parameters), 1e-3, c_lambda, c_psi)
        penalty = None
    else:
        first = (_NaiveScaledInput if variant == "naive x*lambda" else _NaiveWeight)(n_in, hidden[0])
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
    """Median seconds per step of each variant, interleaved over ``rounds``."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x = torch.randn(batch, n_in)
    y = torch.randn(batch, 1)
    steps = {name: _step_function(name, n_in, hidden) for name in variants}
    for step in steps.values():  # warm-up
        for _ in range(3):
            step(x, y)
    samples = {name: [] for name in variants}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(repeats):
                step(x, y)
            samples[name].append((time.perf_counter() - start) / repeats)
    return {name: float(np.median(s)) for name, s in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, "benchmarks/results/layer_overhead.json", default_seeds=1)
    parser.add_argument("--inputs", type=int, default=4300)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    hidden = (200, 50, 50)
    repeats, rounds = (3, 5) if args.quick else (10, 15)
    variants = ["dense", "spectral (fused)", "naive x*lambda", "naive W=psi*lambda"]
    times = time_variants(variants, args.inputs, hidden, args.batch, repeats, rounds, args.threads)
    rows = [
        {"variant": name, "ms_per_step": 1e3 * t, "ratio_to_dense": t / times["dense"]}
        for name, t in times.items()
    ]
    thread_rows = []
    for threads in (1, 2):
        t = time_variants(["spectral (fused)"], args.inputs, hidden, args.batch, repeats, max(3, rounds // 3), threads)
        thread_rows.append({"threads": threads, "ms_per_step": 1e3 * t["spectral (fused)"]})
    torch.set_num_threads(args.threads)
    print(f"Training step, {args.inputs} -> {'-'.join(map(str, hidden))} -> 1, batch {args.batch}, "
          f"{args.threads} thread(s), median of {rounds} interleaved rounds x {repeats} steps\n")
    print(markdown_table(rows, ["variant", "ms_per_step", "ratio_to_dense"]))
    print("\nSpectral step against the number of torch threads\n")
    print(markdown_table(thread_rows, ["threads", "ms_per_step"]))
    write_json(
        args.output,
        {
            "benchmark": "layer_overhead",
            "settings": {"inputs": args.inputs, "hidden": hidden, "batch": args.batch, "threads": args.threads,
                         "repeats": repeats, "rounds": rounds, "quick": args.quick},
            "steps": rows,
            "threads": thread_rows,
            "target_ratio": 1.05,
            "environment": environment(),
        },
    )


if __name__ == "__main__":
    main()
