"""Pruning to k inputs with fine-tuning: ``select`` on the estimators."""

import numpy as np
import pytest

from stellar_relevance import ParameterError, SpectralRelevanceClassifier, SpectralRelevanceRegressor
from stellar_relevance.estimators._selection import halving_schedule

FAST = dict(hidden_layer_sizes=(16, 8), max_epochs=30, learning_rate=1e-2, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 24))
    y_reg = 1.5 * X[:, 4] - X[:, 17] + 0.5 * X[:, 9] + 0.05 * rng.normal(size=800)
    y_class = np.where(X[:, 2] - X[:, 20] > 0, "hot", "cool")
    return X, y_reg, y_class


def test_halving_schedule():
    assert halving_schedule(784, 50) == [392, 196, 98, 50]
    assert halving_schedule(24, 3) == [12, 6, 3]
    assert halving_schedule(5, 5) == [5]


def test_select_keeps_exactly_k_inputs_and_predicts_from_full_inputs(data):
    X, y, _ = data
    reg = SpectralRelevanceRegressor(**FAST).fit(X, y)
    before = reg.relevance_.copy()
    small = reg.select(X, y, 3, max_epochs=10)
    assert np.array_equal(reg.relevance_, before)  # the original is untouched
    assert small.n_selected_ == 3 and set(np.flatnonzero(small.support_)) == {4, 9, 17}
    assert set(small.ranking_[:3]) == {4, 9, 17} and sorted(small.ranking_) == list(range(24))
    masked = X.copy()
    masked[:, ~small.support_] = 123.0  # the pruned inputs contribute nothing
    np.testing.assert_array_equal(small.predict(masked), small.predict(X))
    assert small.score(X, y) > 0.95
    again = reg.select(X, y, 3, max_epochs=10)  # seeded
    np.testing.assert_array_equal(again.relevance_, small.relevance_)


def test_select_on_a_classifier_with_string_labels(data):
    X, _, y = data
    clf = SpectralRelevanceClassifier(**FAST).fit(X, y)
    small = clf.select(X, y, 2, max_epochs=5)
    assert set(np.flatnonzero(small.support_)) == {2, 20}
    assert small.score(X, y) > 0.9


@pytest.mark.parametrize("k", [0, -1, 25, 2.5, True])
def test_bad_k_names_the_option(data, k):
    X, y, _ = data
    reg = SpectralRelevanceRegressor(**{**FAST, "max_epochs": 1}).fit(X[:100], y[:100])
    with pytest.raises(ParameterError, match=r"k must be an integer in \[1, 24\]") as err:
        reg.select(X[:100], y[:100], k)
    assert err.value.parameter == "k"


def test_chained_select_repeats_one_select_and_keeps_pruned_inputs_at_zero(data):
    from stellar_relevance.estimators._selection import pruning_schedule

    X, y, _ = data
    reg = SpectralRelevanceRegressor(**FAST).fit(X, y)
    assert pruning_schedule(reg, 3) == [12, 6, 3]
    direct = reg.select(X, y, 3, max_epochs=4)
    six = reg.select(X, y, 6, max_epochs=4)
    assert pruning_schedule(six, 3) == [3]  # starts from the 6 inputs still alive
    chained = six.select(X, y, 3, max_epochs=4)
    # the pruned 18 never come back, and the chain repeats the single call's stages exactly
    assert set(np.flatnonzero(chained.support_)) <= set(np.flatnonzero(six.support_))
    np.testing.assert_array_equal(chained.eigenvalues_, direct.eigenvalues_)
    np.testing.assert_array_equal(chained.ranking_, direct.ranking_)
    # the ranking lists the last kept first, then the inputs pruned latest
    assert set(chained.ranking_[:6]) == set(np.flatnonzero(six.support_))
    assert chained.ranking_[6:].tolist() == six.ranking_[6:].tolist()
    with pytest.raises(ParameterError, match="k must be an integer"):
        pruning_schedule(six, 25)


def test_gentler_schedule_is_a_chain_of_select_calls(data):
    from stellar_relevance.estimators._selection import select_inputs

    X, y, _ = data
    reg = SpectralRelevanceRegressor(**FAST).fit(X, y)
    assert halving_schedule(24, 3, keep=0.75) == [18, 13, 9, 6, 4, 3]
    one = select_inputs(reg, X, y, 3, max_epochs=2, keep=0.75)
    chain = reg
    for live in halving_schedule(24, 3, keep=0.75):
        chain = chain.select(X, y, live, max_epochs=2)
    np.testing.assert_array_equal(one.eigenvalues_, chain.eigenvalues_)
    np.testing.assert_array_equal(one.ranking_, chain.ranking_)
    assert one.n_selected_ == 3
    # and the estimator's own select takes the same keep
    method = reg.select(X, y, 3, max_epochs=2, keep=0.75)
    np.testing.assert_array_equal(method.eigenvalues_, one.eigenvalues_)
    with pytest.raises(ParameterError, match="keep"):
        reg.select(X, y, 3, keep=1.0)


@pytest.mark.parametrize("keep", [0, 1, 1.5, -0.5, "half", True])
def test_bad_keep_names_the_option(keep):
    with pytest.raises(ParameterError, match=r"keep must be a share of the live inputs in \(0, 1\)") as err:
        halving_schedule(24, 3, keep=keep)
    assert err.value.parameter == "keep"
