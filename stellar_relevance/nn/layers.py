"""The spectral first layer: ``W[j, i] = (lambda_i - lambda_out_j) * psi[j, i]``.

With the output eigenvalues fixed at zero (the default, the paper's Eq. 1)
this is ``W[j, i] = lambda_i * psi[j, i]``: one eigenvalue per input scales
every link leaving that input, and the relevance of input ``i`` is
``|lambda_i| * ||psi[:, i]||_2``.

Cost
----
Written naively (``F.linear(x * lambda, psi)``) the backward pass needs one
more matrix product than a dense layer. :class:`_SpectralLinearFunction`
forms ``W = psi * lambda`` once, runs one ``addmm`` forward and, in the
backward pass, the single product ``grad_W = grad_out.T @ x`` from which both
parameter gradients follow elementwise. The weight-sized temporaries of
those elementwise passes go to one scratch tensor kept by the layer
(:class:`_Workspace`), because allocating them afresh (a new ``mmap`` and its
page faults at every step) cost more than the passes themselves. The gradient with respect to the
input is only computed when the input requires it (never for the first layer
of a network fed with data). The squared-L2 penalties are applied by the
optimiser: Adam's coupled ``weight_decay = 2 c`` adds ``2 c p`` to the
gradient, which is exactly the gradient of ``c * sum(p**2)`` (see
:func:`stellar_relevance.nn.core.make_optimizer`), so no extra autograd pass
over ``psi`` is spent on them either.
"""

import math

import torch
from torch import nn


class _Workspace:
    """One reusable scratch tensor of the weight's shape, so that a step allocates no weight-sized temporary.

    A fresh weight-sized tensor (3.4 MB for 4300 -> 200) is a new ``mmap``
    each time, and its page faults cost more than the elementwise pass that
    fills it. The scratch only lives inside one forward or one backward
    call; it never carries data from one to the other.
    """

    __slots__ = ("tensor",)

    def __init__(self):
        self.tensor = None

    def __reduce__(self):  # a copy or a pickle of the layer does not carry the scratch
        return (_Workspace, ())

    def get(self, like):
        t = self.tensor
        if t is None or t.shape != like.shape or t.dtype != like.dtype or t.device != like.device:
            t = self.tensor = torch.empty_like(like, memory_format=torch.contiguous_format)
        return t


class _SpectralLinearFunction(torch.autograd.Function):
    """``y = x @ (psi * lambda).T + b`` with a single matmul in each direction.

    Forward: ``W = psi * lambda`` is written into the workspace and one
    ``addmm`` follows; ``W`` is not kept. Backward: one product
    ``grad_W = grad_out.T @ x``; ``grad_lambda = sum_j grad_W * psi`` through
    the workspace, and ``grad_psi = grad_W * lambda`` in place. ``W`` is
    rebuilt (in the workspace) only when the input needs a gradient.
    """

    @staticmethod
    def forward(ctx, x, eigenvalues, eigenvectors, bias, workspace=None):
        if workspace is None:
            workspace = _Workspace()
        weight = torch.mul(eigenvectors, eigenvalues, out=workspace.get(eigenvectors))
        if bias is None:
            out = x @ weight.t()
        else:
            out = torch.addmm(bias, x, weight.t()) if x.dim() == 2 else x @ weight.t() + bias
        ctx.save_for_backward(x, eigenvalues, eigenvectors)
        ctx.workspace = workspace
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, eigenvalues, eigenvectors = ctx.saved_tensors
        scratch = ctx.workspace.get(eigenvectors)
        grad_x = grad_lambda = grad_psi = grad_bias = None
        g2 = grad_out.reshape(-1, grad_out.shape[-1])
        if ctx.needs_input_grad[0]:
            grad_x = grad_out @ torch.mul(eigenvectors, eigenvalues, out=scratch)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            grad_weight = g2.t() @ x.reshape(-1, x.shape[-1])
            if ctx.needs_input_grad[1]:
                grad_lambda = torch.mul(grad_weight, eigenvectors, out=scratch).sum(0)
            if ctx.needs_input_grad[2]:
                grad_psi = grad_weight.mul_(eigenvalues)
        if ctx.has_bias and ctx.needs_input_grad[3]:
            grad_bias = g2.sum(0)
        return grad_x, grad_lambda, grad_psi, grad_bias, None


class SpectralLinear(nn.Module):
    """A dense layer re-parametrised by eigenvalues and eigenvectors.

    Parameters
    ----------
    in_features : int
        Number of inputs (one eigenvalue each).
    out_features : int
        Number of outputs.
    bias : bool, default=True
        Whether to learn an additive bias (initialised at zero).
    output_eigenvalues : bool, default=False
        When True, also learn one eigenvalue per output node and use the full
        spectral form ``W[j, i] = (lambda_i - lambda_out_j) * psi[j, i]``
        (the paper's Eq. 7). When False they are fixed at zero (Eq. 1).

    Attributes
    ----------
    eigenvalues : torch.nn.Parameter, shape (in_features,)
        ``lambda``, initialised to 1 so the layer starts as an ordinary dense
        layer.
    eigenvectors : torch.nn.Parameter, shape (out_features, in_features)
        ``psi``, initialised exactly as :class:`torch.nn.Linear` initialises
        its weight.
    output_eigenvalues : torch.nn.Parameter or None, shape (out_features,)
        The trainable output eigenvalues (zero at start), or None.
    bias : torch.nn.Parameter or None, shape (out_features,)

    Examples
    --------
    >>> layer = SpectralLinear(4300, 200)
    >>> layer.relevance().shape
    torch.Size([4300])
    """

    def __init__(self, in_features, out_features, bias=True, output_eigenvalues=False):
        super().__init__()
        if int(in_features) < 1 or int(out_features) < 1:
            raise ValueError(
                f"in_features and out_features must be >= 1, got {in_features} and {out_features}"
            )
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.eigenvalues = nn.Parameter(torch.empty(self.in_features))
        self.eigenvectors = nn.Parameter(torch.empty(self.out_features, self.in_features))
        if output_eigenvalues:
            self.output_eigenvalues = nn.Parameter(torch.empty(self.out_features))
        else:
            self.register_parameter("output_eigenvalues", None)
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_features))
        else:
            self.register_parameter("bias", None)
        self._workspace = _Workspace()
        self.reset_parameters()

    def reset_parameters(self):
        """Initialise: ``lambda = 1``, ``psi`` as ``nn.Linear``'s weight, bias 0."""
        nn.init.ones_(self.eigenvalues)
        # the same call nn.Linear.reset_parameters makes for its weight
        nn.init.kaiming_uniform_(self.eigenvectors, a=math.sqrt(5))
        if self.output_eigenvalues is not None:
            nn.init.zeros_(self.output_eigenvalues)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    @property
    def weight(self):
        """The effective dense weight ``W`` (out_features, in_features)."""
        if self.output_eigenvalues is None:
            return self.eigenvectors * self.eigenvalues
        scale = self.eigenvalues.unsqueeze(0) - self.output_eigenvalues.unsqueeze(1)
        return self.eigenvectors * scale

    def forward(self, x):
        """Apply ``x @ W.T + b``."""
        if self.output_eigenvalues is None:
            return _SpectralLinearFunction.apply(x, self.eigenvalues, self.eigenvectors, self.bias, self._workspace)
        return nn.functional.linear(x, self.weight, self.bias)

    @torch.no_grad()
    def signed_relevance(self):
        """``lambda_i * ||psi[:, i]||_2`` for every input, shape (in_features,)."""
        return self.eigenvalues * torch.linalg.vector_norm(self.eigenvectors, dim=0)

    @torch.no_grad()
    def relevance(self):
        """``|lambda_i| * ||psi[:, i]||_2`` for every input, shape (in_features,)."""
        return self.signed_relevance().abs()

    def penalty(self, eigenvalue_penalty=1e-2, eigenvector_penalty=1e-4):
        """Squared-L2 penalty ``c_lambda * sum(lambda**2) + c_psi * sum(psi**2)``.

        Differentiable; training with :func:`stellar_relevance.train` applies
        the same penalty through the optimiser instead (identical gradient,
        cheaper), so this method is for reporting and for custom loops.
        """
        if eigenvalue_penalty < 0 or eigenvector_penalty < 0:
            raise ValueError(
                "penalties must be >= 0, got "
                f"eigenvalue_penalty={eigenvalue_penalty}, eigenvector_penalty={eigenvector_penalty}"
            )
        total = eigenvalue_penalty * self.eigenvalues.pow(2).sum()
        total = total + eigenvector_penalty * self.eigenvectors.pow(2).sum()
        if self.output_eigenvalues is not None:
            total = total + eigenvalue_penalty * self.output_eigenvalues.pow(2).sum()
        return total

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, output_eigenvalues={self.output_eigenvalues is not None}"
        )
