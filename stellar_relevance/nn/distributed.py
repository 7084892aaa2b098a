"""Several processes, one training: ``torch.distributed`` with ``DistributedDataParallel``.

Started by ``torchrun`` (``torchrun --nproc-per-node 2 -m stellar_relevance.cli rank ...``)
or by ``stelrel rank --nproc 2``, which launches the same command through
torch's elastic launcher (:func:`launch`). Every process runs the whole
pipeline on the same data with the same seed; :func:`~stellar_relevance.nn.training.train`
asks :func:`batch_plan` for its mini-batches: each process takes its share
of every global batch (a :class:`~torch.utils.data.DistributedSampler`-style
split of one shuffled order) and :class:`~torch.nn.parallel.DistributedDataParallel`
averages the gradients. ``P`` processes at ``batch_size=B`` see the same
``P * B`` spectra per step as one process at ``batch_size=P * B`` (the same
network to float tolerance). Only rank 0 writes (:func:`is_main_process`).

Backends: gloo on CPU, NCCL on CUDA (one GPU per process, ``LOCAL_RANK``).
"""

import logging
import os
import signal
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

import torch

from stellar_relevance.exceptions import ParameterError, StelrelError

__all__ = ["world", "is_main_process", "init_from_environment", "batch_plan", "launch", "check_nproc",
           "available_slots", "drop_option", "LaunchError", "local_training", "spread"]

logger = logging.getLogger(__name__)


def world():
    """``(rank, world_size)`` of the running process group, or ``(0, 1)`` without one.

    Returns
    -------
    tuple of int
        This process's rank and the number of processes.

    Examples
    --------
    >>> world()  # no process group: one process
    (0, 1)
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def is_main_process():
    """True in rank 0 (or without a process group): the process that writes outputs.

    Returns
    -------
    bool
        Whether this process writes.

    Examples
    --------
    >>> is_main_process()
    True
    """
    return world()[0] == 0


def init_from_environment(device="auto", timeout_s=600):
    """Join the process group ``torchrun`` describes (``WORLD_SIZE``, ``RANK``, ``MASTER_ADDR`` ...).

    Does nothing (returns False) when ``WORLD_SIZE`` is unset or 1. The
    backend is NCCL when ``device`` resolves to CUDA, else gloo; with CUDA
    each process takes GPU ``LOCAL_RANK``.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where training runs (picks the backend).
    timeout_s : float, default=600
        How long a collective operation may wait for the other processes.

    Returns
    -------
    bool
        Whether a process group is now initialised.

    Examples
    --------
    Outside ``torchrun`` (no ``WORLD_SIZE``) there is nothing to join:

    >>> os.environ.get("WORLD_SIZE"), init_from_environment()
    (None, False)

    The script :func:`launch` runs in each process joins with it (see there).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if torch.distributed.is_initialized():
        return True
    cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    torch.distributed.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(seconds=timeout_s))
    rank, size = world()
    logger.info("process %d of %d joined the %s process group", rank, size, "nccl" if cuda else "gloo")
    return True


#: True inside :func:`local_training` (per thread and asyncio task, as every context variable)
_training_alone = ContextVar("stellar_relevance_training_alone", default=False)


@contextmanager
def local_training():
    """Within this block :func:`batch_plan` ignores the process group: this process trains alone.

    :func:`spread` uses it to give each process whole networks of its own.
    The state is a :class:`contextvars.ContextVar`, set for this block and
    reset when it ends, so another thread is not affected.

    Examples
    --------
    >>> with local_training():
    ...     plan = batch_plan(4, 2)
    >>> plan.size, batch_plan(4, 2).size
    (1, 1)
    """
    token = _training_alone.set(True)
    try:
        yield
    finally:
        _training_alone.reset(token)


def spread(tasks, run):
    """``[run(task) for task in tasks]``, the tasks dealt round-robin over the processes of the group.

    Without a process group (or with one process) it is that list. Under
    ``torch.distributed``, process ``r`` of ``P`` runs tasks ``r, r + P,
    ...`` alone (:func:`local_training`: no gradient exchange), and every
    process receives every result (``all_gather_object``: the results must
    pickle), in task order. For independent networks, such as the seeds of
    an ensemble or the retrained networks of the error curve: each is then
    exactly the network one process would train.

    Parameters
    ----------
    tasks : sequence
    run : callable
        ``run(task) -> result``.

    Returns
    -------
    list
        The results, in the order of ``tasks``, in every process.

    Examples
    --------
    >>> spread([1, 2, 3], lambda x: x * x)
    [1, 4, 9]
    """
    tasks = list(tasks)
    rank, size = world()
    if size == 1:
        return [run(task) for task in tasks]
    with local_training():
        mine = {i: run(task) for i, task in enumerate(tasks) if i % size == rank}
    logger.info("process %d of %d ran %d of %d independent tasks", rank, size, len(mine), len(tasks))
    gathered = [None] * size
    torch.distributed.all_gather_object(gathered, mine)
    merged = {}
    for part in gathered:
        merged.update(part)
    return [merged[i] for i in range(len(tasks))]


class _Plan:
    """The batches of one epoch for this process, and the network to step (DDP-wrapped under a group)."""

    def __init__(self, n, batch_size, generator, device):
        self.n, self.batch_size, self.generator, self.device = n, int(batch_size), generator, device
        self.rank, self.size = (0, 1) if _training_alone.get() else world()

    def wrap(self, network):
        if self.size == 1:
            return network
        device_ids = [self.device.index] if self.device is not None and self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(network, device_ids=device_ids)

    def batches(self):
        """``(index, weight)`` pairs: the rows of this process's share of each global batch.

        One process: the shuffled order cut in ``batch_size`` slices (weight
        1). ``P`` processes: the same order (every process
        shuffles with the same generator state), cut in global batches of
        ``P * batch_size`` rows, each dealt out round-robin as
        :class:`~torch.utils.data.DistributedSampler` deals indices; the loss
        weight ``P * len(share) / len(global batch)`` makes DDP's average of
        the per-process mean losses the mean over the global batch, also for
        a last batch that does not split evenly.
        """
        order = torch.randperm(self.n, generator=self.generator).to(self.device)
        step = self.batch_size * self.size
        for start in range(0, self.n, step):
            chunk = order[start : start + step]
            if self.size == 1:
                yield chunk, 1.0
                continue
            share = chunk[self.rank :: self.size]
            if len(share) == 0:  # fewer rows than processes: take a row with zero weight (DDP needs every rank)
                yield chunk[:1], 0.0
                continue
            yield share, self.size * len(share) / len(chunk)


def batch_plan(n, batch_size, generator=None, device=None):
    """The mini-batches of one epoch for this process (see :class:`_Plan`).

    Examples
    --------
    >>> plan = batch_plan(5, 2, torch.Generator().manual_seed(0))
    >>> [len(index) for index, weight in plan.batches()]
    [2, 2, 1]
    """
    return _Plan(n, batch_size, generator, None if device is None else torch.device(device))


def available_slots(device="auto"):
    """How many processes this machine can run: GPUs when CUDA is used, else CPU cores.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where training runs.

    Returns
    -------
    int
        The CUDA devices, or the CPU cores this process may use.

    Examples
    --------
    >>> available_slots("cpu") >= 1
    True
    """
    if device in ("auto", "cuda") and torch.cuda.is_available():
        return torch.cuda.device_count()
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def check_nproc(nproc, device="auto"):
    """Refuse more processes than :func:`available_slots` (a `ParameterError` naming ``nproc``).

    Parameters
    ----------
    nproc : int
        The processes asked for.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where training runs.

    Returns
    -------
    int
        ``nproc``.

    Raises
    ------
    ParameterError
        When ``nproc`` is below 1 or above :func:`available_slots`.

    Examples
    --------
    >>> check_nproc(1, "cpu")
    1
    >>> check_nproc(0, "cpu")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.ParameterError: nproc must be between 1 and the ... CPU cores available, got 0
    """
    slots = available_slots(device)
    if int(nproc) < 1 or int(nproc) > slots:
        kind = "GPUs" if device in ("auto", "cuda") and torch.cuda.is_available() else "CPU cores"
        raise ParameterError("nproc", f"must be between 1 and the {slots} {kind} available, got {nproc}")
    return int(nproc)


def drop_option(argv, option):
    """``argv`` without ``option`` and its value (``--nproc 2`` or ``--nproc=2``).

    Examples
    --------
    >>> drop_option(["rank", "miles", "--nproc", "2", "--seed", "1"], "--nproc")
    ['rank', 'miles', '--seed', '1']
    """
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == option:
            skip = True
        elif not item.startswith(option + "="):
            out.append(item)
    return out


class LaunchError(StelrelError, RuntimeError):
    """A worker process of :func:`launch` failed; the others were stopped.

    Examples
    --------
    >>> issubclass(LaunchError, StelrelError), issubclass(LaunchError, RuntimeError)
    (True, True)

    :func:`launch` raises it naming the rank that failed (see there).
    """


def launch(argv, nproc, device="auto", module="stellar_relevance.cli"):
    """Run ``python -m module *argv`` in ``nproc`` processes with torch's elastic launcher (what ``torchrun`` runs).

    With ``module=None``, ``argv[0]`` is a script: ``python *argv``.

    One node, a free local port for the c10d rendezvous, no restarts: when a
    process dies the launcher stops the others and this raises
    :class:`LaunchError` naming the failed rank and its exit code. Ctrl-C
    stops the processes (each is sent SIGINT) and raises
    :class:`KeyboardInterrupt`; the signal handlers are restored on return.

    Parameters
    ----------
    argv : list of str
        The arguments of ``python -m module`` (or the script and its arguments).
    nproc : int
        How many processes (:func:`check_nproc`).
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where training runs.
    module : str or None, default="stellar_relevance.cli"
        The module to run; None runs the script ``argv[0]``.

    Raises
    ------
    LaunchError
        When a process fails.
    ParameterError
        When ``nproc`` is out of range.
    KeyboardInterrupt
        On Ctrl-C (SIGINT).

    Examples
    --------
    Each process sees ``RANK`` and ``WORLD_SIZE`` (what
    :func:`init_from_environment` reads):

    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> script = folder / "hello.py"
    >>> _ = script.write_text("import os, sys, pathlib; pathlib.Path(sys.argv[1], 'rank' + os.environ['RANK']).touch()")
    >>> launch([str(script), str(folder)], nproc=1, device="cpu", module=None)
    >>> sorted(p.name for p in folder.iterdir())
    ['hello.py', 'rank0']
    >>> _ = script.write_text("raise SystemExit(3)")
    >>> launch([str(script)], nproc=1, device="cpu", module=None)
    Traceback (most recent call last):
    ...
    stellar_relevance.nn.distributed.LaunchError: rank 0 (exit code 3) of 1 processes failed; the other processes were stopped and nothing was written
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    nproc = check_nproc(nproc, device)
    # as torchrun does: unless told otherwise, the processes share the cores instead of each taking all of them
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, available_slots("cpu") // nproc)))
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"stelrel-{os.getpid()}",
        rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.5,
    )
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}
    try:
        elastic_launch(config, sys.executable)(*(["-m", module] if module else []), *argv)
    except SignalException as exc:  # the launcher's handler of SIGINT, SIGTERM ... (the processes are stopped)
        if exc.sigval == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise LaunchError(f"stopped by {signal.Signals(exc.sigval).name}; nothing was written") from None
    except ChildFailedError as exc:
        # the launcher stops the survivors with SIGTERM: report the processes that failed first
        failed = sorted(exc.failures.items())
        root = [(rank, f) for rank, f in failed if f.exitcode != -signal.SIGTERM] or failed
        names = ", ".join(f"rank {rank} (exit code {f.exitcode})" for rank, f in root)
        raise LaunchError(f"{names} of {nproc} processes failed; the other processes were stopped and "
                          "nothing was written") from None
    finally:
        for sig, handler in handlers.items():  # the launcher installs its own and leaves them
            if handler is not None:
                signal.signal(sig, handler)
