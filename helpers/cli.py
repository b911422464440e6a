"""The homework's program: ``python convolution_program.py --mode depthwise|pointwise``.

It reads an image and a kernel, convolves them in the chosen mode, saves a figure
with the input and every output channel, and prints a short summary (shapes, MACs,
parameters, time, where the figure went). Bad input gets one line on stderr and exit
code 2; nothing is written then.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import conv, kernels
from .costs import conv_cost, format_count
from .images import IMAGES_DIR, ImageNote, atomic_path, load_image

MODES = ("depthwise", "pointwise", "standard", "spatial_separable", "depthwise_separable")
KERNELS_DIR = IMAGES_DIR / "kernels"
DEFAULT_IMAGE = IMAGES_DIR / "test_card.png"
DEFAULT_KERNELS = {
    "depthwise": KERNELS_DIR / "depthwise_edges.npy",
    "pointwise": KERNELS_DIR / "pointwise_opponent.csv",
    "standard": KERNELS_DIR / "standard_luma_gradients.npy",
    "spatial_separable": KERNELS_DIR / "gaussian_5x5.txt",
    "depthwise_separable": KERNELS_DIR / "depthwise_edges.npy",
}
DEFAULT_WEIGHTS = KERNELS_DIR / "pointwise_opponent.csv"
FIGURE_FORMATS = (".png", ".pdf", ".svg", ".jpg", ".jpeg")
WHAT = {
    "depthwise": "each channel filtered by its own kernel; channels are never mixed",
    "pointwise": "a 1x1 kernel mixes the channels at every pixel",
    "standard": "every output channel sees every input channel through a full kernel",
    "spatial_separable": "a Kx1 pass, then a 1xK pass, per channel",
    "depthwise_separable": "depthwise, then pointwise (the MobileNet block)",
}

EXAMPLES = """\
examples:
  python convolution_program.py --mode depthwise
  python convolution_program.py --mode pointwise
  python convolution_program.py --mode depthwise --kernel sobel_x --image images/grace_hopper.png
  python convolution_program.py --mode pointwise --kernel grayscale --json
  python convolution_program.py --mode standard --stride 2 --padding valid
  python convolution_program.py --mode spatial_separable --kernel gaussian:9
  python convolution_program.py --mode depthwise_separable --kernel box:5 --weights ycbcr
  python convolution_program.py --mode depthwise --kernel my_kernel.npy --output out/edges.png

kernels:
  named spatial kernels (NAME or NAME:SIZE): {spatial}
  named pointwise weights (3 input channels): {pointwise}
  files: .npy (numpy.save, no pickles), or text (.txt/.csv: rows of numbers separated by
  spaces or commas, always 2-D; save 3-D/4-D kernels as .npy)
  depthwise: (Kh, Kw) for all channels, (Kh, Kw, C) or (Kh, Kw, C, M)
  pointwise: (C_in, C_out)        standard: (Kh, Kw, C_in, C_out), or (Kh, Kw) applied
  to the channel mean           spatial_separable: a 2-D kernel, split by its SVD
"""


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise UsageError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to render ``--help`` in the docs)."""
    p = _Parser(
        prog="convolution_program.py",
        description="Convolve an image with a kernel: depthwise, pointwise, standard, "
        "spatially separable or depthwise-separable. Saves a figure of every output channel "
        "and prints the shapes, the cost (MACs and parameters) and the time taken.",
        epilog=EXAMPLES.format(spatial=", ".join(kernels.KERNELS), pointwise=", ".join(kernels.POINTWISE_PRESETS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--mode", choices=MODES, default="depthwise", help="which convolution (default: depthwise)")
    p.add_argument("--image", default=str(DEFAULT_IMAGE), help="PNG or JPEG file (default: images/test_card.png)")
    p.add_argument("--kernel", default=None, help="kernel name or file (default: a file in images/kernels/ per mode)")
    p.add_argument("--weights", default=None,
                   help="pointwise part of depthwise_separable: name or file (default: opponent colours)")
    p.add_argument("--stride", type=_int_arg("stride"), default=1, help="positive integer (default: 1)")
    p.add_argument("--padding", type=_padding_arg, default="same",
                   help="'same' (TensorFlow rule), 'valid' or a non-negative integer (default: same)")
    p.add_argument("--dilation", type=_int_arg("dilation"), default=1, help="positive integer (default: 1)")
    p.add_argument("--output", default=None,
                   help="figure file (.png/.pdf/.svg/.jpg; default: convolution_<mode>.png here)")
    p.add_argument("--no-figure", action="store_true", help="do not save a figure")
    p.add_argument("--show", action="store_true", help="also open the figure in a window when a display exists")
    p.add_argument("--json", action="store_true", help="print a machine-readable JSON summary instead of text")
    return p


def _int_arg(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {value}")
        return value

    parse.__name__ = name
    return parse


def _padding_arg(text: str) -> str | int:
    if text in ("same", "valid"):
        return text
    message = f"padding must be 'same', 'valid' or a non-negative integer, got {text!r}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(message) from None
    if value < 0:
        raise argparse.ArgumentTypeError(message)
    return value


# ----------------------------------------------------------------------- kernels
def _looks_like_path(spec: str) -> bool:
    return os.sep in spec or "/" in spec or Path(spec).suffix.lower() in (".npy", ".txt", ".csv", ".tsv")


def read_kernel_file(path: str | os.PathLike) -> np.ndarray:
    """Load a kernel from ``.npy`` (no pickles) or a text file of numbers.

    Text files hold a 2-D array: one row per line, numbers separated by spaces or
    commas; lines starting with ``#`` are comments. Returns a float64 array.
    """
    p = Path(path)
    if not p.exists():
        raise UsageError(f"kernel file not found: {p}")
    if p.is_dir():
        raise UsageError(f"kernel path is a folder, not a file: {p}")
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except ValueError as exc:
            if "pickle" in str(exc).lower():
                raise UsageError(f"kernel file {p} holds pickled Python objects, which are not loaded for safety; "
                                 "save a plain numeric array with numpy.save") from None
            raise UsageError(f"kernel file {p} is not a valid .npy file: {exc}") from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise UsageError(f"kernel file {p} is not a valid .npy file ({exc})") from None
        if isinstance(arr, np.lib.npyio.NpzFile):  # pragma: no cover - .npz renamed to .npy
            raise UsageError(f"kernel file {p} is an .npz archive; save one array with numpy.save")
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise UsageError(f"kernel file {p} holds {arr.dtype} data, not numbers")
    else:
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read kernel file {p} as text: {exc}") from None
        rows = [ln.split("#", 1)[0].replace(",", " ").split() for ln in text.splitlines()]
        rows = [r for r in rows if r]
        if not rows:
            raise UsageError(f"kernel file {p} is empty: write rows of numbers separated by spaces or commas")
        try:
            values = [[float(v) for v in r] for r in rows]
        except ValueError as exc:
            bad = str(exc).split(":", 1)[-1].strip()
            raise UsageError(f"kernel file {p} has a non-numeric entry {bad}; write only numbers") from None
        if len({len(r) for r in values}) != 1:
            raise UsageError(f"kernel file {p} has rows of different lengths; every row needs the same count")
        arr = np.array(values)
    if arr.size == 0:
        raise UsageError(f"kernel file {p} is empty (shape {arr.shape})")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise UsageError(f"kernel file {p} contains NaN or infinity; use finite numbers")
    return arr


def resolve_kernel(spec: str | None, mode: str, *, pointwise: bool = False) -> tuple[np.ndarray, str]:
    """A kernel from a name, ``NAME:SIZE`` or a file; ``None`` gives the mode's default.

    Returns (array, description). Pointwise specs accept the pointwise preset names.
    """
    if spec is None:
        path = DEFAULT_WEIGHTS if pointwise and mode == "depthwise_separable" else DEFAULT_KERNELS[mode]
        return read_kernel_file(path), _display_path(path)
    if Path(spec).is_file() or _looks_like_path(spec):
        return read_kernel_file(spec), spec
    if pointwise:
        if spec in kernels.POINTWISE_PRESETS:
            return kernels.pointwise_preset(spec), spec
        raise UsageError(f"unknown pointwise weights {spec!r}; choose one of "
                         f"{', '.join(kernels.POINTWISE_PRESETS)} or give a .npy/.txt/.csv file")
    name, _, size_text = spec.partition(":")
    if name not in kernels.KERNELS:
        raise UsageError(f"unknown kernel {name!r}; choose one of {', '.join(kernels.KERNELS)} "
                         "(NAME or NAME:SIZE) or give a .npy/.txt/.csv file")
    size = 3
    if size_text:
        try:
            size = int(size_text)
        except ValueError:
            raise UsageError(f"kernel size in {spec!r} must be a positive integer") from None
        if size < 1:
            raise UsageError(f"kernel size in {spec!r} must be a positive integer")
        if name not in kernels.SIZED_KERNELS and size != 3:
            raise UsageError(f"kernel {name!r} is 3x3 only; sizes apply to {', '.join(kernels.SIZED_KERNELS)}")
    return kernels.get_kernel(name, size), spec


def _display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- run
@dataclass
class Result:
    """Everything the program reports about one run."""

    mode: str
    image: str
    image_shape: tuple[int, ...]
    kernel: str
    kernel_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    stride: int
    padding: str | int
    dilation: int
    macs: int
    params: int
    time_ms: float
    figure: str | None
    notes: list[str] = field(default_factory=list)
    weights: str | None = None
    weights_shape: tuple[int, ...] | None = None

    def as_dict(self) -> dict:
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}
        d["flops"] = 2 * self.macs
        return d


def convolve(
    image: np.ndarray, kernel: np.ndarray, mode: str, *, weights: np.ndarray | None = None,
    stride: int = 1, padding: str | int = "same", dilation: int = 1,
) -> tuple[np.ndarray, np.ndarray, list[str], object]:
    """Run one mode the way the program does.

    image: (H, W, C) or (H, W); kernel: as described in ``--help`` for the mode;
    weights: (C*M, C_out) for depthwise_separable.

    Returns (output (H', W', C_out), the kernel as actually used, notes, Cost).
    """
    img = image if image.ndim == 3 else image[:, :, None]
    c = img.shape[2]
    notes: list[str] = []
    h, w = img.shape[:2]
    if mode == "pointwise":
        if stride != 1 or dilation != 1 or padding not in ("same", "valid", 0):
            raise UsageError("pointwise (1x1) mode takes no --stride, --dilation or --padding")
        out = conv.pointwise_conv2d(img, kernel)
        cost = conv_cost("pointwise", img.shape, 1, out.shape[2])
        return out, kernel, notes, cost
    if mode == "depthwise":
        out = conv.depthwise_conv2d(img, kernel, stride=stride, padding=padding, dilation=dilation)
        k = kernel if kernel.ndim != 2 else np.broadcast_to(kernel[:, :, None], (*kernel.shape, c))
        m = out.shape[2] // c
        cost = conv_cost("depthwise", img.shape, k.shape[:2], stride=stride, padding=padding, dilation=dilation,
                         depth_multiplier=m)
        return out, k, notes, cost
    if mode == "standard":
        k = kernel
        if k.ndim == 2:
            k = np.repeat(k[:, :, None, None] / c, c, axis=2)
            notes.append(f"a 2-D kernel in standard mode filters the mean of the {c} channels (one output channel)")
        elif k.ndim == 3:
            k = k[:, :, :, None]
        out = conv.conv2d(img, k, stride=stride, padding=padding, dilation=dilation)
        cost = conv_cost("standard", img.shape, k.shape[:2], k.shape[3], stride=stride, padding=padding,
                         dilation=dilation)
        return out, k, notes, cost
    if mode == "spatial_separable":
        if stride != 1 or dilation != 1:
            raise UsageError("spatial_separable mode supports stride 1 and dilation 1 only")
        if kernel.ndim != 2:
            raise UsageError(f"spatial_separable mode needs a 2-D kernel (Kh, Kw), got shape {kernel.shape}")
        sep = kernels.separability(kernel)
        if not sep.separable:
            notes.append(f"kernel has rank {sep.rank}, so it is not separable: using its best rank-1 "
                         f"approximation (relative error {sep.relative_error:.3f})")
        out = conv.spatial_separable_conv2d(img, sep.column, sep.row, padding=padding)
        cost = conv_cost("spatial_separable", img.shape, kernel.shape, padding=padding)
        return out, sep.approximation, notes, cost
    if mode == "depthwise_separable":
        out = conv.depthwise_separable_conv2d(img, kernel, weights, stride=stride, padding=padding, dilation=dilation)
        m = weights.shape[0] // c if weights.ndim == 2 else 1
        cost = conv_cost("depthwise_separable", img.shape, kernel.shape[:2], out.shape[2], stride=stride,
                         padding=padding, dilation=dilation, depth_multiplier=max(m, 1))
        return out, kernel, notes, cost
    raise UsageError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")


def _default_for(mode: str, channels: int) -> np.ndarray:
    """A default kernel for an image that is not RGB (grayscale, say)."""
    if mode in ("depthwise", "depthwise_separable"):
        return kernels.default_depthwise_kernel(channels)
    if mode == "pointwise":
        return np.eye(channels)
    if mode == "standard":
        grads = np.stack([kernels.sobel_x(), kernels.sobel_y()], axis=-1)  # (3, 3, 2)
        return np.repeat(grads[:, :, None, :] / channels, channels, axis=2)
    return kernels.gaussian(5)


def _check_output_path(path: Path) -> None:
    if path.is_dir():
        raise UsageError(f"output {path} is a folder; give a file name such as {path / 'result.png'}")
    if path.suffix.lower() not in FIGURE_FORMATS:
        raise UsageError(f"output {path} must end in one of {', '.join(FIGURE_FORMATS)}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"output folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"output {path} is not writable; choose another --output")


def _has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args: argparse.Namespace) -> Result:
    """Do the work for parsed arguments; raise UsageError/ValueError on bad input."""
    output = None if args.no_figure else Path(args.output or f"convolution_{args.mode}.png")
    if output is not None:
        _check_output_path(output)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImageNote)
        image = load_image(args.image)
    notes += [str(w.message) for w in caught if issubclass(w.category, ImageNote)]
    kernel, kernel_name = resolve_kernel(args.kernel, args.mode, pointwise=args.mode == "pointwise")
    weights, weights_name = (None, None)
    if args.mode == "depthwise_separable":
        weights, weights_name = resolve_kernel(args.weights, args.mode, pointwise=True)
    elif args.weights is not None:
        raise UsageError("--weights is only used with --mode depthwise_separable")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels != 3 and args.kernel is None:
        kernel, kernel_name = _default_for(args.mode, channels), f"default for {channels} channel(s)"
        notes.append(f"the shipped default kernels are for RGB; using {kernel_name} {kernel.shape}")
    if channels != 3 and args.weights is None and weights is not None:
        weights, weights_name = np.eye(channels), "identity"

    t0 = time.perf_counter()
    out, used, more_notes, cost = convolve(image, kernel, args.mode, weights=weights, stride=args.stride,
                                           padding=args.padding, dilation=args.dilation)
    elapsed = (time.perf_counter() - t0) * 1e3
    notes += more_notes

    figure = None
    if output is not None:
        from .plotting import figure_input_output

        fig = figure_input_output(
            image, out,
            title=f"--mode {args.mode}: kernel {kernel_name} {tuple(used.shape)}, output {out.shape}",
        )
        try:
            with atomic_path(output) as tmp:
                fig.savefig(tmp, format=output.suffix.lower().lstrip(".").replace("jpg", "jpeg"), dpi=100)
        except OSError as exc:
            raise UsageError(f"cannot write the figure to {output}: {exc.strerror or exc}; "
                             "choose another --output") from None
        figure = str(output)
        if args.show:
            if _has_display():
                import matplotlib.pyplot as plt
                from matplotlib.backends.backend_agg import FigureCanvasAgg

                canvas = FigureCanvasAgg(fig)
                canvas.draw()
                plt.figure(figsize=fig.get_size_inches())
                plt.imshow(np.asarray(canvas.buffer_rgba()))
                plt.axis("off")
                plt.show()
            else:
                notes.append("--show: no display found, so the figure was only saved")
    return Result(
        mode=args.mode, image=args.image if args.image != str(DEFAULT_IMAGE) else _display_path(DEFAULT_IMAGE),
        image_shape=tuple(image.shape), kernel=kernel_name, kernel_shape=tuple(used.shape),
        output_shape=tuple(out.shape), stride=args.stride, padding=args.padding, dilation=args.dilation,
        macs=cost.macs, params=cost.params, time_ms=round(elapsed, 3), figure=figure, notes=notes,
        weights=weights_name, weights_shape=None if weights is None else tuple(weights.shape),
    )


def format_summary(r: Result) -> str:
    """The human-readable summary the program prints."""
    lines = [
        f"mode    : {r.mode} ({WHAT[r.mode]})",
        f"image   : {r.image}  shape {r.image_shape}",
        f"kernel  : {r.kernel}  shape {r.kernel_shape}",
    ]
    if r.weights is not None:
        lines.append(f"weights : {r.weights}  shape {r.weights_shape}")
    lines += [
        f"output  : shape {r.output_shape}  (stride {r.stride}, padding {r.padding!r}, dilation {r.dilation})",
        f"cost    : {format_count(r.macs, 'MACs')} = {format_count(2 * r.macs, 'FLOPs')}, "
        f"{format_count(r.params, 'parameters')}",
        f"time    : {r.time_ms:.1f} ms",
        f"figure  : {r.figure or 'not saved (--no-figure)'}",
    ]
    lines += [f"note    : {n}" for n in r.notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point. Returns the exit code: 0 on success, 2 on bad input."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        result = run(args)
    except (UsageError, ValueError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(format_summary(result))
    return 0

