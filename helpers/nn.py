"""A small neural-network engine in NumPy, forward and backward side by side.

Just enough to see what residual connections do: dense layers, ReLU/tanh, residual
blocks, a softmax cross-entropy loss, and SGD/Adam. Every layer has a ``forward``
that caches what the backward pass needs and a ``backward`` that takes the gradient
of the loss with respect to the layer's output, stores the gradients of its
parameters and returns the gradient with respect to its input. Shapes: a batch of
``N`` examples with ``D`` features is ``(N, D)``.

A residual block computes ``y = x + F(x)``; its backward is ``dx = dy + F.backward(dy)``:
the identity path hands the gradient down unchanged, whatever ``F`` does to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Dense",
    "Activation",
    "Residual",
    "Sequential",
    "softmax_cross_entropy",
    "make_network",
    "Adam",
    "SGD",
    "train",
    "gradient_norms",
    "activation_gradient_norms",
    "gradient_check",
    "spirals",
    "accuracy",
]


class Dense:
    """y = x @ W + b. x: (N, D_in), W: (D_in, D_out), b: (D_out,), y: (N, D_out)."""

    def __init__(self, d_in: int, d_out: int, *, scale: float = 1.0, rng: np.random.Generator | None = None,
                 gain: float = 1.0) -> None:
        rng = rng or np.random.default_rng(0)
        # gain * sqrt(1 / d_in) keeps the variance of x @ W equal to that of x (Xavier/LeCun);
        # gain sqrt(2) is He's choice for ReLU. `scale` multiplies it (the explorer's slider).
        self.W = rng.standard_normal((d_in, d_out)) * scale * gain / np.sqrt(d_in)
        self.b = np.zeros(d_out)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.W + self.b

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.dW = self.x.T @ dy
        self.db = dy.sum(axis=0)
        return dy @ self.W.T

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(value, gradient) pairs."""
        return [(self.W, self.dW), (self.b, self.db)]


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
    """y = x + F(x): the block F must keep the shape. Backward: dx = dy + F.backward(dy)."""

    def __init__(self, block: Sequential) -> None:
        self.block = block

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x + self.block.forward(x)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy + self.block.backward(dy)

    def params(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The block's parameters (the shortcut has none)."""
        return self.block.params()


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and its gradient. logits: (N, K), labels: (N,) ints. Returns (loss, dlogits (N, K))."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))  # log-softmax, exact even when p underflows
    p = np.exp(log_p)
    n = logits.shape[0]
    loss = float(-log_p[np.arange(n), labels].mean())
    d = p.copy()
    d[np.arange(n), labels] -= 1
    return loss, d / n


def make_network(depth: int, *, width: int = 32, d_in: int = 2, d_out: int = 3, residual: bool = False,
                 activation: str = "tanh", init_scale: float = 1.0, seed: int = 0) -> Sequential:
    """An MLP with ``depth`` hidden blocks of ``width`` units.

    Plain: ``h = act(h @ W + b)`` per block. Residual: ``h = h + act(h @ W + b)``.
    Both have the same layers and parameters: an input layer d_in -> width, ``depth``
    blocks, and an output layer width -> d_out. Weights are N(0, 1/fan_in) times
    ``init_scale`` (times sqrt(2) for ReLU, He's rule).
    """
    rng = np.random.default_rng(seed)
    gain = np.sqrt(2.0) if activation == "relu" else 1.0
    layers: list = [Dense(d_in, width, rng=rng, gain=gain), Activation(activation)]
    for _ in range(depth):
        block = Sequential([Dense(width, width, scale=init_scale, rng=rng, gain=gain), Activation(activation)])
        layers.append(Residual(block) if residual else block)
    layers.append(Dense(width, d_out, rng=rng))
    return Sequential(layers)


@dataclass
class SGD:
    """Plain gradient descent with momentum."""

    lr: float = 0.1
    momentum: float = 0.9

    def step(self, params: list[tuple[np.ndarray, np.ndarray]]) -> None:
        if not hasattr(self, "_v"):
            self._v = [np.zeros_like(v) for v, _ in params]
        for (value, grad), v in zip(params, self._v, strict=True):
            v *= self.momentum
            v -= self.lr * grad
            value += v


@dataclass
class Adam:
    """Adam (Kingma & Ba, 2015)."""

    lr: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def step(self, params: list[tuple[np.ndarray, np.ndarray]]) -> None:
        if not hasattr(self, "_m"):
            self._m = [np.zeros_like(v) for v, _ in params]
            self._s = [np.zeros_like(v) for v, _ in params]
            self._t = 0
        self._t += 1
        for (value, grad), m, s in zip(params, self._m, self._s, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * grad
            s *= self.beta2
            s += (1 - self.beta2) * grad**2
            m_hat = m / (1 - self.beta1**self._t)
            s_hat = s / (1 - self.beta2**self._t)
            value -= self.lr * m_hat / (np.sqrt(s_hat) + self.eps)


def _params_now(net: Sequential) -> list[tuple[np.ndarray, np.ndarray]]:
    # gradients are re-bound on every backward pass, so ask for them after it
    return net.params()


def train(net: Sequential, x: np.ndarray, y: np.ndarray, *, steps: int = 300, optimizer: object | None = None,
          progress: int = 0) -> list[float]:
    """Full-batch training on (x (N, D), y (N,) labels). Returns the loss before each step.

    progress: print the loss every that many steps (0: silent).
    """
    opt = optimizer or Adam()
    losses = []
    for step in range(steps):
        loss, dlogits = softmax_cross_entropy(net.forward(x), y)
        if not np.isfinite(loss):
            losses.extend([float("nan")] * (steps - step))
            break
        losses.append(loss)
        net.backward(dlogits)
        opt.step(_params_now(net))
        if progress and (step + 1) % progress == 0:
            print(f"  step {step + 1:4d}/{steps}: loss {loss:.4f}")
    return losses


def gradient_norms(net: Sequential, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Norm of dLoss/dW for every Dense layer, input layer first. Returns (n_dense,)."""
    _, dlogits = softmax_cross_entropy(net.forward(x), y)
    net.backward(dlogits)
    dense = [p for p in _walk(net) if isinstance(p, Dense)]
    return np.array([np.linalg.norm(d.dW) for d in dense])


def activation_gradient_norms(net: Sequential, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Norm of dLoss/dh at the input of every top-level layer of ``net`` (its blocks).

    Returns (len(net.layers),): index 0 is the gradient reaching the network's input,
    the last entry the gradient entering the output layer.
    """
    _, d = softmax_cross_entropy(net.forward(x), y)
    norms = []
    for layer in reversed(net.layers):
        d = layer.backward(d)
        norms.append(float(np.linalg.norm(d)))
    return np.array(norms[::-1])


def _walk(layer: object) -> list:
    if isinstance(layer, Sequential):
        return [leaf for sub in layer.layers for leaf in _walk(sub)]
    if isinstance(layer, Residual):
        return _walk(layer.block)
    return [layer]


def gradient_check(net: Sequential, x: np.ndarray, y: np.ndarray, *, eps: float = 1e-6, samples: int = 20,
                   seed: int = 0) -> float:
    """Largest relative error between backprop and central finite differences,
    over ``samples`` randomly chosen parameters of every Dense layer."""
    rng = np.random.default_rng(seed)
    _, dlogits = softmax_cross_entropy(net.forward(x), y)
    net.backward(dlogits)
    worst = 0.0
    for value, grad in _params_now(net):
        grad = grad.copy()
        for _ in range(min(samples, value.size)):
            idx = tuple(rng.integers(0, n) for n in value.shape)
            old = value[idx]
            value[idx] = old + eps
            plus = softmax_cross_entropy(net.forward(x), y)[0]
            value[idx] = old - eps
            minus = softmax_cross_entropy(net.forward(x), y)[0]
            value[idx] = old
            numeric = (plus - minus) / (2 * eps)
            denom = max(abs(numeric) + abs(grad[idx]), 1e-8)
            worst = max(worst, abs(numeric - grad[idx]) / denom)
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


def accuracy(net: Sequential, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of examples whose largest logit is the right class."""
    return float((net.forward(x).argmax(axis=1) == y).mean())
