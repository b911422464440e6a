"""A small neural-network engine in NumPy, forward and backward side by side.

Just enough to see what residual connections do: dense layers, batch normalisation,
ReLU/tanh, residual wrappers, a softmax cross-entropy loss and SGD with momentum.
Every layer has a ``forward`` that caches what the backward pass needs and a
``backward`` that takes the gradient of the loss with respect to the layer's output,
stores the gradients of its parameters and returns the gradient with respect to its
input (micrograd-style, one layer at a time).

Shapes: a batch of ``N`` examples with ``D`` features is ``(N, D)``. Networks can also
hold ``E`` independent *copies* (different seeds and learning rates, trained side by
side): then every weight has a leading axis ``E`` (``W: (E, D_in, D_out)``), the
activations are ``(E, N, D)``, and each copy gets exactly the gradient it would get
alone. That is only a way to run a sweep of small models in one pass of NumPy calls.

A residual wrapper computes ``y = x + F(x)``; its backward is
``dx = dy + F.backward(dy)``: the identity path hands the gradient down unchanged,
whatever ``F`` does to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Dense",
    "BatchNorm",
    "Activation",
    "Sequential",
    "Residual",
    "softmax_cross_entropy",
    "branch",
    "make_network",
    "SGD",
    "train",
    "stream_gradient_norms",
    "stream_rms",
    "gradient_check",
    "spirals",
    "accuracy",
    "lesion_accuracies",
    "loss_slice",
    "BLOCKS",
    "Sweep",
    "sweep",
]


def _ensemble_shape(models: int | None, *shape: int) -> tuple[int, ...]:
    return shape if models is None else (models, *shape)


def _batch_sum(a: np.ndarray) -> np.ndarray:
    """Sum over the batch axis (-2), kept as a length-1 axis: (..., N, D) -> (..., 1, D).

    Written as ones(1, N) @ a: on these small arrays a matrix product is about 5x
    faster than ``a.sum(axis=-2)``, and the sweeps of notebook 04 spend most of
    their time here.
    """
    return np.ones((1, a.shape[-2])) @ a


class Dense:
    """y = x @ W + b.

    x: (N, D_in) or (E, N, D_in); W: (D_in, D_out) or (E, D_in, D_out); b: (D_out,) or
    (E, 1, D_out); y: (N, D_out) or (E, N, D_out).
    Weights are N(0, gain² · scale² / D_in): gain 1 keeps the variance (LeCun), gain √2
    is He's choice for ReLU; ``scale`` shrinks or grows a layer on purpose.
    """

    def __init__(self, d_in: int, d_out: int, *, scale: float = 1.0, gain: float = 1.0,
                 rng: np.random.Generator | None = None, models: int | None = None) -> None:
        rng = rng or np.random.default_rng(0)
        self.W = rng.standard_normal(_ensemble_shape(models, d_in, d_out)) * scale * gain / np.sqrt(d_in)
        self.b = np.zeros((d_out,) if models is None else (models, 1, d_out))
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.W + self.b

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.dW = np.swapaxes(self.x, -1, -2) @ dy
        self.db = _batch_sum(dy).reshape(self.b.shape)
        return dy @ np.swapaxes(self.W, -1, -2)

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(value, gradient) pairs."""
        return [(self.W, self.dW), (self.b, self.db)]


class BatchNorm:
    """Batch normalisation (Ioffe & Szegedy 2015) over the batch axis, in training mode.

    y = gamma * (x - mean) / sqrt(var + eps) + beta, with the mean and variance of
    each feature over the N examples of the batch. x, y: (N, D) or (E, N, D);
    gamma, beta: (D,) or (E, 1, D). This engine trains on the full data set at once,
    so the batch statistics *are* the data statistics and no running averages are kept.
    """

    def __init__(self, d: int, *, eps: float = 1e-5, models: int | None = None, gamma: float = 1.0) -> None:
        shape = (d,) if models is None else (models, 1, d)
        self.gamma, self.beta = np.full(shape, float(gamma)), np.zeros(shape)
        self.dgamma, self.dbeta = np.zeros(shape), np.zeros(shape)
        self.eps = eps

    def forward(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[-2]
        centred = x - _batch_sum(x) / n
        self.inv_std = 1.0 / np.sqrt(_batch_sum(centred * centred) / n + self.eps)
        self.xhat = centred * self.inv_std
        return self.gamma * self.xhat + self.beta

    def backward(self, dy: np.ndarray) -> np.ndarray:
        n = dy.shape[-2]
        self.dgamma = _batch_sum(dy * self.xhat).reshape(self.gamma.shape)
        self.dbeta = _batch_sum(dy).reshape(self.beta.shape)
        dxhat = dy * self.gamma
        # the mean and the variance depend on every x too: subtract their share of the gradient
        return self.inv_std * (dxhat - _batch_sum(dxhat) / n - self.xhat * (_batch_sum(dxhat * self.xhat) / n))

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(value, gradient) pairs: gamma and beta."""
        return [(self.gamma, self.dgamma), (self.beta, self.dbeta)]


class Activation:
    """Element-wise ReLU, tanh or identity. x, y: same shape."""

    def __init__(self, kind: str = "relu") -> None:
        if kind not in ("relu", "tanh", "identity"):
            raise ValueError(f"activation must be 'relu', 'tanh' or 'identity', got {kind!r}")
        self.kind = kind

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.y = np.maximum(x, 0) if self.kind == "relu" else np.tanh(x) if self.kind == "tanh" else x
        return self.y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self.kind == "relu":
            return dy * (self.y > 0)
        if self.kind == "tanh":
            return dy * (1 - self.y**2)
        return dy

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """No parameters."""
        return []


class Sequential:
    """Layers applied in order; backward runs them in reverse."""

    def __init__(self, layers: list) -> None:
        self.layers = layers

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """All (value, gradient) pairs, first layer first."""
        return [p for layer in self.layers for p in layer.params()]


class Residual:
    """y = x + F(x): the branch F must keep the shape. Backward: dx = dy + F.backward(dy)."""

    def __init__(self, block: Sequential) -> None:
        self.block = block

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x + self.block.forward(x)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy + self.block.backward(dy)

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The branch's parameters (the identity shortcut has none)."""
        return self.block.params()


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float | np.ndarray, np.ndarray]:
    """Mean cross-entropy over the N examples and its gradient.

    logits: (N, K) or (E, N, K); labels: (N,) ints. Returns (loss, dlogits of the
    logits' shape); the loss is a float, or (E,) with one mean per model.
    """
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # log-softmax, exact even when p underflows
    n = logits.shape[-2]
    rows = np.arange(n)
    loss = -log_p[..., rows, labels].mean(axis=-1)
    d = np.exp(log_p)
    d[..., rows, labels] -= 1
    return (float(loss) if np.ndim(loss) == 0 else loss), d / n


# --------------------------------------------------------------------------- blocks
BLOCKS = ("plain", "v1", "preact")


def branch(width: int, *, block: str = "v1", activation: str = "relu", batchnorm: bool = True,
           init_scale: float = 1.0, rng: np.random.Generator | None = None, models: int | None = None) -> Sequential:
    """The two-layer branch of a ResNet basic block, as dense layers (a 1x1 "image").

    plain and v1 (He et al. 2015):  Dense → BN → act → Dense → BN   (ends linear)
    preact (He et al. 2016):        BN → act → Dense → BN → act → Dense
    Without ``batchnorm`` the BN layers are left out. ``init_scale`` multiplies the
    initial weights of the branch's *last* Dense layer (0 makes the branch output 0).
    """
    rng = rng or np.random.default_rng(0)
    gain = np.sqrt(2.0) if activation == "relu" else 1.0

    def bn() -> list:
        return [BatchNorm(width, models=models)] if batchnorm else []

    first = Dense(width, width, gain=gain, rng=rng, models=models)
    last = Dense(width, width, gain=gain, scale=init_scale, rng=rng, models=models)
    if block == "preact":
        return Sequential([*bn(), Activation(activation), first, *bn(), Activation(activation), last])
    return Sequential([first, *bn(), Activation(activation), last, *bn()])


def make_network(depth: int, *, block: str = "v1", width: int = 16, d_in: int = 2, d_out: int = 3,
                 activation: str = "relu", batchnorm: bool = True, init_scale: float = 1.0, seed: int = 0,
                 models: int | None = None, seeds: list[int] | None = None) -> Sequential:
    """An MLP: an input layer d_in → width, ``depth`` blocks of two width → width layers, an output layer.

    block:
        ``"plain"``  h ← act(F(h))          (the same two layers, no shortcut)
        ``"v1"``     h ← act(h + F(h))      (ResNet v1: activation after the addition)
        ``"preact"`` h ← h + F(h)           (pre-activation: a clean identity path; the
                                             stream gets BN → act before the output layer)
    F is :func:`branch`. Plain and residual nets have the same layers and parameters.
    models / seeds: E independent copies (weights (E, ...)), copy i drawn from seed
    ``seeds[i]`` (default 0, 1, 2, ...), so a sweep runs in one pass.
    """
    if block not in BLOCKS:
        raise ValueError(f"block must be one of {', '.join(BLOCKS)}, got {block!r}")
    if seeds is not None:
        models = len(seeds)
    if models is None:
        return _make_one(depth, block, width, d_in, d_out, activation, batchnorm, init_scale, seed, None)
    seeds = list(range(models)) if seeds is None else list(seeds)
    copies = [_make_one(depth, block, width, d_in, d_out, activation, batchnorm, init_scale, s, None) for s in seeds]
    net = _make_one(depth, block, width, d_in, d_out, activation, batchnorm, init_scale, 0, models)
    for i, copy in enumerate(copies):  # copy i is exactly the single network of seed seeds[i]
        for (value, _), (one, _) in zip(net.params(), copy.params(), strict=True):
            value[i] = one.reshape(value[i].shape)
    return net


def _make_one(depth: int, block: str, width: int, d_in: int, d_out: int, activation: str, batchnorm: bool,
              init_scale: float, seed: int, models: int | None) -> Sequential:
    rng = np.random.default_rng(seed)
    gain = np.sqrt(2.0) if activation == "relu" else 1.0
    layers: list = [Dense(d_in, width, gain=gain, rng=rng, models=models)]
    if block != "preact":  # v1 and plain: the stream is post-activation
        layers += [BatchNorm(width, models=models)] if batchnorm else []
        layers += [Activation(activation)]
    for _ in range(depth):
        f = branch(width, block=block, activation=activation, batchnorm=batchnorm, init_scale=init_scale,
                   rng=rng, models=models)
        if block == "plain":
            layers.append(Sequential([*f.layers, Activation(activation)]))
        elif block == "v1":
            layers.append(Sequential([Residual(f), Activation(activation)]))
        else:
            layers.append(Residual(f))
    if block == "preact":  # the final BN → act of a pre-activation ResNet
        layers.append(Sequential([*([BatchNorm(width, models=models)] if batchnorm else []),
                                  Activation(activation)]))
    layers.append(Dense(width, d_out, rng=rng, models=models))
    return Sequential(layers)


# ---------------------------------------------------------------------- training
@dataclass
class SGD:
    """Gradient descent with (heavy-ball) momentum: v ← momentum·v − lr·g; w ← w + v.

    lr: one float, or one per model of an ensemble ((E,) array).
    """

    lr: float | np.ndarray = 0.1
    momentum: float = 0.9

    def step(self, params: list[tuple[np.ndarray, np.ndarray]]) -> None:
        if not hasattr(self, "_v"):
            self._v = [np.zeros_like(v) for v, _ in params]
        lr = np.asarray(self.lr, dtype=float)
        for (value, grad), v in zip(params, self._v, strict=True):
            v *= self.momentum
            v -= (lr.reshape(lr.shape + (1,) * (value.ndim - lr.ndim)) if lr.ndim else lr) * grad
            value += v


def train(net: Sequential, x: np.ndarray, y: np.ndarray, *, steps: int = 300, optimizer: SGD | None = None,
          before_step: Callable[[], None] | None = None) -> np.ndarray:
    """Full-batch training on x (N, D), y (N,) labels. Returns the loss before each step: (steps,) or (steps, E).

    A model whose loss becomes non-finite (a diverged run) keeps NaN from then on; the
    other models of an ensemble are unaffected. ``before_step`` (if given) is called
    before every step; it does not change the result (the notebook 04 explorer's
    background training uses it to pause while the explorer redraws).
    """
    opt = optimizer or SGD()
    losses = []
    with np.errstate(all="ignore"):
        for _ in range(steps):
            if before_step is not None:
                before_step()
            loss, dlogits = softmax_cross_entropy(net.forward(x), y)
            losses.append(loss)
            bad = ~np.isfinite(np.atleast_1d(loss))
            if bad.all():
                losses.extend([loss] * (steps - len(losses)))
                break
            net.backward(dlogits)
            opt.step(net.params())
    out = np.array(losses, dtype=float)
    dead = np.maximum.accumulate(~np.isfinite(out), axis=0)  # once diverged, always NaN
    out[dead] = np.nan
    return out


def stream_gradient_norms(net: Sequential, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """RMS of dLoss/dh for the hidden stream h entering each block and the output layer.

    Index 0 is the first hidden layer's output (the input of block 1), the last index
    the input of the output layer. Returns (depth + 1,) or (E, depth + 1). RMS: the
    root mean square over examples and features (per model).
    """
    _, d = softmax_cross_entropy(net.forward(x), y)
    norms = []
    for layer in reversed(net.layers[_first_block(net):]):
        d = layer.backward(d)
        norms.append(np.sqrt((d**2).mean(axis=(-2, -1))))
    return np.array(norms[::-1][:-1] if _has_final(net) else norms[::-1]).T


def stream_rms(net: Sequential, x: np.ndarray) -> np.ndarray:
    """RMS of the hidden stream entering each block and the output layer (forward pass).

    Same indexing as :func:`stream_gradient_norms`. Returns (depth + 1,) or (E, depth + 1).
    """
    start = _first_block(net)
    h = Sequential(net.layers[:start]).forward(x)
    out = [np.sqrt((h**2).mean(axis=(-2, -1)))]
    for layer in net.layers[start:-1]:
        h = layer.forward(h)
        out.append(np.sqrt((h**2).mean(axis=(-2, -1))))
    return np.array(out[:-1] if _has_final(net) else out).T


def _first_block(net: Sequential) -> int:
    """Index of the first block: after the input Dense (and its BN/activation)."""
    i = 1
    while i < len(net.layers) and isinstance(net.layers[i], (BatchNorm, Activation)):
        i += 1
    return i


def _has_final(net: Sequential) -> bool:
    """True when a pre-activation net ends with its BN → act before the output layer."""
    last = net.layers[-2]
    return isinstance(last, Sequential) and all(isinstance(a, (BatchNorm, Activation)) for a in last.layers)


def gradient_check(net: Sequential, x: np.ndarray, y: np.ndarray, *, eps: float = 1e-6, samples: int = 20,
                   seed: int = 0) -> float:
    """Largest relative error between backprop and central finite differences,
    over ``samples`` randomly chosen entries of every parameter and of the input x."""
    rng = np.random.default_rng(seed)
    x = np.array(x, dtype=float)
    _, dlogits = softmax_cross_entropy(net.forward(x), y)
    dx = net.backward(dlogits)
    if dx.shape != x.shape:
        dx = dx.sum(axis=0)  # an ensemble: x is shared by every model
    pairs = [(value, grad.copy()) for value, grad in net.params()] + [(x, dx)]

    def loss() -> float:
        return float(np.sum(softmax_cross_entropy(net.forward(x), y)[0]))

    worst = 0.0
    for value, grad in pairs:
        for _ in range(min(samples, value.size)):
            idx = tuple(rng.integers(0, n) for n in value.shape)
            old = value[idx]
            value[idx] = old + eps
            plus = loss()
            value[idx] = old - eps
            minus = loss()
            value[idx] = old
            numeric = (plus - minus) / (2 * eps)
            # relative error; the floor 1e-5 keeps round-off in the finite difference (about 1e-16 / eps) from
            # counting as an error where a gradient is (nearly) zero, e.g. the bias right before a batch norm
            worst = max(worst, abs(numeric - grad[idx]) / max(abs(numeric) + abs(grad[idx]), 1e-5))
    return worst


def spirals(n_per_class: int = 100, classes: int = 3, *, noise: float = 0.2, turns: float = 1.0,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved 2-D spirals (the CS231n toy set). Returns x: (n*classes, 2), y: (n*classes,) ints."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(k * 2 * np.pi / classes, k * 2 * np.pi / classes + turns * 2 * np.pi, n_per_class)
        t = t + rng.standard_normal(n_per_class) * noise
        xs.append(np.c_[r * np.sin(t), r * np.cos(t)])
        ys.append(np.full(n_per_class, k))
    return np.concatenate(xs), np.concatenate(ys)


def accuracy(net: Sequential, x: np.ndarray, y: np.ndarray) -> float | np.ndarray:
    """Fraction of examples whose largest logit is the right class: a float, or (E,) for an ensemble."""
    acc = (net.forward(x).argmax(axis=-1) == y).mean(axis=-1)
    return float(acc) if np.ndim(acc) == 0 else acc


def lesion_accuracies(net: Sequential, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Training accuracy with each block deleted in turn (Veit et al. 2016).

    Deleting block i replaces it by the identity: the stream skips it. Returns
    (depth,) or (depth, E): entry i is the accuracy without block i.
    """
    start = _first_block(net)
    stop = len(net.layers) - (2 if _has_final(net) else 1)
    out = []
    for i in range(start, stop):
        kept = net.layers[:i] + net.layers[i + 1:]
        out.append(accuracy(Sequential(kept), x, y))
    return np.array(out)


def loss_slice(net: Sequential, x: np.ndarray, y: np.ndarray, alphas: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """The training loss along one random, filter-normalised direction (Li et al. 2018, Section 4).

    Every weight matrix W gets a Gaussian direction d whose column for each output unit (a
    "filter") is rescaled to that column's norm in W; biases and BN parameters get d = 0, as in
    the paper. Returns L(θ + α·d) for each α: (len(alphas),) or (len(alphas), E) for an ensemble
    (each model its own direction). The weights are restored afterwards.
    """
    rng = np.random.default_rng(seed)
    params = [value for value, _ in net.params()]
    base = [value.copy() for value in params]
    directions = []
    for value in params:
        if value.ndim >= 2 and value.shape[-2] > 1:  # a weight matrix (D_in, D_out) or (E, D_in, D_out)
            d = rng.standard_normal(value.shape)
            d *= np.linalg.norm(value, axis=-2, keepdims=True) / np.linalg.norm(d, axis=-2, keepdims=True)
        else:
            d = np.zeros_like(value)
        directions.append(d)
    out = []
    try:
        with np.errstate(all="ignore"):
            for a in np.asarray(alphas, dtype=float):
                for value, b, d in zip(params, base, directions, strict=True):
                    value[...] = b + a * d
                out.append(softmax_cross_entropy(net.forward(x), y)[0])
    finally:
        for value, b in zip(params, base, strict=True):
            value[...] = b
    return np.array(out)


@dataclass
class Sweep:
    """One architecture trained at every (learning rate, seed) pair, side by side.

    losses: (steps, len(lrs), len(seeds)), the full-batch training loss before each
    step (NaN once a run diverged). net: the trained ensemble; model ``i * len(seeds) + j``
    is learning rate ``lrs[i]`` and seed ``seeds[j]``.
    """

    name: str
    lrs: list[float]
    seeds: list[int]
    losses: np.ndarray
    net: Sequential

    @property
    def final(self) -> np.ndarray:
        """Training loss at the last step: (len(lrs), len(seeds))."""
        return self.losses[-1]

    @property
    def best(self) -> int:
        """Index of the best learning rate: lowest median final loss over the seeds (a diverged run counts as inf)."""
        return int(np.argmin(np.median(np.nan_to_num(self.final, nan=np.inf), axis=1)))

    def best_models(self) -> np.ndarray:
        """The ensemble index of every seed at *its own* best learning rate (lowest final loss of
        that seed; a diverged run counts as inf): (len(seeds),) ints."""
        final = np.nan_to_num(self.final, nan=np.inf)
        return np.argmin(final, axis=0) * len(self.seeds) + np.arange(len(self.seeds))

    def models(self, lr_index: int) -> slice:
        """The ensemble indices of every seed at learning rate ``lrs[lr_index]``."""
        n = len(self.seeds)
        return slice(lr_index * n, (lr_index + 1) * n)


def sweep(name: str, depth: int, block: str, x: np.ndarray, y: np.ndarray, *, lrs: list[float], seeds: list[int],
          steps: int, **network: object) -> Sweep:
    """Train ``make_network(depth, block=block, **network)`` with SGD (momentum 0.9, full batch)
    at every learning rate and seed; all runs at once as one ensemble."""
    net = make_network(depth, block=block, seeds=[s for _ in lrs for s in seeds], **network)
    lr = np.repeat(np.asarray(lrs, dtype=float), len(seeds))
    losses = train(net, x, y, steps=steps, optimizer=SGD(lr=lr, momentum=0.9))
    return Sweep(name, list(lrs), list(seeds), losses.reshape(steps, len(lrs), len(seeds)), net)
