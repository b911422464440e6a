"""Whole networks, layer by layer: ResNet-18/34/50 and GoogLeNet's inception 3a, counted with :mod:`helpers.costs`.

He et al. 2015 (arXiv:1512.03385), Table 1, give ResNet-18, -34 and -50 as 1.8, 3.6 and
3.8 x 10^9 "FLOPs"; like every count in this series, those are multiply-accumulates
(MACs). The tables below rebuild the networks from Table 1 and count them with
:func:`helpers.costs.conv_cost`:

* a 7x7/2 convolution to 64 channels on a 224x224x3 image, then a 3x3/2 max-pool
  (no MACs), then four stages at 56, 28, 14 and 7 pixels with 64, 128, 256, 512
  channels (x4 at the output of a bottleneck block), global average pooling (no MACs
  counted) and a 1000-way fully connected layer;
* basic blocks (ResNet-18/34): 3x3 then 3x3; bottleneck blocks (ResNet-50): 1x1
  reduce, 3x3, 1x1 expand; the first block of stages 2-4 halves the size with
  stride 2 -- in the first 3x3 of a basic block and, as in the original paper's
  Caffe models, in the first 1x1 of a bottleneck block (torchvision's "ResNet v1.5"
  moves it to the 3x3, which costs more: 4.1 G MACs);
* projection shortcuts (option B: a strided 1x1 convolution) where the shape changes,
  identity shortcuts elsewhere (no MACs; their additions are listed separately).

Counted: convolution and FC weights (convolutions have no bias: batch norm follows
each one; batch-norm parameters and the FC bias are not counted in the MACs).
"""

from __future__ import annotations

from .costs import Cost, conv_cost, dense_cost

__all__ = ["RESNETS", "resnet_layers", "resnet_cost", "shortcut_additions", "inception_3a_branches"]

# depth -> (block kind, blocks per stage)
RESNETS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
           101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}


def resnet_layers(depth: int, resolution: int = 224) -> list[tuple[str, Cost]]:
    """Every weighted layer of ResNet-``depth`` (18, 34, 50, 101, 152) for one image: [(name, Cost)]."""
    if depth not in RESNETS:
        raise ValueError(f"ResNet depth must be one of {sorted(RESNETS)}, got {depth!r}")
    kind, stages = RESNETS[depth]
    stem = conv_cost("standard", (resolution, resolution, 3), 7, 64, stride=2)
    layers = [("conv1 7x7/2, 64", stem)]
    h = -(-stem.out_shape[0] // 2)  # 3x3/2 max-pool, 'same' padding: 112 -> 56
    shape = (h, h, 64)
    for s, (blocks, width) in enumerate(zip(stages, (64, 128, 256, 512), strict=True), start=2):
        out_c = width * (4 if kind == "bottleneck" else 1)
        for b in range(1, blocks + 1):
            stride = 2 if (b == 1 and s > 2) else 1
            tag = f"conv{s}_{b}"
            if kind == "basic":
                c1 = conv_cost("standard", shape, 3, width, stride=stride)
                c2 = conv_cost("standard", c1.out_shape, 3, width)
                block = [(f"{tag} 3x3/{stride}, {width}", c1), (f"{tag} 3x3, {width}", c2)]
            else:
                c1 = conv_cost("pointwise", shape, 1, width, stride=stride)
                c2 = conv_cost("standard", c1.out_shape, 3, width)
                c3 = conv_cost("pointwise", c2.out_shape, 1, out_c)
                block = [(f"{tag} 1x1/{stride}, {width}", c1), (f"{tag} 3x3, {width}", c2),
                         (f"{tag} 1x1, {out_c}", c3)]
            if stride != 1 or shape[2] != out_c:
                block.append((f"{tag} shortcut 1x1/{stride}, {out_c}",
                              conv_cost("pointwise", shape, 1, out_c, stride=stride)))
            layers += block
            shape = block[-2 if "shortcut" in block[-1][0] else -1][1].out_shape
    layers.append((f"fc {shape[2]} -> 1000", dense_cost(shape[2], 1000, bias=True)))
    return layers


def resnet_cost(depth: int, resolution: int = 224) -> Cost:
    """The total of :func:`resnet_layers`."""
    return sum(c for _, c in resnet_layers(depth, resolution))


def shortcut_additions(depth: int, resolution: int = 224) -> int:
    """Additions done by the residual connections of ResNet-``depth`` (one per output value of each block)."""
    kind, stages = RESNETS[depth]
    total, h = 0, resolution // 4
    for s, (blocks, width) in enumerate(zip(stages, (64, 128, 256, 512), strict=True)):
        h = h if s == 0 else -(-h // 2)
        total += blocks * h * h * width * (4 if kind == "bottleneck" else 1)
    return total


def inception_3a_branches(reduce: bool = True) -> dict[str, Cost]:
    """MACs and parameters of GoogLeNet's inception (3a) module (Szegedy et al. 2014, Table 1), per branch.

    Input 28x28x192. Branches: 1x1 -> 64; 1x1 -> 96 then 3x3 -> 128; 1x1 -> 16 then
    5x5 -> 32; 3x3 max-pool then 1x1 -> 32. ``reduce=False`` drops the 1x1 reductions
    in front of the 3x3 and 5x5 (and the projection after the pool: the pooled 192
    channels are passed on), as in the paper's "naive" module.
    """
    x = (28, 28, 192)
    out = {"1x1": conv_cost("pointwise", x, 1, 64)}
    if reduce:
        out["3x3"] = conv_cost("pointwise", x, 1, 96) + conv_cost("standard", (28, 28, 96), 3, 128)
        out["5x5"] = conv_cost("pointwise", x, 1, 16) + conv_cost("standard", (28, 28, 16), 5, 32)
        out["pool"] = conv_cost("pointwise", x, 1, 32)
    else:
        out["3x3"] = conv_cost("standard", x, 3, 128)
        out["5x5"] = conv_cost("standard", x, 5, 32)
        out["pool"] = Cost(0, 0, x, "pool")
    return out
