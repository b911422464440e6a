"""The homework's program: ``python convolution_program.py --mode depthwise|pointwise``.

It reads an image and a kernel, convolves them in the chosen mode, saves a figure
with the input and every output channel, prints a short summary (shapes, MACs,
parameters, time, where the figure went) and, when a display and an interactive
matplotlib backend exist, shows the figure in a window (``--no-show`` never does).

Bad or hostile input gets one line on stderr and exit code 2; nothing is written then
and no input is touched. The program never writes over one of its inputs, refuses
non-regular files (FIFOs, devices), and refuses before starting any run far beyond a
teaching program's scale (:class:`Limits`: pixels, MACs, memory; each has a flag).
Ctrl-C, SIGTERM and SIGHUP stop it cleanly, leaving no temporary file.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import signal
import stat
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import conv, kernels
from .conv import format_bytes
from .costs import Cost, conv_cost, format_count
from .images import IMAGES_DIR, MAX_PIXELS, REPO_ROOT, ImageNote, atomic_path, load_image, open_regular

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
exit codes: 0 done; 2 bad input (one line on stderr, nothing written); 1 figure saved but the
summary could not be printed; 128 + signal number when interrupted (Ctrl-C 130, SIGTERM 143)

examples:
  python convolution_program.py --mode depthwise
  python convolution_program.py --mode pointwise
  python convolution_program.py --mode depthwise --kernel sobel_x --image images/grace_hopper.png
  python convolution_program.py --mode pointwise --kernel grayscale --json
  python convolution_program.py --mode standard --stride 2 --padding valid
  python convolution_program.py --mode spatial_separable --kernel gaussian:9
  python convolution_program.py --mode depthwise_separable --kernel box:5 --weights ycbcr
  python convolution_program.py --mode depthwise --kernel my_kernel.npy --output out/edges.png --no-show

kernels:
  named spatial kernels (NAME or NAME:SIZE): {spatial}
  named pointwise weights (3 input channels): {pointwise}
  files: .npy (numpy.save, no pickles), or text (.txt/.csv/.tsv: rows of numbers separated by
  spaces, commas, semicolons or tabs, always 2-D; save 3-D/4-D kernels as .npy)
  a value with a path separator or one of these suffixes is a file, anything else a name:
  --kernel sobel_x is always the named kernel; ./sobel_x reads a file called sobel_x
  depthwise: (Kh, Kw) for all channels, (Kh, Kw, C) or (Kh, Kw, C, M)
  pointwise: (C_in, C_out)        standard: (Kh, Kw, C_in, C_out), or (Kh, Kw) applied
  to the channel mean           spatial_separable: a 2-D kernel, split by its SVD
"""


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, or a termination signal (SIGTERM, SIGHUP) turned into the same clean stop."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass(frozen=True)
class Limits:
    """How much one run may do; anything beyond is refused before it starts.

    pixels: image size H x W (checked before decoding the file); macs: the
    multiply-accumulates of the convolution (from :func:`helpers.costs.conv_cost`);
    memory: bytes of the output and the engine's working rows (from
    :func:`helpers.conv.memory_estimate`). The defaults are far above anything the
    series needs and far below what stalls a laptop.
    """

    pixels: int = MAX_PIXELS
    macs: int = 10 * 10**9
    memory: int = 2 * 2**30


DEFAULT_LIMITS = Limits()
#: A kernel file larger than this is refused before it is read (16 MiB: two million float64 entries).
MAX_KERNEL_FILE_BYTES = 16 * 2**20
#: The figure shows at most this many output channels (the summary says when there are more).
MAX_FIGURE_CHANNELS = 16
#: Panels are drawn from at most this many pixels a side (every n-th pixel of a larger output).
MAX_FIGURE_SIDE = 1024
KERNEL_SUFFIXES = (".npy", ".txt", ".csv", ".tsv")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise UsageError(f"{message} (see --help)")


class _Once(argparse.Action):
    """Store an option's value, refusing the option twice (``--mode a --mode b`` is ambiguous)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: D102
        seen = namespace.__dict__.setdefault("_given", set())
        if self.dest in seen:
            raise argparse.ArgumentError(self, "given twice; give it once")
        seen.add(self.dest)
        setattr(namespace, self.dest, values)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to render ``--help`` in the docs)."""
    p = _Parser(
        prog="convolution_program.py",
        description="Convolve an image with a kernel: depthwise, pointwise, standard, "
        "spatially separable or depthwise-separable. Saves a figure of every output channel, "
        "shows it in a window when a display is available, and prints the shapes, the cost "
        "(MACs and parameters) and the time taken.",
        epilog=EXAMPLES.format(spatial=", ".join(kernels.KERNELS), pointwise=", ".join(kernels.POINTWISE_PRESETS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    once = {"action": _Once}
    p.add_argument("--mode", choices=MODES, default="depthwise", help="which convolution (default: depthwise)", **once)
    p.add_argument("--image", default=str(DEFAULT_IMAGE), help="PNG or JPEG file (default: images/test_card.png)",
                   **once)
    p.add_argument("--kernel", default=None, **once,
                   help="kernel name (NAME or NAME:SIZE) or file (a path, or a name ending in "
                   ".npy/.txt/.csv/.tsv; default: a file in images/kernels/ per mode)")
    p.add_argument("--weights", default=None, **once,
                   help="pointwise part of depthwise_separable: name or file (default: opponent colours)")
    p.add_argument("--stride", type=_int_arg("stride"), default=1, help="positive integer (default: 1)", **once)
    p.add_argument("--padding", type=_padding_arg, default="same", **once,
                   help="'same' (TensorFlow rule), 'valid' or a non-negative integer (default: same)")
    p.add_argument("--dilation", type=_int_arg("dilation"), default=1, help="positive integer (default: 1)", **once)
    p.add_argument("--output", default=None, **once,
                   help="figure file (.png/.pdf/.svg/.jpg; default: convolution_<mode>.png here); never one of "
                   "the input files")
    p.add_argument("--no-figure", action="store_true", help="do not save a figure")
    show = p.add_mutually_exclusive_group()
    show.add_argument("--show", action="store_true",
                      help="open the figure in a window (the default when a display is available, except with --json)")
    show.add_argument("--no-show", action="store_true", help="never open a window; only save the figure")
    p.add_argument("--json", action="store_true", help="print a machine-readable JSON summary instead of text")
    p.add_argument("--max-pixels", type=_limit_arg("max-pixels"), default=DEFAULT_LIMITS.pixels, **once,
                   help=f"refuse larger images (H x W; default {DEFAULT_LIMITS.pixels:,} = 4096 x 4096)")
    p.add_argument("--max-macs", type=_limit_arg("max-macs"), default=DEFAULT_LIMITS.macs, **once,
                   help=f"refuse convolutions costing more multiply-accumulates (default {DEFAULT_LIMITS.macs:.0e})")
    p.add_argument("--max-memory", type=_bytes_arg, default=DEFAULT_LIMITS.memory, **once,
                   help="refuse convolutions needing more memory for the output and working rows "
                   "(bytes, or with K/M/G: default 2G)")
    return p


def _shorten(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _int_arg(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {_shorten(text)!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {value}")
        return value

    parse.__name__ = name
    return parse


def _limit_arg(name: str):
    def parse(text: str) -> int:
        try:
            value = float(text.replace("_", ""))
        except ValueError:
            value = float("nan")
        if not (math.isfinite(value) and value >= 1 and value == int(value)):
            raise argparse.ArgumentTypeError(f"{name} must be a positive whole number such as 5e7, "
                                             f"got {_shorten(text)!r}")
        return int(value)

    parse.__name__ = name
    return parse


def _bytes_arg(text: str) -> int:
    units = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "KIB": 2**10, "M": 2**20, "MB": 2**20, "MIB": 2**20,
             "G": 2**30, "GB": 2**30, "GIB": 2**30, "T": 2**40, "TB": 2**40, "TIB": 2**40}
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([A-Za-z]*)\s*", text)
    if match and match.group(2).upper() in units:
        value = float(match.group(1)) * units[match.group(2).upper()]
        if math.isfinite(value) and value >= 1:
            return int(value)
    raise argparse.ArgumentTypeError(f"max-memory must be a size such as 2G, 512M or 1000000, got {_shorten(text)!r}")


def _padding_arg(text: str) -> str | int:
    if text.strip().lower() in ("same", "valid"):
        return text.strip().lower()
    message = f"padding must be 'same', 'valid' or a non-negative integer, got {_shorten(text)!r}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(message) from None
    if value < 0:
        raise argparse.ArgumentTypeError(message)
    return value


# ----------------------------------------------------------------------- kernels
def _looks_like_path(spec: str) -> bool:
    """The rule for --kernel/--weights: a path separator or a kernel-file suffix makes it a file."""
    seps = {"/", os.sep, os.altsep} - {None}
    return any(sep in spec for sep in seps) or Path(spec).suffix.lower() in KERNEL_SUFFIXES


def read_kernel_file(path: str | os.PathLike, *, max_bytes: int = MAX_KERNEL_FILE_BYTES) -> np.ndarray:
    """Load a kernel from ``.npy`` (no pickles) or a text file of numbers.

    Text files hold a 2-D array: one row per line, numbers separated by spaces,
    commas, semicolons or tabs; lines starting with ``#`` are comments. UTF-8 (with or
    without a byte-order mark) and UTF-16 with a byte-order mark are read, with any line
    endings. Only regular files of at most ``max_bytes`` are read. Returns a float64
    array; complex, non-numeric, NaN or infinite entries are refused.
    """
    p = Path(path)
    with open_regular(p, "kernel file", UsageError) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UsageError(f"kernel file {p} is larger than {format_bytes(max_bytes)}; a kernel is a few numbers "
                         "(save it with numpy.save, or pass max_bytes= to read_kernel_file)")
    if p.suffix.lower() == ".npy" or data.startswith(b"\x93NUMPY"):
        arr = _parse_npy(p, data)
    else:
        arr = _parse_text(p, data)
    if arr.size == 0:
        raise UsageError(f"kernel file {p} is empty (shape {arr.shape})")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise UsageError(f"kernel file {p} contains NaN or infinity; use finite numbers")
    return arr


def _parse_npy(p: Path, data: bytes) -> np.ndarray:
    if data.startswith(b"PK\x03\x04"):
        raise UsageError(f"kernel file {p} is an .npz archive; save one array with numpy.save")
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise UsageError(f"kernel file {p} holds pickled Python objects, which are not loaded for safety; "
                             "save a plain numeric array with numpy.save") from None
        raise UsageError(f"kernel file {p} is not a valid .npy file: {(str(exc).splitlines() or [''])[0]}") from None
    except Exception as exc:  # truncated or damaged header: EOFError, OSError, SyntaxError ...
        raise UsageError(f"kernel file {p} is not a valid .npy file ({type(exc).__name__})") from None
    if np.iscomplexobj(arr):
        raise UsageError(f"kernel file {p} holds complex numbers ({arr.dtype}); kernels here are real: "
                         "save kernel.real if the imaginary part is meant to be zero")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise UsageError(f"kernel file {p} holds {arr.dtype} data, not numbers")
    return arr


def _parse_text(p: Path, data: bytes) -> np.ndarray:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"  # a UTF-8 byte-order mark (Notepad, Excel) is dropped
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise UsageError(f"kernel file {p} is not UTF-8 text; save it as UTF-8, or as .npy with numpy.save") from None
    rows = [re.split(r"[\s,;]+", ln.split("#", 1)[0].strip()) for ln in text.splitlines()]
    rows = [[v for v in r if v] for r in rows]
    rows = [r for r in rows if r]
    if not rows:
        raise UsageError(f"kernel file {p} is empty: write rows of numbers separated by spaces or commas")
    values = []
    for r in rows:
        try:
            values.append([float(v) for v in r])
        except ValueError:
            bad = next(v for v in r if not _is_float(v))
            raise UsageError(f"kernel file {p} has a non-numeric entry {_shorten(bad)!r}; write only numbers") from None
    if len({len(r) for r in values}) != 1:
        raise UsageError(f"kernel file {p} has rows of different lengths; every row needs the same count")
    return np.array(values)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def resolve_kernel(spec: str | None, mode: str, *, pointwise: bool = False) -> tuple[np.ndarray, str]:
    """A kernel from a name, ``NAME:SIZE`` or a file; ``None`` gives the mode's default.

    The rule: ``spec`` is a file when it contains a path separator or ends in
    .npy/.txt/.csv/.tsv, and a name otherwise -- a file in the working folder that is
    called like a name (``sobel_x``) never replaces the named kernel; write
    ``./sobel_x`` to read it. Returns (array, description). Pointwise specs accept the
    pointwise preset names.
    """
    kernel, name, _ = _resolve(spec, mode, pointwise=pointwise)
    return kernel, name


def _resolve(spec: str | None, mode: str, *, pointwise: bool = False) -> tuple[np.ndarray, str, list[str]]:
    """(array, description, notes) for a --kernel or --weights value; see :func:`resolve_kernel`."""
    if spec is None:
        path = DEFAULT_WEIGHTS if pointwise and mode == "depthwise_separable" else DEFAULT_KERNELS[mode]
        return read_kernel_file(path), _display_path(path), []
    if _looks_like_path(spec):
        return read_kernel_file(spec), spec, []
    flag = "--weights" if pointwise and mode == "depthwise_separable" else "--kernel"
    file_too = os.path.lexists(spec)
    if pointwise:
        known = spec in kernels.POINTWISE_PRESETS
        if not known:
            hint = f"; to read the file {spec}, write ./{spec}" if file_too else " or give a .npy/.txt/.csv file"
            raise UsageError(f"unknown pointwise weights {_shorten(spec)!r}; choose one of "
                             f"{', '.join(kernels.POINTWISE_PRESETS)}{hint}")
        notes = [f"{flag} {spec} is the named preset; the file {spec} in this folder was not read "
                 f"(write ./{spec} to use it)"] if file_too else []
        return kernels.pointwise_preset(spec), spec, notes
    name, colon, size_text = spec.partition(":")
    if name not in kernels.KERNELS:
        hint = (f"; to read the file {spec}, write ./{spec}" if file_too
                else " (NAME or NAME:SIZE) or give a .npy/.txt/.csv file")
        raise UsageError(f"unknown kernel {_shorten(name)!r}; choose one of {', '.join(kernels.KERNELS)}{hint}")
    size = 3
    if colon:
        if not re.fullmatch(r"[0-9]{1,9}", size_text) or int(size_text) < 1:
            raise UsageError(f"kernel size in {_shorten(spec)!r} must be a positive integer such as {name}:5")
        size = int(size_text)
        if name not in kernels.SIZED_KERNELS and size != 3:
            raise UsageError(f"kernel {name!r} is 3x3 only; sizes apply to {', '.join(kernels.SIZED_KERNELS)}")
    notes = [f"{flag} {spec} is the named kernel; the file {spec} in this folder was not read "
             f"(write ./{spec} to use it)"] if file_too else []
    return kernels.get_kernel(name, size), spec, notes


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
    window: str | None = None

    def as_dict(self) -> dict:
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if not k.startswith("_")}
        d["flops"] = 2 * self.macs
        return d


def _spatial(kernel: np.ndarray) -> tuple[int, int] | None:
    return tuple(kernel.shape[:2]) if kernel.ndim in (2, 3, 4) else None


def planned_cost(image_shape: tuple[int, ...], kernel: np.ndarray, mode: str, *, weights: np.ndarray | None = None,
                 stride: int = 1, padding: str | int = "same", dilation: int = 1) -> Cost | None:
    """The Cost of a run before it runs, or None when the shapes are for the op to refuse.

    image_shape: (H, W, C); kernel and weights as for :func:`convolve`.
    """
    h, w, c = image_shape
    kw = {"stride": stride, "padding": padding, "dilation": dilation}
    try:
        if mode == "pointwise":
            c_out = kernel.shape[-1] if kernel.ndim in (2, 4) else 1
            return conv_cost("pointwise", image_shape, 1, c_out)
        size = _spatial(kernel)
        if size is None:
            return None
        if mode == "depthwise":
            m = kernel.shape[3] if kernel.ndim == 4 else 1
            return conv_cost("depthwise", image_shape, size, depth_multiplier=m, **kw)
        if mode == "standard":
            return conv_cost("standard", image_shape, size, kernel.shape[3] if kernel.ndim == 4 else 1, **kw)
        if mode == "spatial_separable":
            return conv_cost("spatial_separable", image_shape, size, padding=padding) if kernel.ndim == 2 else None
        if mode == "depthwise_separable" and weights is not None and weights.ndim in (1, 2, 4):
            m = kernel.shape[3] if kernel.ndim == 4 else 1
            c_out = weights.shape[-1] if weights.ndim in (2, 4) else 1
            return conv_cost("depthwise_separable", image_shape, size, c_out, depth_multiplier=m, **kw)
    except ValueError:
        return None  # the op gives the message
    return None


def check_limits(image_shape: tuple[int, ...], kernel: np.ndarray, mode: str, limits: Limits, *,
                 weights: np.ndarray | None = None, stride: int = 1, padding: str | int = "same",
                 dilation: int = 1) -> None:
    """Refuse a run whose work or memory is far beyond a teaching program's scale.

    The work is :func:`helpers.costs.conv_cost`'s MACs (plus the SVD of a separable
    kernel), the memory :func:`helpers.conv.memory_estimate`'s output and working rows.
    Raises UsageError naming the cost and the flag that raises the limit.
    """
    cost = planned_cost(image_shape, kernel, mode, weights=weights, stride=stride, padding=padding,
                        dilation=dilation)
    if cost is None:
        return
    work = cost.macs
    if mode == "spatial_separable":
        work += 4 * kernel.shape[0] * kernel.shape[1] * min(kernel.shape[:2])  # its SVD, about 4 K^3
    if work > limits.macs:
        raise UsageError(
            f"this run would cost {format_count(work, 'MACs')} ({format_count(2 * work, 'FLOPs')}), more than the "
            f"limit of {format_count(limits.macs, 'MACs')}: use a smaller kernel or image or a larger stride, "
            f"or raise the limit with --max-macs {_round_up(work)}"
        )
    size = (1, 1) if mode == "pointwise" else _spatial(kernel)
    work_channels = cost.out_shape[2] if mode == "depthwise" else image_shape[2]
    if mode == "depthwise_separable":
        work_channels = image_shape[2] * (kernel.shape[3] if kernel.ndim == 4 else 1)
    out_bytes, rows_bytes = conv.memory_estimate(
        image_shape, size, cost.out_shape[2], np.float64,
        stride=stride if mode != "pointwise" else 1, padding=padding if mode != "pointwise" else "same",
        dilation=dilation if mode != "pointwise" else 1, work_channels=work_channels)
    need = out_bytes + rows_bytes
    if need > limits.memory:
        raise UsageError(
            f"this run would need about {format_bytes(need)} of memory (output {cost.out_shape} float64: "
            f"{format_bytes(out_bytes)}; padded rows: {format_bytes(rows_bytes)}), more than the limit of "
            f"{format_bytes(limits.memory)}: use a smaller image, padding, dilation or stride, "
            f"or raise the limit with --max-memory {_size_hint(need)}"
        )


def _round_up(n: int) -> str | int:
    """A round number at least n, for the 'raise the limit' hint (2.7e11 -> '3e11')."""
    exp = max(int(math.log10(n)), 0)
    lead = -(-n // 10**exp)
    return f"{lead}e{exp}" if exp >= 6 else lead * 10**exp


def _size_hint(n: int) -> str:
    """A round size at least n bytes, for the --max-memory hint (5.3 GiB -> '6G')."""
    return f"{-(-n // 2**30)}G" if n >= 2**30 else f"{-(-n // 2**20)}M"


def convolve(
    image: np.ndarray, kernel: np.ndarray, mode: str, *, weights: np.ndarray | None = None,
    stride: int = 1, padding: str | int = "same", dilation: int = 1, limits: Limits | None = DEFAULT_LIMITS,
) -> tuple[np.ndarray, np.ndarray, list[str], object]:
    """Run one mode the way the program does.

    image: (H, W, C) or (H, W); kernel: as described in ``--help`` for the mode;
    weights: (C*M, C_out) for depthwise_separable. ``limits`` (default
    :data:`DEFAULT_LIMITS`; None for none) refuses far too costly runs before they start.

    Returns (output (H', W', C_out), the kernel as actually used, notes, Cost).
    """
    img = image if image.ndim == 3 else image[:, :, None]
    c = img.shape[2]
    notes: list[str] = []
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "pointwise" and (stride != 1 or dilation != 1 or padding not in ("same", "valid", 0)):
        raise UsageError("pointwise (1x1) mode takes no --stride, --dilation or --padding")
    if mode == "spatial_separable":
        if stride != 1 or dilation != 1:
            raise UsageError("spatial_separable mode supports stride 1 and dilation 1 only")
        if kernel.ndim != 2:
            raise UsageError(f"spatial_separable mode needs a 2-D kernel (Kh, Kw), got shape {kernel.shape}")
    k = kernel
    if mode == "standard":
        if k.ndim == 2:
            k = np.repeat(k[:, :, None, None] / c, c, axis=2)
            notes.append(f"a 2-D kernel in standard mode filters the mean of the {c} channels (one output channel)")
        elif k.ndim == 3:
            k = k[:, :, :, None]
    if limits is not None:
        check_limits(img.shape, k, mode, limits, weights=weights, stride=stride, padding=padding,
                     dilation=dilation)
    kw = {"stride": stride, "padding": padding, "dilation": dilation}
    if mode == "pointwise":
        out = conv.pointwise_conv2d(img, kernel)
        return out, kernel, notes, conv_cost("pointwise", img.shape, 1, out.shape[2])
    if mode == "depthwise":
        out = conv.depthwise_conv2d(img, kernel, **kw)
        k = kernel if kernel.ndim != 2 else np.broadcast_to(kernel[:, :, None], (*kernel.shape, c))
        cost = conv_cost("depthwise", img.shape, k.shape[:2], depth_multiplier=out.shape[2] // c, **kw)
        return out, k, notes, cost
    if mode == "standard":
        out = conv.conv2d(img, k, **kw)
        return out, k, notes, conv_cost("standard", img.shape, k.shape[:2], k.shape[3], **kw)
    if mode == "spatial_separable":
        sep = kernels.separability(kernel)
        if not sep.separable:
            notes.append(f"kernel has rank {sep.rank}, so it is not separable: using its best rank-1 "
                         f"approximation (relative error {sep.relative_error:.3f})")
        out = conv.spatial_separable_conv2d(img, sep.column, sep.row, padding=padding)
        return out, sep.approximation, notes, conv_cost("spatial_separable", img.shape, kernel.shape, padding=padding)
    out = conv.depthwise_separable_conv2d(img, kernel, weights, **kw)
    m = kernel.shape[3] if kernel.ndim == 4 else 1
    cost = conv_cost("depthwise_separable", img.shape, kernel.shape[:2], out.shape[2], depth_multiplier=m, **kw)
    return out, kernel, notes, cost


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


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _check_output_path(path: Path, inputs: list[tuple[str, Path]], *, explicit: bool = True) -> None:
    """Refuse an output that cannot be written, or whose writing would destroy an input.

    inputs: (what, path) of every file the run reads (image, kernel, weights);
    explicit: whether the path came from --output (else it is the mode's default).
    """
    if path.is_dir():
        raise UsageError(f"output {path} is a folder; give a file name such as {path / 'result.png'}")
    if path.suffix.lower() not in FIGURE_FORMATS:
        raise UsageError(f"output {path} must end in one of {', '.join(FIGURE_FORMATS)}")
    real = Path(os.path.realpath(path))
    folder = real.parent
    if not folder.is_dir():
        shown = path.parent if str(path.parent) else Path(".")
        raise UsageError(f"output folder {shown} does not exist; create it first")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"cannot use output {path}: {exc.strerror or exc}") from None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"output {path} exists and is not a regular file; choose another --output")
        for what, source in inputs:
            try:
                same = _same_file(st, os.stat(source))
            except OSError:
                same = False
            if same:
                how = "" if os.path.abspath(path) == os.path.abspath(source) else " (the same file by another name)"
                hint = "" if explicit else " (the default output of this mode)"
                raise UsageError(f"output {path}{hint} is the {what} file {source}{how}; writing the figure would "
                                 "destroy it: choose another --output")
        if IMAGES_DIR.resolve() in real.parents:
            raise UsageError(f"output {path} would replace the shipped sample {real.relative_to(REPO_ROOT)}; "
                             "choose another --output")
    if not os.access(folder, os.W_OK) or (st is not None and not os.access(real, os.W_OK)):
        raise UsageError(f"output {path} is not writable; choose another --output")



def display_status(want: bool | None) -> tuple[bool, str]:
    """Whether the figure can open in a window, and why not.

    want: True (--show), False (--no-show) or None (the default: show when possible).
    A window needs a display -- on Linux and other X11/Wayland systems the DISPLAY or
    WAYLAND_DISPLAY variable; macOS and Windows always have one -- and an interactive
    matplotlib backend (Tk, Qt, GTK, macOS ...), which matplotlib picks by itself;
    MPLBACKEND=Agg (or the notebook's inline backend) means no window.
    """
    if want is False:
        return False, "not opened (--no-show)"
    if sys.platform not in ("darwin", "win32") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False, "no display here (DISPLAY and WAYLAND_DISPLAY are not set)"
    try:
        import matplotlib.pyplot as plt

        backend = plt.get_backend()
    except Exception as exc:  # an MPLBACKEND that cannot be loaded
        return False, f"matplotlib could not load a window backend ({(str(exc).splitlines() or [''])[0]})"
    try:
        from matplotlib.backends import BackendFilter, backend_registry

        interactive = backend.lower() in backend_registry.list_builtin(BackendFilter.INTERACTIVE)
        if interactive:
            backend_registry.load_backend_module(backend)  # its GUI toolkit may be missing
    except ImportError as exc:
        if "BackendFilter" in str(exc) or "backend_registry" in str(exc):  # matplotlib < 3.9
            from matplotlib import rcsetup

            interactive = backend.lower() in [b.lower() for b in rcsetup.interactive_bk]
        else:
            return False, f"matplotlib's backend {backend!r} cannot be loaded ({_shorten(str(exc), 100)})"
    if not interactive:
        if "inline" in backend.lower():
            return False, "run from a notebook (matplotlib's inline backend has no windows)"
        if os.environ.get("MPLBACKEND"):
            why = f"MPLBACKEND={os.environ['MPLBACKEND']}"
        elif not _display_reachable():
            why = f"the display {os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')!r} cannot be opened"
        else:
            why = "no GUI toolkit found; install Tk, e.g. sudo apt install python3-tk"
        return False, f"matplotlib's backend {backend!r} cannot open windows ({why})"
    return True, f"opened with matplotlib's {backend} backend"


def _display_reachable() -> bool:
    """Whether matplotlib can connect to the X11/Wayland display (True when it cannot tell)."""
    try:
        from matplotlib import _c_internal_utils

        return bool(_c_internal_utils.display_is_valid())
    except Exception:  # a private helper: absent in other matplotlib versions
        return True


def _figure_arrays(image: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The image and output as drawn: at most MAX_FIGURE_CHANNELS output channels and
    MAX_FIGURE_SIDE pixels a side, values scaled into drawable range; with notes."""
    notes = []
    shown = out if out.ndim == 3 else out[:, :, None]
    if shown.shape[2] > MAX_FIGURE_CHANNELS:
        notes.append(f"the figure shows the first {MAX_FIGURE_CHANNELS} of the {shown.shape[2]} output channels "
                     "(all of them are computed)")
        shown = shown[:, :, :MAX_FIGURE_CHANNELS]
    step = -(-max(shown.shape[:2]) // MAX_FIGURE_SIDE)
    if step > 1:
        notes.append(f"the figure draws one pixel in {step} along each axis of the {shown.shape[0]}x{shown.shape[1]} "
                     "output")
        shown = shown[::step, ::step]
    step_in = -(-max(image.shape[:2]) // MAX_FIGURE_SIDE)
    if step_in > 1:
        image = image[::step_in, ::step_in]
    peak = float(np.max(np.abs(shown))) if shown.size else 0.0
    if peak > 1e200:
        scale = 10.0 ** math.floor(math.log10(peak))
        shown = shown / scale
        notes.append(f"the figure shows the output divided by {scale:.0e} (its values reach {peak:.3g})")
    return image, shown, notes


def run(args: argparse.Namespace) -> Result:
    """Do the work for parsed arguments; raise UsageError/ValueError on bad input."""
    limits = Limits(pixels=getattr(args, "max_pixels", DEFAULT_LIMITS.pixels),
                    macs=getattr(args, "max_macs", DEFAULT_LIMITS.macs),
                    memory=getattr(args, "max_memory", DEFAULT_LIMITS.memory))
    output = None if args.no_figure else Path(args.output or f"convolution_{args.mode}.png")
    inputs = [("image", Path(args.image))]
    for what, spec in (("kernel", args.kernel), ("weights", args.weights)):
        if spec is not None and (_looks_like_path(spec) or os.path.lexists(spec)):
            inputs.append((what, Path(spec)))
    if output is not None:
        _check_output_path(output, inputs, explicit=args.output is not None)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImageNote)
        image = load_image(args.image, max_pixels=limits.pixels)
    notes += [str(w.message) for w in caught if issubclass(w.category, ImageNote)]
    if not np.all(np.isfinite(image)):
        raise UsageError(f"image {args.image} contains NaN or infinity; use an image of finite values")
    kernel, kernel_name, more = _resolve(args.kernel, args.mode, pointwise=args.mode == "pointwise")
    notes += more
    weights, weights_name = (None, None)
    if args.mode == "depthwise_separable":
        weights, weights_name, more = _resolve(args.weights, args.mode, pointwise=True)
        notes += more
    elif args.weights is not None:
        raise UsageError("--weights is only used with --mode depthwise_separable")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels != 3 and args.kernel is None:
        kernel, kernel_name = _default_for(args.mode, channels), f"default for {channels} channel(s)"
        notes.append(f"the shipped default kernels are for RGB; using {kernel_name} {kernel.shape}")
    if channels != 3 and args.weights is None and weights is not None:
        weights, weights_name = np.eye(channels), "identity"

    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        out, used, more_notes, cost = convolve(image, kernel, args.mode, weights=weights, stride=args.stride,
                                               padding=args.padding, dilation=args.dilation, limits=limits)
    elapsed = (time.perf_counter() - t0) * 1e3
    notes += more_notes
    if not np.all(np.isfinite(out)):
        big = float(np.finfo(out.dtype).max)
        raise UsageError(f"the result overflowed {out.dtype}: some values are beyond ±{big:.3g} (kernel entries up "
                         f"to {float(np.max(np.abs(used))):.3g}); scale the kernel down")

    want = True if args.show else False if args.no_show or args.json else None
    can_show, window = display_status(want)
    if args.json and not args.show and not args.no_show:
        window = "not opened (--json; add --show to open one)"
    figure, fig = None, None
    if output is not None or can_show:
        from .plotting import figure_input_output

        shown_image, shown, fig_notes = _figure_arrays(image, out)
        notes += fig_notes
        fig = figure_input_output(
            shown_image, shown,
            title=f"--mode {args.mode}: kernel {_shorten(kernel_name, 60)} {tuple(used.shape)}, output {out.shape}",
        )
    if output is not None:
        try:
            with atomic_path(output) as tmp:
                fig.savefig(tmp, format=output.suffix.lower().lstrip(".").replace("jpg", "jpeg"), dpi=100)
        except OSError as exc:
            raise UsageError(f"cannot write the figure to {output}: {exc.strerror or exc}; "
                             "choose another --output") from None
        figure = str(output)
    if not can_show and want is not False:
        window = f"none: {window}; " + (f"the figure is saved in {os.path.abspath(output)}" if output is not None
                                         else "no figure saved (--no-figure)")
    result = Result(
        mode=args.mode, image=args.image if args.image != str(DEFAULT_IMAGE) else _display_path(DEFAULT_IMAGE),
        image_shape=tuple(image.shape), kernel=kernel_name, kernel_shape=tuple(used.shape),
        output_shape=tuple(out.shape), stride=args.stride, padding=args.padding, dilation=args.dilation,
        macs=cost.macs, params=cost.params, time_ms=round(elapsed, 3), figure=figure, notes=notes,
        weights=weights_name, weights_shape=None if weights is None else tuple(weights.shape),
        window=window,
    )
    result._figure = fig if can_show else None  # drawn in a window by main() after the summary
    return result


def show_window(fig: object, title: str) -> None:
    """Open ``fig`` (a figure made without pyplot) in a window and wait until it is closed.

    While the window is open, Ctrl-C, SIGTERM and SIGHUP close it and raise
    :class:`Interrupted` (a GUI main loop would otherwise not let Python see them: Tk
    reports an exception raised in a callback and carries on).
    """
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    dpi = 100
    win = plt.figure(num=title, figsize=(pixels.shape[1] / dpi, pixels.shape[0] / dpi), dpi=dpi)
    ax = win.add_axes((0, 0, 1, 1))
    ax.imshow(pixels)
    ax.set_axis_off()
    received: list[int] = []

    def note_signal(signum, frame):
        received.append(signum)

    def close_if_signalled():
        if received:
            plt.close("all")

    previous = _catch_termination(note_signal, ("SIGTERM", "SIGHUP", "SIGINT"))
    timer = win.canvas.new_timer(interval=100)  # gives Python control 10 times a second
    timer.add_callback(close_if_signalled)
    timer.start()
    try:
        plt.show()
    finally:
        timer.stop()
        _restore_termination(previous)
        plt.close("all")
    if received:
        raise Interrupted(received[0])


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
    if r.window is not None:
        lines.append(f"window  : {r.window}" + ("; close it to finish" if r.window.startswith("opened") else ""))
    lines += [f"note    : {n}" for n in r.notes]
    return "\n".join(lines)


def _say(stream: object, text: str) -> None:
    """Write a line that survives an unencodable character (shown as a backslash escape)."""
    if stream is None:  # the stream was closed before the program started
        return
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        enc = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(enc, "backslashreplace").decode(enc) + "\n")
    stream.flush()


def _error(prog: str, message: str) -> None:
    try:
        _say(sys.stderr, f"{prog}: error: {message}")
    except (OSError, ValueError):  # stderr closed or full: the exit code still tells
        pass


def _silence_stdout() -> None:
    """After a failed write, point stdout at /dev/null so that Python's own flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _missing_package(exc: ImportError) -> str:
    name = (exc.name or str(exc)).split(".")[0]
    pip = {"PIL": "Pillow"}.get(name, name)
    return (f"the Python package {pip} is missing or broken ({_shorten(str(exc), 80)}); install it with "
            f"'python -m pip install {pip}' (the program needs Python >= 3.10, NumPy, matplotlib and Pillow)")


def main(argv: list[str] | None = None) -> int:
    """Entry point. Returns the exit code.

    0: done (figure saved, summary printed; a reader that closed the pipe early is fine);
    1: the figure was saved but the summary could not be printed (stdout full or broken);
    2: bad input, refused with one line on stderr -- nothing written;
    130 / 128 + signal: interrupted (Ctrl-C, SIGTERM, SIGHUP) -- nothing half-written.
    """
    parser = build_parser()
    previous = _catch_termination()
    result = None
    try:
        try:
            args = parser.parse_args(argv)
            result = run(args)
        except (UsageError, ValueError, OSError) as exc:
            message = (str(exc).splitlines() or [""])[0] or type(exc).__name__
            _error(parser.prog, message)
            return 2
        except ImportError as exc:
            interrupt = exc.__cause__ or exc.__context__
            if isinstance(interrupt, KeyboardInterrupt):  # a signal landed while a module was loading
                raise interrupt from None
            _error(parser.prog, _missing_package(exc))
            return 2
        except MemoryError:
            _error(parser.prog, "out of memory; use a smaller image or kernel, or lower --max-memory")
            return 2
        text = json.dumps(result.as_dict(), indent=2, ensure_ascii=False) if args.json else format_summary(result)
        try:
            _say(sys.stdout, text)
        except BrokenPipeError:
            _silence_stdout()  # the reader stopped early (| head): not an error
        except (OSError, ValueError) as exc:
            _silence_stdout()
            reason = getattr(exc, "strerror", None) or str(exc)
            saved = f"; the figure was saved to {result.figure}" if result.figure else ""
            _error(parser.prog, f"could not print the summary ({reason}){saved}")
            return 1
        fig = getattr(result, "_figure", None)
        if fig is not None:
            try:
                show_window(fig, f"convolution_program.py --mode {args.mode}")
            except Exception as exc:  # a window that fails to open is not worth a traceback
                _error(parser.prog, f"could not open a window ({_shorten(str(exc), 100)}); "
                       f"the figure is saved in {result.figure or 'no file (--no-figure)'}")
        return 0
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        done = (f"the figure is saved in {result.figure}" if result is not None and result.figure
                else "no figure was left half-written")
        _error(parser.prog, f"interrupted ({signal.Signals(signum).name}); {done}")
        return 128 + int(signum)
    finally:
        _restore_termination(previous)


def _catch_termination(handler=None, names: tuple[str, ...] = ("SIGTERM", "SIGHUP")) -> dict:
    """Turn SIGTERM and SIGHUP into :class:`Interrupted`, as Ctrl-C is, so that clean-up runs
    (or call ``handler(signum, frame)``). Returns the previous handlers."""
    previous = {}
    if threading.current_thread() is not threading.main_thread():
        return previous

    def stop(signum, frame):
        raise Interrupted(signum)

    stop = handler or stop

    for name in names:
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                previous[sig] = signal.signal(sig, stop)
            except (OSError, ValueError):
                pass
    return previous


def _restore_termination(previous: dict) -> None:
    for sig, handler in previous.items():
        try:
            signal.signal(sig, handler)
        except (OSError, ValueError, TypeError):
            pass
