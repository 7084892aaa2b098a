"""The training loop: a plain function over tensors, with early stopping.

The estimators in :mod:`stellar_relevance.estimators` prepare the data and
call :func:`train`; a custom pipeline can call it directly with any
:class:`~stellar_relevance.nn.network.SpectralNetwork`.
"""

import copy
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from stellar_relevance.nn.core import EarlyStopping, make_optimizer
from stellar_relevance.nn.distributed import batch_plan
from stellar_relevance.nn.proximal import penalty_strength, penalty_value, proximal_step

logger = logging.getLogger(__name__)

#: relevance below this fraction of the largest counts as "switched off" in the history
SPARSITY_THRESHOLD = 1e-2


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes
    ----------
    history : list of dict
        One record per epoch: ``epoch`` (1-based), ``train_loss`` (data loss,
        mean over batches), ``val_loss`` (None without validation data),
        ``penalty`` (the spectral penalty at the end of the epoch),
        ``sparsity`` (fraction of inputs whose relevance is below
        1 % of the largest) and ``seconds``.
    best_epoch : int
        The epoch whose weights the network holds on return.
    stopped_epoch : int
        The last epoch run.
    """

    history: list = field(default_factory=list)
    best_epoch: int = 0
    stopped_epoch: int = 0


#: float32 copies of the parameters alive while training: weights, gradients, Adam's two moments,
#: the best-epoch checkpoint, and one weight-sized temporary of the spectral layer's forward/backward.
TRAINING_COPIES = 6


def training_memory_bytes(n_features, n_outputs, hidden_layer_sizes, batch_size):
    """About how many bytes training a :class:`~stellar_relevance.nn.network.SpectralNetwork` needs.

    Counts :data:`TRAINING_COPIES` float32 copies of the parameters and the
    activations of one batch (forward and backward); the data themselves are
    not included. A lower bound meant to catch impossible sizes before
    anything is allocated, not an exact figure.

    Examples
    --------
    >>> round(training_memory_bytes(4300, 1, (200, 50, 50), 128) / 2**20, 1)  # MiB
    29.1
    """
    from stellar_relevance.nn.network import count_parameters

    n_params = count_parameters(n_features, n_outputs, hidden_layer_sizes)
    activations = 4 * int(batch_size) * (int(n_features) + sum(int(h) for h in hidden_layer_sizes))
    return 4 * (TRAINING_COPIES * n_params + activations)


def _cgroup_free_bytes():
    """Memory left under this process's cgroup (v2) limit, or None without one."""
    try:
        limit = open("/sys/fs/cgroup/memory.max").read().strip()
        if limit == "max":
            return None
        used = int(open("/sys/fs/cgroup/memory.current").read())
        return max(int(limit) - used, 0)
    except (OSError, ValueError):
        return None


def available_memory_bytes(device):
    """Bytes of memory free for a new network on ``device`` (a ``torch.device``), or None if unknown.

    CUDA: the device's free memory (``torch.cuda.mem_get_info``). CPU:
    ``MemAvailable`` of ``/proc/meminfo`` (Linux; the physical memory
    elsewhere), and no more than a cgroup limit leaves.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    free = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if free is None:
        try:
            free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return None
    cgroup = _cgroup_free_bytes()
    return free if cgroup is None else min(free, cgroup)


@contextmanager
def torch_threads(n_threads):
    """Run a block with ``torch.set_num_threads(n_threads)``, then restore."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _apply(network, xb):
    """``network(xb)``, or ``network(x, given)`` for the ``(x, given)`` batches of :class:`ArrayBatches`."""
    return network(*xb) if isinstance(xb, tuple) else network(xb)


def _mean_loss(network, loss_fn, X, y, batch_size):
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            total += float(loss_fn(_apply(network, xb), yb)) * len(yb)
            count += len(yb)
    return total / count


def train(
    network,
    X,
    y,
    X_val=None,
    y_val=None,
    *,
    loss_fn,
    learning_rate=1e-3,
    eigenvalue_penalty=None,
    eigenvector_penalty=1e-4,
    penalty="l2",
    max_epochs=200,
    batch_size=500,
    early_stopping=True,
    n_iter_no_change=50,
    min_epochs=0,
    generator=None,
    verbose=0,
    description="training",
):
    """Train a spectral network with Adam, the spectral penalty and early stopping.

    Parameters
    ----------
    network : SpectralNetwork
        Any module with a ``spectral`` attribute (:class:`SpectralLinear`).
        Trained in place.
    X, y : torch.Tensor or stellar_relevance.nn.batches.ArrayBatches
        Training inputs and targets, already on the network's device, or
        inputs gathered batch by batch from a (memory-mapped) array by
        :class:`~stellar_relevance.nn.batches.ArrayBatches`.
    X_val, y_val : torch.Tensor, stellar_relevance.nn.batches.ArrayBatches or None
        Validation data for early stopping and checkpoint selection.
    loss_fn : callable
        ``loss_fn(output, target) -> scalar tensor`` (mean over the batch).
    learning_rate : float
    eigenvalue_penalty : float or None
        ``c_lambda``; None: the default of ``penalty``
        (:data:`~stellar_relevance.nn.proximal.DEFAULT_STRENGTHS`).
    eigenvector_penalty : float
        ``c_psi``.
    penalty : {"l2", "l1", "group"}
        ``"l2"``: the paper's ``c_lambda * sum(lambda**2)`` through Adam's
        weight decay. ``"l1"`` / ``"group"``: a proximal step in Adam's
        metric after every optimiser step, which sets eigenvalues exactly to
        zero (:func:`~stellar_relevance.nn.proximal.proximal_step`).
    max_epochs : int
    batch_size : int
    early_stopping : bool
        With validation data: keep the weights of the epoch with the lowest
        validation loss reached at or after ``min_epochs``, and stop after
        ``n_iter_no_change`` epochs without improvement.
    n_iter_no_change : int
    min_epochs : int
        No checkpoint is taken and no stop made before this epoch, so that
        the eigenvalues have time to become sparse.
    generator : torch.Generator or None
        Source of the batch shuffling (CPU generator).
    verbose : int
        0: silent; 1 or more: a tqdm bar over epochs with the losses.
    description : str
        Label of the progress bar.

    Returns
    -------
    TrainingResult

    Examples
    --------
    >>> import torch
    >>> from stellar_relevance import build_network, train
    >>> generator = torch.Generator().manual_seed(0)
    >>> X = torch.randn(200, 20, generator=generator)
    >>> y = 2.0 * X[:, :1]
    >>> net = build_network(20, 1, hidden_layer_sizes=(16,))
    >>> result = train(net, X, y, loss_fn=torch.nn.functional.l1_loss, max_epochs=5, batch_size=50,
    ...                generator=generator)
    >>> len(result.history), result.stopped_epoch, sorted(result.history[0])[:3]
    (5, 5, ['epoch', 'penalty', 'seconds'])
    """
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be >= 1, got {max_epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    eigenvalue_penalty = penalty_strength(penalty, eigenvalue_penalty)
    optimizer = make_optimizer(network, learning_rate, eigenvalue_penalty, eigenvector_penalty, penalty)
    threshold = float(learning_rate) * float(eigenvalue_penalty)
    n = len(X)
    batch_size = min(int(batch_size), n)
    has_val = X_val is not None and len(X_val) > 0
    result = TrainingResult()
    best_state = None
    rule = EarlyStopping(1, early_stopping, min_epochs, n_iter_no_change, has_val)
    bar = tqdm(range(1, max_epochs + 1), desc=description, disable=not verbose, leave=False)
    plan = batch_plan(n, batch_size, generator, X.device)  # this process's share under torch.distributed
    model = plan.wrap(network)
    for epoch in bar:
        started = time.perf_counter()
        network.train()
        running, seen = 0.0, 0
        for index, weight in plan.batches():
            xb, yb = X[index], y[index]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(_apply(model, xb), yb)
            (loss if weight == 1.0 else loss * weight).backward()
            optimizer.step()
            proximal_step(network.spectral, penalty, threshold, optimizer)
            running += loss.detach() * len(index)
            seen += len(index)
        train_loss = float(running) / seen
        network.eval()
        val_loss = _mean_loss(network, loss_fn, X_val, y_val, max(batch_size, 4096)) if has_val else None
        with torch.no_grad():
            spectral = network.spectral
            penalty_now = penalty_value(spectral, penalty, eigenvalue_penalty, eigenvector_penalty)
            relevance = spectral.relevance()
            peak = float(relevance.max())
            sparsity = float((relevance < SPARSITY_THRESHOLD * peak).float().mean()) if peak > 0 else 1.0
        record = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "penalty": penalty_now,
            "sparsity": sparsity,
            "seconds": time.perf_counter() - started,
        }
        result.history.append(record)
        result.stopped_epoch = epoch
        if verbose:
            bar.set_postfix(train=f"{train_loss:.4g}", val="-" if val_loss is None else f"{val_loss:.4g}")
        if not rule.watching(epoch):
            continue
        improved, going = rule.update(epoch, torch.tensor([val_loss if has_val else train_loss], dtype=torch.float64))
        if improved[0]:
            best_state = copy.deepcopy(network.state_dict())
        if not going[0]:
            logger.info("early stop at epoch %d (best %d)", epoch, int(rule.best_epoch[0]))
            break
    bar.close()
    if best_state is not None:
        network.load_state_dict(best_state)
    result.best_epoch = int(rule.final_epochs(torch.tensor([result.stopped_epoch]))[0])
    network.eval()
    return result
