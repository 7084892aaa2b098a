"""What every training loop shares: the loss table, the optimiser groups and the early-stopping rule.

:func:`~stellar_relevance.nn.training.train` (one network) and the stacked
training of :mod:`stellar_relevance.estimators.stacked` (many networks at
once) both take their loss from :data:`LOSSES`, their Adam parameter groups
from :func:`optimizer_groups` and their checkpoints and stops from
:class:`EarlyStopping`, so the two loops cannot drift apart.
"""

import torch
from torch.nn import functional

from stellar_relevance.exceptions import ParameterError
from stellar_relevance.nn.proximal import check_penalty

__all__ = ["LOSSES", "REGRESSION_LOSSES", "loss_function", "optimizer_groups", "adam", "make_optimizer",
           "EarlyStopping"]

#: the data losses by name: ``fn(output, target, reduction="mean")`` (torch's functional losses)
LOSSES = {
    "mae": functional.l1_loss,
    "mse": functional.mse_loss,
    "huber": functional.huber_loss,
    "cross_entropy": functional.cross_entropy,
}

#: the losses a regressor accepts (``loss=``)
REGRESSION_LOSSES = ("mae", "mse", "huber")


def loss_function(name, choices=REGRESSION_LOSSES):
    """The loss called ``name`` from :data:`LOSSES` (a `ParameterError` naming ``loss`` unless in ``choices``).

    Examples
    --------
    >>> loss_function("mse").__name__
    'mse_loss'
    >>> loss_function("l3")
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.ParameterError: loss 'l3': unknown loss; expected one of ('mae', 'mse', 'huber')
    """
    if not isinstance(name, str) or name not in choices:
        raise ParameterError("loss", f"{name!r}: unknown loss; expected one of {tuple(choices)}")
    return LOSSES[name]


def optimizer_groups(eigenvalues, eigenvectors, others, eigenvalue_penalty, eigenvector_penalty, penalty="l2"):
    """Adam's parameter groups with the spectral penalties as weight decay.

    ``torch.optim.Adam(weight_decay=w)`` adds ``w * p`` to the gradient before
    the moment estimates, which is exactly the gradient of
    ``(w / 2) * sum(p**2)``. So ``weight_decay = 2 * c`` on the eigenvalues
    and eigenvectors is the paper's penalty ``c_lambda * sum(lambda**2) +
    c_psi * sum(psi**2)`` added to the loss at every batch, without an
    autograd pass for it. With ``penalty="l1"`` or ``"group"`` the
    eigenvalues get no weight decay: their penalty is a proximal step
    (:mod:`stellar_relevance.nn.proximal`); ``psi`` keeps its squared-L2 decay.

    Parameters
    ----------
    eigenvalues : sequence of torch.nn.Parameter
        The eigenvalue tensors (of one layer, or of a stack of layers).
    eigenvectors : torch.nn.Parameter
        The eigenvectors.
    others : sequence of torch.nn.Parameter
        Every other trained parameter (no weight decay).
    eigenvalue_penalty, eigenvector_penalty : float
        ``c_lambda`` and ``c_psi``, ``>= 0``.
    penalty : {"l2", "l1", "group"}, default="l2"

    Returns
    -------
    list of dict
        Three groups: eigenvalues, eigenvectors, the others.

    Examples
    --------
    >>> import torch
    >>> lam, psi, bias = (torch.nn.Parameter(torch.ones(2)) for _ in range(3))
    >>> [g["weight_decay"] for g in optimizer_groups([lam], psi, [bias], 0.5, 1e-4, penalty="l1")]
    [0.0, 0.0002, 0.0]
    """
    check_penalty(penalty)
    if eigenvalue_penalty < 0 or eigenvector_penalty < 0:
        raise ValueError(
            "penalties must be >= 0, got "
            f"eigenvalue_penalty={eigenvalue_penalty}, eigenvector_penalty={eigenvector_penalty}"
        )
    return [
        {"params": list(eigenvalues), "weight_decay": 2.0 * eigenvalue_penalty if penalty == "l2" else 0.0},
        {"params": [eigenvectors], "weight_decay": 2.0 * eigenvector_penalty},
        {"params": list(others), "weight_decay": 0.0},
    ]


#: devices on which torch's fused Adam runs (one kernel per step instead of a Python loop over the tensors)
FUSED_DEVICES = ("cpu", "cuda")


def adam(groups, learning_rate):
    """``torch.optim.Adam`` over ``groups``, fused where torch offers it.

    The fused kernel does Adam's update (with the coupled weight decay) in
    one pass per step; on the CPU it is about 3 times faster than the
    per-tensor loop for a 4300 -> 200 layer. It computes the same update in
    a different order of floating-point operations, so the weights agree
    with the unfused optimiser to rounding, not bit for bit; the same seed
    still gives the same weights on the same machine.

    Parameters
    ----------
    groups : list of dict
        Parameter groups, as :func:`optimizer_groups` gives them.
    learning_rate : float

    Returns
    -------
    torch.optim.Adam

    Examples
    --------
    >>> opt = adam([{"params": [torch.nn.Parameter(torch.zeros(3))]}], 1e-3)
    >>> opt.defaults["fused"]
    True
    """
    params = [p for group in groups for p in group["params"]]
    fused = bool(params) and all(p.device.type in FUSED_DEVICES and p.dtype.is_floating_point for p in params)
    return torch.optim.Adam(groups, lr=learning_rate, fused=fused or None)


def make_optimizer(network, learning_rate, eigenvalue_penalty, eigenvector_penalty, penalty="l2"):
    """Adam over a network's parameters, grouped by :func:`optimizer_groups`.

    ``network`` is anything with a ``spectral`` layer
    (:class:`~stellar_relevance.nn.layers.SpectralLinear`) and
    ``parameters()``; output eigenvalues, when the layer has them, share the
    eigenvalues' group (``penalty="l2"`` only).

    Examples
    --------
    >>> from stellar_relevance import build_network
    >>> opt = make_optimizer(build_network(6, 1, (4,)), 1e-3, 1e-2, 1e-4)
    >>> [round(g["weight_decay"], 6) for g in opt.param_groups], opt.defaults["lr"]
    ([0.02, 0.0002, 0.0], 0.001)
    """
    check_penalty(penalty)
    spectral = network.spectral
    eigenvalues = [spectral.eigenvalues]
    if spectral.output_eigenvalues is not None:
        eigenvalues.append(spectral.output_eigenvalues)
    if penalty != "l2" and spectral.output_eigenvalues is not None:
        raise ValueError(f"penalty={penalty!r} needs a spectral layer without output eigenvalues")
    special = {id(p) for p in eigenvalues} | {id(spectral.eigenvectors)}
    others = [p for p in network.parameters() if id(p) not in special]
    groups = optimizer_groups(eigenvalues, spectral.eigenvectors, others, eigenvalue_penalty, eigenvector_penalty,
                              penalty)
    return adam(groups, learning_rate)


class EarlyStopping:
    """The checkpoint-and-stop rule of every training loop, for ``n_models`` networks trained side by side.

    Each epoch the loop hands :meth:`update` the monitored loss of each
    network (the validation loss, or the training loss without validation
    data). Nothing is recorded before ``min_epochs`` or without
    ``early_stopping``. A network whose loss is below its best so far is
    *improved*: its weights are to be checkpointed. With validation data, a
    network stops after ``n_iter_no_change`` epochs without improvement;
    without, it never stops early.

    Parameters
    ----------
    n_models : int
    early_stopping : bool
    min_epochs, n_iter_no_change : int
    has_validation : bool

    Attributes
    ----------
    best_loss : torch.Tensor of float64, shape (n_models,)
    best_epoch : torch.Tensor of int64, shape (n_models,)
        0 until a network's first checkpoint.
    since_best : torch.Tensor of int64, shape (n_models,)

    Examples
    --------
    >>> rule = EarlyStopping(1, True, min_epochs=0, n_iter_no_change=2, has_validation=True)
    >>> [rule.update(epoch, torch.tensor([loss], dtype=torch.float64)) for epoch, loss in
    ...  enumerate([3.0, 2.0, 2.5, 2.4], start=1)]  # doctest: +NORMALIZE_WHITESPACE
    [(tensor([True]), tensor([True])), (tensor([True]), tensor([True])),
     (tensor([False]), tensor([True])), (tensor([False]), tensor([False]))]
    >>> int(rule.best_epoch[0])
    2
    """

    def __init__(self, n_models, early_stopping, min_epochs, n_iter_no_change, has_validation):
        self.active = bool(early_stopping)
        self.min_epochs, self.n_iter_no_change = int(min_epochs), int(n_iter_no_change)
        self.has_validation = bool(has_validation)
        self.best_loss = torch.full((n_models,), float("inf"), dtype=torch.float64)
        self.best_epoch = torch.zeros(n_models, dtype=torch.long)
        self.since_best = torch.zeros(n_models, dtype=torch.long)

    def watching(self, epoch):
        """Whether the rule looks at this epoch at all (``early_stopping`` on and ``epoch >= min_epochs``)."""
        return self.active and epoch >= self.min_epochs

    def update(self, epoch, monitored, live=None):
        """Record one epoch; ``(improved, going)`` boolean tensors over the ``live`` networks.

        ``monitored``: float64 losses of the live networks (``live``: their
        indices, default all). ``improved``: checkpoint these now.
        ``going``: these keep training (all True without validation data).
        """
        live = torch.arange(len(self.best_loss)) if live is None else live
        improved = monitored < self.best_loss[live]
        self.best_loss[live[improved]] = monitored[improved]
        self.best_epoch[live[improved]] = epoch
        self.since_best[live] = torch.where(improved, torch.zeros_like(self.since_best[live]),
                                            self.since_best[live] + 1)
        if not self.has_validation:
            return improved, torch.ones_like(improved)
        return improved, self.since_best[live] < self.n_iter_no_change

    def final_epochs(self, stopped_epoch):
        """The epoch whose weights each network keeps: its best, or its last without a checkpoint."""
        if not self.active:
            return stopped_epoch.clone()
        return torch.where(self.best_epoch > 0, self.best_epoch, stopped_epoch)
