"""Notebook 02: standard, grouped, depthwise and pointwise convolution side by side."""

from __future__ import annotations

import numpy as np

from .. import conv, kernels
from ..costs import conv_cost, format_count
from ..widgets import Explorer, Panel, View
from ._common import _image, _kernel, kernel_picture

MODES_02 = ["standard/grouped", "depthwise", "pointwise", "depthwise-separable"]
KERNELS_02 = ["per channel: sobel_x, sobel_y, laplacian", "sobel_x", "sobel_y", "laplacian", "gaussian", "box",
              "emboss", "random"]
INPUTS_02 = {"rgb_shapes": "rgb_shapes", "rgb_shapes + inverted (C=6)": "rgb_shapes",
             "test_card": "test_card"}
MAX_OUT = 6  # output panels at most: 3 per row, each >= 250 px wide in a 1400-px JupyterLab window
MIXED = ["sobel_x", "sobel_y", "laplacian"]


def _input_02(name: str) -> np.ndarray:
    img = _image(INPUTS_02[name], 128)
    if "inverted" in name:
        img = np.concatenate([img, 1.0 - img], axis=2)
    return img


def _channel_names(c: int) -> list[str]:
    return ["R", "G", "B"] if c == 3 else ["R", "G", "B", "1−R", "1−G", "1−B"][:c]


def spatial_kernels(kernel: str, size: int, n: int, per_group: int) -> list[np.ndarray]:
    """The (K, K) spatial kernel of each of ``n`` outputs: output o comes from block ``o // per_group``
    (the input channel in depthwise order, c*M + m) and is rotated by (o mod per_group) x 90 degrees,
    so the M outputs of one channel differ; "per channel" gives each channel its own edge filter."""
    out = []
    for o in range(n):
        base = _kernel(MIXED[(o // per_group) % 3], 3) if kernel.startswith("per channel") else _kernel(kernel, size)
        out.append(np.rot90(base, o % per_group))
    return out


def layer_weights(kernel: str, size: int, channels: int, out_channels: int, multiplier: int,
                  groups: int = 1) -> dict[str, np.ndarray]:
    """The weights the notebook-02 explorer uses.

    depthwise (K, K, C, M): output c*M + m uses ``spatial_kernels``' kernel c*M + m.
    grouped (K, K, C/g, C_out) (PyTorch layout): output o's spatial kernel times a seeded
    random weight per input channel of its group (all ones when a group has one input
    channel, so ``groups = C`` is exactly the depthwise layer with M = C_out / C).
    pointwise (C*M, C_out) and pointwise_only (C, C_out): seeded random mixing.
    """
    rng = np.random.default_rng(0)
    dw = spatial_kernels(kernel, size, channels * multiplier, multiplier)
    depthwise = np.stack(dw, axis=-1).reshape(*dw[0].shape, channels, multiplier)
    pointwise = rng.standard_normal((channels * multiplier, out_channels)) / np.sqrt(channels * multiplier)
    mix = rng.standard_normal((channels, out_channels)) / np.sqrt(channels)
    per_in = channels // groups
    if per_in == 1:  # one input channel per group: exactly the depthwise kernels (groups = C)
        spatial = spatial_kernels(kernel, size, out_channels, max(1, out_channels // channels))
        weights = np.ones((1, out_channels))
    else:  # output o: its own rotation of the kernel, so the layer is not a depthwise-separable product
        spatial = [np.rot90(k, o) for o, k in enumerate(spatial_kernels(kernel, size, out_channels, 1))]
        weights = mix[:per_in]
    grouped = np.stack([spatial[o][:, :, None] * weights[None, None, :, o] for o in range(out_channels)], axis=-1)
    return {"depthwise": depthwise, "pointwise": pointwise, "standard": grouped, "pointwise_only": mix}


def framework_layer(mode: str, c: int, k: int, out_channels: int, multiplier: int, groups: int) -> list[str]:
    """The same layer in PyTorch and Keras, as text (no framework needed)."""
    if mode == "standard/grouped":
        torch = f"nn.Conv2d({c}, {out_channels}, {k}, padding={k // 2}" + (f", groups={groups})" if groups > 1
                                                                          else ")")
        if groups == 1:
            keras = f'layers.Conv2D({out_channels}, {k}, padding="same")'
        elif groups == c:
            keras = f'layers.DepthwiseConv2D({k}, depth_multiplier={out_channels // c}, padding="same")'
        else:
            keras = f'layers.Conv2D({out_channels}, {k}, padding="same", groups={groups})'
    elif mode == "depthwise":
        torch = f"nn.Conv2d({c}, {c * multiplier}, {k}, padding={k // 2}, groups={c})"
        keras = f'layers.DepthwiseConv2D({k}, depth_multiplier={multiplier}, padding="same")'
    elif mode == "pointwise":
        torch = f"nn.Conv2d({c}, {out_channels}, 1)"
        keras = f"layers.Conv2D({out_channels}, 1)"
    else:
        torch = (f"nn.Sequential(nn.Conv2d({c}, {c * multiplier}, {k}, padding={k // 2}, groups={c}), "
                 f"nn.Conv2d({c * multiplier}, {out_channels}, 1))")
        keras = f'layers.SeparableConv2D({out_channels}, {k}, depth_multiplier={multiplier}, padding="same")'
    return [f"PyTorch: {torch}", f"Keras:   {keras}"]


def depthwise_pointwise_view(mode: str, kernel: str, size: int, out_channels: int, multiplier: int,
                             groups: int = 1, image: str = "rgb_shapes") -> View:
    """One layer type on the sample image: input, kernels, every output channel; the costs of all types."""
    img = _input_02(image)
    c = img.shape[2]
    names = _channel_names(c)
    wts = layer_weights(kernel, size, c, out_channels, multiplier, groups if mode == "standard/grouped" else 1)
    k = wts["depthwise"].shape[0]
    per_out = out_channels // groups
    if mode == "standard/grouped":
        out = conv.conv2d(img, wts["standard"], groups=groups)
        per_in = c // groups
        labels = [f"out c{o} ← " + ",".join(names[(o // per_out) * per_in:(o // per_out + 1) * per_in])
                  for o in range(out_channels)]
        kern = Panel(f"kernels (K, K, C/g = {per_in}, C_out = {out_channels})\nrow: input of the group, "
                     "column: output", kernel_picture(wts["standard"]), kind="kernel", group="kernel", width=2.0)
    elif mode == "depthwise":
        out = conv.depthwise_conv2d(img, wts["depthwise"])
        labels = [f"out c{i} ← {names[i // multiplier]} only" for i in range(c * multiplier)]
        mosaic = wts["depthwise"].reshape(k, k, 1, c * multiplier)
        kern = Panel(f"depthwise kernels: one per output (C·M = {c * multiplier})\n"
                     f"output c·M+m filters channel c", kernel_picture(mosaic), kind="kernel", group="kernel",
                     width=2.0)
    elif mode == "pointwise":
        out = conv.pointwise_conv2d(img, wts["pointwise_only"])
        labels = [f"out c{o} ← mix of all {c}" for o in range(out_channels)]
        kern = Panel(f"pointwise weights (C_in = {c}) × (C_out = {out_channels})\n1×1: no spatial extent",
                     wts["pointwise_only"], kind="kernel", group="kernel", width=2.0)
    else:
        out = conv.depthwise_separable_conv2d(img, wts["depthwise"], wts["pointwise"])
        labels = [f"out c{o} ← dw, then mix" for o in range(out_channels)]
        mosaic = wts["depthwise"].reshape(k, k, 1, c * multiplier)
        kern = Panel(f"depthwise kernels (C·M = {c * multiplier}); then a\n{c * multiplier}×{out_channels} "
                     "pointwise mix (printed)", kernel_picture(mosaic), kind="kernel", group="kernel", width=2.0)
    shape = img.shape
    costs = {
        "standard": conv_cost("standard", shape, k, out_channels),
        f"grouped (g={groups})": conv_cost("standard", shape, k, out_channels, groups=groups),
        "depthwise": conv_cost("depthwise", shape, k, depth_multiplier=multiplier),
        "pointwise": conv_cost("pointwise", shape, 1, out_channels),
        "depthwise-separable": conv_cost("depthwise_separable", shape, k, out_channels, depth_multiplier=multiplier),
    }
    shown = {"standard/grouped": f"grouped (g={groups})" if groups > 1 else "standard"}.get(mode, mode)
    rows = [f"{'layer':20s} {'output':>14s} {'MACs':>12s} {'FLOPs':>12s} {'params':>8s}"]
    for name, cost in costs.items():
        if name.startswith("grouped") and groups == 1:
            continue
        mark = "  <- shown" if name == shown else ""
        rows.append(f"{name:20s} {str(cost.out_shape):>14s} {format_count(cost.macs):>12s} "
                    f"{format_count(cost.flops):>12s} {cost.params:8d}{mark}")
    where = ""
    if mode == "standard/grouped":
        kind = "the standard convolution" if groups == 1 else (
            f"depthwise with multiplier {out_channels // c}" if groups == c else f"{groups} groups of {c // groups}")
        where = f"groups = {groups}: {kind}; each output sees {c // groups} of the {c} input channels"
    head = (f"input {shape} ({image}), kernel {kernel} {k}×{k}, C_out = {out_channels}, "
            f"depth multiplier M = {multiplier}")
    if mode == "pointwise":
        head = f"input {shape} ({image}), 1×1 kernel, C_out = {out_channels}"
    text = "\n".join([head, *([where] if where else []), *rows,
                      *framework_layer(mode, c, k, out_channels, multiplier, groups)])
    rgb = img[:, :, :3]
    panels = [Panel(f"input {image}\n{shape[0]}×{shape[1]}×{c}" + (" (R, G, B shown)" if c > 3 else ""), rgb,
                    kind="rgb", newrow=True), kern]
    panels += [Panel(label, out[:, :, i], group="out", newrow=i == 0) for i, label in enumerate(labels)]
    return View(panels=panels, text=text)


def _rules_02(values: dict) -> dict:
    c = _input_02(values["image"]).shape[2]
    mode = values["mode"]
    rules: dict = {}
    fixed = values["kernel"].startswith("per channel") or values["kernel"] not in kernels.SIZED_KERNELS
    if mode == "pointwise":
        rules["kernel"] = {"disabled": "a pointwise convolution has no spatial kernel (1×1)"}
        rules["size"] = {"disabled": "a pointwise convolution is 1×1"}
    elif fixed:
        rules["size"] = {"disabled": f"{values['kernel'].split(':')[0]} is 3×3 only"}
    if mode == "standard/grouped":
        divisors = [g for g in range(1, c + 1) if c % g == 0 and values["out_channels"] % g == 0]
        rules["groups"] = {"options": divisors}
        if len(divisors) == 1:
            rules["groups"]["disabled"] = (f"C_out = {values['out_channels']} shares no divisor > 1 with C = {c}; "
                                           f"pick C_out = {c} or {2 * c} to walk to depthwise")
    else:
        rules["groups"] = {"options": [1], "disabled": "groups belongs to the standard/grouped convolution "
                                                         f"(depthwise is groups = C = {c})"}
    if mode in ("depthwise", "depthwise-separable"):
        m_max = max(1, MAX_OUT // c)
        rules["multiplier"] = {"max": m_max}
        if m_max == 1:
            rules["multiplier"]["disabled"] = f"with {c} input channels one multiplier already gives {c} outputs"
    else:
        rules["multiplier"] = {"disabled": "the depth multiplier belongs to depthwise layers"}
    if mode == "depthwise":
        rules["out_channels"] = {"disabled": "a depthwise layer has C·M outputs (set by the multiplier)"}
    return rules


def depthwise_pointwise() -> Explorer:
    """Notebook 02's explorer: layer type, groups, kernel, K, output channels and depth multiplier."""
    controls = {
        "mode": ("toggle", MODES_02, "depthwise"),
        "groups": ("select", [1, 2, 3, 6], 1),
        "image": ("dropdown", list(INPUTS_02), "rgb_shapes"),
        "kernel": ("dropdown", KERNELS_02, KERNELS_02[0]),
        "size": ("slider", 3, 7, 2, 3),
        "out_channels": ("slider", 1, MAX_OUT, 1, 6),
        "multiplier": ("slider", 1, 2, 1, 1),
    }
    states = [{"mode": "standard/grouped", "groups": 3}, {"mode": "standard/grouped", "out_channels": 4},
              {"mode": "standard/grouped", "image": "rgb_shapes + inverted (C=6)", "groups": 2},
              {"mode": "pointwise", "out_channels": 2}, {"mode": "depthwise-separable", "kernel": "gaussian"},
              {"mode": "depthwise", "image": "test_card", "kernel": "box", "size": 5, "multiplier": 2}]
    return Explorer(controls, depthwise_pointwise_view, ncols=3, panel_size=2.65, rules=_rules_02, states=states)
