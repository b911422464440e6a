"""A property-based test of the program's whole argument space, in bounded time.

Hypothesis draws command lines from every flag -- valid values, edge values, absurd
ones and junk text -- and runs the program in this process. Whatever it draws, the
run either succeeds with a summary that agrees with the library's size and cost
formulas, or is refused with exactly one line and exit code 2, writing nothing and
touching no input. The limits are set low (--max-macs, --max-memory) so that every
example is fast; the limits themselves are part of what is tested.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers import cli, conv

PREFIX = "convolution_program.py: error: "
MAX_MACS = 20_000_000


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("program-space")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)).save(d / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (6, 5), dtype=np.uint8)).save(d / "gray.png")
    Image.fromarray(rng.integers(0, 256, (5, 5, 4), dtype=np.uint8), "RGBA").save(d / "rgba.png")
    Image.fromarray(rng.integers(0, 65536, (4, 6), dtype=np.uint16)).save(d / "g16.png")
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(d / "tiny.png")
    (d / "bad.png").write_text("not a png")
    np.save(d / "k3.npy", rng.standard_normal((3, 3, 3)))
    np.save(d / "k4d.npy", rng.standard_normal((2, 2, 3, 2)))
    np.save(d / "c.npy", np.ones((3, 3)) + 1j)
    np.save(d / "scalar.npy", np.float64(2.0))
    (d / "w.csv").write_text("1, 0\n0, 1\n0.5, 0.5\n")
    (d / "k2.txt").write_text("\ufeff0 -1 0\r\n-1 5 -1\r\n0 -1 0\r\n")
    (d / "nan.txt").write_text("1 nan\n")
    (d / "empty.txt").write_text("")
    (d / "sobel_x").write_text("1\n")
    os.mkfifo(d / "fifo.txt")
    return d


IMAGES = ["rgb.png", "gray.png", "rgba.png", "g16.png", "tiny.png", "bad.png", "missing.png", "fifo.txt"]
KERNEL_FILES = ["k3.npy", "k4d.npy", "c.npy", "scalar.npy", "w.csv", "k2.txt", "nan.txt", "empty.txt", "./sobel_x",
                "fifo.txt", "missing.npy"]
NAMES = ["box", "gaussian", "sobel_x", "sobel_y", "laplacian", "sharpen", "emboss", "identity", "random",
         "grayscale", "ycbcr", "swap_rb", "opponent", "blur"]
junk = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=5)
wild_integer = st.one_of(st.integers(-3, 0), st.integers(13, 10**15), st.just(10**40)).map(str)
small = st.integers(1, 3).map(str)
kernel_spec = st.one_of(
    st.sampled_from(NAMES),
    st.builds(lambda n, k: f"{n}:{k}", st.sampled_from(NAMES), st.integers(1, 7)),
    st.sampled_from(KERNEL_FILES),
    st.sampled_from(KERNEL_FILES[:6]),
    st.builds(lambda n, k: f"{n}:{k}", st.sampled_from(NAMES), st.one_of(st.integers(0, 40), st.integers(41, 5000))),
    junk,
)


def maybe(draw, chance: int) -> bool:
    """True with probability 1/chance."""
    return draw(st.integers(1, chance)) == 1


@st.composite
def command_lines(draw) -> tuple[list[str], dict]:
    mode = draw(st.sampled_from([*cli.MODES] * 4 + ["dilated"]))
    image = draw(st.sampled_from(["rgb.png"] * 8 + IMAGES))
    args = ["--mode", mode, "--image", image]
    if draw(st.booleans()):
        args += ["--kernel", draw(kernel_spec)]
    if maybe(draw, 2 if mode == "depthwise_separable" else 12):
        args += ["--weights", draw(kernel_spec)]
    for flag in ("--stride", "--dilation"):
        if maybe(draw, 3):
            args += [flag, draw(st.one_of(small, small, small, small, small, small, wild_integer, junk))]
    if maybe(draw, 3):
        args += ["--padding", draw(st.one_of(st.sampled_from(["same", "valid", "SAME", "full"]),
                                             st.integers(0, 4).map(str), wild_integer, junk))]
    if maybe(draw, 25):
        args += ["--max-pixels", draw(st.sampled_from(["1", "40", "1e9", "0", "x"]))]
    output = draw(st.sampled_from(["--no-figure"] * 12 + ["out.png", "same-as-image"]))
    if output == "--no-figure":
        args.append("--no-figure")
    else:
        args += ["--output", image if output == "same-as-image" else output]
    args += ["--json", "--no-show", "--max-macs", str(MAX_MACS), "--max-memory", "64M"]
    return args, {"mode": mode, "image": image, "output": output}


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(command=command_lines())
def test_any_command_line_succeeds_consistently_or_is_refused_in_one_line(folder, monkeypatch, command):
    args, drawn = command
    monkeypatch.chdir(folder)
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir() if p.name != "out.png"}
    (folder / "out.png").unlink(missing_ok=True)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    after = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir() if p.name != "out.png"}
    assert after == before, "an input (or a stray temporary file) changed"
    if code == 2:
        lines = err.getvalue().splitlines()
        assert len(lines) == 1 and lines[0].startswith(PREFIX), (args, err.getvalue())
        assert out.getvalue() == "" and not (folder / "out.png").exists()
        return
    assert code == 0, (args, code, err.getvalue())
    assert drawn["output"] != "same-as-image", "the image was used as the output"
    data = json.loads(out.getvalue())
    assert data["flops"] == 2 * data["macs"] and 0 < data["macs"] <= MAX_MACS
    h, w = data["image_shape"][:2]
    if data["mode"] == "pointwise":
        assert data["output_shape"][:2] == [h, w]
    else:
        expected = conv.output_size((h, w), tuple(data["kernel_shape"][:2]), stride=data["stride"],
                                    padding=data["padding"], dilation=data["dilation"])
        assert tuple(data["output_shape"][:2]) == expected, (args, data)
    assert (folder / "out.png").exists() == (drawn["output"] == "out.png")
    assert data["figure"] == ("out.png" if drawn["output"] == "out.png" else None)
