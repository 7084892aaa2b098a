"""The feed-forward network around the spectral first layer."""

from torch import nn

from .layers import SpectralLinear

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

    Attributes
    ----------
    spectral : SpectralLinear
        The first layer, whose eigenvalues give the input relevance.
    body : torch.nn.Sequential
        Everything after it.
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
    ):
        super().__init__()
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
        for width_in, width_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(width_in, width_out), _activation(activation)]
        layers.append(nn.Linear(sizes[-1], int(n_outputs)))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(self.spectral(x))


def count_parameters(n_features, n_outputs, hidden_layer_sizes=(100, 100, 50), output_eigenvalues=False):
    """Number of trainable parameters of a :class:`SpectralNetwork`, without building it.

    Parameters
    ----------
    n_features, n_outputs : int
    hidden_layer_sizes : sequence of int
    output_eigenvalues : bool, default=False

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
    for width_in, width_out in zip(sizes, sizes[1:] + [n_outputs]):
        total += width_in * width_out + width_out
    return total


def build_network(n_features, n_outputs, hidden_layer_sizes=(100, 100, 50), **options):
    """Build a :class:`SpectralNetwork`; ``options`` go to its constructor."""
    return SpectralNetwork(n_features, n_outputs, hidden_layer_sizes, **options)
