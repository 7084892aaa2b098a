"""Top-k curves and top-k stability."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error

from stellar_relevance.ranking.evaluation import mask_features, resolve_ks, topk_curve, topk_overlap
from stellar_relevance.exceptions import ParameterError


class _MeanModel:
    """A 'fitted model' whose prediction is the sum of features 0 and 1."""

    feature_means_ = np.array([10.0, 20.0, 30.0, 40.0])

    def predict(self, X):
        return X[:, 0] + X[:, 1]


def test_mask_features_fills_with_given_values_and_copies():
    X = np.arange(12.0).reshape(3, 4)
    original = X.copy()
    masked = mask_features(X, [1, 3], _MeanModel.feature_means_)
    assert np.array_equal(masked[:, [1, 3]], X[:, [1, 3]])
    assert np.array_equal(masked[:, 0], [10.0] * 3) and np.array_equal(masked[:, 2], [30.0] * 3)
    assert np.array_equal(X, original)


def test_topk_curve_masked_and_retrained():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)) + [10, 20, 30, 40]
    y = X[:, 0] + X[:, 1]
    curve = topk_curve(
        [0, 1, 2, 3], [1, 2, "all"], X[:200], y[:200], X[200:], y[200:],
        metric=mean_absolute_error, fitted=_MeanModel(), make_model=LinearRegression,
        n_random=4, random_state=0,
    )
    from astropy.table import Table

    assert isinstance(curve, Table)
    ranked = {(r["protocol"], int(r["k"])): float(r["score"]) for r in curve if r["selection"] == "ranked"}
    # masked with the two true features kept: exact
    assert ranked[("masked", 2)] == pytest.approx(0.0, abs=1e-12)
    assert ranked[("retrained", 2)] == pytest.approx(0.0, abs=1e-9)
    # masked with only feature 0 kept: error is |x1 - mean(x1)|
    assert ranked[("masked", 1)] == pytest.approx(np.mean(np.abs(X[200:, 1] - 20.0)))
    random = curve[curve["selection"] == "random"]
    assert set(random["k"]) == {1, 2} and (random["n_draws"] == 4).all()
    assert 4 not in set(random["k"])  # no random draw of "all"
    # seeded: the same call gives the same curve
    again = topk_curve(
        [0, 1, 2, 3], [1, 2, "all"], X[:200], y[:200], X[200:], y[200:],
        metric=mean_absolute_error, fitted=_MeanModel(), make_model=LinearRegression,
        n_random=4, random_state=0,
    )
    assert all(np.array_equal(curve[name], again[name]) for name in curve.colnames)


def test_topk_curve_bad_input():
    X, y = np.zeros((10, 3)), np.zeros(10)
    kwargs = dict(metric=mean_absolute_error, make_model=LinearRegression, protocols=("retrained",))
    with pytest.raises(ParameterError, match="k=4, above the 3 pixels") as info:
        topk_curve([0, 1, 2], [4], X, y, X, y, **kwargs)
    assert info.value.parameter == "ks"
    with pytest.raises(ValueError, match="permutation"):
        topk_curve([0, 0, 2], [1], X, y, X, y, **kwargs)
    with pytest.raises(ValueError, match="needs the fitted model"):
        topk_curve([0, 1, 2], [1], X, y, X, y, metric=mean_absolute_error, protocols=("masked",))
    with pytest.raises(ValueError, match="unknown protocols"):
        topk_curve([0, 1, 2], [1], X, y, X, y, metric=mean_absolute_error, protocols=("zeroed",))


def test_topk_overlap():
    assert topk_overlap([[1, 2, 3, 9], [3, 2, 1, 8]], 3) == 1.0
    assert topk_overlap([[1, 2, 3], [4, 5, 6]], 3) == 0.0
    # within two pixels counts as the same line
    assert topk_overlap([[10, 20], [12, 30]], 2, tolerance=2) == 0.5
    assert topk_overlap([[10, 20], [12, 30]], 2, tolerance=0) == 0.0
    with pytest.raises(ValueError, match="at least two"):
        topk_overlap([[1, 2]], 1)
    with pytest.raises(ValueError, match="k=5"):
        topk_overlap([[1, 2], [2, 1]], 5)


def test_resolve_ks_one_rule():
    """k above the number of features is an error, not clipped; 'all' is every feature."""
    assert resolve_ks([30, "all", 5, 30, "ALL"], 100) == [5, 30, 100]
    for bad, message in (([101], "above the 100"), ([0], "positive"), (["most"], "'all'"), ([2.5], "positive")):
        with pytest.raises(ParameterError, match=message):
            resolve_ks(bad, 100)
    with pytest.raises(ParameterError) as info:
        resolve_ks([200], 100, parameter="retrain_ks")
    assert info.value.parameter == "retrain_ks"
