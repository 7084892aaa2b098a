"""The MNIST experiments' helpers: digit selection, the internal split, a check of k.

Only the benchmarks (``benchmarks/mnist.py``, ``benchmarks/compare.py``)
use these, so they live here and not in the package; the package keeps the
IDX reader (:func:`stellar_relevance.datasets.load_mnist`). A script in
``benchmarks/`` imports them with ``from _mnist import ...`` (Python puts
the script's folder on ``sys.path``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["select_digits", "validate_k", "internal_split"]


def select_digits(X, y, digits):
    """Keep the images of the given digits only.

    Parameters
    ----------
    X : array-like, shape (n, n_features)
    y : array-like of int, shape (n,)
    digits : iterable of int or "all"
        Distinct digits 0-9, at least two, each present in ``y``; ``"all"``
        keeps every image.

    Returns
    -------
    X_sub, y_sub : numpy.ndarray
        New arrays (the inputs are not modified); labels keep their digit
        values.

    Raises
    ------
    ValueError
        Unknown, repeated or absent digits, fewer than two digits, or X and
        y of different lengths.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if isinstance(digits, str):
        if digits != "all":
            raise ValueError(f"digits must be a list of digits 0-9 or 'all', got {digits!r}")
        return X.copy(), y.copy()
    digits = list(digits)
    unknown = [d for d in digits if not (isinstance(d, (int, np.integer)) and 0 <= d <= 9)]
    if unknown:
        raise ValueError(f"unknown digit(s) {unknown}: MNIST digits are the integers 0-9")
    if len(set(int(d) for d in digits)) != len(digits):
        raise ValueError(f"repeated digit in {digits}")
    if len(digits) < 2:
        raise ValueError(f"a classification needs at least two digits, got {digits}")
    absent = [int(d) for d in digits if not np.any(y == d)]
    if absent:
        raise ValueError(f"digit(s) {absent} do not occur in y")
    keep = np.isin(y, digits)
    return X[keep].copy(), y[keep].copy()


def validate_k(k, n_features):
    """Check a number of selected features.

    Parameters
    ----------
    k : int
    n_features : int

    Returns
    -------
    int
        ``k`` as a Python int.

    Raises
    ------
    ValueError
        ``k`` is not an integer in ``1 .. n_features``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be an integer, got {k!r}")
    if not 1 <= k <= n_features:
        raise ValueError(f"k = {k} must be between 1 and the number of features ({n_features})")
    return int(k)


def internal_split(X, y, *, test_size=0.2, random_state=0):
    """A seeded, stratified train / test split of the (test-set) images.

    Parameters
    ----------
    X, y : numpy.ndarray
    test_size : float
        Fraction held out.
    random_state : int
        Seed of the split.

    Returns
    -------
    X_train, X_test, y_train, y_test : numpy.ndarray
    info : dict
        ``{"source", "method", "test_size", "random_state", "n_train", "n_test"}``,
        to be written into every result that uses the split.
    """
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=y
    )
    info = {
        "source": "MNIST t10k (official test set, 10 000 images)",
        "method": "sklearn.model_selection.train_test_split, stratified by label",
        "test_size": float(test_size),
        "random_state": int(random_state),
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
    }
    return X_train, X_test, y_train, y_test, info
