"""Data sets with a known answer, as scikit-learn's ``sklearn.datasets``.

- :mod:`~stellar_relevance.datasets.synthetic`: the paper's synthetic
  classification sets (independent Gaussian, correlated pairs) and the
  high-dimensional XOR problem;
- :mod:`~stellar_relevance.datasets.synthetic_spectra`: synthetic stellar
  spectra on the MILES grid with label-sensitive lines planted at known
  wavelengths;
- :mod:`~stellar_relevance.datasets.mnist`: the MNIST IDX reader.
"""

from stellar_relevance.datasets.mnist import load_mnist
from stellar_relevance.datasets.synthetic import make_correlated_pairs, make_independent_gaussian, make_xor
from stellar_relevance.datasets.synthetic_spectra import make_synthetic_spectra, planted_mask

__all__ = [
    "make_independent_gaussian",
    "make_correlated_pairs",
    "make_xor",
    "make_synthetic_spectra",
    "planted_mask",
    "load_mnist",
]
