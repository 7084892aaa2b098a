"""Many small spectral regressors trained as one: the retrained networks of the error-vs-k curve.

The error-vs-k curve retrains a fresh
:class:`~stellar_relevance.SpectralRelevanceRegressor` on the
top-k pixels, and on random k, for every k: about two dozen small networks
that are independent of one another. Trained one after the other, each
spends most of its time in Python (a MILES network sees two mini-batches per
epoch). :func:`fit_predict_subsets` trains them together: the weights of the
networks are stacked along a leading axis and every layer becomes one
batched matrix product (:func:`torch.baddbmm`), so an epoch costs one pass
of Python for all of them.

Each network is the one the estimator would train on ``X[:, keep]`` alone:
the same weight initialisation (drawn from the same seed, for its own number
of inputs), the same validation split, the same mini-batch order, the same
per-network loss, penalty, proximal step and early stopping. Adam works
element by element, so one optimiser over the stacked weights is one
optimiser per network. Networks of different k are padded to the widest k
of their group with inputs, eigenvalues and eigenvectors that are exactly
zero, and stay zero (their gradients are zero); networks are grouped by k so
that padding costs little (:data:`BUCKET_RATIO`). The predictions agree with
the sequential fits to float tolerance (tested).
"""

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from stellar_relevance.estimators._base import _resolve_device, _seed_from
from stellar_relevance.nn.batches import ArrayBatches
from stellar_relevance.nn.distributed import batch_plan, spread, world
from stellar_relevance.nn.network import SpectralNetwork
from stellar_relevance.nn.proximal import _shrink_columns_, soft_threshold_
from stellar_relevance.nn.training import torch_threads

__all__ = ["fit_predict_subsets", "BatchedFit", "BUCKET_RATIO"]

logger = logging.getLogger(__name__)

#: networks share a group (one stacked training) while the smallest k of the group is at least
#: the largest divided by this ratio: padding then costs at most this factor on the first layer
BUCKET_RATIO = 4

_LOSSES = {
    "mae": nn.functional.l1_loss,
    "mse": nn.functional.mse_loss,
    "huber": nn.functional.huber_loss,
}


@dataclass
class BatchedFit:
    """What :func:`fit_predict_subsets` returns.

    Attributes
    ----------
    predictions : list of ndarray
        One per subset, in the order given: the predictions on ``X_test``,
        shape (n_test,) or (n_test, n_outputs) as ``y`` was given.
    best_epoch, stopped_epoch : ndarray of int
        Per subset: the epoch whose weights made the predictions, and the
        last epoch the network trained (as :class:`~stellar_relevance.nn.training.TrainingResult`).
    n_groups : int
        How many stacked trainings were run.

    Examples
    --------
    >>> import numpy as np
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> X = np.random.default_rng(1).normal(size=(80, 6))
    >>> est = SpectralRelevanceRegressor(hidden_layer_sizes=(4,), max_epochs=3, random_state=0)
    >>> fit = fit_predict_subsets(est, X[:60], X[:60, 0], X[60:], [[0], [1, 2], [3, 4, 5]])
    >>> len(fit.predictions), fit.predictions[0].shape, fit.n_groups
    (3, (20,), 1)
    """

    predictions: list
    best_epoch: np.ndarray
    stopped_epoch: np.ndarray
    n_groups: int


class _StackedNetworks(nn.Module):
    """``M`` :class:`SpectralNetwork` of the same shape but ``k_m <= width`` inputs, stacked.

    Input ``x`` of shape (M, batch, width), zero beyond each network's ``k_m``;
    output (M, batch, n_outputs).
    """

    def __init__(self, networks, width):
        super().__init__()
        first = networks[0]
        spectral = [net.spectral for net in networks]
        hidden = spectral[0].out_features
        eigenvalues = torch.zeros(len(networks), width)
        eigenvectors = torch.zeros(len(networks), hidden, width)
        for m, layer in enumerate(spectral):
            if layer.output_eigenvalues is not None or layer.bias is None:
                raise ValueError("stacked training needs spectral layers with a bias and no output eigenvalues")
            eigenvalues[m, : layer.in_features] = layer.eigenvalues.detach()
            eigenvectors[m, :, : layer.in_features] = layer.eigenvectors.detach()
        self.eigenvalues = nn.Parameter(eigenvalues)
        self.eigenvectors = nn.Parameter(eigenvectors)
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in spectral]))
        self.n_head, self.n_given = first.n_head, first.n_given
        self.steps = []  # ("linear", index) or ("module", module), the body in order
        weights, biases, modules = [], [], nn.ModuleList()
        for position, module in enumerate(first.body):
            if isinstance(module, nn.Linear):
                weights.append(nn.Parameter(torch.stack([net.body[position].weight.detach() for net in networks])))
                biases.append(nn.Parameter(torch.stack([net.body[position].bias.detach() for net in networks])))
                self.steps.append(("linear", len(weights) - 1))
            elif isinstance(module, (nn.BatchNorm1d, nn.Dropout)):
                raise ValueError(f"stacked training does not support {type(module).__name__} layers")
            else:
                modules.append(module)  # an activation: elementwise, any shape
                self.steps.append(("module", len(modules) - 1))
        self.weights, self.biases, self.modules_ = nn.ParameterList(weights), nn.ParameterList(biases), modules

    def forward(self, x, given=None):
        weight = self.eigenvectors * self.eigenvalues.unsqueeze(1)
        h = torch.baddbmm(self.bias.unsqueeze(1), x, weight.transpose(1, 2))
        for position, (kind, index) in enumerate(self.steps):
            if position == self.n_head and given is not None:
                h = torch.cat([h, given.to(h.dtype).unsqueeze(0).expand(len(h), -1, -1)], dim=-1)
            if kind == "linear":
                h = torch.baddbmm(self.biases[index].unsqueeze(1), h, self.weights[index].transpose(1, 2))
            else:
                h = self.modules_[index](h)
        return h

    @torch.no_grad()
    def proximal_step(self, penalty, threshold):
        """The proximal step of :mod:`stellar_relevance.nn.proximal`, for every network at once."""
        if penalty == "l2" or threshold <= 0:
            return
        if penalty == "l1":
            soft_threshold_(self.eigenvalues.data, threshold)
        else:
            norms = self.eigenvalues.abs() * torch.linalg.vector_norm(self.eigenvectors, dim=1)
            _shrink_columns_(self.eigenvalues.data, norms, threshold)


def _buckets(sizes, ratio=BUCKET_RATIO):
    """Groups of subset positions, widest first, each within ``ratio`` of its widest member."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    groups = []
    for i in order:
        if groups and sizes[i] * ratio >= sizes[groups[-1][0]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _gather(X, rows, columns, mask):
    """Rows ``rows`` of ``X`` (an :class:`~stellar_relevance.nn.batches.ArrayBatches`: gathered and scaled now),
    columns ``columns[m]`` for every network m, zero beyond its own k: shape (M, len(rows), width)."""
    block = X[rows][:, columns]  # (batch, M, width)
    return block.permute(1, 0, 2).mul(mask.unsqueeze(1)).contiguous()


def _optimizer(model, estimator):
    lam = 2.0 * estimator.eigenvalue_penalty if estimator.penalty == "l2" else 0.0
    others = [model.bias, *model.weights, *model.biases]
    return torch.optim.Adam(
        [
            {"params": [model.eigenvalues], "weight_decay": lam},
            {"params": [model.eigenvectors], "weight_decay": 2.0 * estimator.eigenvector_penalty},
            {"params": others, "weight_decay": 0.0},
        ],
        lr=estimator.learning_rate,
    )


def _losses(loss, output, target):
    """Mean loss of each network, shape (M,)."""
    return _LOSSES[loss](output, target.expand_as(output), reduction="none").mean(dim=(1, 2))


def _set_parameters(model, tensors):
    """Replace every parameter of ``model`` by a new one holding the matching tensor; {old: new}."""
    replaced = {}
    for (name, param), tensor in zip(list(model.named_parameters()), tensors):
        owner, attribute = model, name
        if "." in name:
            head, attribute = name.rsplit(".", 1)
            owner = model.get_submodule(head)
        new = nn.Parameter(tensor)
        if isinstance(owner, nn.ParameterList):
            owner[int(attribute)] = new
        else:
            setattr(owner, attribute, new)
        replaced[param] = new
    return replaced


def _keep(model, optimizer, keep, estimator):
    """Drop the stopped networks from the stack: new parameters holding the kept rows, and a new
    Adam whose moments (and step count) are the kept rows of the old one's. Returns the new optimizer."""
    with torch.no_grad():
        replaced = _set_parameters(model, [param.detach()[keep].clone() for param in model.parameters()])
        fresh = _optimizer(model, estimator)
        for old, new in replaced.items():
            state = optimizer.state.get(old)
            if state:
                fresh.state[new] = {key: (value[keep].clone() if key.startswith("exp_avg") else value.clone())
                                    for key, value in state.items()}
    return fresh


def _monitored_losses(model, estimator, X, y, G, positions, index, mask):
    """Mean loss of every network over the rows ``positions`` (float64, on the CPU)."""
    model.eval()
    total = torch.zeros(len(index), dtype=torch.float64, device=index.device)
    with torch.no_grad():
        for start in range(0, len(positions), 4096):
            rows = positions[start : start + 4096]
            out = model(_gather(X, rows, index, mask), None if G is None else G[rows])
            total += _losses(estimator.loss, out, y[rows].unsqueeze(0)).double() * len(rows)
    return (total / len(positions)).cpu()


def _train_group(estimator, networks, columns, X, y, G, train_pos, val_pos, X_test, G_test, seed, device, verbose):
    """Train the stacked networks of one group; predictions on ``X_test`` (scaled), best and stop epochs.

    A network that stops early is taken out of the stack (its best weights
    kept aside), so the others do not carry it to the end; not under
    ``torch.distributed``, whose DDP wrapper needs fixed parameter shapes.
    """
    width = max(len(c) for c in columns)
    model = _StackedNetworks(networks, width).to(device)
    full_index = torch.zeros(len(columns), width, dtype=torch.long)
    full_mask = torch.zeros(len(columns), width)
    for m, cols in enumerate(columns):
        full_index[m, : len(cols)] = torch.as_tensor(cols)
        full_mask[m, : len(cols)] = 1.0
    full_index, full_mask = full_index.to(device), full_mask.to(device)
    index, mask = full_index, full_mask
    optimizer = _optimizer(model, estimator)
    threshold = float(estimator.learning_rate) * float(estimator.eigenvalue_penalty)
    n_models = len(networks)
    live = torch.arange(n_models)  # the networks still in the stack, in stack order
    best_loss = torch.full((n_models,), float("inf"), dtype=torch.float64)
    since_best = torch.zeros(n_models, dtype=torch.long)
    best_epoch = torch.zeros(n_models, dtype=torch.long)
    stopped_epoch = torch.zeros(n_models, dtype=torch.long)
    best_state = [p.detach().clone() for p in model.parameters()]
    generator = torch.Generator().manual_seed(seed)
    plan = batch_plan(len(train_pos), min(int(estimator.batch_size), len(train_pos)), generator, device)
    stepped = plan.wrap(model)
    can_compact = stepped is model
    train_rows = torch.as_tensor(train_pos, device=device)
    val_rows = torch.as_tensor(val_pos, device=device)
    has_val = len(val_pos) > 0
    bar = tqdm(range(1, estimator.max_epochs + 1), desc=f"{n_models} networks, k <= {width}",
               disable=not verbose, leave=False)
    for epoch in bar:
        model.train()
        running, seen = torch.zeros(len(live), dtype=torch.float64, device=device), 0
        for rows, weight in plan.batches():
            rows = train_rows[rows]
            optimizer.zero_grad(set_to_none=True)
            losses = _losses(estimator.loss, stepped(_gather(X, rows, index, mask), None if G is None else G[rows]),
                             y[rows].unsqueeze(0))
            (losses.sum() if weight == 1.0 else losses.sum() * weight).backward()
            optimizer.step()
            model.proximal_step(estimator.penalty, threshold)
            running += losses.detach().double() * len(rows)
            seen += len(rows)
        stopped_epoch[live] = epoch
        if not estimator.early_stopping or epoch < estimator.min_epochs:
            continue
        if has_val:
            monitored = _monitored_losses(model, estimator, X, y, G, val_rows, index, mask)
        else:
            monitored = (running / seen).cpu()
        improved = monitored < best_loss[live]
        best_loss[live[improved]] = monitored[improved]
        best_epoch[live[improved]] = epoch
        since_best[live] = torch.where(improved, torch.zeros_like(monitored, dtype=torch.long), since_best[live] + 1)
        if improved.any():
            local, target = improved.to(device), live[improved].to(device)
            for saved, current in zip(best_state, model.parameters()):
                saved[target] = current.detach()[local]
        if not has_val:
            continue
        going = since_best[live] < estimator.n_iter_no_change
        if not going.any():
            break
        if can_compact and not going.all():
            logger.debug("epoch %d: %d of %d networks stopped early", epoch, int((~going).sum()), len(live))
            optimizer = _keep(model, optimizer, going.to(device), estimator)
            live, index, mask = live[going], index[going.to(device)], mask[going.to(device)]
    bar.close()
    with torch.no_grad():
        if estimator.early_stopping:
            untouched = (best_epoch[live] == 0).to(device)  # never reached min_epochs: its last weights
            for saved, current in zip(best_state, model.parameters()):
                saved[live.to(device)[untouched]] = current.detach()[untouched]
            best_epoch = torch.where(best_epoch > 0, best_epoch, stopped_epoch)
        else:
            for saved, current in zip(best_state, model.parameters()):
                saved.copy_(current.detach())
            best_epoch = stopped_epoch.clone()
    _set_parameters(model, best_state)
    model.eval()
    with torch.no_grad():
        outputs = [model(_gather(X_test, torch.arange(start, min(start + 8192, len(X_test)), device=device),
                                 full_index, full_mask), None if G_test is None else G_test[start : start + 8192]).cpu()
                   for start in range(0, len(X_test), 8192)]
    out = torch.cat(outputs, dim=1) if outputs else torch.zeros(n_models, 0, y.shape[1])
    return out.numpy().astype(np.float64), best_epoch.numpy(), stopped_epoch.numpy()


def fit_predict_subsets(estimator, X_train, y_train, X_test, subsets, *, given=None, given_test=None,
                        sample_index=None):
    """Train one copy of ``estimator`` per column subset, all at once, and predict ``X_test``.

    Equivalent (to float tolerance) to::

        [clone(estimator).fit(X_train[:, keep], y_train, given=given)
                         .predict(X_test[:, keep], given=given_test) for keep in subsets]

    with the networks trained together as stacked tensors (see the module
    docstring): the retrained error-vs-k curve uses it.

    Parameters
    ----------
    estimator : SpectralRelevanceRegressor
        Unfitted; its parameters (network, penalty, epochs, early stopping,
        scaling, ``random_state`` ...) define every network. ``device`` and
        ``n_threads`` are honoured.
    X_train : array-like of shape (n_samples, n_features)
    y_train : array-like of shape (n_samples,) or (n_samples, n_outputs)
    X_test : array-like of shape (n_test, n_features)
    subsets : sequence of array-like of int
        The columns of each network (each non-empty, within ``n_features``).
    given, given_test : array-like of shape (n_samples, n_given) / (n_test, n_given), optional
        Known labels fed after the spectral layer, as in the estimator's ``fit``.
    sample_index : array-like of int, optional
        Train on these rows of ``X_train`` (and of ``y_train``, ``given``)
        only, as the estimator's ``fit(..., sample_index=)``: the rows are
        gathered batch by batch, never copied whole.

    Returns
    -------
    BatchedFit

    Raises
    ------
    ValueError
        For an empty subset, a column outside ``X_train``, or ``given`` without ``given_test``.

    Notes
    -----
    Under ``torch.distributed`` (``stelrel rank --nproc``, ``torchrun``) the
    networks are dealt out over the processes, each trains its share alone
    (:func:`~stellar_relevance.nn.distributed.spread`) and every process gets
    every prediction: the same networks as in one process.

    Examples
    --------
    >>> import numpy as np
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> from stellar_relevance.estimators.stacked import fit_predict_subsets
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 12))
    >>> y = X[:, 0] - X[:, 1]
    >>> est = SpectralRelevanceRegressor(hidden_layer_sizes=(16,), max_epochs=30, batch_size=64, random_state=0)
    >>> fit = fit_predict_subsets(est, X[:250], y[:250], X[250:], [[0, 1], [5, 6, 7, 8]])
    >>> err = [float(np.mean(np.abs(p - y[250:]))) for p in fit.predictions]
    >>> err[0] < err[1]  # the two columns that make y beat four that do not
    True
    """
    sizes = estimator._check_params()
    loss = getattr(estimator, "loss", "mae")
    if loss not in _LOSSES:
        raise ValueError(f"loss {loss!r} is not supported by the stacked training; expected one of {sorted(_LOSSES)}")
    X_train, X_test = _as_2d(X_train), _as_2d(X_test)  # a memory map stays one (read batch by batch)
    n_features = X_train.shape[1]
    subsets = [np.asarray(keep, dtype=np.int64).ravel() for keep in subsets]
    for position, keep in enumerate(subsets):
        if keep.size == 0 or keep.min() < 0 or keep.max() >= n_features:
            raise ValueError(f"subset {position} must hold 1 or more column indices in 0..{n_features - 1}")
    if (given is None) != (given_test is None):
        raise ValueError("given and given_test go together")
    rows = estimator._check_sample_index(sample_index, len(X_train))
    rank, size = world()
    if size == 1:
        return _fit_subsets(estimator, sizes, X_train, y_train, X_test, subsets, given, given_test, rows)
    # several processes: each trains its share of the networks alone (widest first, dealt round-robin)
    order = np.argsort([-len(keep) for keep in subsets], kind="stable")
    shares = [order[r::size] for r in range(size)]
    parts = spread(shares, lambda share: _fit_subsets(estimator, sizes, X_train, y_train, X_test,
                                                      [subsets[i] for i in share], given, given_test, rows)
                   if len(share) else None)
    predictions = [None] * len(subsets)
    best = np.zeros(len(subsets), dtype=int)
    stopped = np.zeros(len(subsets), dtype=int)
    for share, part in zip(shares, parts):
        for m, i in enumerate(share):
            predictions[i], best[i], stopped[i] = part.predictions[m], part.best_epoch[m], part.stopped_epoch[m]
    return BatchedFit(predictions, best, stopped, sum(part.n_groups for part in parts if part is not None))


def _as_2d(X):
    X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-d array of spectra (n_samples, n_features), got shape {X.shape}")
    return X


def _fit_subsets(estimator, sizes, X_train, y_train, X_test, subsets, given, given_test, rows):
    """:func:`fit_predict_subsets` in this process alone (arguments checked), on the rows ``rows``."""
    y2 = np.asarray(y_train, dtype=np.float64).reshape(len(y_train), -1)[rows]
    seed = _seed_from(estimator.random_state)
    device = _resolve_device(estimator.device)
    probe = type(estimator)(**estimator.get_params())  # its _split and scaling, as a fit would do them
    probe._fit_input_scaling(X_train, rows)
    if estimator.target_scaling == "standard":
        offset = y2.mean(axis=0)
        scale = np.where(y2.std(axis=0) > 0, y2.std(axis=0), 1.0)
    else:
        offset, scale = np.zeros(y2.shape[1]), np.ones(y2.shape[1])
    train_pos, val_pos = probe._split(len(rows), seed)
    G = G_test = None
    if given is not None:
        G = torch.as_tensor(probe._fit_given(probe._check_given(given, len(X_train)), rows)[rows],
                            dtype=torch.float32, device=device)
        G_test = torch.as_tensor(probe._scale_given(probe._check_given(given_test, len(X_test))),
                                 dtype=torch.float32, device=device)
    Xt = ArrayBatches(X_train, rows, probe.input_offset_, probe.input_scale_, device)  # gathered per batch
    Xs = ArrayBatches(X_test, np.arange(len(X_test)), probe.input_offset_, probe.input_scale_, device)
    yt = torch.as_tensor((y2 - offset) / scale, dtype=torch.float32, device=device)
    n_given = 0 if G is None else G.shape[1]
    predictions = [None] * len(subsets)
    best = np.zeros(len(subsets), dtype=int)
    stopped = np.zeros(len(subsets), dtype=int)
    groups = _buckets([len(keep) for keep in subsets])
    logger.info("training %d networks in %d stacked group(s)", len(subsets), len(groups))
    with torch_threads(estimator.n_threads if device.type == "cpu" else None):
        for group in groups:
            networks = []
            for i in group:
                with torch.random.fork_rng(devices=[]):
                    torch.default_generator.manual_seed(seed)
                    networks.append(SpectralNetwork(len(subsets[i]), y2.shape[1], sizes,
                                                    activation=estimator.activation, n_given=n_given))
            out, best_g, stopped_g = _train_group(
                estimator, networks, [subsets[i] for i in group], Xt, yt, G, train_pos, val_pos, Xs, G_test,
                seed, device, estimator.verbose,
            )
            for m, i in enumerate(group):
                prediction = out[m] * scale + offset
                predictions[i] = prediction.ravel() if np.ndim(y_train) == 1 else prediction
                best[i], stopped[i] = best_g[m], stopped_g[m]
    return BatchedFit(predictions, best, stopped, len(groups))
