"""Proximal steps that set eigenvalues of the spectral layer exactly to zero.

Adam with the paper's squared-L2 penalty shrinks an irrelevant eigenvalue
towards zero but never onto it (the penalty's gradient vanishes with the
eigenvalue and Adam rescales whatever is left). An L1 penalty applied as a
*proximal step* after each optimiser step does reach zero: the step is the
closed-form minimiser of ``0.5 * ||v - p||**2 + t * R(v)`` for the penalty
``R``, with ``t = learning_rate * c_lambda`` (the pattern of LassoNet's
``prox``, Lemhadri et al. 2021).

Two penalties are offered (:data:`PENALTIES`; ``"l2"`` is the paper's and
needs no proximal step):

``"l1"``
    ``c_lambda * sum(|lambda_i|)``: soft-thresholding of every eigenvalue,
    ``lambda <- sign(lambda) * max(|lambda| - t, 0)``. ``psi`` keeps its
    squared-L2 penalty (Adam's weight decay).
``"group"``
    ``c_lambda * sum_i ||W[:, i]||_2`` with ``W[:, i] = lambda_i * psi[:, i]``:
    group soft-thresholding of the columns of ``W``. Each column's norm
    shrinks by ``t`` (to zero if it was below ``t``). Only ``lambda_i`` is
    rescaled, so the column keeps its direction and ``lambda_i`` becomes
    exactly 0 when its column is switched off.
"""

import torch

from stellar_relevance.exceptions import ParameterError

__all__ = ["PENALTIES", "check_penalty", "soft_threshold_", "group_soft_threshold_", "shrink_columns_",
           "proximal_step", "penalty_value"]

#: the penalty names accepted by the estimators, :func:`stellar_relevance.train`, the pipeline and the CLI
PENALTIES = ("l2", "l1", "group")


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


def proximal_step(spectral, penalty, threshold):
    """Apply the proximal step of ``penalty`` (``"l2"``: nothing) with ``threshold = lr * c_lambda``.

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
    if penalty == "l1":
        soft_threshold_(spectral.eigenvalues.data, threshold)
    elif penalty == "group":
        group_soft_threshold_(spectral, threshold)
    else:
        check_penalty(penalty)


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
