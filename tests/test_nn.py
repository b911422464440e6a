"""The residual-network engine: gradients by finite differences, identity, training."""

import numpy as np
import pytest

from helpers import nn


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu", "identity"])
def test_gradients_match_finite_differences(residual, activation):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((30, 2)), rng.integers(0, 3, 30)  # no point sits exactly on a ReLU kink
    net = nn.make_network(3, width=6, residual=residual, activation=activation, seed=1)
    assert nn.gradient_check(net, x, y, eps=1e-5, samples=30) < 1e-5


def test_input_gradient_matches_finite_differences():
    x, y = nn.spirals(5, 3, seed=3)
    net = nn.make_network(4, width=5, residual=True, activation="tanh")
    _, d = nn.softmax_cross_entropy(net.forward(x), y)
    dx = net.backward(d)
    eps = 1e-6
    for idx in [(0, 0), (3, 1), (7, 0)]:
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        numeric = (nn.softmax_cross_entropy(net.forward(xp), y)[0] - nn.softmax_cross_entropy(net.forward(xm), y)[0])
        assert numeric / (2 * eps) == pytest.approx(dx[idx], rel=1e-5, abs=1e-9)


def test_residual_with_zero_branch_is_identity():
    block = nn.Sequential([nn.Dense(4, 4), nn.Activation("relu")])
    block.layers[0].W[:] = 0
    res = nn.Residual(block)
    x = np.random.default_rng(0).standard_normal((5, 4))
    assert np.array_equal(res.forward(x), x)
    dy = np.ones_like(x)
    assert np.array_equal(res.backward(dy), dy)


def test_same_parameters_plain_and_residual():
    count = lambda net: sum(v.size for v, _ in net.params())
    assert count(nn.make_network(7)) == count(nn.make_network(7, residual=True))


def test_softmax_cross_entropy():
    loss, d = nn.softmax_cross_entropy(np.zeros((4, 3)), np.array([0, 1, 2, 0]))
    assert loss == pytest.approx(np.log(3))
    np.testing.assert_allclose(d.sum(axis=1), 0, atol=1e-12)


def test_degradation_in_miniature():
    """The notebook's claim, at a smaller scale: deep plain trains worse than deep residual."""
    x, y = nn.spirals(40, 3, seed=0)
    plain = nn.train(nn.make_network(12, residual=False), x, y, steps=120, optimizer=nn.SGD(lr=0.05))
    res = nn.train(nn.make_network(12, residual=True), x, y, steps=120, optimizer=nn.SGD(lr=0.05))
    assert res[-1] < 0.5 * plain[-1]
    assert res[-1] < res[0]


def test_vanishing_vs_residual_gradient_flow():
    x, y = nn.spirals(30, 3, seed=0)
    g_plain = nn.activation_gradient_norms(nn.make_network(30, init_scale=0.5), x, y)
    g_res = nn.activation_gradient_norms(nn.make_network(30, residual=True, init_scale=0.5), x, y)
    assert g_plain[0] / g_plain[-1] < 1e-8
    assert g_res[0] / g_res[-1] > 0.5


def test_adam_and_progress(capsys):
    x, y = nn.spirals(20, 3, seed=0)
    losses = nn.train(nn.make_network(2), x, y, steps=20, optimizer=nn.Adam(lr=0.01), progress=10)
    assert losses[-1] < losses[0]
    assert capsys.readouterr().out.count("step") == 2
    assert 0 <= nn.accuracy(nn.make_network(2), x, y) <= 1
    with pytest.raises(ValueError):
        nn.Activation("gelu")
