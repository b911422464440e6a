"""Self-checks for the notebook exercises.

Each ``check_*`` function runs the learner's function on small fixed inputs, compares
it with the reference implementation and prints one line that says what is right or
what is wrong -- the shape, channel mixing, an off-by-one, a flipped kernel -- rather
than a bare assertion. A function that raises ``NotImplementedError`` (the exercise
stubs do) is reported as "not implemented yet", so the notebook still runs top to
bottom. Every check returns True only when the answer is correct.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import conv

__all__ = [
    "check_output_size",
    "check_rank1_factors",
    "check_depthwise",
    "check_pointwise",
    "check_flag_program",
    "check_merged_1x1",
    "check_residual_block",
    "check_residual_backward",
    "check_inception_3a",
]

_RNG_SEED = 1234


def _say(ok: bool, message: str) -> bool:
    print(("✓ " if ok else "✗ ") + message)
    return ok


def _call(fn: Callable, *args: object) -> tuple[object, str | None]:
    """Run the learner's function; return (result, problem) with problem None when it ran."""
    try:
        result = fn(*args)
    except NotImplementedError:
        return None, "not implemented yet: replace the `raise NotImplementedError` with your code"
    except Exception as exc:  # the learner's code may raise anything; report it in one line
        return None, f"your function raised {type(exc).__name__}: {exc}"
    if result is None:
        return None, "your function returned None: did you forget `return`?"
    return result, None


def check_output_size(fn: Callable[[int, int, int, int, int], int]) -> bool:
    """Check ``fn(n, k, stride, padding, dilation) -> output length`` (padding an int)."""
    cases = [(7, 3, 1, 0, 1), (7, 3, 2, 0, 1), (8, 3, 2, 1, 1), (10, 3, 1, 0, 2), (5, 5, 1, 2, 1), (6, 4, 3, 1, 2)]
    for n, k, s, p, d in cases:
        got, problem = _call(fn, n, k, s, p, d)
        if problem:
            return _say(False, problem)
        want = conv.pad_amounts(n, k, stride=s, padding=p, dilation=d).out
        if got != want:
            hint = ""
            if got == want + 1 or got == want - 1:
                hint = " -- off by one: count the window positions, floor((n + 2p - span) / s) + 1"
            if d > 1 and got == conv.pad_amounts(n, k, stride=s, padding=p).out:
                hint = " -- a dilated kernel spans d*(k-1)+1 pixels, not k"
            return _say(False, f"n={n}, k={k}, stride={s}, padding={p}, dilation={d}: expected {want}, got {got}{hint}")
    return _say(True, f"output size correct on all {len(cases)} cases")


def check_rank1_factors(fn: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> bool:
    """Check ``fn(kernel (K, K)) -> (column (K,), row (K,))`` with outer(column, row) == kernel."""
    from .kernels import box, gaussian, sobel_x

    for name, k in (("sobel_x", sobel_x()), ("gaussian(5)", gaussian(5)), ("box(3)", box(3))):
        got, problem = _call(fn, k)
        if problem:
            return _say(False, problem)
        try:
            col, row = (np.asarray(v, dtype=float).ravel() for v in got)
        except (TypeError, ValueError):
            return _say(False, "return two 1-D arrays: (column, row)")
        if col.shape != (k.shape[0],) or row.shape != (k.shape[1],):
            return _say(False, f"{name}: column should have {k.shape[0]} entries and row {k.shape[1]}, "
                               f"got {col.shape} and {row.shape}")
        if np.allclose(np.outer(row, col), k) and not np.allclose(np.outer(col, row), k):
            return _say(False, f"{name}: column and row are swapped: outer(row, column) gives the kernel")
        if not np.allclose(np.outer(col, row), k):
            return _say(False, f"{name}: outer(column, row) differs from the kernel by up to "
                               f"{np.abs(np.outer(col, row) - k).max():.3g}")
    return _say(True, "outer(column, row) reproduces sobel_x, gaussian(5) and box(3)")


def _depthwise_diagnosis(got: np.ndarray, image: np.ndarray, kernel: np.ndarray) -> str | None:
    want = conv.depthwise_conv2d(image, kernel, padding="valid")
    if got.shape != want.shape:
        h, w, c = image.shape
        if got.shape == want.shape[:2] or got.shape == (*want.shape[:2], 1):
            summed = want.sum(axis=2)
            extra = " (your result equals the sum of the per-channel results)" if np.allclose(
                np.reshape(got, summed.shape), summed) else ""
            return f"shape {got.shape}, expected {want.shape}: you summed over channels{extra}; " \
                   "depthwise keeps one output per input channel"
        if got.shape[:2] == (h, w):
            return f"shape {got.shape}, expected {want.shape}: that is 'same' padding; this exercise uses 'valid'"
        if got.ndim == 3 and abs(got.shape[0] - want.shape[0]) <= 2 and got.shape[2] == want.shape[2]:
            return f"shape {got.shape}, expected {want.shape}: off by one -- a K-wide window fits n - K + 1 times"
        return f"shape {got.shape}, expected {want.shape}"
    if np.allclose(got, want):
        return None
    flipped = conv.depthwise_conv2d(image, kernel[::-1, ::-1], padding="valid")
    if np.allclose(got, flipped):
        return "you flipped the kernel (mathematical convolution); deep-learning layers cross-correlate: no flip"
    return "values differ from the reference" + (
        "" if got.shape[2] < 2 else " -- check that output channel c uses only input channel c and kernel[:, :, c]")


def check_depthwise(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> bool:
    """Check ``fn(image (H, W, C), kernel (Kh, Kw, C)) -> (H-Kh+1, W-Kw+1, C)`` ('valid', stride 1)."""
    rng = np.random.default_rng(_RNG_SEED)
    image, kernel = rng.standard_normal((7, 8, 3)), rng.standard_normal((3, 3, 3))
    got, problem = _call(fn, image.copy(), kernel.copy())
    if problem:
        return _say(False, problem)
    got = np.asarray(got)
    diag = _depthwise_diagnosis(got, image, kernel)
    if diag:
        return _say(False, diag)
    # channel independence, tested directly: change channel 0 only
    changed = image.copy()
    changed[:, :, 0] += rng.standard_normal((7, 8))
    got2, problem = _call(fn, changed, kernel.copy())
    if problem or not np.allclose(np.asarray(got2)[:, :, 1:], got[:, :, 1:]):
        return _say(False, "changing input channel 0 changed other output channels: depthwise must not mix channels")
    return _say(True, f"depthwise output {got.shape} matches the reference; channels stay separate")


def check_pointwise(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> bool:
    """Check ``fn(image (H, W, C_in), weights (C_in, C_out)) -> (H, W, C_out)``."""
    rng = np.random.default_rng(_RNG_SEED)
    image, weights = rng.standard_normal((5, 6, 3)), rng.standard_normal((3, 4))
    got, problem = _call(fn, image.copy(), weights.copy())
    if problem:
        return _say(False, problem)
    got = np.asarray(got)
    want = conv.pointwise_conv2d(image, weights)
    if got.shape != want.shape:
        if got.shape == image.shape:
            return _say(False, f"shape {got.shape}, expected {want.shape}: the number of output channels is set by "
                               "the weights' second axis (C_out), so a pointwise step must mix channels into C_out")
        return _say(False, f"shape {got.shape}, expected {want.shape}: out[y, x] = image[y, x] @ weights")
    if not np.allclose(got, want):
        return _say(False, "values differ: every output channel must be a weighted sum of *all* input channels "
                           "at the same pixel")
    return _say(True, f"pointwise output {got.shape} matches image[y, x] @ weights at every pixel")


def check_flag_program(fn: Callable[[np.ndarray, np.ndarray, str], np.ndarray]) -> bool:
    """Check ``fn(image, kernel, mode)`` for mode 'depthwise' (kernel (Kh, Kw, C), 'same' padding)
    and 'pointwise' (kernel (C_in, C_out)) -- the homework's program as a function."""
    rng = np.random.default_rng(_RNG_SEED)
    image = rng.standard_normal((6, 6, 3))
    dk, pk = rng.standard_normal((3, 3, 3)), rng.standard_normal((3, 2))
    got, problem = _call(fn, image.copy(), dk.copy(), "depthwise")
    if problem:
        return _say(False, "depthwise: " + problem)
    want = conv.depthwise_conv2d(image, dk)
    got = np.asarray(got)
    if got.shape != want.shape or not np.allclose(got, want):
        if got.shape == want.shape[:2]:
            return _say(False, f"depthwise: shape {got.shape}, expected {want.shape}: you summed the channels")
        return _say(False, f"depthwise: shape {got.shape} (expected {want.shape}) or values differ "
                           "(padding 'same', no kernel flip, one filter per channel)")
    got, problem = _call(fn, image.copy(), pk.copy(), "pointwise")
    if problem:
        return _say(False, "pointwise: " + problem)
    got = np.asarray(got)
    want = conv.pointwise_conv2d(image, pk)
    if got.shape != want.shape or not np.allclose(got, want):
        return _say(False, f"pointwise: shape {got.shape} (expected {want.shape}) or values differ: "
                           "each output channel mixes all input channels at the same pixel")
    try:
        fn(image, dk, "dilated")
    except ValueError:
        return _say(True, "both modes match the reference, and an unknown mode raises ValueError")
    except Exception as exc:  # noqa: BLE001 - any other exception is the thing to report
        return _say(False, f"an unknown mode should raise ValueError, got {type(exc).__name__}")
    return _say(False, "an unknown mode should raise ValueError, but your function returned a result")


def check_merged_1x1(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> bool:
    """Check ``fn(W1 (C, C1), W2 (C1, C2)) -> W (C, C2)``: one 1x1 equal to W1 then W2."""
    rng = np.random.default_rng(_RNG_SEED)
    w1, w2 = rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    got, problem = _call(fn, w1.copy(), w2.copy())
    if problem:
        return _say(False, problem)
    got = np.asarray(got)
    if got.shape != (3, 2):
        return _say(False, f"shape {got.shape}, expected (3, 2): the merged layer maps C=3 to C2=2 channels")
    image = rng.standard_normal((4, 4, 3))
    two = conv.pointwise_conv2d(conv.pointwise_conv2d(image, w1), w2)
    if not np.allclose(conv.pointwise_conv2d(image, got), two):
        return _say(False, "applying your W once differs from applying W1 then W2")
    return _say(True, "one 1x1 with W = W1 @ W2 equals two 1x1s in a row: without a non-linearity they collapse")


def check_residual_block(fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]) -> bool:
    """Check ``fn(x (N, D), W1 (D, H), W2 (H, D)) -> relu(x @ W1) @ W2 + x`` (the pre-activation form).

    The ResNet v1 form, relu(relu(x @ W1) @ W2 + x), is a different valid block: it is
    recognised and named, not called a mistake.
    """
    rng = np.random.default_rng(_RNG_SEED)
    x, w1, w2 = rng.standard_normal((6, 4)), rng.standard_normal((4, 8)), rng.standard_normal((8, 4))
    got, problem = _call(fn, x.copy(), w1.copy(), w2.copy())
    if problem:
        return _say(False, problem)
    got = np.asarray(got)
    want = np.maximum(x @ w1, 0) @ w2 + x
    if got.shape != x.shape:
        return _say(False, f"shape {got.shape}, expected {x.shape}: F(x) must have x's shape to be added to it")
    if np.allclose(got, want - x):
        return _say(False, "you returned F(x) only: the skip connection (+ x) is missing")
    if np.allclose(got, np.maximum(want, 0)):
        return _say(False, "that is the ResNet v1 block, relu(F(x) + x): a valid block, but not the one asked "
                           "for here -- this exercise wants the pre-activation form F(x) + x, nothing after the add")
    if not np.allclose(got, want):
        return _say(False, "values differ from relu(x @ W1) @ W2 + x")
    zero, _ = _call(fn, x.copy(), w1.copy(), np.zeros_like(w2))
    if zero is None or not np.allclose(zero, x):
        return _say(False, "with W2 = 0 the block should be exactly the identity")
    return _say(True, "F(x) + x is right, and with W2 = 0 the block is exactly the identity")


def _with_residual_class(net: object, cls: type) -> object:
    """Replace every nn.Residual inside ``net`` by ``cls(block)`` (same branch, same weights)."""
    from . import nn

    if isinstance(net, nn.Sequential):
        net.layers = [cls(layer.block) if type(layer) is nn.Residual else _with_residual_class(layer, cls)
                      for layer in net.layers]
        for layer in net.layers:
            if isinstance(layer, cls) and hasattr(layer, "block"):
                _with_residual_class(layer.block, cls)
    return net


def check_residual_backward(cls: type) -> bool:
    """Check a residual wrapper class: ``cls(block)`` with ``forward(x) = x + block.forward(x)`` and the
    learner's ``backward(dy) -> dx`` (x, dy, dx: (N, D)), which must also let the branch store its gradients.

    Checked on one block against the engine's reference, then by finite differences in a
    ResNet v1 network (ReLU after the addition) and in a pre-activation network.
    """
    import copy

    from . import nn

    rng = np.random.default_rng(_RNG_SEED)
    x, dy = rng.standard_normal((7, 4)), rng.standard_normal((7, 4))
    branch = nn.branch(4, block="preact", rng=np.random.default_rng(3))
    mine = cls(branch)
    reference = nn.Residual(copy.deepcopy(branch))
    try:
        mine.forward(x.copy())
    except Exception as exc:  # noqa: BLE001 - report anything the learner's class raises
        return _say(False, f"forward raised {type(exc).__name__}: {exc} (keep forward as x + self.block.forward(x))")
    reference.forward(x.copy())
    want = reference.backward(dy.copy())
    got, problem = _call(mine.backward, dy.copy())
    if problem:
        return _say(False, problem)
    got = np.asarray(got)
    if got.shape != x.shape:
        return _say(False, f"backward returned shape {got.shape}, expected {x.shape}: dx has the shape of x")
    from_branch = want - dy
    if np.allclose(got, dy):
        return _say(False, "you returned dy only: that is the shortcut's share; the branch F also depends on x, "
                           "so add its gradient self.block.backward(dy)")
    if np.allclose(got, from_branch):
        return _say(False, "you returned the branch's gradient only: the identity shortcut passes dy down "
                           "unchanged (d(x)/dx = I), so add dy")
    if np.allclose(got, 2 * dy) or np.allclose(got, dy + 2 * from_branch):
        return _say(False, "the shortcut and the branch should each be counted once: dx = dy + F.backward(dy)")
    if not np.allclose(got, want):
        return _say(False, "dx differs from dy + self.block.backward(dy)")
    for (_, g_ref), (_, g_mine) in zip(reference.params(), mine.params(), strict=True):
        if not np.allclose(g_ref, g_mine):
            return _say(False, "dx is right, but the branch's weights did not get their gradients: call "
                               "self.block.backward(dy) exactly once (it stores them)")
    x_net, y_net = rng.standard_normal((12, 2)), rng.integers(0, 3, 12)
    worst = 0.0
    for block in ("v1", "preact"):
        net = _with_residual_class(nn.make_network(3, block=block, width=5, seed=2), cls)
        try:
            worst = max(worst, nn.gradient_check(net, x_net, y_net, eps=1e-5, samples=8))
        except Exception as exc:  # noqa: BLE001
            return _say(False, f"in a {block} network your class raised {type(exc).__name__}: {exc}")
        if worst > 1e-4:
            return _say(False, f"in a {block} network the gradients differ from finite differences "
                               f"(relative error {worst:.1e})")
    return _say(True, "dx = dy + F.backward(dy); the gradient check passes (relative error below 1e-4) in a "
                      "ResNet v1 network and in a pre-activation network")


def check_inception_3a(fn: Callable[[bool], int]) -> bool:
    """Check ``fn(reduce) -> MACs`` of GoogLeNet's inception (3a) module for one image, with
    (``reduce=True``) and without (``reduce=False``) the 1x1 reductions."""
    from .architectures import inception_3a_branches

    for reduce in (True, False):
        branches = inception_3a_branches(reduce)
        want = sum(c.macs for c in branches.values())
        got, problem = _call(fn, reduce)
        if problem:
            return _say(False, problem)
        try:
            got = int(got)
        except (TypeError, ValueError):
            return _say(False, f"return the number of MACs as an int, got {type(got).__name__}")
        label = "with the 1x1 reductions" if reduce else "without them"
        if got == want:
            continue
        hint = ""
        if got == 2 * want:
            hint = " -- that is FLOPs (2 x MACs); count multiply-accumulates"
        elif reduce and got == want - branches["pool"].macs:
            hint = " -- the pool branch's 1x1 projection (192 -> 32) costs MACs too"
        elif reduce and got == sum(c.macs for c in inception_3a_branches(False).values()):
            hint = " -- that is the module without reductions"
        elif not reduce and got == sum(c.macs for c in inception_3a_branches(True).values()):
            hint = " -- that is the module with the reductions"
        elif reduce:
            red = 28 * 28 * 192 * (96 + 16)
            if got == want - red:
                hint = " -- the 1x1 reductions themselves (192 -> 96 and 192 -> 16) cost MACs too"
        return _say(False, f"{label}: expected {want:,} MACs, got {got:,}{hint}")
    saved = sum(c.macs for c in inception_3a_branches(False).values()) / sum(
        c.macs for c in inception_3a_branches(True).values())
    return _say(True, f"both totals right: the 1x1 reductions make inception (3a) {saved:.1f}x cheaper")
