"""Tests of the synthetic generators in stellar_relevance.datasets."""

import numpy as np
import pytest

from stellar_relevance.datasets import (
    make_correlated_pairs,
    make_independent_gaussian,
    make_xor,
)

GENERATORS = [
    (make_independent_gaussian, dict(n_samples=400)),
    (make_correlated_pairs, dict(n_samples=400)),
    (make_xor, dict(n_samples=400, n_features=16, shuffle_features=True)),
]


# --------------------------------------------------------------------------
# common behaviour
# --------------------------------------------------------------------------
@pytest.mark.parametrize("make, kwargs", GENERATORS)
def test_shapes_dtypes_and_truth(make, kwargs):
    X, y, truth = make(random_state=3, **kwargs)
    assert X.dtype == np.float64 and X.ndim == 2 and X.shape[0] == 400
    assert y.dtype == np.int64 and y.shape == (400,)
    assert set(np.unique(y)) == {0, 1}
    assert np.isfinite(X).all()
    assert truth.relevant.dtype == bool and truth.relevant.shape == (X.shape[1],)
    assert truth.score.shape == (X.shape[1],)
    # the score is zero exactly on the irrelevant features
    np.testing.assert_array_equal(truth.score > 0, truth.relevant)
    assert truth.settings["random_state"] == 3
    assert truth.settings["n_samples"] == 400


@pytest.mark.parametrize("make, kwargs", GENERATORS)
def test_same_seed_same_data_other_seed_other_data(make, kwargs):
    X1, y1, t1 = make(random_state=11, **kwargs)
    X2, y2, t2 = make(random_state=11, **kwargs)
    X3, _, _ = make(random_state=12, **kwargs)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(t1.score, t2.score)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("make, kwargs", GENERATORS)
def test_randomstate_instance_accepted(make, kwargs):
    rng = np.random.RandomState(0)
    X, y, truth = make(random_state=rng, **kwargs)
    assert truth.settings["random_state"] == "RandomState"
    # the instance was consumed, so a second call differs
    X2, _, _ = make(random_state=rng, **kwargs)
    assert not np.array_equal(X, X2)


# --------------------------------------------------------------------------
# independent Gaussian (paper Sec. 3.1)
# --------------------------------------------------------------------------
def test_independent_defaults_follow_paper():
    X, y, truth = make_independent_gaussian(random_state=0)
    assert X.shape == (60000, 20)
    assert truth.relevant.sum() == 11
    assert np.bincount(y).tolist() == [30000, 30000]
    assert truth.sigma == 0.5
    shifts = truth.shift[truth.relevant]
    assert np.all((shifts >= 0) & (shifts <= 1.4))
    np.testing.assert_array_equal(truth.shift[~truth.relevant], 0.0)
    np.testing.assert_array_equal(truth.score, truth.shift)


def test_independent_class_means_and_sigma_are_as_stated():
    X, y, truth = make_independent_gaussian(n_samples=40000, sigma=0.5, random_state=5)
    m0 = X[y == 0].mean(0)
    m1 = X[y == 1].mean(0)
    # standard error of a class mean: 0.5 / sqrt(20000) = 0.0035
    np.testing.assert_allclose(m0, -0.5, atol=0.02)
    np.testing.assert_allclose(m1 - m0, truth.shift, atol=0.03)
    np.testing.assert_allclose(X[y == 0].std(0), 0.5, atol=0.02)
    np.testing.assert_allclose(truth.class_means[1] - truth.class_means[0], truth.shift)


def test_independent_min_shift_and_no_relevant():
    _, _, truth = make_independent_gaussian(
        n_samples=10, min_shift=0.5, max_shift=0.6, random_state=1
    )
    shifts = truth.shift[truth.relevant]
    assert shifts.min() >= 0.5 and shifts.max() <= 0.6
    _, _, truth = make_independent_gaussian(n_samples=10, n_relevant=0, random_state=1)
    assert not truth.relevant.any()


def test_independent_odd_sample_count_is_balanced():
    _, y, _ = make_independent_gaussian(n_samples=7, random_state=0)
    assert np.bincount(y).tolist() == [4, 3]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_samples=1), "n_samples must be an integer >= 2"),
        (dict(n_samples=10.5), "n_samples must be an integer"),
        (dict(n_samples=True), "n_samples must be an integer"),
        (dict(n_features=0), "n_features must be an integer >= 1"),
        (dict(n_relevant=21), r"n_relevant \(21\) must not exceed n_features \(20\)"),
        (dict(n_relevant=-1), "n_relevant must be an integer >= 0"),
        (dict(sigma=0.0), "sigma must be > 0"),
        (dict(sigma=float("nan")), "sigma must be finite"),
        (dict(sigma="big"), "sigma must be a real number"),
        (dict(max_shift=-1.0), "max_shift must be >= 0"),
        (dict(min_shift=2.0), r"min_shift \(2.0\) must not exceed max_shift \(1.4\)"),
    ],
)
def test_independent_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_independent_gaussian(**{"n_samples": 10, **kwargs})


# --------------------------------------------------------------------------
# correlated pairs (paper Sec. 3.2)
# --------------------------------------------------------------------------
def test_pairs_defaults_follow_paper():
    X, y, truth = make_correlated_pairs(random_state=0)
    assert X.shape == (100000, 10)
    np.testing.assert_array_equal(truth.pairs, [[0, 1], [2, 3], [4, 5], [6, 7]])
    np.testing.assert_array_equal(truth.noise_features, [8, 9])
    np.testing.assert_array_equal(
        truth.flip_probability, [0.7, 0.7, 0.8, 0.8, 0.4, 0.4, 0.6, 0.6, 0.0, 0.0]
    )
    np.testing.assert_array_equal(truth.relevant, [True] * 8 + [False] * 2)
    assert truth.sigma == 1.0


def test_pairs_structure_matches_eq2():
    p = (0.7, 0.8, 0.4, 0.6)
    X, y, truth = make_correlated_pairs(n_samples=40000, flip_probabilities=p, random_state=2)
    for n, (a, b) in enumerate(truth.pairs):
        # class 0: the second member is an exact copy of the first
        np.testing.assert_array_equal(X[y == 0, b], X[y == 0, a])
        # class 1: the second member is either a copy or the negative of the first
        same = X[y == 1, b] == X[y == 1, a]
        opposite = X[y == 1, b] == -X[y == 1, a]
        assert np.all(same | opposite)
        # ... flipped with probability p_n (standard error ~0.0035)
        assert abs(opposite.mean() - p[n]) < 0.02
    # no single feature carries information: class means and spreads agree
    for j in range(X.shape[1]):
        assert abs(X[y == 0, j].mean() - X[y == 1, j].mean()) < 0.05
        assert abs(X[y == 0, j].std() - X[y == 1, j].std()) < 0.05
    np.testing.assert_allclose(X.std(0), 1.0, atol=0.03)


def test_pairs_custom_layout_and_sigma():
    X, y, truth = make_correlated_pairs(
        n_samples=50, flip_probabilities=[0.5, 0.0, 1.0], n_noise=0, sigma=0.5, random_state=0
    )
    assert X.shape == (50, 6)
    np.testing.assert_array_equal(truth.relevant, [1, 1, 0, 0, 1, 1])
    # p = 1: every class-1 row is anti-correlated; p = 0: the pair is a copy
    np.testing.assert_array_equal(X[y == 1, 5], -X[y == 1, 4])
    np.testing.assert_array_equal(X[:, 3], X[:, 2])
    assert truth.noise_features.size == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(flip_probabilities=()), "non-empty 1-D"),
        (dict(flip_probabilities=[[0.1, 0.2]]), "non-empty 1-D"),
        (dict(flip_probabilities=[0.5, 1.5]), r"flip_probabilities\[1\] = 1.5 is not a probability"),
        (dict(flip_probabilities=[-0.1]), r"flip_probabilities\[0\] = -0.1"),
        (dict(flip_probabilities=[float("nan")]), r"flip_probabilities\[0\] = nan"),
        (dict(flip_probabilities=["a"]), "must be a sequence of numbers"),
        (dict(n_noise=-1), "n_noise must be an integer >= 0"),
        (dict(sigma=-1.0), "sigma must be > 0"),
        (dict(n_samples=0), "n_samples must be an integer >= 2"),
    ],
)
def test_pairs_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_correlated_pairs(**{"n_samples": 10, **kwargs})


# --------------------------------------------------------------------------
# XOR
# --------------------------------------------------------------------------
def test_xor_label_is_sign_of_product():
    X, y, truth = make_xor(n_samples=2000, n_features=8, random_state=0)
    np.testing.assert_array_equal(truth.informative_features, [0, 1])
    np.testing.assert_array_equal(y, (np.sign(X[:, 0] * X[:, 1]) > 0).astype(int))
    assert 0.45 < y.mean() < 0.55
    # neither informative feature alone separates the classes
    for j in (0, 1):
        assert abs(X[y == 0, j].mean() - X[y == 1, j].mean()) < 0.1
    assert truth.relevant.sum() == 2


def test_xor_shuffled_positions_are_returned():
    X, y, truth = make_xor(n_samples=500, n_features=2048, shuffle_features=True, random_state=4)
    a, b = truth.informative_features
    assert a < b and truth.relevant[[a, b]].all() and truth.relevant.sum() == 2
    np.testing.assert_array_equal(y, (X[:, a] * X[:, b] > 0).astype(int))
    positions = {
        tuple(make_xor(n_samples=4, n_features=2048, shuffle_features=True, random_state=s)[2]
              .informative_features)
        for s in range(5)
    }
    assert len(positions) > 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_features=1), "n_features must be an integer >= 2"),
        (dict(n_samples=1), "n_samples must be an integer >= 2"),
        (dict(shuffle_features="yes"), "shuffle_features must be True or False"),
    ],
)
def test_xor_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_xor(**kwargs)
