"""The training loop's penalties (proximal steps), the batch gathering and the streaming statistics."""

import numpy as np
import pytest
import torch

from stellar_relevance import SpectralLinear, SpectralNetwork, train
from stellar_relevance.nn.batches import ArrayBatches, column_moments
from stellar_relevance.nn.proximal import group_soft_threshold_, penalty_value, proximal_step, soft_threshold_
from stellar_relevance.nn.core import make_optimizer
from stellar_relevance.nn.training import torch_threads


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as the estimators use: torch's default oversubscribes a small shared machine."""
    with torch_threads(1):
        yield


def test_soft_threshold_is_the_l1_proximal_operator():
    # prox_{t|.|}(v) = argmin_u 0.5 (u - v)^2 + t |u|: check against a dense grid search
    v = torch.tensor([-2.0, -0.3, 0.0, 0.2, 0.9, 3.0])
    t = 0.5
    grid = torch.linspace(-4, 4, 80001, dtype=torch.float64)
    expected = torch.stack([grid[torch.argmin(0.5 * (grid - x) ** 2 + t * grid.abs())] for x in v])
    got = soft_threshold_(v.clone(), t)
    assert torch.allclose(got.double(), expected, atol=2e-4)
    assert torch.equal(got[1:4], torch.zeros(3))


def test_group_soft_threshold_shrinks_each_column_norm_and_keeps_its_direction():
    torch.manual_seed(0)
    layer = SpectralLinear(6, 4)
    with torch.no_grad():
        layer.eigenvalues.copy_(torch.tensor([1.0, -0.5, 0.01, 2.0, 0.0, -1.0]))
    before_w = layer.weight.detach().clone()
    before = layer.relevance().clone()
    t = 0.2
    group_soft_threshold_(layer, t)
    after = layer.relevance()
    assert torch.allclose(after, (before - t).clamp(min=0), atol=1e-6)
    off = before <= t
    assert off.any() and torch.equal(layer.eigenvalues.detach()[off], torch.zeros(int(off.sum())))
    on = ~off
    cos = torch.nn.functional.cosine_similarity(layer.weight.detach()[:, on], before_w[:, on], dim=0)
    assert torch.allclose(cos, torch.ones_like(cos))


def test_penalty_value_per_kind():
    layer = SpectralLinear(3, 2)
    psi2 = float(layer.eigenvectors.detach().pow(2).sum())
    assert penalty_value(layer, "l2", 0.5, 0.1) == pytest.approx(0.5 * 3 + 0.1 * psi2, rel=1e-6)
    assert penalty_value(layer, "l1", 0.5, 0.1) == pytest.approx(0.5 * 3 + 0.1 * psi2, rel=1e-6)
    assert penalty_value(layer, "group", 1.0, 0.0) == pytest.approx(float(layer.relevance().sum()), rel=1e-6)
    with pytest.raises(ValueError, match="penalty must be one of"):
        penalty_value(layer, "l0", 1.0, 0.0)


def test_l2_step_is_a_no_op_and_unknown_penalty_is_refused():
    layer = SpectralLinear(3, 2)
    before = layer.eigenvalues.detach().clone()
    proximal_step(layer, "l2", 10.0)
    assert torch.equal(layer.eigenvalues.detach(), before)
    with pytest.raises(ValueError, match="penalty must be one of"):
        make_optimizer(SpectralNetwork(3, 1, (2,)), 1e-3, 1e-2, 1e-4, penalty="lasso")
    with pytest.raises(ValueError, match="without output eigenvalues"):
        make_optimizer(SpectralNetwork(3, 1, (2,), output_eigenvalues=True), 1e-3, 1e-2, 1e-4, penalty="l1")


def test_proximal_optimizer_leaves_eigenvalues_without_weight_decay():
    net = SpectralNetwork(5, 1, (4,))
    opt = make_optimizer(net, 1e-3, 0.5, 1e-4, penalty="l1")
    assert opt.param_groups[0]["weight_decay"] == 0.0
    assert opt.param_groups[1]["weight_decay"] == pytest.approx(2e-4)
    assert make_optimizer(net, 1e-3, 0.5, 1e-4).param_groups[0]["weight_decay"] == pytest.approx(1.0)


def _regression(n=600, d=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (2 * X[:, 1] - X[:, 6]).astype(np.float32)[:, None]
    return torch.as_tensor(X), torch.as_tensor(y)


@pytest.mark.parametrize("penalty", ["l1", "group"])
def test_proximal_training_reaches_exact_zeros_where_l2_does_not(penalty):
    X, y = _regression()
    zeros = {}
    for kind, strength in (("l2", 1e-2), (penalty, 0.05)):  # in Adam's metric 0.01 .. 0.2 all select here
        torch.manual_seed(0)
        net = SpectralNetwork(10, 1, (16,))
        result = train(net, X, y, loss_fn=torch.nn.L1Loss(), learning_rate=1e-2, eigenvalue_penalty=strength,
                       penalty=kind, max_epochs=40, batch_size=50, early_stopping=False,
                       generator=torch.Generator().manual_seed(0))
        lam = net.spectral.eigenvalues.detach()
        zeros[kind] = int((lam == 0).sum())
        if kind != "l2":
            assert lam[1] != 0 and lam[6] != 0, "a relevant input was switched off"
            assert result.history[-1]["penalty"] == pytest.approx(
                penalty_value(net.spectral, kind, strength, 1e-4), rel=1e-5)
    assert zeros["l2"] == 0
    assert zeros[penalty] >= 6


def test_column_moments_match_numpy_in_float64():
    rng = np.random.default_rng(1)
    X = (1 + 1e-3 * rng.normal(size=(3001, 7))).astype(np.float32)
    rows = rng.permutation(3001)[:2000]
    import stellar_relevance.nn.batches as batches

    old = batches.CHUNK_BYTES
    batches.CHUNK_BYTES = 8 * 7 * 333  # several uneven chunks
    try:
        mean, std = column_moments(X, rows)
    finally:
        batches.CHUNK_BYTES = old
    ref = X[rows].astype(np.float64)
    assert mean.dtype == np.float64
    np.testing.assert_allclose(mean, ref.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, ref.std(axis=0), rtol=1e-9)


def test_array_batches_gather_scale_and_given(tmp_path):
    X = np.arange(40, dtype=np.float32).reshape(10, 4)
    np.save(tmp_path / "x.npy", X)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    rows = np.array([7, 2, 9, 0])
    given = np.array([[1.0], [2.0], [3.0], [4.0]])
    b = ArrayBatches(mm, rows, offset=np.full(4, 1.0), scale=np.full(4, 2.0), given=given)
    x, g = b[torch.tensor([2, 0, 1])]
    np.testing.assert_array_equal(x.numpy(), (X[[9, 7, 2]] - 1) / 2)
    np.testing.assert_array_equal(g.numpy(), [[3.0], [1.0], [2.0]])
    x, g = b[1:3]
    np.testing.assert_array_equal(x.numpy(), (X[[2, 9]] - 1) / 2)
    assert x.dtype == torch.float32 and len(b) == 4


def test_train_accepts_array_batches_like_tensors():
    X, y = _regression(n=300)
    results = []
    for source in ("tensor", "batches"):
        torch.manual_seed(0)
        net = SpectralNetwork(10, 1, (8,))
        data = X if source == "tensor" else ArrayBatches(X.numpy(), np.arange(300), np.zeros(10), np.ones(10))
        train(net, data, y, loss_fn=torch.nn.L1Loss(), max_epochs=3, batch_size=64, early_stopping=False,
              generator=torch.Generator().manual_seed(0))
        results.append(net.spectral.relevance())
    assert torch.allclose(results[0], results[1], rtol=1e-5, atol=1e-7)
