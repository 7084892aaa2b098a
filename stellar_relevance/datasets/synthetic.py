"""Synthetic classification sets with a known answer (paper Sec. 3.1-3.2, XOR).

The three generators reproduce the validation sets of the spectral
relevance paper (Sec. 3.1 and 3.2) and the high-dimensional XOR problem of
Passemiers et al. (2024, Sci. Rep. 14). Each returns ``(X, y, truth)``:

- ``X`` : float64 array (n_samples, n_features)
- ``y`` : int64 array (n_samples,) of class labels 0 / 1
- ``truth`` : :class:`sklearn.utils.Bunch` with at least

  ``relevant``
      bool mask (n_features,), True for a feature that carries information;
  ``score``
      float (n_features,), the per-feature ground-truth strength that a
      relevance score should rank like (Spearman), 0 for irrelevant features;
  ``settings``
      dict of the arguments used (including the seed), so a result can be
      reproduced from its JSON.

Every random choice is drawn from ``random_state`` (an int, a
``numpy.random.RandomState`` or None), so the same seed gives the same
data. See ``docs/synthetic.md`` for the choices and the departures from the
paper and its notebooks.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "make_independent_gaussian",
    "make_correlated_pairs",
    "make_xor",
]


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------
def _check_int(name, value, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def _check_float(name, value, minimum=None, strictly_positive=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if strictly_positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _seed_repr(random_state):
    """A JSON-friendly description of the seed for ``truth.settings``."""
    if random_state is None or isinstance(random_state, numbers.Integral):
        return None if random_state is None else int(random_state)
    return type(random_state).__name__


def _balanced_labels(n_samples, rng):
    """Exactly balanced 0/1 labels (the extra sample, if odd, is class 0), shuffled."""
    n1 = n_samples // 2
    y = np.zeros(n_samples, dtype=np.int64)
    y[:n1] = 1
    rng.shuffle(y)
    return y


# --------------------------------------------------------------------------
# generators
# --------------------------------------------------------------------------
def make_independent_gaussian(
    n_samples=60000,
    n_features=20,
    n_relevant=11,
    sigma=0.5,
    max_shift=1.4,
    min_shift=0.0,
    random_state=None,
):
    """Two classes of independent Gaussian features, some with shifted means.

    The paper's Sec. 3.1 set, with the settings of the authors' notebook:
    every feature is ``N(mean, sigma**2)``; class 0 has mean ``-0.5`` on every
    feature, class 1 has mean ``shift_i - 0.5``. ``n_relevant`` features,
    chosen at random, get ``shift_i ~ U(min_shift, max_shift)``; the others
    have ``shift_i = 0`` and carry no information. The classes are exactly
    balanced (class 0 gets the extra sample when ``n_samples`` is odd) and
    the rows are in random order.

    Parameters
    ----------
    n_samples : int, default 60000
        Number of rows (>= 2).
    n_features : int, default 20
    n_relevant : int, default 11
        Number of features with a non-zero mean shift (0 .. n_features).
    sigma : float, default 0.5
        Standard deviation of every feature in both classes (> 0).
    max_shift, min_shift : float, default 1.4 and 0.0
        Shifts of the relevant features are drawn from
        ``U(min_shift, max_shift)``. The paper's Fig. 3 uses ``U(0, 1.4)``; a
        positive ``min_shift`` keeps the weakest relevant feature away from
        zero (a feature shifted by 0.001 sigma is relevant in name only).
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int64 in {0, 1}
    truth : sklearn.utils.Bunch
        ``relevant`` (bool mask), ``relevant_features`` (sorted indices),
        ``shift`` (per-feature mean difference between the classes, 0 for
        irrelevant features), ``score`` (= ``shift``, the paper's x-axis of
        Fig. 3 right), ``class_means`` (2, n_features), ``sigma``,
        ``settings``.

    Raises
    ------
    ValueError
        On a non-integer or too small count, ``n_relevant > n_features``,
        a non-positive ``sigma`` or shifts outside ``0 <= min_shift <=
        max_shift``.

    Examples
    --------
    >>> from stellar_relevance.datasets import make_independent_gaussian
    >>> X, y, truth = make_independent_gaussian(n_samples=100, random_state=0)
    >>> X.shape, int(y.sum()), int(truth.relevant.sum())
    ((100, 20), 50, 11)
    """
    n_samples = _check_int("n_samples", n_samples, 2)
    n_features = _check_int("n_features", n_features, 1)
    n_relevant = _check_int("n_relevant", n_relevant, 0)
    if n_relevant > n_features:
        raise ValueError(
            f"n_relevant ({n_relevant}) must not exceed n_features ({n_features})"
        )
    sigma = _check_float("sigma", sigma, strictly_positive=True)
    max_shift = _check_float("max_shift", max_shift, minimum=0.0)
    min_shift = _check_float("min_shift", min_shift, minimum=0.0)
    if min_shift > max_shift:
        raise ValueError(f"min_shift ({min_shift}) must not exceed max_shift ({max_shift})")

    rng = check_random_state(random_state)
    relevant_features = np.sort(rng.choice(n_features, size=n_relevant, replace=False))
    shift = np.zeros(n_features)
    shift[relevant_features] = rng.uniform(min_shift, max_shift, size=n_relevant)
    relevant = np.zeros(n_features, dtype=bool)
    relevant[relevant_features] = True

    y = _balanced_labels(n_samples, rng)
    class_means = np.vstack([np.full(n_features, -0.5), shift - 0.5])
    X = rng.normal(0.0, sigma, size=(n_samples, n_features)) + class_means[y]

    truth = Bunch(
        relevant=relevant,
        relevant_features=relevant_features,
        shift=shift,
        score=shift.copy(),
        class_means=class_means,
        sigma=sigma,
        settings=dict(
            generator="make_independent_gaussian",
            n_samples=n_samples,
            n_features=n_features,
            n_relevant=n_relevant,
            sigma=sigma,
            max_shift=max_shift,
            min_shift=min_shift,
            random_state=_seed_repr(random_state),
        ),
    )
    return X, y, truth


def make_correlated_pairs(
    n_samples=100000,
    flip_probabilities=(0.7, 0.8, 0.4, 0.6),
    n_noise=2,
    sigma=1.0,
    random_state=None,
):
    """Pairs of features that are equal in class 0 and sometimes opposite in class 1.

    The paper's Sec. 3.2 set (Eq. 2-3). For pair ``n`` (features ``2n`` and
    ``2n+1``), ``x_2n ~ N(0, sigma**2)``; in class 0 ``x_2n+1 = x_2n``; in
    class 1 ``x_2n+1 = -x_2n`` with probability ``p_n`` (independently for
    each pair and row) and ``x_2n`` otherwise. The last ``n_noise`` features
    are ``N(0, sigma**2)`` in both classes. No single feature carries any
    information; only the sign agreement within a pair does (a parity
    problem). Classes are exactly balanced and the rows shuffled.

    Parameters
    ----------
    n_samples : int, default 100000
        Number of rows (>= 2); the notebook's value, the paper gives none.
    flip_probabilities : sequence of float in [0, 1], default (0.7, 0.8, 0.4, 0.6)
        ``p_n`` for each pair; the notebook's values.
    n_noise : int, default 2
        Number of pure-noise features appended after the pairs.
    sigma : float, default 1.0
        Standard deviation of every feature. The paper's Eq. (2) says
        ``N(0, 1)``; the authors' notebook used 0.5. The task is invariant
        to this scale (only signs matter), and the estimators centre or
        standardise their inputs.
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, 2 * n_pairs + n_noise), float64
    y : ndarray of shape (n_samples,), int64 in {0, 1}
    truth : sklearn.utils.Bunch
        ``relevant`` (bool mask: member of a pair with ``p_n > 0``),
        ``pairs`` (n_pairs, 2) feature indices, ``noise_features``,
        ``flip_probability`` (per feature: ``p_n`` for both members of pair
        ``n``, 0 for noise; the paper's x-axis of Fig. 4 bottom right),
        ``score`` (= ``flip_probability``), ``sigma``, ``settings``.

    Raises
    ------
    ValueError
        On an empty or non-1-D ``flip_probabilities``, a probability
        outside [0, 1] or not finite, a negative ``n_noise``, too few
        samples or a non-positive ``sigma``.

    Examples
    --------
    >>> from stellar_relevance.datasets import make_correlated_pairs
    >>> X, y, truth = make_correlated_pairs(n_samples=100, random_state=0)
    >>> X.shape, truth.relevant.nonzero()[0].tolist()
    ((100, 10), [0, 1, 2, 3, 4, 5, 6, 7])
    """
    n_samples = _check_int("n_samples", n_samples, 2)
    n_noise = _check_int("n_noise", n_noise, 0)
    sigma = _check_float("sigma", sigma, strictly_positive=True)
    try:
        p = np.asarray(flip_probabilities, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"flip_probabilities must be a sequence of numbers in [0, 1], got {flip_probabilities!r}"
        ) from None
    if p.ndim != 1 or p.size == 0:
        raise ValueError(
            f"flip_probabilities must be a non-empty 1-D sequence, got shape {p.shape}"
        )
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"flip_probabilities[{i}] = {p[i]} is not a probability in [0, 1]")

    n_pairs = p.size
    n_features = 2 * n_pairs + n_noise
    rng = check_random_state(random_state)
    y = _balanced_labels(n_samples, rng)
    first = rng.normal(0.0, sigma, size=(n_samples, n_pairs))
    flip = (y[:, None] == 1) & (rng.random_sample((n_samples, n_pairs)) < p)
    second = np.where(flip, -first, first)
    X = np.empty((n_samples, n_features))
    X[:, 0 : 2 * n_pairs : 2] = first
    X[:, 1 : 2 * n_pairs : 2] = second
    X[:, 2 * n_pairs :] = rng.normal(0.0, sigma, size=(n_samples, n_noise))

    pairs = np.arange(2 * n_pairs).reshape(n_pairs, 2)
    flip_probability = np.zeros(n_features)
    flip_probability[: 2 * n_pairs] = np.repeat(p, 2)
    truth = Bunch(
        relevant=flip_probability > 0,
        pairs=pairs,
        noise_features=np.arange(2 * n_pairs, n_features),
        flip_probability=flip_probability,
        score=flip_probability.copy(),
        sigma=sigma,
        settings=dict(
            generator="make_correlated_pairs",
            n_samples=n_samples,
            flip_probabilities=p.tolist(),
            n_noise=n_noise,
            sigma=sigma,
            random_state=_seed_repr(random_state),
        ),
    )
    return X, y, truth


def make_xor(n_samples=1000, n_features=32, shuffle_features=False, random_state=None):
    """High-dimensional XOR: the label is the sign of the product of two features.

    Every feature is ``N(0, 1)``; ``y = 1`` where ``x_a * x_b > 0`` and 0
    otherwise (``sign(x_a x_b)`` mapped from {-1, +1} to {0, 1}). Neither
    ``x_a`` nor ``x_b`` alone carries any information, so univariate filters
    fail; the other ``n_features - 2`` features are noise. This is the XOR
    problem of Passemiers et al. (2024, Sci. Rep. 14).

    Parameters
    ----------
    n_samples : int, default 1000
        Number of rows (>= 2).
    n_features : int, default 32
        Total number of features (>= 2).
    shuffle_features : bool, default False
        False: the two informative features are 0 and 1 (``a, b = 0, 1``).
        True: they sit at two random positions (returned in
        ``truth.informative_features``). Use True when evaluating a ranking,
        so that ties broken by index cannot favour the true features.
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int64 in {0, 1}
    truth : sklearn.utils.Bunch
        ``relevant`` (bool mask), ``informative_features`` (the 2 indices,
        sorted), ``score`` (1.0 on the two informative features, 0
        elsewhere), ``settings``.

    Raises
    ------
    ValueError
        On ``n_samples < 2`` or ``n_features < 2`` or a non-boolean
        ``shuffle_features``.

    Examples
    --------
    >>> from stellar_relevance.datasets import make_xor
    >>> X, y, truth = make_xor(n_samples=100, n_features=32, random_state=0)
    >>> X.shape, truth.informative_features.tolist()
    ((100, 32), [0, 1])
    """
    n_samples = _check_int("n_samples", n_samples, 2)
    n_features = _check_int("n_features", n_features, 2)
    if not isinstance(shuffle_features, (bool, np.bool_)):
        raise ValueError(f"shuffle_features must be True or False, got {shuffle_features!r}")

    rng = check_random_state(random_state)
    if shuffle_features:
        informative = np.sort(rng.choice(n_features, size=2, replace=False))
    else:
        informative = np.array([0, 1])
    X = rng.normal(0.0, 1.0, size=(n_samples, n_features))
    y = (X[:, informative[0]] * X[:, informative[1]] > 0).astype(np.int64)

    relevant = np.zeros(n_features, dtype=bool)
    relevant[informative] = True
    truth = Bunch(
        relevant=relevant,
        informative_features=informative,
        score=relevant.astype(float),
        settings=dict(
            generator="make_xor",
            n_samples=n_samples,
            n_features=n_features,
            shuffle_features=bool(shuffle_features),
            random_state=_seed_repr(random_state),
        ),
    )
    return X, y, truth
