"""SpectralLinear: parametrisation, initialisation, gradients, relevance, penalty."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from stellar_relevance import SpectralLinear
from stellar_relevance.nn.layers import _SpectralLinearFunction
from stellar_relevance.nn.network import SpectralNetwork, build_network
from stellar_relevance.nn.core import make_optimizer


def test_initial_layer_is_a_dense_layer_with_unit_eigenvalues():
    torch.manual_seed(0)
    layer = SpectralLinear(30, 7)
    torch.manual_seed(0)
    dense = nn.Linear(30, 7)
    assert torch.equal(layer.eigenvalues, torch.ones(30))
    # psi is initialised exactly as nn.Linear initialises its weight
    assert torch.equal(layer.eigenvectors, dense.weight)
    assert torch.equal(layer.bias, torch.zeros(7))
    x = torch.randn(5, 30)
    assert torch.allclose(layer(x), x @ dense.weight.T, atol=1e-6)


def test_weight_is_lambda_times_psi_and_forward_uses_it():
    layer = SpectralLinear(6, 4)
    with torch.no_grad():
        layer.eigenvalues.copy_(torch.arange(6.0) - 2)
        layer.bias.uniform_()
    expected = layer.eigenvectors * (torch.arange(6.0) - 2)
    assert torch.allclose(layer.weight, expected)
    x = torch.randn(3, 6)
    assert torch.allclose(layer(x), x @ expected.T + layer.bias, atol=1e-6)
    # 3-D input (a batch of sequences) works too
    assert layer(torch.randn(2, 3, 6)).shape == (2, 3, 4)


def test_full_spectral_form_with_output_eigenvalues():
    layer = SpectralLinear(5, 3, output_eigenvalues=True)
    with torch.no_grad():
        layer.eigenvalues.copy_(torch.tensor([1.0, 2, 3, 4, 5]))
        layer.output_eigenvalues.copy_(torch.tensor([0.5, -1.0, 2.0]))
    lam_in, lam_out, psi = layer.eigenvalues, layer.output_eigenvalues, layer.eigenvectors
    expected = torch.stack([(lam_in - lam_out[j]) * psi[j] for j in range(3)])
    assert torch.allclose(layer.weight, expected)
    x = torch.randn(4, 5)
    assert torch.allclose(layer(x), x @ expected.T + layer.bias, atol=1e-5)
    assert SpectralLinear(5, 3).output_eigenvalues is None


def test_fused_function_gradients_match_finite_differences():
    torch.manual_seed(1)
    x = torch.randn(4, 7, dtype=torch.double, requires_grad=True)
    lam = torch.empty(7, dtype=torch.double).uniform_(-1, 2).requires_grad_()
    psi = torch.randn(5, 7, dtype=torch.double, requires_grad=True)
    bias = torch.randn(5, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(_SpectralLinearFunction.apply, (x, lam, psi, bias))
    assert torch.autograd.gradcheck(_SpectralLinearFunction.apply, (x, lam, psi, None))


def test_fused_gradients_equal_the_textbook_form():
    torch.manual_seed(2)
    layer = SpectralLinear(9, 4)
    with torch.no_grad():
        layer.eigenvalues.uniform_(-1, 1)
    x = torch.randn(8, 9)
    layer(x).square().sum().backward()
    fused = [p.grad.clone() for p in (layer.eigenvalues, layer.eigenvectors, layer.bias)]
    lam = layer.eigenvalues.detach().clone().requires_grad_()
    psi = layer.eigenvectors.detach().clone().requires_grad_()
    bias = layer.bias.detach().clone().requires_grad_()
    nn.functional.linear(x * lam, psi, bias).square().sum().backward()
    for got, want in zip(fused, (lam.grad, psi.grad, bias.grad)):
        assert torch.allclose(got, want, atol=1e-5)


def test_relevance_is_abs_eigenvalue_times_column_norm():
    layer = SpectralLinear(4, 3)
    with torch.no_grad():
        layer.eigenvalues.copy_(torch.tensor([2.0, -3.0, 0.0, 0.5]))
        layer.eigenvectors.copy_(torch.tensor([[3.0, 0, 1, 0], [4, 1, 1, 0], [0, 0, 1, 2]]))
    signed = layer.signed_relevance()
    assert torch.allclose(signed, torch.tensor([10.0, -3.0, 0.0, 1.0]))
    assert torch.allclose(layer.relevance(), torch.tensor([10.0, 3.0, 0.0, 1.0]))
    # relevance is the column norm of the effective weight
    assert torch.allclose(layer.relevance(), torch.linalg.vector_norm(layer.weight, dim=0))


def test_penalty_value_and_validation():
    layer = SpectralLinear(3, 2)
    with torch.no_grad():
        layer.eigenvalues.copy_(torch.tensor([1.0, 2.0, 3.0]))
        layer.eigenvectors.fill_(0.5)
    assert math.isclose(float(layer.penalty(0.1, 0.01).detach()), 0.1 * 14 + 0.01 * 6 * 0.25, rel_tol=1e-6)
    assert math.isclose(float(layer.penalty().detach()), 1e-2 * 14 + 1e-4 * 1.5, rel_tol=1e-6)
    with pytest.raises(ValueError, match="penalties must be >= 0"):
        layer.penalty(-1.0, 0.0)


def test_optimizer_weight_decay_is_exactly_the_penalty_gradient():
    """Adam(weight_decay=2c) on lambda/psi == loss + c*sum(p**2), step for step."""
    torch.manual_seed(3)
    net_a = SpectralNetwork(12, 1, (6, 4))
    net_b = SpectralNetwork(12, 1, (6, 4))
    net_b.load_state_dict(net_a.state_dict())
    x, y = torch.randn(32, 12), torch.randn(32, 1)
    opt_a = make_optimizer(net_a, 1e-2, 1e-2, 1e-3)
    opt_b = torch.optim.Adam(net_b.parameters(), lr=1e-2)
    for _ in range(5):
        opt_a.zero_grad()
        nn.functional.l1_loss(net_a(x), y).backward()
        opt_a.step()
        opt_b.zero_grad()
        loss = nn.functional.l1_loss(net_b(x), y) + net_b.spectral.penalty(1e-2, 1e-3)
        loss.backward()
        opt_b.step()
    for pa, pb in zip(net_a.parameters(), net_b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-5)


def test_network_shapes_and_bad_options():
    net = build_network(20, 3, (16, 8), activation="tanh", batch_norm=True, dropout=0.2)
    assert isinstance(net.spectral, SpectralLinear)
    assert net(torch.randn(5, 20)).shape == (5, 3)
    with pytest.raises(ValueError, match="unknown activation"):
        build_network(4, 1, (3,), activation="swishy")
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        build_network(4, 1, ())
    with pytest.raises(ValueError, match=">= 1"):
        SpectralLinear(0, 3)


def test_penalty_alone_drives_unused_eigenvalues_to_zero():
    """With no data gradient the penalty shrinks lambda toward 0."""
    torch.manual_seed(0)
    net = SpectralNetwork(10, 1, (8,))
    opt = make_optimizer(net, 1e-2, 1e-1, 0.0)
    x = torch.zeros(16, 10)  # inputs carry nothing
    for _ in range(300):
        opt.zero_grad()
        nn.functional.l1_loss(net(x), torch.zeros(16, 1)).backward()
        opt.step()
    assert np.abs(net.spectral.eigenvalues.detach().numpy()).max() < 0.05


def test_fused_gradients_equal_autograd_of_lambda_psi_with_input_gradient_and_reused_workspace():
    """Several steps through the one layer (the workspace is reused) give autograd's gradients of lambda*psi."""
    torch.manual_seed(4)
    layer = SpectralLinear(11, 6)
    with torch.no_grad():
        layer.eigenvalues.uniform_(-1, 1)
        layer.bias.uniform_()
    for step in range(3):
        x = torch.randn(7, 11, requires_grad=True)
        layer.zero_grad()
        (layer(x) ** 3).sum().backward()
        got = [x.grad] + [p.grad.clone() for p in (layer.eigenvalues, layer.eigenvectors, layer.bias)]
        lam, psi, bias = (p.detach().clone().requires_grad_() for p in (layer.eigenvalues, layer.eigenvectors,
                                                                          layer.bias))
        x2 = x.detach().clone().requires_grad_()
        (nn.functional.linear(x2, lam * psi, bias) ** 3).sum().backward()
        for g, w in zip(got, (x2.grad, lam.grad, psi.grad, bias.grad)):
            assert torch.allclose(g, w, rtol=1e-5, atol=1e-5), step
        with torch.no_grad():
            layer.eigenvalues.mul_(0.5)
    assert layer._workspace.tensor.shape == layer.eigenvectors.shape
    # a copy does not share (or carry) the scratch tensor
    import copy

    clone = copy.deepcopy(layer)
    assert clone._workspace is not layer._workspace and clone._workspace.tensor is None
    assert torch.allclose(clone(torch.ones(2, 11)), layer(torch.ones(2, 11)))
