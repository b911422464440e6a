"""The self-contained reference program (examples/minimal_convolution_program.py) answers the homework:
both seed commands run, print the shapes, save the figure, and compute what helpers.conv computes."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from helpers import conv

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "examples" / "minimal_convolution_program.py"
HEADLESS = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}


@pytest.mark.parametrize("mode", ["depthwise", "pointwise"])
def test_seed_command(mode, tmp_path):
    """python minimal_convolution_program.py --mode depthwise|pointwise, run headless from a scratch folder."""
    r = subprocess.run([sys.executable, str(PROGRAM), "--mode", mode], cwd=tmp_path, env=HEADLESS,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert f"{mode}: image (256, 256, 3) with kernel" in r.stdout and "output (256, 256, 3)" in r.stdout
    figure = tmp_path / f"convolution_{mode}.png"
    assert figure.exists() and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"figure saved to convolution_{mode}.png" in r.stdout


@pytest.mark.parametrize(("mode", "kernel"), [
    ("depthwise", np.random.default_rng(0).standard_normal((4, 2, 3))),   # even kernel: extra zero bottom/right
    ("depthwise", None),
    ("pointwise", np.random.default_rng(1).standard_normal((3, 5))),
    ("pointwise", None),
])
def test_output_equals_helpers(mode, kernel, tmp_path, monkeypatch):
    args = ["prog", "--mode", mode, "--output", str(tmp_path / "f.png")]
    if kernel is not None:
        np.save(tmp_path / "k.npy", kernel)
        args += ["--kernel", str(tmp_path / "k.npy")]
    monkeypatch.setattr(sys, "argv", args)
    matplotlib.use("agg")
    ns = runpy.run_path(str(PROGRAM), run_name="__main__")
    op = conv.depthwise_conv2d if mode == "depthwise" else conv.pointwise_conv2d
    assert np.allclose(ns["out"], op(ns["image"], ns["kernel"]))
    assert (tmp_path / "f.png").exists()


def test_bad_kernel_is_one_line_and_exit_2(tmp_path):
    np.save(tmp_path / "k4.npy", np.ones((3, 3, 4)))
    r = subprocess.run([sys.executable, str(PROGRAM), "--mode", "depthwise", "--kernel", "k4.npy"], cwd=tmp_path,
                       env=HEADLESS, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "error: a depthwise kernel for this image must have shape (Kh, Kw, C) with C = 3, got (3, 3, 4)" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "convolution_depthwise.png").exists()


def test_one_short_file():
    code = [line for line in PROGRAM.read_text().splitlines() if line.strip()]
    assert len(code) <= 60   # the notebook calls it "about sixty lines"


@pytest.mark.parametrize(("args", "message"), [
    (["--image", "missing.png"], "error: cannot read the image missing.png"),
    (["--image", "not_an_image.png"], "error: cannot read the image not_an_image.png"),
    (["--kernel", "missing.npy"], "error: cannot read the kernel missing.npy: it must be an existing .npy file"),
    (["--kernel", "not_an_image.png"], "error: cannot read the kernel not_an_image.png"),
    (["--kernel", "scalar.npy"], "must have shape (Kh, Kw, C) with C = 3, got ()"),
])
def test_unreadable_input_is_one_line_and_exit_2(args, message, tmp_path):
    (tmp_path / "not_an_image.png").write_text("hello")
    np.save(tmp_path / "scalar.npy", np.float64(3.0))
    r = subprocess.run([sys.executable, str(PROGRAM), "--mode", "depthwise", *args], cwd=tmp_path,
                       env=HEADLESS, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("minimal_convolution_program.py: error: ")
    assert not (tmp_path / "convolution_depthwise.png").exists()
