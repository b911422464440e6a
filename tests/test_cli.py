"""The homework's program, run as a learner runs it."""

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "convolution_program.py"


def headless_env(**extra):
    """The environment without a display (a run with one would open a window and wait for it to close)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    return {**env, **extra}


def run(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, str(PROGRAM), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env or headless_env())


@pytest.mark.parametrize("mode", ["depthwise", "pointwise"])
def test_seed_commands_exactly_as_written(mode):
    """`python convolution_program.py --mode depthwise|pointwise` from the repo root, nothing else."""
    figure = ROOT / f"convolution_{mode}.png"
    figure.unlink(missing_ok=True)
    try:
        r = subprocess.run(["python" if os.environ.get("CI_USE_PATH_PYTHON") else sys.executable,
                            "convolution_program.py", "--mode", mode], cwd=ROOT, capture_output=True, text=True,
                           timeout=120, env=headless_env())
        assert r.returncode == 0, r.stderr
        assert f"mode    : {mode}" in r.stdout
        assert "shape (256, 256, 3)" in r.stdout and "MACs" in r.stdout and "FLOPs" in r.stdout
        assert "time    :" in r.stdout and f"figure  : convolution_{mode}.png" in r.stdout
        # no display here: it says so, and where the figure went
        assert (f"window  : none: no display here (DISPLAY and WAYLAND_DISPLAY are not set); the figure is saved "
                f"in {figure}") in r.stdout.splitlines()
        with Image.open(figure) as im:
            assert im.format == "PNG" and im.size[0] > 500
    finally:
        figure.unlink(missing_ok=True)


@pytest.fixture
def in_process(monkeypatch, capsys):
    """Run the program's main() in this process (much faster than a new Python), headless."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND"):
        monkeypatch.delenv(name, raising=False)
    from helpers.cli import main

    def call(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return call


@pytest.mark.parametrize("mode,expect_channels", [
    ("standard", 2), ("spatial_separable", 3), ("depthwise_separable", 3), ("depthwise", 3), ("pointwise", 3),
])
def test_every_mode_json(tmp_path, mode, expect_channels, in_process):
    out = tmp_path / "fig.png"
    r = in_process("--mode", mode, "--json", "--output", out)
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


def test_kernel_files_and_names(tmp_path, in_process):
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
        r = in_process(*args, "--json", "--no-figure")
        assert r.returncode == 0, (args, r.stderr)
    r = in_process("--mode", "spatial_separable", "--kernel", "laplacian", "--json", "--no-figure")
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


def test_bad_inputs_get_one_line_and_exit_2(tmp_path, in_process):
    cases = _bad_inputs(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    root_before = sorted(p.name for p in ROOT.iterdir())
    for i, (args, message) in enumerate(cases):
        if "locked" in str(args[-1]) and os.access(tmp_path / "locked", os.W_OK):
            continue  # running as root: a read-only folder is still writable, nothing to test
        r = run(*args) if i % 8 == 0 else in_process(*args)  # every 8th case as a real process
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
    assert r.returncode == 0 and "window  : none: no display here" in r.stdout
    assert f"the figure is saved in {tmp_path / 'f.png'}" in r.stdout


@pytest.mark.parametrize(("args", "env", "window"), [
    (["--no-show"], {"DISPLAY": ":0"}, "not opened (--no-show)"),
    (["--json"], {"DISPLAY": ":0"}, "not opened (--json; add --show to open one)"),
    ([], {"DISPLAY": ":0", "MPLBACKEND": "Agg"},
     "none: matplotlib's backend 'Agg' cannot open windows (MPLBACKEND=Agg)"),
    ([], {"DISPLAY": ":0", "MPLBACKEND": "module://matplotlib_inline.backend_inline"},
     "none: run from a notebook (matplotlib's inline backend has no windows); the figure is saved in"),
    ([], {"WAYLAND_DISPLAY": "wayland-h15-none", "MPLBACKEND": "Agg"}, "none: matplotlib's backend 'Agg'"),
    (["--no-figure"], {}, "none: no display here (DISPLAY and WAYLAND_DISPLAY are not set); no figure saved"),
])
def test_when_there_is_no_window_the_summary_says_why(tmp_path, args, env, window):
    """The window decision: --no-show and --json never open one; a display needs an interactive
    matplotlib backend too (the notebook's inline backend, or Agg, has none)."""
    r = run("--output", tmp_path / "f.png", *args, env=headless_env(**env))
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)["window"] if "--json" in args else \
        next(ln for ln in r.stdout.splitlines() if ln.startswith("window  : ")).removeprefix("window  : ")
    assert shown.startswith(window), shown


def _xvfb(tmp_path):
    """Start a virtual X display (Debian's xvfb) and return (process, DISPLAY), or skip."""
    import shutil

    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        if os.environ.get("REQUIRE_XVFB"):
            pytest.fail("Xvfb and xdotool are required here (REQUIRE_XVFB=1): apt install xvfb xdotool")
        pytest.skip("Xvfb and xdotool are not installed (apt install xvfb xdotool)")
    pytest.importorskip("tkinter")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        pytest.skip("Xvfb did not start")
    return proc, f":{number}"


def test_with_a_display_the_figure_opens_in_a_window(tmp_path):
    """Under a real (virtual) X server the seed command saves the figure, prints the summary,
    opens a window and waits; pressing q in the window (matplotlib's quit key) ends it."""
    xvfb, display = _xvfb(tmp_path)
    env = headless_env(DISPLAY=display)
    try:
        proc = subprocess.Popen([sys.executable, str(PROGRAM), "--mode", "depthwise"], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("window"):
                break
        assert lines[-1].startswith("window  : opened with matplotlib's") and lines[-1].endswith("close it to finish")
        assert (tmp_path / "convolution_depthwise.png").exists()  # saved before the window opens
        title = "convolution_program.py --mode depthwise"
        deadline, wid = time.monotonic() + 30, ""
        while time.monotonic() < deadline and not wid:
            wid = subprocess.run(["xdotool", "search", "--name", title], env=env, capture_output=True,
                                 text=True).stdout.split()[:1]
            wid = wid[0] if wid else ""
            time.sleep(0.1)
        assert wid, "no window appeared"
        assert proc.poll() is None  # it waits for the window to be closed
        time.sleep(0.3)
        subprocess.run(["xdotool", "mousemove", "--window", wid, "40", "40", "key", "q"], env=env, check=True)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and err == "", err
    finally:
        if proc.poll() is None:
            proc.kill()
        xvfb.terminate()
        xvfb.wait(timeout=10)


def test_signal_closes_the_window(tmp_path):
    """SIGTERM while the window is open ends the program cleanly (a Tk main loop would
    otherwise keep it alive until the next GUI event)."""
    xvfb, display = _xvfb(tmp_path)
    try:
        proc = subprocess.Popen([sys.executable, str(PROGRAM), "--mode", "pointwise"], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=headless_env(DISPLAY=display))
        for line in proc.stdout:
            if line.startswith("window"):
                break
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 128 + signal.SIGTERM
        assert err.strip() == ("convolution_program.py: error: interrupted (SIGTERM); the figure is saved in "
                               "convolution_pointwise.png")
    finally:
        if proc.poll() is None:
            proc.kill()
        xvfb.terminate()
        xvfb.wait(timeout=10)


def test_main_in_process(tmp_path, capsys):
    from helpers.cli import main

    assert main(["--mode", "pointwise", "--kernel", "swap_rb", "--output", str(tmp_path / "x.svg")]) == 0
    assert (tmp_path / "x.svg").read_text().startswith("<?xml")
    assert main(["--stride", "x"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_readme_shows_the_real_summary(tmp_path, in_process, monkeypatch):
    """The README's example summary is what the seed command prints (time and window aside)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## The program", 1)[1].split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    monkeypatch.chdir(ROOT)
    r = in_process("--mode", "depthwise", "--output", tmp_path / "convolution_depthwise.png")
    printed = r.stdout.replace(str(tmp_path / "convolution_depthwise.png"), "convolution_depthwise.png").splitlines()

    def steady(lines):
        return [ln for ln in lines if not ln.startswith(("time    :", "window  :"))]

    assert steady(block) == steady(printed)
    assert [ln[:10] for ln in block] == [ln[:10] for ln in printed]
