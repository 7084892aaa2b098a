"""The network: the spectral layer, the MLP around it, penalties, the training loop.

- :mod:`.layers` — :class:`SpectralLinear`, the first layer ``W = lambda * psi``
- :mod:`.network` — :class:`SpectralNetwork`, the MLP behind it
- :mod:`.proximal` — the penalties and their proximal steps (exact zeros)
- :mod:`.core` — what every training loop shares: the loss table, the optimiser groups, early stopping
- :mod:`.training` — :func:`train`, the training loop of one network
- :mod:`.batches` — mini-batches gathered from (memory-mapped) arrays
- :mod:`.distributed` — several processes through torch DistributedDataParallel
"""

from stellar_relevance.nn.layers import SpectralLinear
from stellar_relevance.nn.network import SpectralNetwork, build_network
from stellar_relevance.nn.training import train

__all__ = ["SpectralLinear", "SpectralNetwork", "build_network", "train"]
