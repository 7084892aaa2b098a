"""The feed-forward network around the spectral first layer."""

import torch
from torch import nn

from stellar_relevance.nn.layers import SpectralLinear

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


def _activation(name):
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}"
        ) from None


class SpectralNetwork(nn.Module):
    """A multilayer perceptron whose first layer is :class:`SpectralLinear`.

    Parameters
    ----------
    n_features : int
        Number of inputs.
    n_outputs : int
        Number of outputs (logits for a classifier, targets for a regressor).
    hidden_layer_sizes : sequence of int
        Width of each hidden layer; the first is the output size of the
        spectral layer. Must not be empty.
    activation : str, default="relu"
        Activation after every hidden layer.
    first_activation : str or None, default=None
        Activation after the spectral layer (None: same as ``activation``).
    batch_norm : bool, default=False
        BatchNorm after the spectral layer (as in the authors' notebooks).
    dropout : float, default=0.0
        Dropout after the spectral layer.
    output_eigenvalues : bool, default=False
        Passed to :class:`SpectralLinear`.
    n_given : int, default=0
        Number of known labels (e.g. Teff, log g) concatenated to the
        spectral layer's activated output before the next layer; the
        network is then called as ``network(x, given)``.

    Attributes
    ----------
    spectral : SpectralLinear
        The first layer, whose eigenvalues give the input relevance.
    body : torch.nn.Sequential
        Everything after it (the given labels join after its first
        ``n_head`` modules: normalisation, activation, dropout).

    Examples
    --------
    >>> import torch
    >>> net = SpectralNetwork(10, 1, (8, 4), n_given=2)
    >>> net(torch.zeros(3, 10), torch.zeros(3, 2)).shape
    torch.Size([3, 1])
    """

    def __init__(
        self,
        n_features,
        n_outputs,
        hidden_layer_sizes=(100, 100, 50),
        activation="relu",
        first_activation=None,
        batch_norm=False,
        dropout=0.0,
        output_eigenvalues=False,
        n_given=0,
    ):
        super().__init__()
        if int(n_given) < 0:
            raise ValueError(f"n_given must be >= 0, got {n_given}")
        self.n_given = int(n_given)
        sizes = [int(h) for h in hidden_layer_sizes]
        if not sizes or min(sizes) < 1:
            raise ValueError(
                f"hidden_layer_sizes must be a non-empty sequence of positive ints, got {hidden_layer_sizes!r}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.spectral = SpectralLinear(n_features, sizes[0], output_eigenvalues=output_eigenvalues)
        layers = []
        if batch_norm:
            layers.append(nn.BatchNorm1d(sizes[0]))
        layers.append(_activation(first_activation or activation))
        if dropout:
            layers.append(nn.Dropout(float(dropout)))
        self.n_head = len(layers)
        widths_in = [sizes[0] + self.n_given] + sizes[1:]
        for width_in, width_out in zip(widths_in[:-1], sizes[1:]):
            layers += [nn.Linear(width_in, width_out), _activation(activation)]
        layers.append(nn.Linear(widths_in[-1], int(n_outputs)))
        self.body = nn.Sequential(*layers)

    def forward(self, x, given=None):
        """The network's output; ``given`` (n, n_given) is required exactly when ``n_given > 0``."""
        n_given = getattr(self, "n_given", 0)
        if (given is None) != (n_given == 0):
            raise ValueError(f"this network takes {n_given} given label(s); got {'none' if given is None else given.shape[-1]}")
        if given is None:
            return self.body(self.spectral(x))
        hidden = self.body[: self.n_head](self.spectral(x))
        return self.body[self.n_head :](torch.cat([hidden, given.to(hidden.dtype)], dim=-1))


def count_parameters(n_features, n_outputs, hidden_layer_sizes=(100, 100, 50), output_eigenvalues=False, n_given=0):
    """Number of trainable parameters of a :class:`SpectralNetwork`, without building it.

    Parameters
    ----------
    n_features, n_outputs : int
    hidden_layer_sizes : sequence of int
    output_eigenvalues : bool, default=False
    n_given : int, default=0

    Returns
    -------
    int

    Examples
    --------
    >>> count_parameters(4300, 1, (200, 50, 50))
    877151
    >>> sum(p.numel() for p in SpectralNetwork(4300, 1, (200, 50, 50)).parameters())
    877151
    """
    sizes = [int(h) for h in hidden_layer_sizes]
    n_features, n_outputs = int(n_features), int(n_outputs)
    # spectral layer: eigenvectors (sizes[0] x n_features), eigenvalues, bias
    total = sizes[0] * n_features + n_features + sizes[0] + (sizes[0] if output_eigenvalues else 0)
    total += int(n_given) * (sizes[1] if len(sizes) > 1 else n_outputs)
    for width_in, width_out in zip(sizes, sizes[1:] + [n_outputs]):
        total += width_in * width_out + width_out
    return total


def build_network(n_features, n_outputs, hidden_layer_sizes=(100, 100, 50), **options):
    """Build a :class:`SpectralNetwork`; ``options`` go to its constructor.

    Parameters
    ----------
    n_features, n_outputs : int
        Inputs (pixels) and outputs (labels, or classes).
    hidden_layer_sizes : tuple of int
        Widths of the layers after the spectral first layer's output.
    **options
        Other :class:`SpectralNetwork` arguments (``activation``, ``n_given``, ...).

    Returns
    -------
    SpectralNetwork

    Examples
    --------
    >>> import torch
    >>> from stellar_relevance import build_network
    >>> net = build_network(100, 1, hidden_layer_sizes=(16,))
    >>> net(torch.zeros(4, 100)).shape
    torch.Size([4, 1])
    >>> net.spectral.relevance().shape
    torch.Size([100])
    """
    return SpectralNetwork(n_features, n_outputs, hidden_layer_sizes, **options)
