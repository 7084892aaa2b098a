"""Proximal steps that set eigenvalues of the spectral layer exactly to zero.

Adam with the paper's squared-L2 penalty shrinks an irrelevant eigenvalue
towards zero but never onto it (the penalty's gradient vanishes with the
eigenvalue and Adam rescales whatever is left). An L1 penalty applied as a
*proximal step* after each optimiser step does reach zero: the step is the
closed-form minimiser of ``0.5 * ||v - p||**2 + t * R(v)`` for the penalty
``R`` (the pattern of LassoNet's ``prox``, Lemhadri et al. 2021).

Training takes the step in Adam's own diagonal metric (:func:`adam_threshold`;
the proximal step of ProxGen, Yun, Lozano & Yang 2021): the threshold of
eigenvalue i is ``learning_rate * c_lambda / (sqrt(v_hat_i) + eps)``, with
``v_hat`` Adam's running second moment of that eigenvalue's gradient. Adam's
own step is about ``learning_rate`` for every coordinate whatever its
gradient, so a flat threshold ``learning_rate * c_lambda`` would compare
``c_lambda`` with a normalised step, not with the gradient: below 1 it zeroes
nothing, near 1 nearly everything. In Adam's metric an input stays at zero
while the running mean of its data-loss gradient is smaller than
``c_lambda``, the Lasso's own condition, and the strength does not depend on
the number of steps.

Two penalties are offered (:data:`PENALTIES`; ``"l2"`` is the paper's and
needs no proximal step):

``"l1"``
    ``c_lambda * sum(|lambda_i|)``: soft-thresholding of every eigenvalue,
    ``lambda <- sign(lambda) * max(|lambda| - t_i, 0)``. ``psi`` keeps its
    squared-L2 penalty (Adam's weight decay).
``"group"``
    ``c_lambda * sum_i ||W[:, i]||_2`` with ``W[:, i] = lambda_i * psi[:, i]``:
    the group lasso of the first layer's columns. Only ``lambda_i`` is
    changed (soft-thresholded by ``t_i * ||psi[:, i]||``, the step of
    ``c_lambda * |lambda_i| * ||psi[:, i]||`` in ``lambda_i``), so the column
    keeps its direction and ``lambda_i`` becomes exactly 0 when its column
    is switched off. :func:`group_soft_threshold_` is the same step with a
    flat threshold on the column norms.
"""

import torch

from stellar_relevance.exceptions import ParameterError

__all__ = ["PENALTIES", "DEFAULT_STRENGTHS", "check_penalty", "penalty_strength", "soft_threshold_",
           "group_soft_threshold_", "shrink_columns_", "adam_threshold", "adam_proximal_", "proximal_step",
           "penalty_value"]

#: the penalty names accepted by the estimators, :func:`stellar_relevance.train`, the pipeline and the CLI
PENALTIES = ("l2", "l1", "group")

#: ``eigenvalue_penalty`` when it is None, by penalty: the paper's 1e-2 for its squared L2; 3e-3 for l1, whose
#: strength is on the scale of a data-loss gradient; 1e-2 for group, whose threshold is also scaled by the column
#: norms ``||psi[:, i]||`` (below 1), so it needs a larger strength (docs/method.md, "Penalties")
DEFAULT_STRENGTHS = {"l2": 1e-2, "l1": 3e-3, "group": 1e-2}


def check_penalty(penalty):
    """``penalty`` if it is one of :data:`PENALTIES`; a `ParameterError` naming ``penalty`` otherwise.

    Parameters
    ----------
    penalty : str
        The penalty type asked for.

    Returns
    -------
    str
        ``penalty``, unchanged.

    Raises
    ------
    ParameterError
        When ``penalty`` is not one of :data:`PENALTIES` (also a ``ValueError``).

    Examples
    --------
    >>> check_penalty("group")
    'group'
    >>> check_penalty("l3")
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.ParameterError: penalty must be one of l2, l1, group, got 'l3'
    """
    if not isinstance(penalty, str) or penalty not in PENALTIES:
        raise ParameterError("penalty", f"must be one of {', '.join(PENALTIES)}, got {penalty!r}")
    return penalty


def penalty_strength(penalty, eigenvalue_penalty=None):
    """``eigenvalue_penalty``, or the default strength of ``penalty`` (:data:`DEFAULT_STRENGTHS`) when it is None.

    Parameters
    ----------
    penalty : {"l2", "l1", "group"}
    eigenvalue_penalty : float or None

    Returns
    -------
    float

    Examples
    --------
    >>> penalty_strength("l2"), penalty_strength("l1"), penalty_strength("group"), penalty_strength("l1", 0.1)
    (0.01, 0.003, 0.01, 0.1)
    """
    check_penalty(penalty)
    return DEFAULT_STRENGTHS[penalty] if eigenvalue_penalty is None else eigenvalue_penalty


@torch.no_grad()
def soft_threshold_(values, threshold):
    """Soft-threshold a tensor in place: ``sign(v) * max(|v| - threshold, 0)``.

    Parameters
    ----------
    values : torch.Tensor
        Modified in place.
    threshold : float
        ``>= 0``.

    Returns
    -------
    torch.Tensor
        ``values``.

    Examples
    --------
    >>> import torch
    >>> soft_threshold_(torch.tensor([-2.0, -0.5, 0.0, 0.3, 1.5]), 1.0)
    tensor([-1.0000,  0.0000,  0.0000,  0.0000,  0.5000])
    """
    shrunk = values.abs().sub_(threshold).clamp_(min=0.0)
    return values.copy_(shrunk.mul_(torch.sign(values)).add_(0.0))  # add 0: no -0.0


@torch.no_grad()
def group_soft_threshold_(spectral, threshold):
    """Shrink the norm of every column ``lambda_i * psi[:, i]`` of W by ``threshold``, in place.

    Only the eigenvalues are rescaled (by ``max(0, 1 - threshold / ||W[:, i]||)``),
    so a column whose norm falls to zero gets ``lambda_i = 0`` exactly.

    Parameters
    ----------
    spectral : SpectralLinear
        Its ``eigenvalues`` are modified in place.
    threshold : float

    Examples
    --------
    >>> import torch
    >>> from stellar_relevance import SpectralLinear
    >>> layer = SpectralLinear(3, 2)
    >>> with torch.no_grad():
    ...     _ = layer.eigenvectors.copy_(torch.tensor([[3.0, 0.1, 1.0], [4.0, 0.0, 0.0]]))
    ...     _ = layer.eigenvalues.copy_(torch.tensor([1.0, 2.0, -2.0]))
    >>> _ = group_soft_threshold_(layer, 1.0)
    >>> layer.relevance()  # column norms 5, 0.2, 2 shrunk by 1
    tensor([4., 0., 1.])
    >>> layer.eigenvalues.detach()
    tensor([ 0.8000,  0.0000, -1.0000])
    """
    return shrink_columns_(spectral.eigenvalues, spectral.relevance(), threshold)


@torch.no_grad()
def shrink_columns_(eigenvalues, norms, threshold):
    """``eigenvalues *= max(0, 1 - threshold / norms)`` in place, the switched-off ones exactly 0.

    The group step of :func:`group_soft_threshold_` on bare tensors.

    Parameters
    ----------
    eigenvalues : torch.Tensor
        Modified in place.
    norms : torch.Tensor
        The column norms ``|lambda_i| * ||psi[:, i]||``, any shape matching
        ``eigenvalues`` (one layer, or a stack of layers as in
        :mod:`stellar_relevance.estimators.stacked`).
    threshold : float

    Returns
    -------
    torch.Tensor
        ``eigenvalues``.

    Examples
    --------
    >>> shrink_columns_(torch.tensor([[1.0, -2.0], [0.5, 4.0]]), torch.tensor([[1.0, 2.0], [0.5, 4.0]]), 1.0)
    tensor([[ 0., -1.],
            [ 0.,  3.]])
    """
    factor = torch.where(norms > threshold, 1.0 - threshold / norms.clamp(min=threshold), torch.zeros_like(norms))
    eigenvalues.mul_(factor)
    # the product can leave -0.0 or a denormal; make the switched-off ones exactly 0
    eigenvalues.masked_fill_(factor == 0, 0.0)
    return eigenvalues


@torch.no_grad()
def adam_threshold(optimizer, parameter, threshold):
    """``threshold / (sqrt(v_hat) + eps)`` per element: the L1 step in Adam's own metric.

    Adam moves ``p`` by ``lr * m_hat / (sqrt(v_hat) + eps)``; the proximal
    step of ``c * |p|`` in the same (diagonal) metric soft-thresholds ``p``
    by ``lr * c / (sqrt(v_hat) + eps)`` (the proximal step of ProxGen, Yun,
    Lozano & Yang 2021). A coordinate then stays at zero when the running
    mean of its data-loss gradient is below ``c`` in size, which is the
    Lasso's own condition; a flat threshold ``lr * c`` instead races Adam's
    normalised step, which is about ``lr`` for every coordinate whatever
    its gradient, so ``c`` below 1 zeroes nothing and ``c`` near 1 zeroes
    nearly everything.

    Parameters
    ----------
    optimizer : torch.optim.Adam
        The optimiser that has just stepped ``parameter``.
    parameter : torch.nn.Parameter
    threshold : float
        ``learning_rate * c``.

    Returns
    -------
    torch.Tensor or float
        The per-element threshold (``threshold`` itself before the first step).

    Examples
    --------
    >>> p = torch.nn.Parameter(torch.ones(2))
    >>> opt = torch.optim.Adam([p], lr=0.1)
    >>> p.grad = torch.tensor([2.0, 0.5])
    >>> opt.step()
    >>> adam_threshold(opt, p, 0.1)  # 0.1 / |g| after one step
    tensor([0.0500, 0.2000])
    """
    state = optimizer.state.get(parameter)
    if not state or "exp_avg_sq" not in state:
        return threshold
    group = next(g for g in optimizer.param_groups if any(q is parameter for q in g["params"]))
    beta2, eps = group["betas"][1], group["eps"]
    v_hat = state["exp_avg_sq"] / (1.0 - beta2 ** float(state["step"]))
    return threshold / v_hat.sqrt_().add_(eps)


def proximal_step(spectral, penalty, threshold, optimizer=None):
    """Apply the proximal step of ``penalty`` (``"l2"``: nothing) with ``threshold = lr * c_lambda``.

    Parameters
    ----------
    spectral : SpectralLinear
        Its eigenvalues are modified in place.
    penalty : {"l2", "l1", "group"}
    threshold : float
        ``learning_rate * c_lambda``.
    optimizer : torch.optim.Adam, optional
        The optimiser that has just stepped the layer: the step is then
        taken in Adam's metric (:func:`adam_threshold`), as training does.
        ``"l1"`` soft-thresholds eigenvalue i by ``threshold / (sqrt(v_hat_i)
        + eps)``; ``"group"`` by that times ``||psi[:, i]||``, which is the
        proximal step of ``c_lambda * ||W[:, i]|| = c_lambda * |lambda_i| *
        ||psi[:, i]||`` in ``lambda_i``. An input then stays switched off
        while the running mean of its data-loss gradient is below
        ``c_lambda`` (``"l1"``: the gradient of ``lambda_i``; ``"group"``:
        the norm of the gradient of column ``W[:, i]``), the Lasso's and the
        group Lasso's own conditions. Without ``optimizer``: the plain
        threshold (each eigenvalue, or each column norm, shrinks by
        ``threshold``).

    Examples
    --------
    >>> import torch
    >>> from stellar_relevance import SpectralLinear
    >>> layer = SpectralLinear(4, 2)
    >>> with torch.no_grad():
    ...     _ = layer.eigenvalues.copy_(torch.tensor([0.5, -0.05, 2.0, 0.0]))
    >>> proximal_step(layer, "l1", 0.1)
    >>> layer.eigenvalues.detach()
    tensor([0.4000, 0.0000, 1.9000, 0.0000])
    """
    if penalty == "l2" or threshold <= 0:
        return
    check_penalty(penalty)
    if optimizer is None:
        if penalty == "l1":
            soft_threshold_(spectral.eigenvalues.data, threshold)
        else:
            group_soft_threshold_(spectral, threshold)
        return
    adam_proximal_(spectral.eigenvalues, spectral.eigenvectors, penalty, threshold, optimizer)


@torch.no_grad()
def adam_proximal_(eigenvalues, eigenvectors, penalty, threshold, optimizer):
    """The ``"l1"`` / ``"group"`` step in Adam's metric on bare tensors, in place (see :func:`proximal_step`).

    Parameters
    ----------
    eigenvalues : torch.nn.Parameter, shape (..., n_inputs)
        One layer's eigenvalues, or a stack of layers' (the stacked training).
    eigenvectors : torch.Tensor, shape (..., n_outputs, n_inputs)
        Their eigenvectors; ``"group"`` scales eigenvalue i's threshold by
        ``||psi[:, i]||``.
    penalty : {"l1", "group"}
    threshold : float
        ``learning_rate * c_lambda``.
    optimizer : torch.optim.Adam
        The optimiser that has just stepped ``eigenvalues``.

    Examples
    --------
    >>> lam = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    >>> opt = torch.optim.Adam([lam], lr=0.1)
    >>> lam.grad = torch.tensor([2.0, 0.5])
    >>> opt.step()  # lambda -> 0.9, 0.9; thresholds 0.5 / |g| = 0.25, 1.0
    >>> adam_proximal_(lam, torch.ones(3, 2), "l1", 0.5, opt)
    >>> lam.detach()
    tensor([0.6500, 0.0000])
    """
    step = adam_threshold(optimizer, eigenvalues, threshold)
    if penalty == "group":
        step = step * torch.linalg.vector_norm(eigenvectors.detach(), dim=-2)
    soft_threshold_(eigenvalues.data, step)


@torch.no_grad()
def penalty_value(spectral, penalty, eigenvalue_penalty, eigenvector_penalty):
    """The value of the penalty (for the training history), as a float.

    ``"l2"``: ``c_lambda * sum(lambda**2) + c_psi * sum(psi**2)``; ``"l1"``:
    ``c_lambda * sum(|lambda|) + c_psi * sum(psi**2)``; ``"group"``:
    ``c_lambda * sum_i ||W[:, i]|| + c_psi * sum(psi**2)``.

    Examples
    --------
    >>> import torch
    >>> from stellar_relevance import SpectralLinear
    >>> layer = SpectralLinear(3, 2)
    >>> penalty_value(layer, "l1", 1.0, 0.0)  # lambda starts at 1
    3.0
    """
    check_penalty(penalty)
    if penalty == "l2":
        return float(spectral.penalty(eigenvalue_penalty, eigenvector_penalty))
    psi_part = eigenvector_penalty * float(spectral.eigenvectors.pow(2).sum())
    if penalty == "l1":
        return eigenvalue_penalty * float(spectral.eigenvalues.abs().sum()) + psi_part
    return eigenvalue_penalty * float(spectral.relevance().sum()) + psi_part
