"""Notebook 05: what the flag-driven program computes for its flags."""

from __future__ import annotations

import numpy as np

from .. import cli, kernels
from ..costs import format_count
from ..images import SAMPLES
from ..widgets import Explorer, Panel, View
from ._common import SPATIAL_NAMES, _image, kernel_picture

PADDINGS_05 = ["same", "valid", "1", "2"]  # "0" would be the same as "valid"


def command_line(mode: str, kernel: str, image: str, stride: int, padding: str) -> str:
    """The shell command equivalent to an explorer setting."""
    parts = ["python convolution_program.py", f"--mode {mode}"]
    if kernel != "default":
        parts.append(f"--kernel {kernel}")
    if image != "test_card":
        parts.append(f"--image images/{SAMPLES[image]}")
    if stride != 1:
        parts.append(f"--stride {stride}")
    if padding != "same":
        parts.append(f"--padding {padding}")
    return " ".join(parts)


def program_view(mode: str, kernel: str, image: str, stride: int, padding: str) -> View:
    """What ``convolution_program.py`` computes for these flags (via helpers.cli)."""
    img = _image(image)
    cmd = command_line(mode, kernel, image, stride, padding)
    pad = int(padding) if padding.isdigit() else padding
    try:
        k, _ = cli.resolve_kernel(None if kernel == "default" else kernel, mode, pointwise=mode == "pointwise")
        weights = cli.resolve_kernel(None, mode, pointwise=True)[0] if mode == "depthwise_separable" else None
        out, used, notes, cost = cli.convolve(img, k, mode, weights=weights, stride=stride, padding=pad)
    except (ValueError, cli.UsageError) as exc:
        gray = img.mean(axis=2)
        return View(panels=[("input (no output)", gray)],
                    text=f"$ {cmd}\nconvolution_program.py: error: {exc}")
    text = [f"$ {cmd}",
            f"kernel {tuple(used.shape)} -> output {out.shape}: {format_count(cost.macs, 'MACs')} "
            f"= {format_count(cost.flops, 'FLOPs')}, {format_count(cost.params, 'params')}",
            *[f"note: {n}" for n in notes]]
    what = "pointwise weights (C_in × C_out)" if mode == "pointwise" else f"kernel {tuple(used.shape)}"
    panels = [Panel(f"input {image}\n{img.shape[0]}×{img.shape[1]}×{img.shape[2]}", img, kind="rgb", newrow=True),
              Panel(what, kernel_picture(np.asarray(used, dtype=float)), kind="kernel", group="kernel", width=1.4)]
    panels += [Panel(f"out c{i}", out[:, :, i], group="out", newrow=i == 0) for i in range(out.shape[2])]
    return View(panels=panels, text="\n".join(text))


def _rules_05(values: dict) -> dict:
    mode = values["mode"]
    pointwise = mode == "pointwise"
    rules: dict = {"kernel": {"options": ["default", *(kernels.POINTWISE_PRESETS if pointwise else SPATIAL_NAMES)]}}
    if pointwise:
        rules["stride"] = {"max": 1, "disabled": "the program's pointwise (1x1) mode takes no --stride"}
        rules["padding"] = {"options": ["same"], "disabled": "a 1x1 kernel needs no padding"}
    elif mode == "spatial_separable":
        rules["stride"] = {"max": 1, "disabled": "the program's spatial_separable mode supports stride 1 only"}
    return rules


def program() -> Explorer:
    """Notebook 05's explorer: the program's flags as widgets, and the command line they make."""
    controls = {
        "mode": ("toggle", list(cli.MODES), "depthwise"),
        "kernel": ("dropdown", ["default", *SPATIAL_NAMES, *kernels.POINTWISE_PRESETS], "default"),
        "image": ("dropdown", ["test_card", "photo"], "test_card"),
        "stride": ("slider", 1, 4, 1, 1),
        "padding": ("dropdown", PADDINGS_05, "same"),
    }
    states = [{"mode": "pointwise", "kernel": "grayscale"}, {"mode": "standard", "stride": 2, "padding": "valid"},
              {"mode": "spatial_separable", "kernel": "sobel_x", "image": "photo"},
              {"mode": "depthwise_separable", "kernel": "gaussian", "padding": "2"}]
    return Explorer(controls, program_view, ncols=3, panel_size=2.65, rules=_rules_05, states=states)
