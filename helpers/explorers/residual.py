"""Notebook 04: plain vs residual networks in training."""

from __future__ import annotations

import numpy as np

from ..widgets import Explorer, View


def residual_view(depth: int, residual: str, activation: str, init_scale: float, steps: int = 60) -> View:
    """Per-layer gradient norms at initialisation and a short training run on the spirals."""
    from .. import nn

    x, y = nn.spirals(60, 3, seed=0)
    use_res = residual == "residual"
    net = nn.make_network(depth, residual=use_res, activation=activation, init_scale=init_scale)
    with np.errstate(all="ignore"):
        norms = nn.activation_gradient_norms(net, x, y)
        losses = nn.train(net, x, y, steps=steps, optimizer=nn.SGD(lr=0.05))
    from ..widgets import LinePanel

    layers = np.arange(len(norms))
    finite = np.isfinite(norms) & (norms > 0)
    ratio = norms[0] / norms[-1] if norms[-1] else float("nan")
    text = (f"{residual} network, {depth} hidden blocks of 32 {activation} units, init scale {init_scale:.2f}: "
            f"{sum(v.size for v, _ in net.params())} params\n"
            f"‖dL/dh‖ at init: {norms[-1]:.2e} entering the output layer, {norms[0]:.2e} reaching the input "
            f"(ratio {ratio:.2e})\n"
            f"training loss after {steps} SGD steps: {losses[-1]:.3f} (start {losses[0]:.3f})")
    panels = [
        LinePanel("‖dL/dh‖ at each layer's input, at initialisation", {residual: (layers[finite], norms[finite])},
                  "layer (input → output)", "gradient norm", logy=True),
        LinePanel("training loss (spirals)", {residual: (np.arange(len(losses)), np.array(losses))},
                  "step", "cross-entropy", ylim=(0.0, 1.05 * max([v for v in losses if np.isfinite(v)] or [1.0]))),
    ]
    return View(lines=panels, text=text)


def residual() -> Explorer:
    """Notebook 04's explorer: depth, residual on/off, activation, initialisation scale."""
    controls = {
        "residual": ("toggle", ["plain", "residual"], "residual"),
        "depth": ("slider", 1, 40, 1, 20),
        "activation": ("dropdown", ["tanh", "relu"], "tanh"),
        "init_scale": ("float", 0.0, 2.0, 0.1, 0.5),
    }
    return Explorer(controls, residual_view, ncols=2, panel_size=3.0)
