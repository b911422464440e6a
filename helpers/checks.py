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
    "check_merged_1x1_bias",
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


_SIZE_MISTAKES: tuple[tuple[str, Callable[[int, int, int, int, int], int]], ...] = (
    ("you padded only once: padding=p means p zeros on *each* side, 2p in total",
     lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1),
    ("you left out the padding: the window slides over n + 2p pixels",
     lambda n, k, s, p, d: (n - d * (k - 1) - 1) // s + 1),
    ("you rounded up; the last window must fit inside, so round down (floor)",
     lambda n, k, s, p, d: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1),
    ("off by one: the first window position counts too, floor((n + 2p - span) / s) + 1",
     lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s),
    ("off by one: subtract the whole span d(k-1)+1 before dividing, floor((n + 2p - span) / s) + 1",
     lambda n, k, s, p, d: (n + 2 * p - d * (k - 1)) // s + 1),
    ("a dilated kernel spans d*(k-1)+1 pixels, not k",
     lambda n, k, s, p, d: (n + 2 * p - k) // s + 1),
    ("you left out the stride: the window moves s pixels at a time, so divide by s",
     lambda n, k, s, p, d: n + 2 * p - d * (k - 1)),
)


def check_output_size(fn: Callable[[int, int, int, int, int], int]) -> bool:
    """Check ``fn(n, k, stride, padding, dilation) -> output length`` (padding an int, per side).

    The learner's function is run on every case first; a typical mistake (padding once,
    no padding, rounding up, off by one, no dilation, no stride) is named when the
    function agrees with that mistake's formula on all cases, else the first wrong case
    is shown with the hints that fit it.
    """
    cases = [(7, 3, 1, 0, 1), (7, 3, 2, 0, 1), (10, 3, 2, 0, 1), (8, 3, 2, 1, 1), (10, 3, 1, 0, 2),
             (5, 5, 1, 2, 1), (6, 4, 3, 1, 2), (12, 3, 3, 2, 1)]
    got = {}
    for case in cases:
        value, problem = _call(fn, *case)
        if problem:
            return _say(False, problem)
        got[case] = value
    want = {(n, k, s, p, d): conv.pad_amounts(n, k, stride=s, padding=p, dilation=d).out for n, k, s, p, d in cases}
    wrong = [case for case in cases if got[case] != want[case]]
    if not wrong:
        return _say(True, f"output size correct on all {len(cases)} cases")
    everywhere = [hint for hint, f in _SIZE_MISTAKES if all(got[c] == f(*c) for c in cases)]
    n, k, s, p, d = wrong[0]
    hints = everywhere or [hint for hint, f in _SIZE_MISTAKES if got[wrong[0]] == f(n, k, s, p, d)]
    where = f"n={n}, k={k}, stride={s}, padding={p}, dilation={d}: expected {want[wrong[0]]}, got {got[wrong[0]]!r}"
    if hints:
        return _say(False, f"{where} -- " + "; or ".join(hints))
    return _say(False, f"{where} ({len(wrong)} of {len(cases)} cases wrong): "
                       "floor((n + 2p - span) / s) + 1 with span = d(k-1)+1")


def check_rank1_factors(fn: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> bool:
    """Check ``fn(kernel (K, K)) -> (column (K,), row (K,))`` with outer(column, row) == kernel.

    Besides Sobel-x, a Gaussian and a box, two rank-1 kernels whose first row (and first
    column) are zero or whose rows change sign, so a split that divides by ``kernel[0, 0]``
    or trusts the first row is caught.
    """
    from .kernels import box, gaussian, sobel_x

    tests = (("sobel_x", sobel_x()), ("gaussian(5)", gaussian(5)), ("box(3)", box(3)),
             ("outer([0, 1, -2], [0, 3, 1]) (zero first row and column)", np.outer([0.0, 1, -2], [0.0, 3, 1])),
             ("outer([2, 1, -1], [1, 2, 3])", np.outer([2.0, 1, -1], [1.0, 2, 3])))
    for name, k in tests:
        got, problem = _call(fn, k.copy())
        if problem:
            return _say(False, f"{name}: {problem}")
        try:
            col, row = (np.asarray(v, dtype=float).ravel() for v in got)
        except (TypeError, ValueError):
            return _say(False, "return two 1-D arrays: (column, row)")
        if col.shape != (k.shape[0],) or row.shape != (k.shape[1],):
            return _say(False, f"{name}: column should have {k.shape[0]} entries and row {k.shape[1]}, "
                               f"got {col.shape} and {row.shape}")
        if not (np.all(np.isfinite(col)) and np.all(np.isfinite(row))):
            return _say(False, f"{name}: your column or row contains nan/inf -- a division by zero? kernel[0, 0] "
                               "(or the row you picked) can be 0; take a row that is not all zeros")
        if np.allclose(np.outer(row, col), k) and not np.allclose(np.outer(col, row), k):
            return _say(False, f"{name}: column and row are swapped: outer(row, column) gives the kernel")
        if not np.allclose(np.outer(col, row), k):
            return _say(False, f"{name}: outer(column, row) differs from the kernel by up to "
                               f"{np.abs(np.outer(col, row) - k).max():.3g}")
    return _say(True, f"outer(column, row) reproduces all {len(tests)} kernels, including one with a zero first row")


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


def check_merged_1x1_bias(fn: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                                         tuple[np.ndarray, np.ndarray]]) -> bool:
    """Check ``fn(W1 (C, C1), b1 (C1,), W2 (C1, C2), b2 (C2,)) -> (W (C, C2), b (C2,))``: one 1x1 with bias
    equal to x @ W1 + b1 followed by @ W2 + b2 (no activation between them)."""
    rng = np.random.default_rng(_RNG_SEED)
    w1, b1 = rng.standard_normal((3, 5)), rng.standard_normal(5)
    w2, b2 = rng.standard_normal((5, 2)), rng.standard_normal(2)
    got, problem = _call(fn, w1.copy(), b1.copy(), w2.copy(), b2.copy())
    if problem:
        if "matmul" in problem:
            problem += " -- check the order: x meets W1 first, so W = W1 @ W2, (C, C1) @ (C1, C2)"
        return _say(False, problem)
    try:
        w, b = (np.asarray(v, dtype=float) for v in got)
    except (TypeError, ValueError):
        return _say(False, "return a pair (W, b): the merged weights and the merged bias")
    if w.shape != (3, 2):
        return _say(False, f"W has shape {w.shape}, expected (3, 2): the merged layer maps C=3 to C2=2 channels")
    if not np.allclose(w, w1 @ w2):
        return _say(False, "W is wrong: (x W1 + b1) W2 + b2 = x (W1 W2) + ..., so W = W1 @ W2")
    if b.shape != (2,):
        return _say(False, f"b has shape {b.shape}, expected (2,): one bias per output channel")
    want = b1 @ w2 + b2
    if np.allclose(b, b2):
        return _say(False, "b is b2 only: the first bias passes through the second layer too, as b1 @ W2")
    if np.allclose(b, b1 @ w2):
        return _say(False, "b is b1 @ W2 only: the second layer's own bias b2 is missing")
    if not np.allclose(b, want):
        return _say(False, "b is wrong: expand (x W1 + b1) W2 + b2 and collect the terms without x")
    image = rng.standard_normal((4, 4, 3))
    two = conv.pointwise_conv2d(conv.pointwise_conv2d(image, w1) + b1, w2) + b2
    assert np.allclose(conv.pointwise_conv2d(image, w) + b, two)
    return _say(True, "W = W1 @ W2 and b = b1 @ W2 + b2: two 1x1s with biases and no activation are one affine "
                      "1x1 (the same algebra folds a batch norm into the convolution before it)")


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


# ---------------------------------------------------------------------------------------
# Numeric and conceptual exercises of notebooks 01, 02 and 05 (predict a size, count MACs,
# say which kernels separate or which layers mix channels). The learner fills a dict or a
# set; ``...`` (Ellipsis) marks an answer not given yet. Each typical mistake is recognised
# by the wrong number it produces and named.

__all__ += [  # extended here so the exercise checks stay in one block
    "check_output_size_predictions",
    "check_separable_macs",
    "check_which_separate",
    "check_dw_separable_cost",
    "check_which_mix_channels",
    "check_program_prediction",
]

_TODO = "not implemented yet: replace each `...` with your answer"


def _numbers(answers: object, keys: tuple[str, ...]) -> tuple[dict | None, str | None]:
    """The learner's answers as ints, or a one-line problem."""
    if not isinstance(answers, dict):
        return None, f"answers should be a dict with keys {', '.join(keys)}, got {type(answers).__name__}"
    missing = [k for k in keys if k not in answers]
    if missing:
        return None, f"answers is missing the key(s) {', '.join(missing)}"
    if any(answers[k] is ... or answers[k] is None for k in keys):
        return None, _TODO
    out = {}
    for k in keys:
        v = answers[k]
        if isinstance(v, (tuple, list)):   # a shape
            if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in v):
                return None, f"answer {k!r} should be a shape of whole numbers such as (32, 32, 3), got {v!r}"
            out[k] = tuple(int(x) for x in v)
            continue
        try:
            out[k] = int(v)
        except (TypeError, ValueError):
            return None, f"answer {k!r} should be a whole number, got {v!r}"
        if out[k] != v:
            return None, f"answer {k!r} should be a whole number, got {v!r}"
    return out, None


def _diagnose(name: str, got: object, want: object, wrong: list[tuple[object, str]]) -> str | None:
    """None when right; else 'name: expected ..., got ...' plus the hint of a known wrong value."""
    if got == want:
        return None
    hints = list(dict.fromkeys(hint for value, hint in wrong if got == value and value != want))
    if hints:
        return f"{name}: got {got} -- " + "; or ".join(hints)
    return f"{name}: got {got}, which is not one of the typical mistakes; redo the count step by step"


def _letters(answer: object) -> tuple[set[str], str | None]:
    """A set answer as upper-case letters; a string such as "A, C" is read letter by letter."""
    if isinstance(answer, str):
        return {a.upper() for a in answer if a.isalpha()}, None
    try:
        return {str(a).strip().upper() for a in answer}, None
    except TypeError:
        return set(), f"answer should be a set of letters such as {{'A', 'C'}}, got {answer!r}"


def _report(problems: list[str], ok_message: str) -> bool:
    if problems:
        print(f"✗ {len(problems)} of the answers need another look:")
        for p in problems:
            print("   - " + p)
        return False
    return _say(True, ok_message)


def check_output_size_predictions(answers: dict) -> bool:
    """Notebook 01: output lengths for four settings (padding p is per side) and the total
    padding that ``"same"`` adds for n=8, k=4, stride 1.

    Keys: "a" n=32 k=5 s=1 p=2; "b" n=32 k=3 s=2 p=0; "c" n=28 k=3 s=1 p=0 dilation 2;
    "d" n=9 k=3 s=2 p=1; "e" total padded pixels of "same" for n=8, k=4, s=1.
    """
    keys = ("a", "b", "c", "d", "e")
    got, problem = _numbers(answers, keys)
    if problem:
        return _say(False, problem)
    cases = {"a": (32, 5, 1, 2, 1), "b": (32, 3, 2, 0, 1), "c": (28, 3, 1, 0, 2), "d": (9, 3, 2, 1, 1)}
    problems = []
    for key, (n, k, s, p, d) in cases.items():
        want = conv.pad_amounts(n, k, stride=s, padding=p, dilation=d).out
        span = d * (k - 1) + 1
        wrong = [
            ((n + p - span) // s + 1, f"you padded {p} in total; padding={p} means {p} zero(s) on *each* side, "
                                      f"2p = {2 * p} in total"),
            (-(-(n + 2 * p - span) // s) + 1, "you rounded up; the last window must fit, so round down (floor)"),
            ((n + 2 * p - span) // s, "off by one: the first window position counts too (+1)"),
            ((n + 2 * p - span) // s + 2, "off by one: floor((n + 2p - span) / s) + 1, not + 2"),
            ((n + 2 * p - k) // s + 1, f"a dilated kernel spans d(k-1)+1 = {span} pixels, not k = {k}"),
            ((n - span) // s + 1, "you left out the padding"),
            (n + 2 * p - span + 1, "you left out the stride"),
        ]
        diag = _diagnose(f"({key}) n={n}, k={k}, stride={s}, padding={p} per side, dilation={d}",
                         got[key], want, wrong)
        if diag:
            problems.append(diag)
    same = conv.pad_amounts(8, 4, stride=1, padding="same")
    want_e = same.before + same.after
    diag = _diagnose("(e) total padding of 'same' for n=8, k=4, stride 1", got["e"], want_e, [
        (2 * (4 // 2), "that is k//2 on each side; 'same' pads only what the output ceil(n/s) needs: "
                       "(out-1)*s + k - n in total"),
        (4 // 2, "that is one side only; the total is (out-1)*s + k - n, split before/after"),
        (want_e + 1, "off by one: the total is (out-1)*s + k - n"),
    ])
    if diag:
        problems.append(diag)
    return _report(problems, "all five sizes right: p per side in the formula, 'same' pads (out-1)*s + k - n "
                             f"in total ({same.before} before, {same.after} after for n=8, k=4)")


def check_separable_macs(answers: dict) -> bool:
    """Notebook 01: MACs on a 64x64x16 feature map, 'same' padding, K = 7.

    Keys: "full" (a per-channel 7x7, i.e. depthwise), "separable" (per-channel 7x1 then 1x7),
    "inception" (a standard 1x7 conv 16->16 then a standard 7x1 conv 16->16).
    """
    keys = ("full", "separable", "inception")
    got, problem = _numbers(answers, keys)
    if problem:
        return _say(False, problem)
    h = w = 64
    c, k = 16, 7
    want = {"full": h * w * c * k * k, "separable": h * w * c * 2 * k, "inception": 2 * h * w * k * c * c}
    problems = []
    common = lambda v: [(2 * v, "that is FLOPs (2 x MACs); count multiply-accumulates"),  # noqa: E731
                        (v // c, f"you forgot the channels: every one of the {c} channels is filtered")]
    checks_ = {
        "full": common(want["full"]) + [
            (h * w * c * 2 * k, "that is the separable count; the full kernel has K² taps")],
        "separable": common(want["separable"]) + [
            (h * w * c * k, "that is one pass only; the separable version runs a 7x1 *and* a 1x7 pass (2K taps)"),
            (h * w * c * k * k, "that is the full kernel's K² taps")],
        "inception": common(want["inception"]) + [
            (want["inception"] // 2, "that is one of the two layers; there is a 1x7 and a 7x1"),
            (want["inception"] // c, "a standard conv mixes channels: each of the 16 outputs reads all 16 inputs "
                                     "(x C_in x C_out)"),
            (h * w * k * k * c * c, "that is a 7x7 standard conv (K² C_in C_out); the factorised pair has 2K")],
    }
    for key in keys:
        diag = _diagnose(key, got[key], want[key], checks_[key])
        if diag:
            problems.append(diag)
    return _report(problems, f"MACs right: full {want['full']:,}, separable {want['separable']:,} "
                             f"({want['full'] / want['separable']:.1f}x fewer), Inception-style {want['inception']:,}")


SEPARATE_CANDIDATES = {
    "A": np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]),
    "B": np.array([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]]),
    "C": np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 1.0], [0.0, 0.0, 0.0]]),
    "D": np.eye(3) / 3,
    "E": np.array([[2.0, 4.0, 6.0], [1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]]),
}
_SEPARATE_HINTS = {
    "A": "it is outer([1, 2, 1], [1, 2, 1]) (a binomial blur): rank 1, it separates",
    "B": "the cross is a *sum* of a horizontal and a vertical line (rank 2), not one outer product",
    "C": "it has one non-zero row, outer([0, 1, 0], [1, -2, 1]), rank 1 -- it separates",
    "D": "a diagonal line (a 45° motion blur) has rank 3: its rows are not multiples of one row",
    "E": "every row is a multiple of [1, 2, 3]: outer([2, 1, -1], [1, 2, 3]), rank 1",
}


def check_which_separate(answer: set) -> bool:
    """Notebook 01: which of ``SEPARATE_CANDIDATES`` (letters A-E) are exactly one column times one row?"""
    if answer is ... or answer is None:
        return _say(False, "not implemented yet: replace the `...` with a set of letters, e.g. {'A', 'B'}")
    chosen, problem = _letters(answer)
    if problem:
        return _say(False, problem)
    unknown = chosen - set(SEPARATE_CANDIDATES)
    if unknown:
        return _say(False, f"unknown letter(s) {sorted(unknown)}: choose from A-E")
    from .kernels import separability

    want = {name for name, k in SEPARATE_CANDIDATES.items() if separability(k).separable}
    problems = [("you included " if name in chosen else "you left out ") + f"{name}: " + _SEPARATE_HINTS[name]
                for name in sorted(chosen ^ want)]
    return _report(problems, f"right: {', '.join(sorted(want))} are rank 1; the others need more than one term")


def check_dw_separable_cost(answers: dict) -> bool:
    """Notebook 02: a depthwise 3x3 (stride 1, 'same') then a pointwise 128 -> 256 on a 32x32x128 input.

    Keys: "macs" and "params" of the pair (no bias, no batch norm).
    """
    keys = ("macs", "params")
    got, problem = _numbers(answers, keys)
    if problem:
        return _say(False, problem)
    hw, c, n, k2 = 32 * 32, 128, 256, 9
    want = {"macs": hw * c * (k2 + n), "params": c * (k2 + n)}
    per = {"macs": hw, "params": 1}
    problems = []
    for key in keys:
        f = per[key]
        wrong = [
            (f * c * n, "that is the pointwise part only; add the depthwise 3x3 (one 3x3 filter per channel)"),
            (f * c * k2, f"that is the depthwise part only; add the pointwise {c} -> {n}"),
            (f * (n * k2 + c * n), f"the depthwise layer filters the {c} *input* channels, not {n}"),
            (f * c * k2 * n, "that is a standard 3x3 convolution (K² C_in C_out), not the separable pair"),
            (c * (k2 + n), "that is per output pixel; multiply by the 32 x 32 output pixels"),
        ]
        if key == "macs":
            wrong.insert(0, (2 * want["macs"], "that is FLOPs (2 x MACs); count multiply-accumulates"))
        diag = _diagnose(key, got[key], want[key], wrong)
        if diag:
            problems.append(diag)
    return _report(problems, f"right: {want['macs']:,} MACs and {want['params']:,} parameters "
                             f"({want['macs'] / (hw * c * k2 * n):.3f} of a standard 3x3 = 1/N + 1/K²)")


MIX_CANDIDATES = {
    "A": "depthwise 3x3, depth multiplier 1",
    "B": "depthwise 3x3, depth multiplier 2",
    "C": "pointwise 1x1",
    "D": "standard 3x3",
    "E": "grouped 3x3 with groups = C_in",
    "F": "grouped 3x3 with groups = 2",
}
_MIX_HINTS = {
    "A": "it never mixes: output c reads input channel c only",
    "B": "it makes 2 outputs per channel, but each reads one input channel only: more channels, no mixing",
    "C": "it is a weighted sum over all input channels at each pixel: it mixes",
    "D": "it mixes: every output reads a K x K x C_in block",
    "E": "it is depthwise: groups = C_in gives each group one input channel, so nothing is mixed",
    "F": "it mixes within each group: an output reads all C_in/2 channels of its group",
}


def check_which_mix_channels(answer: set) -> bool:
    """Notebook 02: which layers of ``MIX_CANDIDATES`` (letters A-F) give some output channel
    a dependence on two or more input channels? Checked by running each layer."""
    if answer is ... or answer is None:
        return _say(False, "not implemented yet: replace the `...` with a set of letters, e.g. {'A', 'B'}")
    chosen, problem = _letters(answer)
    if problem:
        return _say(False, problem)
    unknown = chosen - set(MIX_CANDIDATES)
    if unknown:
        return _say(False, f"unknown letter(s) {sorted(unknown)}: choose from A-F")
    want = {name for name in MIX_CANDIDATES if _mixes(name)}
    problems = [("you included " if name in chosen else "you left out ") + f"{name}: " + _MIX_HINTS[name]
                for name in sorted(chosen ^ want)]
    return _report(problems, f"right: {', '.join(sorted(want))} mix channels; A, B and E filter each channel alone")


def _mixes(name: str) -> bool:
    """Run the layer on 4 channels and test whether zeroing input 0 changes outputs of other channels."""
    rng = np.random.default_rng(_RNG_SEED)
    x = rng.standard_normal((6, 6, 4))

    def layer(img: np.ndarray) -> np.ndarray:
        r = np.random.default_rng(7)
        if name == "A":
            return conv.depthwise_conv2d(img, r.standard_normal((3, 3, 4)))
        if name == "B":
            return conv.depthwise_conv2d(img, r.standard_normal((3, 3, 4, 2)))
        if name == "C":
            return conv.pointwise_conv2d(img, r.standard_normal((4, 4)))
        if name == "D":
            return conv.conv2d(img, r.standard_normal((3, 3, 4, 4)))
        groups = 4 if name == "E" else 2
        w = r.standard_normal((3, 3, 4 // groups, 4))
        size = 4 // groups
        return np.concatenate([conv.conv2d(img[:, :, g * size:(g + 1) * size], w[:, :, :, g * size:(g + 1) * size])
                               for g in range(groups)], axis=2)

    zeroed = x.copy()
    zeroed[:, :, 0] = 0.0
    change = np.abs(layer(zeroed) - layer(x)).max(axis=(0, 1))
    own = 2 if name == "B" else 1  # outputs that belong to input channel 0
    return bool(np.any(change[own:] > 1e-12))


def check_program_prediction(answers: dict) -> bool:
    """Notebook 05: what the program prints for two runs on the 256x256x3 test card.

    Keys: "dw_shape" and "dw_macs" for ``--mode depthwise --stride 2 --padding valid`` (the
    default (3, 3, 3) kernel); "pw_shape" and "pw_macs" for ``--mode pointwise --kernel grayscale``
    (weights (3, 1)). Shapes as tuples (H, W, C).
    """
    keys = ("dw_shape", "dw_macs", "pw_shape", "pw_macs")
    got, problem = _numbers(answers, keys)
    if problem:
        return _say(False, problem)
    n, k, s = 256, 3, 2
    o = (n - k) // s + 1
    want = {"dw_shape": (o, o, 3), "dw_macs": o * o * k * k * 3, "pw_shape": (n, n, 1), "pw_macs": n * n * 3}
    problems = []
    for key, wrong in {
        "dw_shape": [((n // s, n // s, 3), "that is 'same' padding (ceil(n/s)); 'valid' pads nothing: "
                                           "floor((256 - 3) / 2) + 1"),
                     ((o - 1, o - 1, 3), "off by one: floor((n - k) / s) + 1"),
                     ((o, o), "the depthwise output keeps one channel per input channel: (H, W, 3)"),
                     ((o, o, 1), "depthwise does not sum the channels: 3 outputs")],
        "dw_macs": [(2 * want["dw_macs"], "that is FLOPs (2 x MACs)"),
                    (o * o * k * k, "you forgot the 3 channels"),
                    ((n // s) ** 2 * k * k * 3, "that counts a 128 x 128 output ('same'); 'valid' gives 127 x 127"),
                    (n * n * k * k * 3, "that ignores the stride: count output pixels, not input pixels")],
        "pw_shape": [((n, n, 3), "the grayscale weights are (3, 1): C_out = 1"),
                     ((n, n), "the program keeps the channel axis: (H, W, C_out)")],
        "pw_macs": [(2 * want["pw_macs"], "that is FLOPs (2 x MACs)"),
                    (n * n * 9, "that counts 3 x 3 weights; grayscale is (3, 1): 3 MACs per pixel"),
                    (n * n, "each output pixel sums 3 input channels: 3 MACs per pixel")],
    }.items():
        diag = _diagnose(key, got[key], want[key], wrong)
        if diag:
            problems.append(diag)
    return _report(problems, f"right: depthwise {want['dw_shape']} for {want['dw_macs']:,} MACs, pointwise "
                             f"{want['pw_shape']} for {want['pw_macs']:,} MACs")
