"""Benchmark every helpers.conv op against its loop, SciPy and PyTorch (when installed).

    make bench                       # installs the [bench] extras, then runs this
    python benchmarks/run.py --quick # fewer rounds, no 4096x4096 case, no nbval: a smoke test

Everything runs in one process with BLAS (and PyTorch) pinned to one thread. The
implementations of one case are timed alternately, round after round (9, or up to
36 for cases whose rounds are cheap, about a second of timing), and the median of
the rounds is reported, so a slow moment of the machine hits all of them
alike; each timed call follows an untimed call of the same implementation, so none
pays for the caches and freed memory the one before it left behind
(helpers.timing.compare_ms). Peak extra memory is measured with tracemalloc (NumPy
reports its buffers to it) and is given beyond the output array itself; it includes
the workspace of temporaries that the ops keep for their next call.

PyTorch runs at its best: every case is timed with a contiguous NCHW tensor, with a
channels-last tensor (strides (H*W*C, 1, W*C, C), weights channels-last too) and with
the equivalent ``torch.nn.Conv2d`` module in channels-last memory format, all under
``torch.inference_mode()``, and the fastest of the three is the baseline. Every tensor
handed to PyTorch is checked to have exactly the strides its layout claims, and every
case checks once that PyTorch computes the same numbers as we do. SciPy gets each
channel as its own contiguous 2-D array (planar layout, its best).

Cases: the images of the series (RGB, 512x512 and up), every layer shape of MobileNet v1
at 224x224, representative ResNet-18/50 layers, and two whole networks (MobileNet v1
and its full-convolution version, random weights, ReLU after every convolution).

Writes benchmarks/results/results.json, results.md (the tables and the targets) and
results.png, with a description of the machine.
"""

from __future__ import annotations

import os

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_USER_ENV = {_var: os.environ.get(_var) for _var in _THREAD_VARS}  # for the nbval run, as make test runs it
for _var in _THREAD_VARS:
    os.environ[_var] = "1"  # before NumPy is imported

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers import conv, fast_conv  # noqa: E402
from helpers.costs import MOBILENET_V1_BLOCKS, mobilenet_v1_layers  # noqa: E402
from helpers.timing import compare_ms  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ROUND_BUDGET_MS = 1000  # timing per case that decides how many rounds a cheap case gets
NETWORK_NAMES = ("MobileNet v1", "MobileNet v1, full convolution")  # notebook 02 reads these names


def keep_freed_memory() -> str:
    """Have glibc keep freed blocks (up to 32 MB) for reuse instead of returning them to the OS.

    Otherwise whether a call gets its output from recycled memory or from fresh pages
    -- a page fault per 4 KB, about 1 ms per 3 MB output on a VM -- depends on what
    was allocated and freed before it, and that changed from run to run (a constant
    +1.2 ms on both sides of a ratio in one run and not in the next). Every
    implementation, PyTorch and SciPy included, allocates through glibc, so all get
    the same steady state -- the one a program looping over images has.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return "allocator left as it is (not glibc)"
    m_trim_threshold, m_mmap_threshold = -1, -3
    if libc.mallopt(m_mmap_threshold, 32 * 2**20) and libc.mallopt(m_trim_threshold, 2**30):
        return "glibc keeps freed blocks up to 32 MB for reuse"
    return "allocator left as it is (mallopt refused)"


try:
    import torch

    torch.set_num_threads(1)
    F = torch.nn.functional
except ImportError:  # reported, not fatal
    torch = None
try:
    from scipy import ndimage
except ImportError:
    ndimage = None


# ------------------------------------------------------- PyTorch and SciPy inputs
LAYOUTS = ("NCHW", "channels-last")


def expected_strides(shape: tuple[int, int, int, int], layout: str) -> tuple[int, int, int, int]:
    """Element strides of a contiguous (N, C, H, W) tensor in ``layout``."""
    n, c, h, w = shape
    if layout == "NCHW":
        return (c * h * w, h * w, w, 1)
    if layout == "channels-last":
        return (h * w * c, 1, w * c, c)
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def check_layout(t: torch.Tensor, layout: str) -> torch.Tensor:
    """Return ``t`` after checking that it has exactly the strides ``layout`` claims."""
    want = expected_strides(tuple(t.shape), layout)
    fmt = torch.contiguous_format if layout == "NCHW" else torch.channels_last
    if tuple(t.stride()) != want or not t.is_contiguous(memory_format=fmt):
        raise AssertionError(f"tensor {tuple(t.shape)} has strides {t.stride()}, {layout} needs {want}")
    return t


def torch_input(x: np.ndarray, layout: str) -> torch.Tensor:
    """x: (H, W, C) -> (1, C, H, W) tensor in ``layout``.

    NCHW: a contiguous planar copy. Channels-last: a (1, H, W, C) C-contiguous array
    seen as (1, C, H, W), strides (H*W*C, 1, W*C, C). Both are fresh arrays (``copy``),
    so that even the size-1 batch axis has its canonical stride, not NumPy's 0.
    """
    h, w, c = x.shape
    if layout == "NCHW":
        t = torch.from_numpy(x.transpose(2, 0, 1).reshape(1, c, h, w).copy())
    else:
        t = torch.from_numpy(x.reshape(1, h, w, c).copy()).permute(0, 3, 1, 2)
    return check_layout(t, layout)


def torch_weight(w_hwio: np.ndarray, layout: str) -> torch.Tensor:
    """w_hwio: (Kh, Kw, C_in/groups, C_out) -> PyTorch's (C_out, C_in/groups, Kh, Kw) in ``layout``.

    A channels-last input only takes PyTorch's fast (oneDNN) path when the weight has
    channels-last strides too (measured: 28 ms instead of 1.2 ms for a 512x512x3
    depthwise 3x3), so the weight follows the input.
    """
    if layout == "NCHW":
        t = torch.from_numpy(w_hwio.transpose(3, 2, 0, 1).copy())
    else:
        t = torch.from_numpy(w_hwio.transpose(3, 0, 1, 2).copy()).permute(0, 3, 1, 2)
    return check_layout(t, layout)


class TorchConv:
    """One convolution layer for PyTorch: weight (Kh, Kw, C_in/groups, C_out), stride, padding, groups."""

    def __init__(self, w_hwio: np.ndarray, stride: int = 1, padding: int = 0, groups: int = 1) -> None:
        self.w, self.stride, self.padding, self.groups = w_hwio, stride, padding, groups

    def module(self) -> torch.nn.Conv2d:
        kh, kw, c_in_g, c_out = self.w.shape
        m = torch.nn.Conv2d(c_in_g * self.groups, c_out, (kh, kw), stride=self.stride, padding=self.padding,
                            groups=self.groups, bias=False, dtype=torch.from_numpy(self.w[:0]).dtype)
        with torch.no_grad():
            m.weight.copy_(torch_weight(self.w, "NCHW"))
        return m.to(memory_format=torch.channels_last).eval().requires_grad_(False)


def torch_variants(x: np.ndarray, layers: list[TorchConv]) -> dict[str, Callable[[], torch.Tensor]]:
    """PyTorch running ``layers`` one after the other on x (H, W, C), three ways.

    "pytorch NCHW": F.conv2d on contiguous NCHW tensors; "pytorch channels-last":
    F.conv2d on channels-last input and weights; "pytorch nn.Conv2d": the modules in
    channels-last memory format on the channels-last input. The caller runs them in
    ``torch.inference_mode()``.
    """
    out = {}
    for layout in LAYOUTS:
        tx = torch_input(x, layout)
        ws = [torch_weight(layer.w, layout) for layer in layers]

        def run(tx=tx, ws=ws):
            y = tx
            for layer, w in zip(layers, ws, strict=True):
                y = F.conv2d(y, w, stride=layer.stride, padding=layer.padding, groups=layer.groups)
            return y

        out[f"pytorch {layout}"] = run
    model = torch.nn.Sequential(*[layer.module() for layer in layers])
    for m in model:
        check_layout(m.weight, "channels-last")
    tx = torch_input(x, "channels-last")
    out["pytorch nn.Conv2d"] = lambda: model(tx)
    return out


def scipy_planes(x: np.ndarray) -> np.ndarray:
    """x: (H, W, C) -> (C, H, W) contiguous: every channel a contiguous 2-D array for SciPy."""
    planes = np.ascontiguousarray(x.transpose(2, 0, 1))
    assert planes.flags.c_contiguous and planes.strides[1:] == (x.shape[1] * x.itemsize, x.itemsize)
    return planes


def scipy_depthwise(planes: np.ndarray, kern: np.ndarray, out: np.ndarray) -> np.ndarray:
    """planes, out: (C, H, W) contiguous; kern: (K, K, C). ndimage.correlate per channel, zero padding."""
    for i in range(planes.shape[0]):
        ndimage.correlate(planes[i], kern[:, :, i], output=out[i], mode="constant")
    return out


def scipy_separable(planes: np.ndarray, col: np.ndarray, row: np.ndarray, mid: np.ndarray,
                    out: np.ndarray) -> np.ndarray:
    """planes, mid, out: (C, H, W) contiguous; col, row: (K,). Two correlate1d passes per channel."""
    for i in range(planes.shape[0]):
        ndimage.correlate1d(planes[i], col, axis=0, output=mid[i], mode="constant")
        ndimage.correlate1d(mid[i], row, axis=1, output=out[i], mode="constant")
    return out


# ----------------------------------------------------------------- the cases
def mobilenet_layer_cases(dtype: str) -> list[dict]:
    """Every distinct layer shape of MobileNet v1 at 224x224 (Howard et al. 2017, Table 1).

    The first 3x3 convolution (stride 2, 3 -> 32 channels) and the depthwise and
    pointwise layers of the 13 blocks; blocks 7-11 share one shape, so that case
    stands for five layers (``count``).
    """
    out = [{"op": "standard", "shape": (224, 224, 3), "k": 3, "c_out": 32, "stride": 2, "dtype": dtype,
            "group": "MobileNet v1", "count": 1}]
    size, c = 112, 32
    seen: dict[tuple, dict] = {}
    for stride, c_out in MOBILENET_V1_BLOCKS:
        for case in ({"op": "depthwise", "shape": (size, size, c), "k": 3, "stride": stride},
                     {"op": "pointwise", "shape": (size // stride, size // stride, c), "k": 1, "c_out": c_out}):
            key = tuple(sorted((k, str(v)) for k, v in case.items()))
            if key in seen:
                seen[key]["count"] += 1
            else:
                seen[key] = {**case, "dtype": dtype, "group": "MobileNet v1", "count": 1}
                out.append(seen[key])
        size, c = size // stride, c_out
    return out


def resnet_cases(dtype: str) -> list[dict]:
    """ResNet-18/50 layers at 224x224 (He et al. 2016, Table 1).

    The 3x3 convolution of conv2_x (56x56x64 -> 64, both networks), ResNet-50's
    bottleneck at 56x56x256 (1x1 to 64, that 3x3, 1x1 back to 256) and a strided 3x3
    (conv3_1 of ResNet-50 v1.5: 56x56x128 -> 128, stride 2).
    """
    g = {"dtype": dtype, "group": "ResNet"}
    return [{"op": "standard", "shape": (56, 56, 64), "k": 3, "c_out": 64, **g},
            {"op": "pointwise", "shape": (56, 56, 256), "k": 1, "c_out": 64, **g},
            {"op": "pointwise", "shape": (56, 56, 64), "k": 1, "c_out": 256, **g},
            {"op": "standard", "shape": (56, 56, 128), "k": 3, "c_out": 128, "stride": 2, **g}]


def cases() -> list[dict]:
    """Every benchmarked configuration, both dtypes."""
    out = [  # small shapes, where the textbook loops are timed too
        {"op": "depthwise", "shape": (32, 32, 3), "k": 3, "dtype": "float64", "loop": True},
        {"op": "standard", "shape": (32, 32, 3), "k": 3, "c_out": 8, "dtype": "float64", "loop": True},
        {"op": "pointwise", "shape": (32, 32, 16), "k": 1, "c_out": 16, "dtype": "float64", "loop": True},
    ]
    for dtype in ("float32", "float64"):
        for h, k in [(512, 3), (512, 7), (512, 11), (1024, 7)]:
            out.append({"op": "depthwise", "shape": (h, h, 3), "k": k, "dtype": dtype})
        out.append({"op": "depthwise", "shape": (4096, 4096, 3), "k": 7, "dtype": dtype, "big": True})
        out.append({"op": "depthwise", "shape": (256, 256, 64), "k": 3, "dtype": dtype})
        for k in (3, 7):
            out.append({"op": "standard", "shape": (512, 512, 3), "k": k, "c_out": 16, "dtype": dtype})
        out.append({"op": "standard", "shape": (256, 256, 64), "k": 3, "c_out": 64, "dtype": dtype})
        out.append({"op": "depthwise_separable", "shape": (256, 256, 64), "k": 3, "c_out": 64, "dtype": dtype})
        out.append({"op": "pointwise", "shape": (256, 256, 64), "k": 1, "c_out": 64, "dtype": dtype})
        out += mobilenet_layer_cases(dtype) + resnet_cases(dtype)
        for k in range(3, 16, 2):
            out.append({"op": "spatial_separable", "shape": (512, 512, 3), "k": k, "dtype": dtype})
    for case in out:
        case.setdefault("stride", 1)
        case.setdefault("group", "image")
    return out


def _label(case: dict) -> str:
    h, w, c = case["shape"]
    extra = f"->{case['c_out']}" if "c_out" in case else ""
    stride = f" s{case['stride']}" if case.get("stride", 1) != 1 else ""
    return f"{case['op']} {h}x{w}x{c}{extra} K={case['k']}{stride} {case['dtype']}"


def implementations(case: dict, rng: np.random.Generator) -> tuple[dict[str, Callable[[], object]], int]:
    """The callables to time for one case, and the size of the output in bytes.

    Our ops get padding K // 2 (for stride 1 and odd K the same as "same"), as PyTorch
    does, so that both compute the same output and it can be compared.
    """
    dt = np.dtype(case["dtype"])
    h, w, c = case["shape"]
    k, s = case["k"], case["stride"]
    p = k // 2
    x = rng.standard_normal((h, w, c)).astype(dt)
    impl: dict[str, Callable[[], object]] = {}
    layers: list[TorchConv] = []
    op = case["op"]
    c_out = case.get("c_out", c)
    if op == "depthwise":
        kern = (rng.standard_normal((k, k, c)) / k).astype(dt)
        impl["helpers"] = lambda: conv.depthwise_conv2d(x, kern, stride=s, padding=p)
        if case.get("loop"):
            impl["loop"] = lambda: conv.depthwise_conv2d_loop(x, kern, stride=s, padding=p)
        if ndimage is not None and not case.get("big") and s == 1:
            planes, res = scipy_planes(x), np.empty((c, h, w), dt)
            impl["scipy"] = lambda: scipy_depthwise(planes, kern, res)
        layers = [TorchConv(kern[:, :, None, :], s, p, groups=c)]
    elif op == "standard":
        kern = (rng.standard_normal((k, k, c, c_out)) / math.sqrt(k * k * c)).astype(dt)
        impl["helpers"] = lambda: conv.conv2d(x, kern, stride=s, padding=p)
        if case.get("loop"):
            impl["loop"] = lambda: conv.conv2d_loop(x, kern, stride=s, padding=p)
        layers = [TorchConv(kern, s, p)]
    elif op == "pointwise":
        wts = (rng.standard_normal((c, c_out)) / math.sqrt(c)).astype(dt)
        impl["helpers"] = lambda: conv.pointwise_conv2d(x, wts)
        if case.get("loop"):
            impl["loop"] = lambda: conv.pointwise_conv2d_loop(x, wts)
        layers = [TorchConv(wts[None, None])]
    elif op == "depthwise_separable":
        dk = (rng.standard_normal((k, k, c)) / k).astype(dt)
        pw = (rng.standard_normal((c, c_out)) / math.sqrt(c)).astype(dt)
        impl["helpers"] = lambda: conv.depthwise_separable_conv2d(x, dk, pw, stride=s, padding=p)
        std = (dk[:, :, :, None] * pw[None, None]).astype(dt)
        impl["helpers standard"] = lambda: conv.conv2d(x, std, stride=s, padding=p)
        layers = [TorchConv(dk[:, :, None, :], s, p, groups=c), TorchConv(pw[None, None])]
    else:  # spatial_separable
        col, row = rng.standard_normal(k).astype(dt), rng.standard_normal(k).astype(dt)
        full = np.outer(col, row).astype(dt)
        impl["helpers"] = lambda: conv.spatial_separable_conv2d(x, col, row)
        impl["helpers full KxK"] = lambda: conv.depthwise_conv2d(x, full)
        if ndimage is not None:
            planes, mid, res = scipy_planes(x), np.empty((c, h, w), dt), np.empty((c, h, w), dt)
            impl["scipy"] = lambda: scipy_separable(planes, col, row, mid, res)
    if torch is not None and layers and not case.get("big"):
        impl.update(torch_variants(x, layers))
    h_out, w_out = -(-h // s), -(-w // s)
    return impl, h_out * w_out * c_out * dt.itemsize


def check_same_result(case: dict, impl: dict[str, Callable[[], object]]) -> None:
    """Every implementation of a case computes the same numbers as ours (once, untimed)."""
    ours = np.asarray(impl["helpers"]())
    scale = float(np.abs(ours).max()) or 1.0
    tol = 1e-3 if case["dtype"] == "float32" else 1e-9
    for name, fn in impl.items():
        if name == "helpers":
            continue
        got = fn()
        if name.startswith("pytorch"):
            got = got[0].permute(1, 2, 0).numpy()
        elif name == "scipy":
            got = np.asarray(got).transpose(1, 2, 0)
        got = np.asarray(got).reshape(ours.shape)
        err = float(np.abs(got - ours).max()) / scale
        if not err <= tol:
            raise AssertionError(f"{_label(case)}: {name} differs from helpers by {err:.2g} (relative to the "
                                 f"largest output); the comparison would not be fair")


# ------------------------------------------------------------ whole networks
def mobilenet_weights(full_convolution: bool, rng: np.random.Generator, dtype: str = "float32") -> list[dict]:
    """Random weights for MobileNet v1 at 224x224 (or its full-convolution version).

    He-scaled (std sqrt(2 / fan_in)) so that activations keep their size through the
    ReLUs. Batch normalisation is left out (at inference it folds into the weights).
    Returns the layers in order: {"kind": "standard" | "depthwise" | "pointwise" | "fc", "w", "stride"}.
    """
    dt = np.dtype(dtype)

    def he(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        return (rng.standard_normal(shape) * math.sqrt(2 / fan_in)).astype(dt)

    layers = [{"kind": "standard", "w": he((3, 3, 3, 32), 27), "stride": 2}]
    c = 32
    for stride, c_out in MOBILENET_V1_BLOCKS:
        if full_convolution:
            layers.append({"kind": "standard", "w": he((3, 3, c, c_out), 9 * c), "stride": stride})
        else:
            layers.append({"kind": "depthwise", "w": he((3, 3, c), 9), "stride": stride})
            layers.append({"kind": "pointwise", "w": he((c, c_out), c), "stride": 1})
        c = c_out
    layers.append({"kind": "fc", "w": he((c, 1000), c), "b": np.zeros(1000, dt), "stride": 1})
    return layers


def count_params(layers: list[dict]) -> int:
    return sum(layer["w"].size + layer.get("b", np.empty(0)).size for layer in layers)


def mobilenet_ours(x: np.ndarray, layers: list[dict]) -> np.ndarray:
    """Forward pass with helpers.conv: x (224, 224, 3) -> logits (1000,).

    Padding 1 on every 3x3 layer (PyTorch's choice; for stride 1 the same as "same"),
    ReLU after every convolution, global average pooling, then the fully connected layer.
    """
    y = x
    for layer in layers[:-1]:
        if layer["kind"] == "standard":
            y = conv.conv2d(y, layer["w"], stride=layer["stride"], padding=1)
        elif layer["kind"] == "depthwise":
            y = conv.depthwise_conv2d(y, layer["w"], stride=layer["stride"], padding=1)
        else:
            y = conv.pointwise_conv2d(y, layer["w"])
        np.maximum(y, 0, out=y)
    fc = layers[-1]
    return y.mean(axis=(0, 1)) @ fc["w"] + fc["b"]


def mobilenet_torch(layers: list[dict], layout: str) -> torch.nn.Module:
    """The same network as torch.nn modules, weights copied, in ``layout`` memory format."""
    mods: list[torch.nn.Module] = []
    for layer in layers[:-1]:
        w = layer["w"]
        if layer["kind"] == "depthwise":
            spec = TorchConv(w[:, :, None, :], layer["stride"], 1, groups=w.shape[2])
        elif layer["kind"] == "pointwise":
            spec = TorchConv(w[None, None])
        else:
            spec = TorchConv(w, layer["stride"], 1)
        mods += [spec.module(), torch.nn.ReLU(inplace=True)]
    fc = layers[-1]
    lin = torch.nn.Linear(*fc["w"].shape, dtype=torch.from_numpy(fc["w"][:0]).dtype)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(fc["w"].T)))
        lin.bias.copy_(torch.from_numpy(fc["b"]))
    model = torch.nn.Sequential(*mods, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), lin)
    fmt = torch.channels_last if layout == "channels-last" else torch.contiguous_format
    model = model.to(memory_format=fmt).eval().requires_grad_(False)
    for m in model:
        if isinstance(m, torch.nn.Conv2d):
            check_layout(m.weight, layout)
    return model


def network_benchmarks(rng: np.random.Generator, rounds: int) -> tuple[list[dict], list[dict]]:
    """Whole forward passes of MobileNet v1 and its full-convolution version, float32.

    Returns the "networks" list of results.json (name, macs, params, ours_ms, torch_ms:
    notebook 02 reads exactly these) and the details (rounds, every PyTorch variant).
    """
    x = rng.standard_normal((224, 224, 3)).astype(np.float32)
    nets, details = [], []
    for name, full in zip(NETWORK_NAMES, (False, True), strict=True):
        layers = mobilenet_weights(full, rng)
        costs = mobilenet_v1_layers(full_convolution=full)
        macs, params = sum(c.macs for _, c in costs), sum(c.params for _, c in costs)
        if count_params(layers) != params:
            raise AssertionError(f"{name}: {count_params(layers)} weights, helpers.costs counts {params}")
        impl: dict[str, Callable[[], object]] = {"helpers": lambda layers=layers: mobilenet_ours(x, layers)}
        if torch is not None:
            for layout in LAYOUTS:
                model, tx = mobilenet_torch(layers, layout), torch_input(x, layout)
                impl[f"pytorch {layout}"] = lambda model=model, tx=tx: model(tx)[0]
        ours = impl["helpers"]()
        for key, fn in impl.items():
            got = np.asarray(fn())
            if not np.allclose(got, ours, rtol=1e-3, atol=1e-3 * float(np.abs(ours).max())):
                raise AssertionError(f"{name}: {key} computes other logits than helpers")
        ms = compare_ms(impl, repeat=rounds)
        torch_ms = min((v for k, v in ms.items() if k.startswith("pytorch")), default=float("nan"))
        nets.append({"name": name, "macs": int(macs), "params": int(params), "ours_ms": ms["helpers"],
                     "torch_ms": torch_ms})
        details.append({"name": name, "rounds": rounds, "ms": ms})
        print(f"{name:36s} helpers {ms['helpers']:8.1f} ms  PyTorch {torch_ms:8.1f} ms  "
              f"({', '.join(f'{k} {v:.1f}' for k, v in ms.items() if k != 'helpers')})", flush=True)
    return nets, details


def peak_extra_mb(fn: Callable[[], object], out_bytes: int) -> float:
    """Peak traced memory during ``fn()`` beyond its output, in MB.

    The ops keep their temporaries in a per-thread workspace between calls; it is
    released first, so that this call allocates it again and it is counted.
    """
    fast_conv._release_workspace()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return max(0.0, (peak - base - out_bytes) / 2**20)


def slider_update_ms(rounds: int) -> float:
    """Median time of one explorer update: a depthwise conv of 512x512x3 and a redraw of
    a reused 3-panel figure to PNG (what a slider move costs in the notebook)."""
    from helpers.widgets import Explorer, View

    rng = np.random.default_rng(0)
    img = rng.random((512, 512, 3))

    def compute(k: int) -> View:
        out = conv.depthwise_conv2d(img, np.full((k, k), 1.0 / k**2))
        return View(panels=[(c, out[:, :, i]) for i, c in enumerate("RGB")], text=f"K={k}")

    ex = Explorer({"k": ("slider", 3, 9, 2, 3)}, compute, ncols=3)
    ex.render(k=3)
    times = []
    for i in range(rounds):
        t0 = time.perf_counter()
        ex.render(k=3 + 2 * (i % 4))
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def explorer_redraws() -> list[dict]:
    """Per explorer: median and max CPU and wall ms of every control change (benchmarks/redraw.py)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import redraw

    return [redraw.measure(name) for name in redraw.NAMES]


def browser_redraws() -> dict:
    """The browser suite's medians (test-output/e2e/NN_timings.json), when it has run here."""
    out = {}
    for path in sorted((ROOT / "test-output" / "e2e").glob("*_timings.json")):
        data = json.loads(path.read_text())
        if "redraw_median_s" in data:
            keys = ("redraw_median_s", "redraw_max_s", "redraws", "learner_pace_look_s",
                    "learner_pace_redraw_median_s", "learner_pace_redraw_max_s", "learner_pace_redraws")
            out[path.name.split("_")[0]] = {k: data[k] for k in keys if k in data}
    return out


def nbval_seconds() -> tuple[float, str]:
    """Wall-clock seconds of the strict nbval run over the five notebooks, and pytest's summary line.

    Run as ``make test`` runs it: with the caller's BLAS thread settings, not the one
    thread this process pins (the notebooks' stored outputs were computed that way, and
    a different summation order can change the last digits of a training run).
    """
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARS}
    env.update({k: v for k, v in _USER_ENV.items() if v is not None})
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "notebooks", "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                       capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    summary = (r.stdout.strip().splitlines() or [""])[-1]
    if r.returncode != 0:
        print(r.stdout[-2000:])
        return float("nan"), summary
    return seconds, summary


def machine() -> dict:
    """CPU, cores, Python, NumPy and its BLAS, PyTorch."""
    info = {"date": datetime.date.today().isoformat(), "python": platform.python_version(),
            "numpy": np.__version__, "platform": platform.platform(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, "
                        f"{p.get('num_threads')} thread)" for p in threadpool_info()]
    except ImportError:
        info["blas"] = ["threadpoolctl not installed"]
    info["pytorch"] = torch.__version__ if torch is not None else "not installed"
    info["scipy"] = __import__("scipy").__version__ if ndimage is not None else "not installed"
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="3 rounds instead of 9, no 4096x4096 case, no nbval run; results are not copied to README")
    ap.add_argument("--only", default="",
                    help="with --quick: time only the cases whose label contains this text ('networks': the networks)")
    ap.add_argument("--no-readme", action="store_true", help="do not copy the results into README.md")
    ap.add_argument("--report-only", action="store_true",
                    help="re-evaluate the targets and rewrite the reports from results.json, without timing")
    ap.add_argument("--nbval-only", action="store_true",
                    help="time only the strict nbval run and store it in results.json, then rewrite the reports")
    args = ap.parse_args(argv)
    if args.report_only or args.nbval_only:
        report = json.loads((RESULTS / "results.json").read_text())
        if args.nbval_only:
            report["nbval_s"], report["nbval_summary"] = nbval_seconds()
            report["nbval_summary"] += f" (timed separately, {datetime.date.today().isoformat()})"
            print(f"strict nbval over the notebooks: {report['nbval_s']:.1f} s ({report['nbval_summary']})")
        report["targets"] = evaluate(report)
        (RESULTS / "results.json").write_text(json.dumps(report, indent=2))
        (RESULTS / "results.md").write_text(markdown(report))
        if not args.no_readme:
            update_readme(markdown(report))
        return 0
    allocator = keep_freed_memory()
    rounds = 3 if args.quick else 9
    rng = np.random.default_rng(0)
    out_dir = RESULTS if not args.quick else Path(tempfile.gettempdir()) / "bench-quick"  # never committed
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with torch.inference_mode() if torch is not None else contextlib.nullcontext():
        for case in cases():
            if args.quick and (case.get("big") or args.only not in _label(case)):
                continue
            impl, out_bytes = implementations(case, rng)
            check_same_result(case, impl)
            r = 3 if case.get("big") else rounds
            if not args.quick and not case.get("big"):
                # cheap cases get more rounds, up to about a second of timing: a tighter median
                once = compare_ms(impl, repeat=1)
                r = max(r, min(4 * rounds, int(ROUND_BUDGET_MS / (2 * sum(once.values())))))
            ms = compare_ms(impl, repeat=r)
            variants = {n: t for n, t in ms.items() if n.startswith("pytorch")}
            ms = {n: t for n, t in ms.items() if not n.startswith("pytorch")}
            if variants:  # PyTorch at its best: the fastest of its layouts and the module
                ms["pytorch"] = min(variants.values())
            mem = peak_extra_mb(impl["helpers"], out_bytes)
            row = {"case": _label(case), **case, "shape": list(case["shape"]), "ms": ms, "rounds": r,
                   "extra_mb": mem, "out_mb": out_bytes / 2**20}
            if variants:
                row["pytorch_variants"] = variants
                row["pytorch_fastest"] = min(variants, key=variants.get).removeprefix("pytorch ")
            rows.append(row)
            others = ", ".join(f"{n} {t:.2f} ms" for n, t in ms.items() if n != "helpers")
            ratio = f"  ratio {ms['helpers'] / ms['pytorch']:.2f}x ({row['pytorch_fastest']})" if variants else ""
            print(f"{row['case']:52s} helpers {ms['helpers']:8.2f} ms  {others}{ratio}  extra {mem:.1f} MB",
                  flush=True)
        if not args.only or args.only == "networks":
            networks, network_timing = network_benchmarks(rng, 3 if args.quick else 7)
        else:
            networks, network_timing = [], []
    prof = profile_taps()
    print("one depthwise tap pass: einsum " + ", ".join(f"{n} rows {g:.1f}" for n, g in
                                                       prof["einsum_gmacs_by_rows"].items())
          + f" G MACs/s; np.multiply {prof['multiply_gvalues']:.1f} G values/s")
    slider = slider_update_ms(15 if not args.quick else 5)
    print(f"explorer slider update (512x512x3 conv + 3-panel redraw): {slider:.1f} ms")
    redraws = [] if args.quick else explorer_redraws()
    for r in redraws:
        print(f"explorer {r['explorer']}: {r['moves']} control changes, CPU median {r['cpu_median_ms']:.1f} ms "
              f"(max {r['cpu_max_ms']:.1f}), wall median {r['wall_median_ms']:.1f} ms"
              + (f"; {r['first_visits']} first visits (training) CPU median {r['first_visit_cpu_median_ms']:.0f} ms"
                 if "first_visits" in r else ""))
    browser = browser_redraws()
    for nb, b in browser.items():
        print(f"browser suite, notebook {nb}: median redraw {b['redraw_median_s'] * 1000:.0f} ms over "
              f"{b['redraws']} control changes (max {b['redraw_max_s'] * 1000:.0f} ms)")
    nbval, nbval_summary = (float("nan"), "not run (--quick)") if args.quick else nbval_seconds()
    print(f"strict nbval over the notebooks: {nbval:.1f} s ({nbval_summary})")
    report = {"machine": {**machine(), "allocator": allocator}, "rows": rows, "networks": networks,
              "network_timing": network_timing, "profile": prof, "slider_update_ms": slider,
              "explorer_redraws": redraws, "browser_redraws": browser, "nbval_s": nbval,
              "nbval_summary": nbval_summary}
    report["targets"] = evaluate(report)
    (out_dir / "results.json").write_text(json.dumps(report, indent=2))
    (out_dir / "results.md").write_text(markdown(report))
    plot(report, out_dir)
    print(f"\nwrote {out_dir / 'results.md'}, results.json, results.png")
    if not args.no_readme and not args.quick:
        update_readme(markdown(report))
    for t in report["targets"]:
        print(f"{'INFO' if t.get('info') else 'PASS' if t['met'] else 'MISS'}  {t['target']}: {t['measured']}")
    return 0


def _rows(report: dict, op: str, dtype: str) -> list[dict]:
    return [r for r in report["rows"] if r["op"] == op and r["dtype"] == dtype]


def _ratio(row: dict) -> float:
    return row["ms"]["helpers"] / row["ms"]["pytorch"]


def _worst(rows: list[dict]) -> str:
    r = max(rows, key=_ratio)
    return f"worst {_ratio(r):.2f}x ({r['case'].removesuffix(' ' + r['dtype'])})"


def evaluate(report: dict) -> list[dict]:
    """Check the targets of the performance issue; each with the measured value.

    Ratios are ours / PyTorch at its best (the fastest of its layouts and the module).
    """
    out = []

    def add(target: str, met: bool, measured: str) -> None:
        out.append({"target": target, "met": bool(met), "measured": measured})

    # judged from the report itself, so that --report-only gives the same answer anywhere
    timed = [r for r in report["rows"] if "pytorch" in r["ms"] and not r.get("loop")]
    if timed:
        def of(op: str, dtype: str = "float32") -> list[dict]:
            return [r for r in timed if r["op"] == op and r["dtype"] == dtype]

        dw, pw, std = of("depthwise"), of("pointwise"), of("standard")
        f64 = [r for r in timed if r["dtype"] == "float64"]
        if dw:
            gm = float(np.exp(np.mean(np.log([_ratio(r) for r in dw]))))
            parts = [(name, [r for r in dw if (r["shape"][2] == 3) == rgb]) for name, rgb in (("RGB", True),
                                                                                              ("many-channel", False))]
            detail = ", ".join(f"{name} {np.exp(np.mean(np.log([_ratio(r) for r in rs]))):.2f}x"
                               for name, rs in parts if rs)
            add("depthwise: geometric mean <= 1.5x PyTorch over RGB and many-channel shapes (float32)", gm <= 1.5,
                f"{gm:.2f}x over {len(dw)} shapes ({detail})")
            add("depthwise: never worse than 2.5x PyTorch (float32)", max(map(_ratio, dw)) <= 2.5, _worst(dw))
        if pw:
            add("pointwise: <= 1.1x PyTorch on every shape (float32)", max(map(_ratio, pw)) <= 1.1,
                f"{_worst(pw)}; geometric mean {np.exp(np.mean(np.log([_ratio(r) for r in pw]))):.2f}x")
        if std:
            add("standard: never worse than 2x PyTorch (float32)", max(map(_ratio, std)) <= 2, _worst(std))
        if f64:
            add("float64: faster than PyTorch float64 on every shape", max(map(_ratio, f64)) < 1,
                f"{_worst(f64)}; faster on {sum(_ratio(r) < 1 for r in f64)} of {len(f64)} shapes")
        nets = {n["name"]: n for n in report.get("networks", [])}
        if NETWORK_NAMES[0] in nets:
            n = nets[NETWORK_NAMES[0]]
            add("whole MobileNet v1 forward (224x224, float32) <= 1.25x PyTorch", n["ours_ms"] <= 1.25 * n["torch_ms"],
                f"{n['ours_ms'] / n['torch_ms']:.2f}x ({n['ours_ms']:.1f} ms against {n['torch_ms']:.1f} ms)")
        tiny = [f"{r['case']}: {_ratio(r):.2f}x" for r in report["rows"] if r.get("loop") and "pytorch" in r["ms"]]
        if tiny:
            out.append({"target": "(for information) the 32x32 loop-reference cases against PyTorch",
                        "met": True, "info": True,
                        "measured": "; ".join(tiny) + " -- at this size both are per-call overhead"})
    else:
        add("comparisons with PyTorch", False, "PyTorch was not installed: pip install -e '.[bench]'")
    sep = [(r["k"], r["ms"]["helpers full KxK"] / r["ms"]["helpers"]) for r in _rows(report, "spatial_separable",
                                                                                    "float32")]
    if sep:
        worst = min(s / (0.85 * k / 2) for k, s in sep)
        add("spatial separable >= 0.85 K/2 faster than full, K = 3..15 (float32)", worst >= 1,
            ", ".join(f"K={k}: {s:.2f}x" + (f" (needs {0.85 * k / 2:.2f}x)" if s < 0.85 * k / 2 else "")
                      for k, s in sep))
    ds = _rows(report, "depthwise_separable", "float32")
    if ds:
        ms = ds[0]["ms"]
        add("depthwise-separable >= 3.5x faster than our standard conv, 256x256x64->64 K=3",
            ms["helpers standard"] / ms["helpers"] >= 3.5, f"{ms['helpers standard'] / ms['helpers']:.2f}x")
    big = [r for r in _rows(report, "depthwise", "float32") if r["shape"][0] == 4096]
    if big:
        add("4096x4096x3 depthwise 7x7: extra memory <= output + 16 MB", big[0]["extra_mb"] <= 16,
            f"{big[0]['extra_mb']:.1f} MB beyond the {big[0]['out_mb']:.0f} MB output")
    add("explorer slider update <= 100 ms (median)", report["slider_update_ms"] <= 100,
        f"{report['slider_update_ms']:.1f} ms")
    for r in report.get("explorer_redraws", []):
        first = (f"; the {r['first_visits']} first visits to a setting, which train two networks: median "
                 f"{r['first_visit_cpu_median_ms']:.0f} ms" if "first_visits" in r else "")
        add(f"explorer {r['explorer']}: CPU per control change <= 80 ms (median over {r['moves']})",
            r["cpu_median_ms"] <= 80, f"{r['cpu_median_ms']:.1f} ms (max {r['cpu_max_ms']:.1f} ms){first}")
    for nb, b in report.get("browser_redraws", {}).items():
        pace = (f"; at a learner's pace ({b['learner_pace_look_s']:g} s between moves) "
                f"{b['learner_pace_redraw_median_s'] * 1000:.0f} ms over {b['learner_pace_redraws']} changes"
                if "learner_pace_redraw_median_s" in b else "")
        add(f"notebook {nb}: a control change redraws in the browser in <= 300 ms (median, browser suite)",
            b["redraw_median_s"] <= 0.3,
            f"{b['redraw_median_s'] * 1000:.0f} ms over {b['redraws']} changes back to back{pace}")
    if math.isfinite(report.get("nbval_s", float("nan"))):
        add("strict nbval over the five notebooks <= 60 s", report["nbval_s"] <= 60, f"{report['nbval_s']:.1f} s")
    elif report.get("nbval_summary", "").startswith("not run"):
        pass
    elif "nbval_s" in report:
        add("strict nbval over the five notebooks <= 60 s", False,
            f"not measured: the nbval run failed ({report.get('nbval_summary', 'no summary')})")
    for t in out:
        if not t["met"]:
            why = next((why for key, why in WHY_MISSED.items() if t["target"].startswith(key)), "")
            t["why"] = why(report) if callable(why) else why
    return out


def profile_taps() -> dict:
    """What one depthwise tap pass costs here: the facts behind the depthwise "why".

    Times the stride-1 engine's inner step alone -- ``np.einsum`` summing 3x3 taps with
    per-channel weights over a block of rows of a 112x112x32 float32 layer (W'*C =
    3584 values per row) -- for blocks of 1 to 64 rows, and a plain ``np.multiply`` of
    two 57344-value arrays (cache-resident) for comparison. Medians of 9 rounds.
    """
    from helpers import fast_conv as fc

    rng = np.random.default_rng(0)
    length, c = 3584, 32
    out = {"einsum_gmacs_by_rows": {}}
    for n in (1, 4, 16, 64):
        flat = rng.standard_normal((n + 3) * (length + 2 * c)).astype(np.float32)
        tiles = rng.standard_normal((3, 3, length)).astype(np.float32)
        res = np.empty((n, length), np.float32)
        view = fc._shifted_rows(flat, (3, 3, n, length), (length + 2 * c, c, length + 2 * c))
        reps = max(1, 256 // n)

        def sweep(view=view, tiles=tiles, res=res, reps=reps) -> None:
            for _ in range(reps):
                np.einsum("ijrq,ijq->rq", view, tiles, out=res)

        ms = compare_ms({"einsum": sweep}, repeat=9)["einsum"] / reps
        out["einsum_gmacs_by_rows"][n] = 9 * n * length / ms / 1e6
    a, b = rng.standard_normal((2, 16 * length)).astype(np.float32)
    res = np.empty_like(a)
    ms = compare_ms({"multiply": lambda: [np.multiply(a, b, out=res) for _ in range(64)]}, repeat=9)["multiply"] / 64
    out["multiply_gvalues"] = a.size / ms / 1e6
    return out


def _rate_gmacs(row: dict, who: str) -> float:
    """G MACs/s of a depthwise row: K*K MACs per output value."""
    h, w, c = row["shape"]
    s = row.get("stride", 1)
    return row["k"] ** 2 * (-(-h // s)) * (-(-w // s)) * c / row["ms"][who] / 1e6


def _why_depthwise(report: dict) -> str:
    prof = report.get("profile", {})
    rates = prof.get("einsum_gmacs_by_rows", {})
    dw = [r for r in report["rows"] if r["op"] == "depthwise" and r["dtype"] == "float32" and "pytorch" in r["ms"]]
    ours = [_rate_gmacs(r, "helpers") for r in dw]
    theirs = [_rate_gmacs(r, "pytorch") for r in dw]
    big = [g for n, g in rates.items() if int(n) >= 4]
    measured = (f"Measured in this run: the sweep alone runs at {min(big):.1f}-{max(big):.1f} G MACs/s for blocks of "
                f"4 to 64 rows of a 112x112x32 layer ({rates.get('1', rates.get(1, float('nan'))):.1f} for single "
                f"rows, where the per-call overhead shows), about the speed of a plain np.multiply "
                f"({prof['multiply_gvalues']:.1f} G values/s): cache traffic, not arithmetic, is the limit, and "
                "smaller blocks do not help. " if big and "multiply_gvalues" in prof else "")
    return ("np.einsum makes one multiply-accumulate pass per tap: for a 3x3 kernel every output value is read "
            "and written 9 times, and each pass also reads a shifted input row and a row of tiled weights -- "
            "16 bytes of cache traffic per MAC in float32. Its inner loop is also compiled for NumPy's baseline "
            "instruction set only (4 floats per instruction, no fused multiply-add; the ufuncs switch to AVX-512 "
            "at run time, einsum does not). " + measured +
            (f"Our depthwise rows reach {min(ours):.1f}-{max(ours):.1f} G MACs/s here, PyTorch's oneDNN kernel "
             f"{min(theirs):.1f}-{max(theirs):.1f}: it keeps the partial sums of all taps in vector registers and "
             "reads each input value about once per tap from L1, one pass over the output. " if dw else "") +
            "Kept (measured on the MobileNet shapes, alternating with PyTorch): for a stride of 2 and 256 channels "
            "or more, the taps as strided views of the padded rows with the (C,) weights broadcast, instead of "
            "sorting pixels by phase (a copy that took a third of the time) -- 14x14x512 s2 2.1-2.3x -> 1.6-1.7x "
            "PyTorch, 28x28x256 s2 2.8-3.1x -> 2.6x; below 256 channels the per-pixel loop of C values costs more "
            "than the copy (56x56x128 s2 a tie, 112x112x64 s2 1.5x slower), and at stride 1 it is slower or a tie "
            "at every channel count; phase-sorted blocks of 3 MB instead of 768 KB for the other strided shapes "
            "(fewer per-block copies and einsum set-ups: 5-15 %, 112x112x64 s2 4.0-4.9x -> 3.7-4.0x); fewer "
            "per-call checks (7x7x1024 2.4-2.5x -> 1.9-2.0x). Tried and not kept: "
            "dropping the zero taps that complete the stride-2 phase grid (12 passes -> 9) with a second einsum "
            "and an add (4 %, within noise); a per-tap multiply-then-add loop with AVX-512 ufuncs on (rows, W*C) "
            "slabs (1.2-2x slower: two passes per tap, and chunks small enough for L1 drown in two ufunc calls "
            "of about 1 us per tap); multiplying all taps of a few rows at once and summing with np.add.reduce "
            "(1.4x slower); other block sizes at stride 1 (128 KB to 4 MB: within about 5 % of the present 768 KB "
            "from 512 KB up); per-channel planes with scalar "
            "taps (the einsum pass is 1.4x faster, but the transposes into and out of planes take 0.9 ms at "
            "512x512x3, more than it saves at K=3). BLAS cannot take it: each channel has its own taps, so there "
            "is no shared reduction, and a banded (Toeplitz) product per channel multiplies mostly zeros. Reaching "
            "PyTorch needs the taps fused into one pass, i.e. compiled code (C, Numba), which this NumPy series "
            "does not use.")


def _why_standard(report: dict) -> str:
    many = [_ratio(r) for r in report["rows"] if r["op"] == "standard" and r["dtype"] == "float32"
            and "pytorch" in r["ms"] and r["shape"][2] > 3]
    rng = f"{min(many):.2f}-{max(many):.2f}x" if many else "not measured"
    return ("the worst shapes are the ones with 3 input channels, where a patch has only 27 (K=3) or 147 (K=7) "
            "values. Per block of 8192 pixels we gather planar padded rows straight from the image, copy each "
            "tap's shifted rows into an im2col matrix bounded by the block, and make one matrix multiply whose "
            "product (pixels, C_out) is already channels-last (this round: the old (C_out, pixels) product needed "
            "a transposed copy that cost as much as the multiply, 3 ms of 8 at K=3; 512x512x3->16 went from "
            "3.6-3.9x to 2.4-2.5x PyTorch at K=3 and from 3.2-4.0x to 2.7x at K=7). What is left is mostly the "
            "multiply itself: NumPy's OpenBLAS runs these skinny products (27-147 deep, 16-32 wide) at about "
            "40 G MACs/s, while PyTorch (oneDNN) does the whole direct convolution at 65-95 G MACs/s, without an "
            "im2col matrix, so the multiply alone takes 1.8x PyTorch's whole call at K=3. Tried: a "
            "channels-last (pixels, patch) im2col (its copies move 9 contiguous values per pixel instead of whole "
            "rows: slower); for the stride-2 first layer of MobileNet, planar im2col with a pixel-major product "
            "(6-8 % faster, within run-to-run noise, not kept). With many input channels each tap is one large "
            f"BLAS matmul and the ratio is {rng} in this run.")


def _why_pointwise(report: dict) -> str:
    return ("a pointwise convolution is one BLAS matrix multiply in both (OpenBLAS sgemm for us, oneDNN/MKL for "
            "PyTorch); the ratios scatter around 1.0 by a few percent from shape to shape and run to run, so a "
            "ratio just above 1.1 on a 7x7 layer (under 2 ms) is the two BLAS libraries, not the convolution code. "
            "Measured at 7x7x1024->1024: the product as (pixels, C_in) @ (C_in, C_out) is the fastest orientation "
            "(computing (W^T X^T)^T is 8 % slower, passing out= changes nothing), nothing is copied per call; the "
            "call overhead was a second NaN/infinity pass over the 1M weights after a no-op dtype cast (0.07 ms, "
            "removed: 1.06-1.07x -> 1.01x; 7x7x512->1024 1.10-1.16x -> 1.03-1.05x).")


def _why_float64(report: dict) -> str:
    slow = [r for r in report["rows"] if r["dtype"] == "float64" and "pytorch" in r["ms"] and not r.get("loop")
            and r["ms"]["helpers"] >= r["ms"]["pytorch"]]
    ops = sorted({r["op"] for r in slow})
    return (f"PyTorch has no oneDNN kernel for float64 and falls back to its own loops, so we win most float64 "
            f"shapes, but not these {len(slow)} ({', '.join(ops)}): " +
            "; ".join(f"{r['case'].removesuffix(' float64')} {_ratio(r):.2f}x" for r in slow[:12]) +
            ". Pointwise and many-channel standard layers are BLAS dgemm against MKL's, at parity; many-channel "
            "depthwise layers are our einsum pass per tap (see depthwise above) against PyTorch's "
            "direct float64 loop.")


def _why_network(report: dict) -> str:
    return ("the network is 13 pointwise layers (95% of the MACs, at parity with PyTorch), 13 depthwise layers "
            "(3% of the MACs, 2-5x slower than PyTorch, see above) and the first convolution; the depthwise "
            "layers' extra milliseconds decide the ratio.")


# What we know about targets that the pure-NumPy ops can miss, printed beside a miss.
WHY_MISSED = {
    "depthwise: geometric": _why_depthwise,
    "depthwise: never": "the same cause as the geometric mean above. Memory-bound passes like ours also suffer "
                        "most when other processes share the machine's caches and memory bandwidth, so the worst "
                        "ratio is the one that moves most from run to run.",
    "standard:": _why_standard,
    "explorer residual": "the first visit to a depth / batch-norm / shortcut setting trains its two networks "
                         "(six learning rates at once, 0.1-1 s); the explorer trains the settings one move away "
                         "in the background while the kernel is idle, so a learner who looks at a plot first "
                         "mostly meets cached settings.",
    "notebook 04": "its explorer trains a plain and a residual network (six learning rates at once, about 0.4 s "
                   "each at depth 16) the first time a depth, batch-norm or shortcut setting is shown. It trains "
                   "the settings one move away in a background thread while the kernel is idle, but the browser "
                   "suite moves the controls back to back (as fast as the page settles), so most moves arrive "
                   "before their networks are ready and wait for the rest of the training; at a learner's pace "
                   "(the second median in the measured column) the moves find their settings cached. Tried: "
                   "training the plain and the v1 net as one ensemble (10-15 % faster: the cost grows with the "
                   "ensemble), and a single learning rate "
                   "first (2x faster, but not bitwise equal to the six-rate run: at lr 1.0 the runs drift apart "
                   "by 1e-11, so the plot would depend on which path trained it), and a worker process instead "
                   "of the thread (a new setting's two networks in parallel: 0.5 s instead of 0.75 s on an idle "
                   "machine, but with the browser and JupyterLab on the same two cores the back-to-back median "
                   "rose to 583 ms).",
    "notebook ": "the browser time is the kernel-side redraw (the explorer rows above) plus the widget's comm round "
                 "trip, JupyterLab re-rendering the output (printed counts and a ~100 KB image) and Chromium, all on "
                 "the same loaded 2-core machine (load average in test-output/e2e/NN_timings.json).",
    "explorer sliding_window": "most of its controls (pass, n, kernel, stride, padding, dilation) change the grids: "
                               "its three axes are emptied and refilled with one text per cell and drawn in full; "
                               "only the position slider (and the play button) moves the window in place.",
    "pointwise:": _why_pointwise,
    "float64:": _why_float64,
    "whole MobileNet": _why_network,
    "strict nbval": "the notebooks' stored outputs did not match a fresh run in this checkout (the notebooks and "
                    "the helpers they import were being changed while the benchmark ran), so the run's time does "
                    "not count as a pass; make test shows which cells differ.",
    "spatial separable": "the full KxK kernel is itself one np.einsum multiply-accumulate sweep per tap with "
                         "scalar taps, so the separable version's extra costs -- writing and re-reading the "
                         "intermediate rows, a second set of per-block calls, one BLAS matrix-vector call per "
                         "row -- weigh against only 2K taps. They do not shrink with K, so they eat most of the "
                         "margin at small K (6 against 9 taps at K = 3); the ratios move by about 10 % from run "
                         "to run.",
    "depthwise-separable": f"the depthwise half does only 9 multiply-adds per value it loads and runs far below "
                           f"the arithmetic peak (NumPy has no fused multiply-add), while our standard "
                           f"convolution is one BLAS matmul per tap running near it; the MAC ratio "
                           f"({1 / (1 / 64 + 1 / 9):.1f}x) therefore turns into a much smaller time ratio.",
}


def markdown(report: dict) -> str:
    """The tables, the targets and the machine as Markdown."""
    m = report["machine"]
    lines = [f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores, shared with other processes while it ran), "
             f"one thread; Python {m['python']}, NumPy {m['numpy']} ({'; '.join(m['blas'])}), "
             f"PyTorch {m['pytorch']}, SciPy {m['scipy']}; {m.get('allocator', 'allocator left as it is')}. "
             "Medians of alternating rounds (column *rounds*). *PyTorch ms* is the fastest of contiguous NCHW, "
             "channels-last and `nn.Conv2d` in channels-last format (column *fastest*); *ratio* is ours ÷ that.",
             "", "| case | layers | helpers ms | PyTorch ms | fastest | ratio | SciPy ms | other | rounds | "
             "extra memory |", "|---|---|---:|---:|---|---:|---:|---|---:|---:|"]
    for r in report["rows"]:
        ms = r["ms"]
        pt = ms.get("pytorch")
        where = r.get("group", "image") + (f" ×{r['count']}" if r.get("count", 1) > 1 else "")
        other = ", ".join(f"{n}: {t:.2f} ms" for n, t in ms.items() if n not in ("helpers", "pytorch", "scipy"))
        line = f"| {r['case']} | {where} | {ms['helpers']:.2f} | "
        line += (f"{pt:.2f} | {r.get('pytorch_fastest', '')} | {ms['helpers'] / pt:.2f}x | " if pt
                 else "– | – | – | ")
        line += f"{ms['scipy']:.2f} | " if "scipy" in ms else "– | "
        lines.append(line + f"{other or '–'} | {r['rounds']} | {r['extra_mb']:.1f} MB |")
    nets = report.get("networks", [])
    if nets:
        base = nets[0]
        timing = {d["name"]: d for d in report.get("network_timing", [])}
        lines += ["", "Whole forward pass, one 224×224×3 image, float32, random weights, ReLU after every "
                  "convolution (MobileNet paper, Table 4: MobileNet v1 and the same network with full "
                  "convolutions); ratios against MobileNet v1:", "",
                  "| network | MACs | parameters | helpers ms | PyTorch ms | ours ÷ PyTorch | MAC ratio | "
                  "time ratio, ours | time ratio, PyTorch | rounds |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for n in nets:
            lines.append(f"| {n['name']} | {n['macs'] / 1e6:.0f} M | {n['params'] / 1e6:.2f} M | "
                         f"{n['ours_ms']:.1f} | "
                         f"{n['torch_ms']:.1f} | {n['ours_ms'] / n['torch_ms']:.2f}x | "
                         f"{n['macs'] / base['macs']:.1f}x | {n['ours_ms'] / base['ours_ms']:.1f}x | "
                         f"{n['torch_ms'] / base['torch_ms']:.1f}x | {timing.get(n['name'], {}).get('rounds', '–')} |")
        layers = [r for r in report["rows"] if r.get("group") == "MobileNet v1" and r["dtype"] == "float32"
                  and "pytorch" in r["ms"]]
        if layers:
            def share(who: str, op: str) -> float:
                total = sum(r["ms"][who] * r["count"] for r in layers)
                return sum(r["ms"][who] * r["count"] for r in layers if r["op"] == op) / total

            macs = {name: cost.macs for name, cost in mobilenet_v1_layers()}
            dw_macs = sum(v for k, v in macs.items() if k.startswith("dw")) / sum(macs.values())
            lines += ["", f"From the MobileNet v1 layer rows above (each times the number of layers of its shape): "
                      f"the depthwise layers are {dw_macs:.1%} of the network's MACs but "
                      f"{share('helpers', 'depthwise'):.0%} of our layer time and {share('pytorch', 'depthwise'):.0%} "
                      f"of PyTorch's; the pointwise layers {share('helpers', 'pointwise'):.0%} and "
                      f"{share('pytorch', 'pointwise'):.0%}."]
    lines += ["", f"Explorer slider update (512×512×3 depthwise conv + 3-panel PNG redraw): "
                  f"{report['slider_update_ms']:.1f} ms median.", "", "| target | met | measured |", "|---|---|---|"]
    lines += [f"| {t['target']} | {'–' if t.get('info') else 'yes' if t['met'] else '**no**'} | {t['measured']} |"
              for t in report["targets"]]
    missed = [t for t in report["targets"] if not t["met"] and t.get("why")]
    if missed:
        lines += ["", "Targets not reached, and why:", ""]
        lines += [f"- *{t['target']}* ({t['measured']}): {t['why']}" for t in missed]
    return "\n".join(lines) + "\n"


README_START, README_END = "<!-- benchmark results: start -->", "<!-- benchmark results: end -->"


def update_readme(table: str) -> None:
    """Replace the text between the two markers in README.md with the latest results."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        readme.write_text(f"{head}{README_START}\n{table}{README_END}{tail}")
        print("updated the Performance section of README.md")


def plot(report: dict, out_dir: Path = RESULTS) -> None:
    """Helpers vs PyTorch (float32) and the separable speed-up against K/2."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in report["rows"] if r["dtype"] == "float32" and "pytorch" in r["ms"]]
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, max(4.2, 0.22 * len(rows) + 1)), layout="constrained",
                               gridspec_kw={"width_ratios": [1.4, 1]})
    if rows:
        y = np.arange(len(rows))
        a.barh(y - 0.2, [r["ms"]["helpers"] for r in rows], 0.4, label="helpers (NumPy)")
        a.barh(y + 0.2, [r["ms"]["pytorch"] for r in rows], 0.4, label="PyTorch")
        a.set_yticks(y, [r["case"].replace(" float32", "") for r in rows], fontsize=7)
        a.set_xscale("log")
        a.set_xlabel("ms (median, one thread, log scale)")
        a.legend()
        a.set_title("float32, one thread; PyTorch at its best")
        a.invert_yaxis()
    sep = _rows(report, "spatial_separable", "float32")
    ks = [r["k"] for r in sep]
    b.plot(ks, [r["ms"]["helpers full KxK"] / r["ms"]["helpers"] for r in sep], "o-", label="measured")
    b.plot(ks, [k / 2 for k in ks], "k--", label="theory K/2")
    b.plot(ks, [0.85 * k / 2 for k in ks], ":", color="gray", label="target 0.85 K/2")
    b.set(xlabel="K", ylabel="full ÷ separable time", title="Spatial separable speed-up, 512×512×3")
    b.legend()
    fig.savefig(out_dir / "results.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
