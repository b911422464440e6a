"""The residual-network engine: gradients by finite differences, batch norm, ensembles, identity, sweeps."""

import numpy as np
import pytest

from helpers import nn


@pytest.mark.parametrize("block", nn.BLOCKS)
@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_gradients_match_finite_differences(block, batchnorm, activation):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((30, 2)), rng.integers(0, 3, 30)  # no point sits exactly on a ReLU kink
    net = nn.make_network(3, block=block, width=6, batchnorm=batchnorm, activation=activation, seed=1)
    assert nn.gradient_check(net, x, y, eps=1e-5, samples=15) < 1e-4  # parameters and the input x


def test_batchnorm_forward_and_backward():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5)) * 3 + 2
    bn = nn.BatchNorm(5)
    bn.gamma[:] = rng.standard_normal(5)
    bn.beta[:] = rng.standard_normal(5)
    y = bn.forward(x)
    xhat = (y - bn.beta) / bn.gamma
    np.testing.assert_allclose(xhat.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(xhat.var(axis=0), 1, rtol=1e-4)  # eps = 1e-5 in the denominator
    w = rng.standard_normal((40, 5))  # loss = sum(w * y): dL/dy = w
    dx = bn.backward(w)
    eps = 1e-6
    for idx in [(0, 0), (7, 3), (39, 4)]:
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        numeric = ((w * bn.forward(xp)).sum() - (w * bn.forward(xm)).sum()) / (2 * eps)
        assert numeric == pytest.approx(dx[idx], rel=1e-6, abs=1e-9)
    np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-10)  # the mean is removed: shifting x changes nothing


def test_ensemble_copies_equal_single_networks():
    x, y = nn.spirals(10, 3, seed=0)
    ens = nn.make_network(3, block="v1", width=5, seeds=[4, 7])
    for i, seed in enumerate([4, 7]):
        one = nn.make_network(3, block="v1", width=5, seed=seed)
        np.testing.assert_allclose(ens.forward(x)[i], one.forward(x), rtol=1e-12, atol=1e-12)
    lrs = np.array([0.05, 0.2])
    losses = nn.train(ens, x, y, steps=15, optimizer=nn.SGD(lr=lrs))
    for i, seed in enumerate([4, 7]):
        single = nn.train(nn.make_network(3, block="v1", width=5, seed=seed), x, y, steps=15,
                          optimizer=nn.SGD(lr=lrs[i]))
        np.testing.assert_allclose(losses[:, i], single, rtol=1e-9)


def test_a_diverging_copy_does_not_spoil_the_others():
    x, y = nn.spirals(10, 3, seed=0)
    net = nn.make_network(3, block="v1", width=5, seeds=[0, 1])
    net.layers[0].W[0, 0, 0] = np.nan  # copy 0 is broken from the start
    losses = nn.train(net, x, y, steps=10, optimizer=nn.SGD(lr=0.05))
    single = nn.train(nn.make_network(3, block="v1", width=5, seed=1), x, y, steps=10, optimizer=nn.SGD(lr=0.05))
    assert np.isnan(losses[:, 0]).all()
    np.testing.assert_allclose(losses[:, 1], single, rtol=1e-9)


def test_zero_branches_are_exactly_the_identity():
    x, y = nn.spirals(10, 3, seed=0)
    net = nn.make_network(6, block="preact", width=5, batchnorm=False, init_scale=0.0)
    g, f = nn.stream_gradient_norms(net, x, y), nn.stream_rms(net, x)
    assert g.shape == f.shape == (7,)
    assert np.all(g == g[0]) and np.all(f == f[0])
    branch = nn.branch(4, block="preact", init_scale=0.0)
    res = nn.Residual(branch)
    h = np.random.default_rng(0).standard_normal((5, 4))
    assert np.array_equal(res.forward(h), h)
    assert np.array_equal(res.backward(np.ones_like(h)), np.ones_like(h))


def test_plain_and_residual_have_the_same_parameters():
    count = lambda net: sum(v.size for v, _ in net.params())
    assert count(nn.make_network(7, block="plain")) == count(nn.make_network(7, block="v1"))
    # pre-activation moves the BN after the input layer to the end: the same count again
    assert count(nn.make_network(7, block="plain")) == count(nn.make_network(7, block="preact"))


def test_softmax_cross_entropy():
    loss, d = nn.softmax_cross_entropy(np.zeros((4, 3)), np.array([0, 1, 2, 0]))
    assert loss == pytest.approx(np.log(3))
    np.testing.assert_allclose(d.sum(axis=1), 0, atol=1e-12)
    losses, _ = nn.softmax_cross_entropy(np.zeros((2, 4, 3)), np.array([0, 1, 2, 0]))
    np.testing.assert_allclose(losses, np.log(3))


def test_degradation_with_healthy_gradients_other_seeds():
    """Notebook 04's claim on seeds it does not use: deep plain (BN) fails with large input gradients,
    the residual net of the same depth and the shallow plain net train."""
    x, y = nn.spirals(30, 3, turns=1.5, seed=0)
    kw = dict(lrs=[0.03, 0.1], seeds=[5, 6], steps=150, width=12)
    shallow = nn.sweep("s", 2, "plain", x, y, **kw)
    deep = nn.sweep("d", 16, "plain", x, y, **kw)
    res = nn.sweep("r", 16, "v1", x, y, **kw)
    assert (shallow.final[shallow.best] < 0.1).all() and (res.final[res.best] < 0.1).all()
    assert (deep.final > 0.3).all()
    g = nn.stream_gradient_norms(nn.make_network(16, block="plain", width=12, seeds=[5, 6]), x, y)
    assert (g[:, 0] / g[:, -1] > 10).all()


def test_lesion_of_a_zero_block_changes_nothing():
    x, y = nn.spirals(10, 3, seed=0)
    net = nn.make_network(4, block="preact", width=5)
    net.layers[2].block.layers[-1].W[:] = 0  # block 2's branch outputs 0
    les = nn.lesion_accuracies(net, x, y)
    assert les.shape == (4,) and les[1] == nn.accuracy(net, x, y)


def test_bad_block_and_activation():
    with pytest.raises(ValueError, match="block must be"):
        nn.make_network(2, block="dense")
    with pytest.raises(ValueError, match="activation"):
        nn.Activation("gelu")


def test_best_models_picks_each_seeds_own_learning_rate():
    x, y = nn.spirals(10, 3, seed=0)
    run = nn.sweep("p", 2, "plain", x, y, lrs=[1e-4, 0.1], seeds=[0, 1], steps=20, width=5)
    assert run.best_models().tolist() == [2, 3]  # lr 0.1 for both seeds: models 1*2 + 0 and 1*2 + 1
    run.losses[-1, 1, 1] = np.nan                # seed 1 diverged at lr 0.1: its best is lr 1e-4
    assert run.best_models().tolist() == [2, 1]


def test_lesion_claims_on_other_seeds():
    """Notebook 04's lesion claims on seeds it does not use (seed 3 once failed the 'plain trains' premise
    when every seed took the median-best learning rate)."""
    x, y = nn.spirals(30, 3, turns=1.5, seed=0)
    kw = dict(lrs=[0.03, 0.1], seeds=[3, 4, 5], steps=150, width=12)
    lesioned = {}
    for block in ("plain", "v1"):
        run = nn.sweep(block, 6, block, x, y, **kw)
        models = run.best_models()
        assert (nn.accuracy(run.net, x, y)[models] > 0.9).all()
        lesioned[block] = nn.lesion_accuracies(run.net, x, y)[:, models]
    assert np.median(lesioned["plain"]) < 0.5 < 0.6 < np.median(lesioned["v1"])
    assert lesioned["v1"][:2].mean() < lesioned["v1"][2:].mean()  # the early blocks matter most


def test_loss_slice_is_centred_on_the_trained_weights_and_restores_them():
    x, y = nn.spirals(10, 3, seed=0)
    net = nn.make_network(3, block="v1", width=5, seeds=[0, 1])
    before = [v.copy() for v, _ in net.params()]
    losses = nn.loss_slice(net, x, y, np.array([-0.5, 0.0, 0.5]))
    assert losses.shape == (3, 2)
    np.testing.assert_allclose(losses[1], nn.softmax_cross_entropy(net.forward(x), y)[0])
    assert all(np.array_equal(a, v) for a, (v, _) in zip(before, net.params(), strict=True))


def test_loss_slice_rougher_for_the_deep_plain_net_other_seeds():
    """Notebook 04's Li et al. claim on seeds it does not use: more local minima along a random
    filter-normalised direction for the trained deep plain net than for the residual net."""
    x, y = nn.spirals(30, 3, turns=1.5, seed=0)
    alphas = np.linspace(-1, 1, 41)
    minima = {}
    for block in ("plain", "v1"):
        run = nn.sweep(block, 16, block, x, y, lrs=[0.03, 0.1], seeds=[3, 4, 5], steps=150, width=12)
        slices = nn.loss_slice(run.net, x, y, alphas)[:, run.best_models()]
        minima[block] = ((slices[1:-1] < slices[:-2]) & (slices[1:-1] < slices[2:])).sum(axis=0)
    assert minima["plain"].min() > minima["v1"].max()
