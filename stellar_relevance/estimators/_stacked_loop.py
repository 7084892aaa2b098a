"""The stacked training loop: ``M`` networks of one group trained as one model (see :mod:`.stacked`).

The loop is the one of :func:`~stellar_relevance.nn.training.train`, over a
leading network axis: the loss comes from the estimator's
``_loss_function`` (per network, ``reduction="none"``), the optimiser groups
from its ``_optimizer_groups``, checkpoints and stops from
:class:`~stellar_relevance.nn.core.EarlyStopping`, the proximal step from
:mod:`stellar_relevance.nn.proximal`.
"""

import logging

import numpy as np
import torch
from torch import nn

from stellar_relevance.nn.core import EarlyStopping, adam
from stellar_relevance.nn.distributed import batch_plan
from stellar_relevance.nn.proximal import adam_proximal_, penalty_strength

logger = logging.getLogger(__name__)


class StackedNetworks(nn.Module):
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
    def proximal_step(self, penalty, threshold, optimizer):
        """The proximal step of :mod:`stellar_relevance.nn.proximal`, for every network at once."""
        if penalty == "l2" or threshold <= 0:
            return
        adam_proximal_(self.eigenvalues, self.eigenvectors, penalty, threshold, optimizer)

    def optimizer(self, estimator):
        """Adam over the stack, grouped by the estimator's ``_optimizer_groups`` hook."""
        others = [self.bias, *self.weights, *self.biases]
        return adam(estimator._optimizer_groups([self.eigenvalues], self.eigenvectors, others), estimator.learning_rate)


def gather(X, rows, columns, mask):
    """Rows ``rows`` of ``X`` (an :class:`~stellar_relevance.nn.batches.ArrayBatches`: gathered and scaled now),
    columns ``columns[m]`` for every network m, zero beyond its own k: shape (M, len(rows), width)."""
    block = X[rows][:, columns]  # (batch, M, width)
    return block.permute(1, 0, 2).mul(mask.unsqueeze(1)).contiguous()


def _losses(loss_fn, output, target):
    """Mean loss of each network, shape (M,)."""
    return loss_fn(output, target.expand_as(output), reduction="none").mean(dim=(1, 2))


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
        fresh = model.optimizer(estimator)
        for old, new in replaced.items():
            state = optimizer.state.get(old)
            if state:
                fresh.state[new] = {key: (value[keep].clone() if key.startswith("exp_avg") else value.clone())
                                    for key, value in state.items()}
    return fresh


def _monitored_losses(model, loss_fn, X, y, G, positions, index, mask):
    """Mean loss of every network over the rows ``positions`` (float64, on the CPU)."""
    model.eval()
    total = torch.zeros(len(index), dtype=torch.float64, device=index.device)
    with torch.no_grad():
        for start in range(0, len(positions), 4096):
            rows = positions[start : start + 4096]
            out = model(gather(X, rows, index, mask), None if G is None else G[rows])
            total += _losses(loss_fn, out, y[rows].unsqueeze(0)).double() * len(rows)
    return (total / len(positions)).cpu()


def _columns(columns, width, device):
    """The column index of every network, padded to ``width``, and the mask of its real columns."""
    index = torch.zeros(len(columns), width, dtype=torch.long)
    mask = torch.zeros(len(columns), width)
    for m, cols in enumerate(columns):
        index[m, : len(cols)] = torch.as_tensor(cols)
        mask[m, : len(cols)] = 1.0
    return index.to(device), mask.to(device)


def train_group(estimator, networks, columns, data, seed, device, bar):
    """Train the stacked networks of one group; predictions on the test rows (scaled), best and stop epochs.

    ``data``: ``X``, ``y``, ``G`` (training rows, :class:`ArrayBatches` / tensors), ``train_pos``,
    ``val_pos``, ``X_test``, ``G_test``. ``bar``: a tqdm bar counting network-epochs.

    A network that stops early is taken out of the stack (its best weights
    kept aside), so the others do not carry it to the end; not under
    ``torch.distributed``, whose DDP wrapper needs fixed parameter shapes.
    """
    X, y, G = data.X, data.y, data.G
    width = max(len(c) for c in columns)
    model = StackedNetworks(networks, width).to(device)
    full_index, full_mask = _columns(columns, width, device)
    index, mask = full_index, full_mask
    optimizer = model.optimizer(estimator)
    loss_fn = estimator._loss_function()
    threshold = float(estimator.learning_rate) * float(penalty_strength(estimator.penalty, estimator.eigenvalue_penalty))
    n_models, max_epochs = len(networks), int(estimator.max_epochs)
    live = torch.arange(n_models)  # the networks still in the stack, in stack order
    stopped_epoch = torch.zeros(n_models, dtype=torch.long)
    best_state = [p.detach().clone() for p in model.parameters()]
    generator = torch.Generator().manual_seed(seed)
    plan = batch_plan(len(data.train_pos), min(int(estimator.batch_size), len(data.train_pos)), generator, device)
    stepped = plan.wrap(model)
    can_compact = stepped is model
    train_rows = torch.as_tensor(data.train_pos, device=device)
    val_rows = torch.as_tensor(data.val_pos, device=device)
    has_val = len(data.val_pos) > 0
    rule = EarlyStopping(n_models, estimator.early_stopping, estimator.min_epochs, estimator.n_iter_no_change,
                         has_val)
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        running, seen = torch.zeros(len(live), dtype=torch.float64, device=device), 0
        for rows, weight in plan.batches():
            rows = train_rows[rows]
            optimizer.zero_grad(set_to_none=True)
            losses = _losses(loss_fn, stepped(gather(X, rows, index, mask), None if G is None else G[rows]),
                             y[rows].unsqueeze(0))
            (losses.sum() if weight == 1.0 else losses.sum() * weight).backward()
            optimizer.step()
            model.proximal_step(estimator.penalty, threshold, optimizer)
            running += losses.detach().double() * len(rows)
            seen += len(rows)
        stopped_epoch[live] = epoch
        bar.update(len(live))
        if not rule.watching(epoch):
            continue
        monitored = (_monitored_losses(model, loss_fn, X, y, G, val_rows, index, mask) if has_val
                     else (running / seen).cpu())
        improved, going = rule.update(epoch, monitored, live)
        if improved.any():
            local, target = improved.to(device), live[improved].to(device)
            for saved, current in zip(best_state, model.parameters()):
                saved[target] = current.detach()[local]
        if not going.any():
            break
        if can_compact and not going.all():
            logger.debug("epoch %d: %d of %d networks stopped early", epoch, int((~going).sum()), len(live))
            bar.update(int((~going).sum()) * (max_epochs - epoch))
            optimizer = _keep(model, optimizer, going.to(device), estimator)
            live, index, mask = live[going], index[going.to(device)], mask[going.to(device)]
    bar.update(len(live) * (max_epochs - epoch))
    with torch.no_grad():
        # the last weights of the networks without a checkpoint (no early stopping, or never past min_epochs)
        last = (rule.best_epoch[live] == 0).to(device)
        for saved, current in zip(best_state, model.parameters()):
            saved[live.to(device)[last]] = current.detach()[last]
    best_epoch = rule.final_epochs(stopped_epoch)
    _set_parameters(model, best_state)
    model.eval()
    X_test, G_test = data.X_test, data.G_test
    with torch.no_grad():
        outputs = [model(gather(X_test, torch.arange(start, min(start + 8192, len(X_test)), device=device),
                                full_index, full_mask), None if G_test is None else G_test[start : start + 8192]).cpu()
                   for start in range(0, len(X_test), 8192)]
    out = torch.cat(outputs, dim=1) if outputs else torch.zeros(n_models, 0, y.shape[1])
    return out.numpy().astype(np.float64), best_epoch.numpy(), stopped_epoch.numpy()
