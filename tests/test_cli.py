"""The homework's program, run as a learner runs it."""

import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "convolution_program.py"


def run(*args, cwd=ROOT):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([sys.executable, str(PROGRAM), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env)


@pytest.mark.parametrize("mode", ["depthwise", "pointwise"])
def test_seed_commands_exactly_as_written(mode):
    """`python convolution_program.py --mode depthwise|pointwise` from the repo root, nothing else."""
    figure = ROOT / f"convolution_{mode}.png"
    figure.unlink(missing_ok=True)
    try:
        r = subprocess.run(["python" if os.environ.get("CI_USE_PATH_PYTHON") else sys.executable,
                            "convolution_program.py", "--mode", mode], cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        assert f"mode    : {mode}" in r.stdout
        assert "shape (256, 256, 3)" in r.stdout and "MACs" in r.stdout and "FLOPs" in r.stdout
        assert "time    :" in r.stdout and f"figure  : convolution_{mode}.png" in r.stdout
        with Image.open(figure) as im:
            assert im.format == "PNG" and im.size[0] > 500
    finally:
        figure.unlink(missing_ok=True)


@pytest.mark.parametrize("mode,expect_channels", [
    ("standard", 2), ("spatial_separable", 3), ("depthwise_separable", 3), ("depthwise", 3), ("pointwise", 3),
])
def test_every_mode_json(tmp_path, mode, expect_channels):
    out = tmp_path / "fig.png"
    r = run("--mode", mode, "--json", "--output", out)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["mode"] == mode and data["output_shape"][2] == expect_channels
    assert data["flops"] == 2 * data["macs"] > 0 and data["params"] > 0
    assert data["figure"] == str(out) and out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_json_numbers_match_the_library(tmp_path):
    from helpers.costs import conv_cost

    r = run("--mode", "depthwise", "--kernel", "box:5", "--stride", "2", "--json", "--no-figure",
            "--image", ROOT / "images" / "grace_hopper.png")
    data = json.loads(r.stdout)
    cost = conv_cost("depthwise", (256, 218, 3), 5, stride=2)
    assert data["macs"] == cost.macs and tuple(data["output_shape"]) == cost.out_shape
    assert data["figure"] is None


def test_kernel_files_and_names(tmp_path):
    np.save(tmp_path / "k.npy", np.ones((3, 3, 3, 2)))
    (tmp_path / "k.csv").write_text("1, 0\n0, 1\n0.5, 0.5\n")
    (tmp_path / "k.txt").write_text("# a sharpen kernel\n0 -1 0\n-1 5 -1\n0 -1 0\n")
    for args in (["--mode", "standard", "--kernel", tmp_path / "k.npy"],
                 ["--mode", "pointwise", "--kernel", tmp_path / "k.csv"],
                 ["--mode", "depthwise", "--kernel", tmp_path / "k.txt"],
                 ["--mode", "pointwise", "--kernel", "grayscale"],
                 ["--mode", "depthwise_separable", "--kernel", "gaussian:5", "--weights", "ycbcr"],
                 ["--mode", "standard", "--kernel", "sobel_x", "--padding", "valid"],
                 ["--mode", "depthwise", "--kernel", "emboss", "--padding", "2", "--dilation", "2"]):
        r = run(*args, "--json", "--no-figure")
        assert r.returncode == 0, (args, r.stderr)
    r = run("--mode", "spatial_separable", "--kernel", "laplacian", "--json", "--no-figure")
    assert "rank 2" in json.loads(r.stdout)["notes"][0]


def test_help_has_examples():
    r = run("--help")
    assert r.returncode == 0 and "--mode depthwise" in r.stdout and "examples:" in r.stdout


def _bad_inputs(tmp: Path):
    (tmp / "empty.txt").write_text("")
    (tmp / "words.csv").write_text("1, 2\nthree, 4\n")
    (tmp / "ragged.txt").write_text("1 2 3\n4 5\n")
    (tmp / "notimage.png").write_text("hello")
    (tmp / "nan.txt").write_text("1 nan\n0 1\n")
    np.save(tmp / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp / "pickled.npy").write_bytes(pickle.dumps({"kernel": [1, 2, 3]}))
    np.save(tmp / "k4.npy", np.ones((3, 3, 4)))
    np.save(tmp / "w.npy", np.ones((4, 2)))
    np.save(tmp / "big.npy", np.ones((301, 301)))
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp / "tiny.png")
    (tmp / "locked").mkdir()
    (tmp / "locked").chmod(0o500)
    return [
        (["--image", tmp / "missing.png"], "not found"),
        (["--image", tmp / "notimage.png"], "not an image"),
        (["--kernel", tmp / "missing.npy"], "not found"),
        (["--kernel", tmp / "empty.txt"], "empty"),
        (["--kernel", tmp / "words.csv"], "non-numeric"),
        (["--kernel", tmp / "ragged.txt"], "different lengths"),
        (["--kernel", tmp / "nan.txt"], "NaN"),
        (["--kernel", tmp / "obj.npy"], "pickled"),
        (["--kernel", tmp / "pickled.npy"], "npy"),
        (["--kernel", tmp / "k4.npy"], "4 channels but the image has 3"),
        (["--mode", "pointwise", "--kernel", tmp / "w.npy"], r"C_in = 3"),
        (["--kernel", tmp / "big.npy", "--padding", "valid"], "larger than"),
        (["--image", tmp / "tiny.png", "--kernel", "box:7", "--padding", "valid"], "larger than"),
        (["--stride", "0"], "stride must be a positive integer"),
        (["--dilation", "-2"], "dilation must be a positive integer"),
        (["--padding", "-1"], "padding must be"),
        (["--padding", "full"], "padding must be"),
        (["--mode", "dilated"], "invalid choice"),
        (["--kernel", "blur"], "unknown kernel"),
        (["--mode", "pointwise", "--kernel", "sepia"], "unknown pointwise"),
        (["--output", tmp / "nowhere" / "out.png"], "does not exist"),
        (["--output", tmp / "locked" / "out.png"], "not writable"),
        (["--output", tmp / "out.gif"], "must end in"),
        (["--output", tmp], "folder"),
        (["--output", tmp / "empty.txt" / "out.png"], "does not exist"),
        (["--output", "/proc/convolution_out.png"], "(not writable|cannot write)"),
    ]


def test_bad_inputs_get_one_line_and_exit_2(tmp_path):
    cases = _bad_inputs(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    root_before = sorted(p.name for p in ROOT.iterdir())
    for args, message in cases:
        if "locked" in str(args[-1]) and os.access(tmp_path / "locked", os.W_OK):
            continue  # running as root: a read-only folder is still writable, nothing to test
        r = run(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, (args, r.stderr)
        assert lines[0].startswith("convolution_program.py: error: "), lines
        assert re.search(message, lines[0]), (args, lines[0])
        assert "Traceback" not in r.stderr and r.stdout == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written, no temp files
    assert sorted(p.name for p in ROOT.iterdir()) == root_before


def test_failure_after_start_leaves_no_file(tmp_path):
    """A kernel/image mismatch is found before the figure is written: no file, no temp file."""
    np.save(tmp_path / "k.npy", np.ones((3, 3, 5)))
    r = run("--kernel", tmp_path / "k.npy", "--output", tmp_path / "fig.png")
    assert r.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.npy"]


def test_rgba_and_16_bit_images(tmp_path):
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    r = run("--image", tmp_path / "a.png", "--no-figure")
    assert r.returncode == 0 and "alpha" in r.stdout
    Image.fromarray(np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 60).save(tmp_path / "g16.png")
    r = run("--image", tmp_path / "g16.png", "--no-figure", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["image_shape"] == [32, 32]


def test_show_without_display_is_a_note(tmp_path):
    r = run("--show", "--output", tmp_path / "f.png")
    assert r.returncode == 0 and "no display" in r.stdout


def test_main_in_process(tmp_path, capsys):
    from helpers.cli import main

    assert main(["--mode", "pointwise", "--kernel", "swap_rb", "--output", str(tmp_path / "x.svg")]) == 0
    assert (tmp_path / "x.svg").read_text().startswith("<?xml")
    assert main(["--stride", "x"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
