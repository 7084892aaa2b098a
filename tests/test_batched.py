"""The stacked training of many small networks (stellar_relevance.estimators.stacked) against one fit per network."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone

from stellar_relevance import SpectralRelevanceRegressor, topk_curve
from stellar_relevance.estimators.stacked import BUCKET_RATIO, _buckets, fit_predict_subsets


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(260, 40))
    y = X[:, 0] - 2 * X[:, 3] + 0.1 * rng.normal(size=260)
    G = rng.normal(size=(260, 2))
    subsets = [np.arange(30), np.arange(12) + 5, [0, 3], [1, 2, 9], rng.choice(40, 8, replace=False)]
    return X, y, G, subsets


def _one_by_one(est, X_train, y_train, X_test, subsets, given=None, given_test=None):
    predictions, epochs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "almost untrained" on the weak subsets
        for keep in subsets:
            fitted = clone(est).fit(X_train[:, keep], y_train, **({} if given is None else {"given": given}))
            kwargs = {} if given_test is None else {"given": given_test}
            predictions.append(fitted.predict(X_test[:, keep], **kwargs))
            epochs.append((fitted.best_epoch_, fitted.n_epochs_))
    return predictions, epochs


@pytest.mark.parametrize("penalty", ["l2", "l1", "group"])
@pytest.mark.parametrize("with_given", [False, True])
def test_stacked_equals_one_fit_per_subset(problem, penalty, with_given):
    """Same initialisation, split, batches, penalty and early stopping: the same networks, to float tolerance,
    including a network that stops early while the others go on (it is taken out of the stack)."""
    X, y, G, subsets = problem
    est = SpectralRelevanceRegressor(hidden_layer_sizes=(16, 8), max_epochs=25, batch_size=64, random_state=3,
                                     early_stopping=True, n_iter_no_change=4, penalty=penalty, n_threads=1)
    given = dict(given=G[:200], given_test=G[200:]) if with_given else {}
    fit = fit_predict_subsets(est, X[:200], y[:200], X[200:], subsets, **given)
    expected, epochs = _one_by_one(est, X[:200], y[:200], X[200:], subsets, **given)
    assert [(int(b), int(s)) for b, s in zip(fit.best_epoch, fit.stopped_epoch)] == epochs
    assert len({s for _, s in epochs}) > 1, "the test needs networks that stop at different epochs"
    for got, want in zip(fit.predictions, expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_without_early_stopping_and_two_outputs(problem):
    X, y, _, subsets = problem
    Y = np.column_stack([y, X[:, 1]])
    est = SpectralRelevanceRegressor(hidden_layer_sizes=(8,), max_epochs=6, batch_size=50, random_state=1,
                                     early_stopping=False, validation_fraction=0.0, loss="mse", n_threads=1)
    fit = fit_predict_subsets(est, X[:200], Y[:200], X[200:], subsets[:3])
    expected, epochs = _one_by_one(est, X[:200], Y[:200], X[200:], subsets[:3])
    assert list(fit.stopped_epoch) == [6, 6, 6] and list(fit.best_epoch) == [6, 6, 6]
    for got, want in zip(fit.predictions, expected):
        assert got.shape == (60, 2)
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_padding_stays_zero_and_groups_are_bounded():
    groups = _buckets([1000, 5, 300, 30, 100, 20, 1000, 10])
    for group in groups:
        widths = [[1000, 5, 300, 30, 100, 20, 1000, 10][i] for i in group]
        assert min(widths) * BUCKET_RATIO >= max(widths)
    assert sorted(i for g in groups for i in g) == list(range(8))


def test_curve_through_fit_predict_many_matches_make_model(problem):
    X, y, _, _ = problem
    order = np.argsort(-np.abs(np.corrcoef(X[:200].T, y[:200])[-1, :-1]))
    est = SpectralRelevanceRegressor(hidden_layer_sizes=(8,), max_epochs=8, batch_size=64, random_state=0, n_threads=1)
    mae = lambda t, p: float(np.mean(np.abs(t - p)))  # noqa: E731
    common = dict(metric=mae, n_random=2, random_state=0, protocols=("retrained",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = topk_curve(order, [2, 10], X[:200], y[:200], X[200:], y[200:], make_model=lambda: clone(est), **common)
    stacked = topk_curve(order, [2, 10], X[:200], y[:200], X[200:], y[200:], **common,
                         fit_predict_many=lambda keeps: fit_predict_subsets(est, X[:200], y[:200], X[200:],
                                                                            keeps).predictions)
    np.testing.assert_allclose(np.asarray(stacked["score"]), np.asarray(one["score"]), atol=1e-4)
    assert list(stacked["n_draws"]) == list(one["n_draws"])


@pytest.mark.parametrize(
    "subsets, message",
    [([[]], "subset 0 must hold 1 or more column indices"), ([[0], [40]], "subset 1 must hold"),
     ([[-1]], "subset 0 must hold")],
)
def test_bad_subsets_are_named(problem, subsets, message):
    X, y, _, _ = problem
    with pytest.raises(ValueError, match=message):
        fit_predict_subsets(SpectralRelevanceRegressor(max_epochs=1), X[:200], y[:200], X[200:], subsets)


def test_given_needs_given_test(problem):
    X, y, G, _ = problem
    with pytest.raises(ValueError, match="given and given_test go together"):
        fit_predict_subsets(SpectralRelevanceRegressor(max_epochs=1), X[:200], y[:200], X[200:], [[0]], given=G[:200])


def test_caller_generator_untouched(problem):
    X, y, _, subsets = problem
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit_predict_subsets(SpectralRelevanceRegressor(hidden_layer_sizes=(4,), max_epochs=2, random_state=0),
                        X[:200], y[:200], X[200:], subsets[:2])
    assert torch.equal(torch.rand(3), expected)


def test_memory_map_is_read_batch_by_batch_and_gives_the_same_networks(problem, tmp_path):
    X, y, _, subsets = problem
    mapped = np.lib.format.open_memmap(tmp_path / "flux.npy", mode="w+", dtype=np.float32, shape=X.shape)
    mapped[:] = X
    mapped.flush()
    mapped = np.load(tmp_path / "flux.npy", mmap_mode="r")
    est = SpectralRelevanceRegressor(hidden_layer_sizes=(8,), max_epochs=5, batch_size=64, random_state=0, n_threads=1)
    from_map = fit_predict_subsets(est, mapped[:200], y[:200], mapped[200:], subsets[:2])
    in_memory = fit_predict_subsets(est, X[:200].astype(np.float32), y[:200], X[200:].astype(np.float32), subsets[:2])
    assert isinstance(mapped[:200], np.memmap)
    for a, b in zip(from_map.predictions, in_memory.predictions):
        np.testing.assert_array_equal(a, b)


def test_progress_counts_every_network_epoch(problem, capsys, monkeypatch):
    """A long stacked training shows a moving bar (network-epochs done, the group): it never looks hung."""
    import stellar_relevance.estimators.stacked as stacked

    X, y, _, subsets = problem
    est = SpectralRelevanceRegressor(hidden_layer_sizes=(8,), max_epochs=12, batch_size=64, random_state=0, n_threads=1,
                                     early_stopping=True, n_iter_no_change=1, learning_rate=0.05)
    bars = []

    class Recorded(stacked.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.shown = not self.disable  # tqdm sets disable on close
            bars.append(self)

    monkeypatch.setattr(stacked, "tqdm", Recorded)
    fit = fit_predict_subsets(est, X[:200], y[:200], X[200:], subsets, progress=True)
    assert "training 5 networks" in capsys.readouterr().err
    assert min(fit.stopped_epoch) < 12, "the test needs a network that stops early"
    (bar,) = bars
    assert bar.shown and bar.total == 5 * 12 and bar.n == bar.total  # stopped networks count their rest
    fit_predict_subsets(est, X[:200], y[:200], X[200:], subsets[:2])  # progress=None follows verbose=0
    assert not bars[-1].shown and capsys.readouterr().err == ""
    fit_predict_subsets(clone(est).set_params(verbose=1), X[:200], y[:200], X[200:], subsets[:2])
    assert bars[-1].shown and "training 2 networks" in capsys.readouterr().err
