"""Depthwise or pointwise convolution of an image, chosen by a flag (the homework, in one file).

    python examples/minimal_convolution_program.py --mode depthwise
    python examples/minimal_convolution_program.py --mode pointwise --image my.png --kernel my_weights.npy

Needs Python >= 3.10, NumPy and matplotlib (which reads and writes images through Pillow, installed with it).
"""
import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

SOBEL_X, LAPLACIAN = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]), np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]])
DEFAULT_KERNELS = {"depthwise": np.stack([SOBEL_X, SOBEL_X.T, LAPLACIAN], axis=2),             # (3, 3, C=3)
                   "pointwise": np.array([[1 / 3, 1, -0.5], [1 / 3, -1, -0.5], [1 / 3, 0, 1]])}  # (C_in=3, C_out=3)


def depthwise(image, kernel):
    """image (H, W, C), kernel (Kh, Kw, C) -> (H, W, C): channel c is cross-correlated with kernel[:, :, c]
    ('same' zero padding, no kernel flip); channels are never mixed."""
    (h, w, _), (kh, kw, _) = image.shape, kernel.shape
    padded = np.pad(image, (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))  # odd extra: bottom/right
    return sum(padded[i:i + h, j:j + w] * kernel[i, j] for i in range(kh) for j in range(kw))


def pointwise(image, weights):
    """image (H, W, C_in), weights (C_in, C_out) -> (H, W, C_out): at every pixel, channels @ weights."""
    return image @ weights


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--mode", choices=["depthwise", "pointwise"], required=True)
parser.add_argument("--image", default=Path(__file__).resolve().parent.parent / "images" / "test_card.png")
parser.add_argument("--kernel", help=".npy file: (Kh, Kw, C) for depthwise, (C_in, C_out) for pointwise")
parser.add_argument("--output", help="figure file (default: convolution_<mode>.png)")
args = parser.parse_args()
try:   # bad input: one line and exit code 2, never a traceback
    image = np.atleast_3d(plt.imread(args.image))[:, :, :3]   # (H, W, C): floats in [0, 1] for PNG, uint8 for JPEG
except (OSError, ValueError, SyntaxError) as err:           # missing, or not an image (PIL)
    parser.error(f"cannot read the image {args.image}: {err}")
try:
    kernel = np.load(args.kernel) if args.kernel else DEFAULT_KERNELS[args.mode]
except (OSError, ValueError, EOFError):                     # missing, or not a .npy array
    parser.error(f"cannot read the kernel {args.kernel}: it must be an existing .npy file (numpy.save)")
image = image / 255.0 if image.dtype == np.uint8 else image.astype(float)
rank, axis = (3, 2) if args.mode == "depthwise" else (2, 0)   # the kernel's rank; its axis that meets C
if kernel.ndim != rank or kernel.shape[axis] != image.shape[2]:
    parser.error(f"a {args.mode} kernel for this image must have shape "
                 f"{'(Kh, Kw, C)' if args.mode == 'depthwise' else '(C_in, C_out)'} with C = {image.shape[2]}, "
                 f"got {kernel.shape}")
out = depthwise(image, kernel) if args.mode == "depthwise" else pointwise(image, kernel)
print(f"{args.mode}: image {image.shape} with kernel {kernel.shape} -> output {out.shape}")
fig, axes = plt.subplots(1, 1 + out.shape[2], figsize=(3 * (1 + out.shape[2]), 3), layout="constrained")
axes[0].imshow(np.clip(image, 0, 1))
axes[0].set_title(f"input {image.shape}")
scale = np.abs(out).max() or 1.0
for c, ax in enumerate(axes[1:]):
    shown = ax.imshow(out[:, :, c], cmap="RdBu_r", vmin=-scale, vmax=scale)   # signed values, 0 = white
    ax.set_title(f"output channel {c}")
fig.colorbar(shown, ax=list(axes[1:]))
for ax in axes:
    ax.set_axis_off()
path = args.output or f"convolution_{args.mode}.png"
fig.savefig(path)
print("figure saved to", path)
if plt.get_backend().lower() != "agg":   # a window when there is a display; headless, the file is the output
    plt.show()
