"""The program and the library against hostile input (issue 15).

Every case is either refused with one line naming the problem (the program: exit code
2, nothing written, no input touched; the library: a ValueError) or handled correctly.
Most runs are in-process (``cli.main``) to keep the suite fast; the cases that need a
real process (signals, closed or full stdout, a missing package) start one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import cli, conv, kernels
from helpers.costs import conv_cost

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "convolution_program.py"
PREFIX = "convolution_program.py: error: "


def headless_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    env.update(extra)
    return env


def run_process(*args, cwd=ROOT, env=None, **kw):
    return subprocess.run([sys.executable, str(PROGRAM), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env or headless_env(), **kw)


def snapshot(folder: Path) -> dict:
    """Every entry under ``folder`` (hidden ones too) with its size, mtime and inode."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns, p.lstat().st_ino)
            for p in sorted(folder.rglob("*"))}


def main_in_process(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(code: int, out: str, err: str, pattern: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith(PREFIX), err
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in err and out == ""


def png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG that declares width x height 8-bit RGB pixels and holds none."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) +
                     chunk(b"IEND", b""))


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A scratch folder as the working directory, with a small RGB image in it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    return tmp_path


# ------------------------------------------------------------ never destroy a file
@pytest.mark.parametrize("make_output", [
    pytest.param(lambda d: d / "in.png", id="same-path"),
    pytest.param(lambda d: (d / "link.png").symlink_to(d / "in.png") or d / "link.png", id="symlink-to-input"),
    pytest.param(lambda d: os.link(d / "in.png", d / "hard.png") or d / "hard.png", id="hard-link-to-input"),
    pytest.param(lambda d: Path("./sub/../in.png"), id="other-spelling"),
])
def test_output_that_is_the_input_is_refused(work, capsys, make_output):
    (work / "sub").mkdir()
    output = make_output(work)
    before = snapshot(work)
    code, out, err = main_in_process(capsys, "--image", "in.png", "--output", output, "--no-show")
    assert_refused(code, out, err, r"is the image file .*destroy it")
    assert snapshot(work) == before


def test_input_through_a_symlink_is_protected_too(work, capsys):
    (work / "link.png").symlink_to(work / "in.png")
    before = snapshot(work)
    code, out, err = main_in_process(capsys, "--image", "link.png", "--output", "in.png", "--no-show")
    assert_refused(code, out, err, "same file by another name")
    assert snapshot(work) == before


def test_default_output_of_a_default_run_is_not_the_input(work, capsys):
    """An earlier figure used as the image: the default output would overwrite it."""
    (work / "in.png").rename(work / "convolution_depthwise.png")
    before = snapshot(work)
    code, out, err = main_in_process(capsys, "--image", "convolution_depthwise.png", "--no-show")
    assert_refused(code, out, err, r"default output of this mode\) is the image file")
    assert snapshot(work) == before


def test_shipped_files_are_never_overwritten(work, capsys):
    shipped = snapshot(ROOT / "images")
    code, out, err = main_in_process(capsys, "--output", ROOT / "images" / "test_card.png", "--no-show")
    assert_refused(code, out, err, "is the image file")
    code, out, err = main_in_process(capsys, "--output", ROOT / "images" / "grace_hopper.png", "--no-show")
    assert_refused(code, out, err, "shipped sample images/grace_hopper.png")
    assert snapshot(ROOT / "images") == shipped


def test_kernel_file_is_an_input_too(work, capsys):
    """A kernel file given a figure suffix is refused as a kernel, and never overwritten."""
    np.save(work / "k.npy", np.ones((3, 3, 3)))
    os.link(work / "k.npy", work / "k_alias.png")
    before = snapshot(work)
    code, out, err = main_in_process(capsys, "--image", "in.png", "--kernel", "k.npy", "--output", "k_alias.png",
                                     "--no-show")
    assert_refused(code, out, err, "is the kernel file")
    assert snapshot(work) == before


def test_replacing_an_output_keeps_its_permissions_and_symlink(work, capsys):
    """Decided: the file a symlink points to is replaced (the link stays a link) and the
    permission bits of an existing file are kept; a new file gets 0666 & ~umask."""
    (work / "target.png").write_bytes(b"old")
    os.chmod(work / "target.png", 0o600)
    (work / "link.png").symlink_to("target.png")
    code, _, err = main_in_process(capsys, "--image", "in.png", "--output", "link.png", "--no-show")
    assert code == 0, err
    assert (work / "link.png").is_symlink() and os.readlink(work / "link.png") == "target.png"
    assert (work / "target.png").stat().st_mode & 0o777 == 0o600
    with Image.open(work / "target.png") as im:
        assert im.format == "PNG"
    umask = os.umask(0)
    os.umask(umask)
    assert main_in_process(capsys, "--image", "in.png", "--output", "new.png", "--no-show")[0] == 0
    assert (work / "new.png").stat().st_mode & 0o777 == 0o666 & ~umask
    assert not [p for p in work.iterdir() if p.name.startswith(".")]


def test_non_regular_output_is_refused(work, capsys):
    os.mkfifo(work / "pipe.png")
    before = snapshot(work)
    code, out, err = main_in_process(capsys, "--image", "in.png", "--output", "pipe.png", "--no-show")
    assert_refused(code, out, err, "not a regular file")
    assert snapshot(work) == before


def _temp_file_appears_then_signal(folder: Path, sig: int) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Start a run whose figure takes a while to save, send ``sig`` once its temporary file exists."""
    np.save(folder / "wide.npy", np.random.default_rng(0).standard_normal((3, 16)))
    noise = np.random.default_rng(1).integers(0, 256, (400, 400, 3), dtype=np.uint8)  # slow to compress
    Image.fromarray(noise).save(folder / "noise.png")
    proc = subprocess.Popen(
        [sys.executable, str(PROGRAM), "--mode", "pointwise", "--kernel", "wide.npy", "--image", "noise.png",
         "--output", "fig.svg", "--no-show"],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=headless_env(),
        # as from a terminal: a test run started in the background (CI) inherits SIGINT ignored, and a
        # program rightly keeps ignoring what its parent told it to ignore
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline, seen = time.monotonic() + 60, []
    while time.monotonic() < deadline and proc.poll() is None:
        seen = [p.name for p in folder.iterdir() if p.name.startswith(".fig-")]
        if seen:
            proc.send_signal(sig)
            break
        time.sleep(0.002)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), seen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_saving_leaves_no_temporary_file(tmp_path, sig):
    for _ in range(5):  # the save can finish between seeing its temporary file and the signal landing
        r, seen = _temp_file_appears_then_signal(tmp_path, sig)
        assert seen, f"the figure was saved before a temporary file was seen: {r.stdout}"
        if r.returncode != 0:
            break
        # the run won the race: a complete figure and no temporary file; try again
        assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.svg", "noise.png", "wide.npy"]
        (tmp_path / "fig.svg").unlink()
    assert r.returncode == 128 + sig, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip().splitlines() == [f"{PREFIX}interrupted ({signal.Signals(sig).name}); "
                                             "no figure was left half-written"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise.png", "wide.npy"]


def test_summary_print_failures_after_the_figure_are_one_line(tmp_path):
    small = tmp_path / "small.png"  # a small image keeps the four runs quick
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(small)
    # stdout closed before the program starts: the figure is still written, no traceback
    command = f'"{sys.executable}" "{PROGRAM}" --no-show --image small.png'
    r = subprocess.run(f"{command} --output a.png >&-", shell=True, cwd=tmp_path, capture_output=True, text=True,
                       timeout=120, env=headless_env())
    assert r.returncode == 0 and r.stderr == "" and (tmp_path / "a.png").exists()
    # stdout full (Linux's /dev/full): one line saying the figure was saved, exit 1
    if Path("/dev/full").exists():
        with open("/dev/full", "w") as full:
            r = subprocess.run([sys.executable, str(PROGRAM), "--no-show", "--image", small, "--output",
                                tmp_path / "b.png"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
                                env=headless_env())
        assert r.returncode == 1 and (tmp_path / "b.png").exists()
        assert r.stderr.strip().splitlines() == [f"{PREFIX}could not print the summary (No space left on device); "
                                                 f"the figure was saved to {tmp_path / 'b.png'}"]
    else:
        Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "b.png")
    # a reader that stops early (| head -1) is not an error
    r = subprocess.run(f"{command} --output c.png | head -1", shell=True, cwd=tmp_path, capture_output=True,
                       text=True, timeout=120, env=headless_env())
    assert r.stdout.startswith("mode    : depthwise") and r.stderr == ""
    # a path the terminal cannot encode is escaped, not a traceback
    name = tmp_path / "ñame✓.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(name)
    r = run_process("--image", name, "--no-figure", cwd=tmp_path, env=headless_env(PYTHONIOENCODING="ascii"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "\\xf1ame\\u2713.png" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "c.png", "small.png", "ñame✓.png"]


def test_missing_package_is_one_line(tmp_path):
    """Without site-packages NumPy is missing: one line naming it and how to install it."""
    r = subprocess.run([sys.executable, "-S", str(PROGRAM), "--mode", "depthwise"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60, env=headless_env())
    if r.returncode == 0:
        pytest.skip("NumPy is importable without site-packages here")
    assert r.returncode == 2 and r.stdout == "" and list(tmp_path.iterdir()) == []
    assert r.stderr.strip().splitlines() == [
        f"{PREFIX}the Python package numpy is missing or broken (No module named 'numpy'); install it with "
        "'python -m pip install numpy' (the program needs Python >= 3.10, NumPy, matplotlib and Pillow)"]


def test_missing_package_inside_the_run_is_one_line(work, capsys, monkeypatch):
    """A dependency that is only imported while running (Pillow, matplotlib) gets the same line."""
    monkeypatch.setitem(sys.modules, "PIL", None)  # what Python does for a package that cannot be imported
    code, out, err = main_in_process(capsys, "--image", "in.png", "--no-figure", "--no-show")
    assert_refused(code, out, err, r"package Pillow is missing .*pip install Pillow")


# ------------------------------------------------------ bounded work and memory
def test_decompression_bomb_is_refused_before_decoding(work, capsys):
    png_header_only(work / "bomb.png", 60000, 60000)
    code, out, err = main_in_process(capsys, "--image", "bomb.png", "--no-show")
    assert_refused(code, out, err, r"60000x60000 = 3,600,000,000 pixels \(H x W\), more than the limit of 16,777,216.*"
                                   r"--max-pixels")


def test_pixel_limit_flag(work, capsys):
    code, out, err = main_in_process(capsys, "--image", "in.png", "--max-pixels", "100", "--no-figure", "--no-show")
    assert_refused(code, out, err, r"12x10 = 120 pixels \(H x W\), more than the limit of 100")
    assert main_in_process(capsys, "--image", "in.png", "--max-pixels", "120", "--no-figure", "--no-show")[0] == 0


def test_raising_the_pixel_limit_reaches_the_decoder_error(work, capsys):
    """Above the limit the header is all there is: the decoder's error becomes the one line."""
    png_header_only(work / "bomb.png", 60000, 60000)
    code, out, err = main_in_process(capsys, "--image", "bomb.png", "--max-pixels", "4e9", "--no-show")
    assert_refused(code, out, err, r"cannot read image bomb.png")


@pytest.mark.parametrize("make", [
    pytest.param(lambda d: os.mkfifo(d / "x"), id="fifo"),
    pytest.param(lambda d: (d / "x").symlink_to("/dev/zero"), id="dev-zero"),
    pytest.param(lambda d: (d / "x").mkdir(), id="folder"),
])
@pytest.mark.parametrize("args", [
    ["--image", "./x", "--no-figure"],
    ["--image", "in.png", "--kernel", "./x"],
    ["--mode", "depthwise_separable", "--image", "in.png", "--weights", "./x"],
], ids=["image", "kernel", "weights"])
def test_non_regular_inputs_are_refused_without_reading(work, capsys, make, args):
    make(work)
    before = snapshot(work)
    code, out, err = main_in_process(capsys, *args, "--no-show")
    assert_refused(code, out, err, r"(a FIFO \(named pipe\)|a device|a folder), not a regular file|is a folder")
    assert snapshot(work) == before


def test_kernel_files_are_read_with_a_size_limit(work, capsys):
    (work / "big.txt").write_bytes(b"1 " * (cli.MAX_KERNEL_FILE_BYTES // 2 + 1))
    code, out, err = main_in_process(capsys, "--image", "in.png", "--kernel", "big.txt", "--no-show")
    assert_refused(code, out, err, r"larger than 16\.0 MiB")
    with pytest.raises(cli.UsageError, match="larger than 1.0 KiB"):
        cli.read_kernel_file(work / "big.txt", max_bytes=1024)


def test_npy_header_that_lies_about_its_size(work, capsys):
    """A .npy declaring 10^12 float64 entries and holding 9: refused without allocating 8 TB."""
    with open(work / "liar.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
        f.write(np.ones(9).tobytes())
    code, out, err = main_in_process(capsys, "--image", "in.png", "--kernel", "liar.npy", "--no-show")
    assert_refused(code, out, err, r"not a valid \.npy file")


@pytest.mark.parametrize(("args", "message"), [
    (["--kernel", "gaussian:1001"], r"cost 197\.00 G MACs .* more than the limit of 10\.00 G MACs.*--max-macs 2e11"),
    (["--kernel", "box:20000"], r"kernel size 20000x20000 is too large"),
    (["--kernel", "gaussian:100000"], r"too large"),
    (["--padding", "100000"], r"--max-macs"),
    (["--padding", "20000", "--max-macs", "1e15"], r"need about 36\.2 GiB of memory .*--max-memory 37G"),
    (["--dilation", "1000000"], r"87\.3 TiB .*padded rows"),
    (["--dilation", "100000", "--max-memory", "10T"], r"helpers\.conv\.MAX_BYTES"),
    (["--mode", "spatial_separable", "--kernel", "box:2048"], r"--max-macs"),
    (["--mode", "standard", "--stride", "2", "--kernel", "random:700"], r"G MACs"),
])
def test_far_too_costly_runs_are_refused_before_they_start(work, capsys, args, message):
    t0 = time.perf_counter()
    code, out, err = main_in_process(capsys, "--image", ROOT / "images" / "test_card.png", *args, "--no-show")
    assert_refused(code, out, err, message)
    assert time.perf_counter() - t0 < 5  # refused from the estimate, not after computing
    assert list(work.iterdir()) == [work / "in.png"]


def test_huge_stride_is_one_output_pixel(work, capsys):
    code, out, err = main_in_process(capsys, "--image", "in.png", "--stride", "1000000000000", "--json",
                                     "--no-figure")
    assert code == 0, err
    assert json.loads(out)["output_shape"] == [1, 1, 3]


def test_raised_limits_let_a_big_run_through(work, capsys):
    code, out, err = main_in_process(capsys, "--image", "in.png", "--kernel", "gaussian:1001", "--json",
                                     "--no-figure", "--max-macs", "1e12")
    assert code == 0, err
    assert json.loads(out)["macs"] == conv_cost("depthwise", (12, 10, 3), 1001).macs


def test_many_output_channels_figure_is_bounded(work, capsys):
    np.save(work / "w.npy", np.random.default_rng(0).standard_normal((3, 3000)))
    t0 = time.perf_counter()
    code, out, err = main_in_process(capsys, "--mode", "pointwise", "--image", "in.png", "--kernel", "w.npy",
                                     "--output", "fig.png", "--no-show")
    assert code == 0, err
    assert "the figure shows the first 16 of the 3000 output channels" in out
    assert time.perf_counter() - t0 < 20
    with Image.open(work / "fig.png") as im:
        assert im.size[0] < 2000 and im.size[1] < 2000


def test_large_output_is_drawn_from_every_nth_pixel(work, capsys):
    Image.fromarray(np.zeros((2100, 40, 3), np.uint8)).save(work / "tall.png")
    code, out, err = main_in_process(capsys, "--image", "tall.png", "--output", "fig.png", "--no-show")
    assert code == 0, err
    assert "the figure draws one pixel in 3 along each axis of the 2100x40 output" in out


def test_overflow_is_named(work, capsys):
    np.save(work / "huge.npy", np.full((3, 3), 1e308))
    before = snapshot(work)
    code, out, err = main_in_process(capsys, "--image", "in.png", "--kernel", "huge.npy", "--output", "f.png",
                                     "--no-show")
    assert_refused(code, out, err, r"the result overflowed float64: some values are beyond ±1\.8e\+308")
    assert snapshot(work) == before


def test_values_near_the_float_limit_are_drawn(work, capsys):
    """Finite but huge results (no overflow) are drawn scaled, with a note, not a colorbar OverflowError."""
    np.save(work / "big.npy", np.full((1, 1), 1e307))
    code, out, err = main_in_process(capsys, "--image", "in.png", "--kernel", "big.npy", "--output", "f.png",
                                     "--no-show")
    assert code == 0, err
    assert re.search(r"the figure shows the output divided by 1e\+30[67]", out), out
    assert (work / "f.png").exists()


def test_nan_in_a_float_image_is_refused(work, capsys):
    img = np.full((4, 4), np.nan, dtype=np.float32)
    Image.fromarray(img).save(work / "nan.tiff")
    code, out, err = main_in_process(capsys, "--image", "nan.tiff", "--no-figure", "--no-show")
    assert_refused(code, out, err, "contains NaN or infinity")


# ----------------------------------------------------------- silent wrong results
def test_file_named_like_a_kernel_does_not_replace_it(work, capsys):
    (work / "sobel_x").write_text("0 0 0\n0 1 0\n0 0 0\n")
    code, out, err = main_in_process(capsys, "--image", "in.png", "--kernel", "sobel_x", "--json", "--no-figure")
    data = json.loads(out)
    assert code == 0 and data["kernel"] == "sobel_x"
    assert any("is the named kernel; the file sobel_x in this folder was not read (write ./sobel_x" in n
               for n in data["notes"])
    image = cli.load_image(work / "in.png")
    code, out, _ = main_in_process(capsys, "--image", "in.png", "--kernel", "./sobel_x", "--json", "--no-figure")
    assert code == 0 and json.loads(out)["kernel"] == "./sobel_x" and not json.loads(out)["notes"]
    # the named kernel really was the one used
    np.testing.assert_array_equal(cli.convolve(image, kernels.sobel_x(), "depthwise")[0],
                                  conv.depthwise_conv2d(image, kernels.sobel_x()))


def test_unknown_name_matching_a_file_says_how_to_read_it(work, capsys):
    (work / "mykernel").write_text("1\n")
    code, out, err = main_in_process(capsys, "--image", "in.png", "--kernel", "mykernel", "--no-show")
    assert_refused(code, out, err, r"unknown kernel 'mykernel'.*to read the file mykernel, write ./mykernel")
    (work / "grayscale").write_text("1\n")
    code, out, err = main_in_process(capsys, "--mode", "pointwise", "--image", "in.png", "--kernel", "grayscale",
                                     "--json", "--no-figure")
    assert code == 0 and "the file grayscale in this folder was not read" in json.loads(out)["notes"][0]


def test_complex_npy_kernel_is_refused(work, capsys):
    np.save(work / "c.npy", np.ones((3, 3)) + 0j)
    code, out, err = main_in_process(capsys, "--image", "in.png", "--kernel", "c.npy", "--no-show")
    assert_refused(code, out, err, r"holds complex numbers \(complex128\)")
    assert "ComplexWarning" not in err


@pytest.mark.parametrize(("name", "data"), [
    ("bom.txt", b"\xef\xbb\xbf0 -1 0\r\n-1 5 -1\r\n0 -1 0\r\n"),
    ("crlf.csv", b"0,-1,0\r\n-1,5,-1\r\n0,-1,0\r\n"),
    ("cr_only.txt", b"0 -1 0\r-1 5 -1\r0 -1 0\r"),
    ("semicolons.csv", b"0;-1;0\n-1;5;-1\n0;-1;0\n"),
    ("tabs.tsv", b"0\t-1\t0\n-1\t5\t-1\n0\t-1\t0"),
    ("utf16.txt", "0 -1 0\r\n-1 5 -1\r\n0 -1 0\r\n".encode("utf-16")),
    ("excel.csv", b"\xef\xbb\xbf0,-1,0,\r\n-1,5,-1,\r\n0,-1,0,\r\n"),
])
def test_kernel_text_files_from_common_editors(work, name, data):
    (work / name).write_bytes(data)
    np.testing.assert_array_equal(cli.read_kernel_file(work / name), kernels.sharpen())


def test_non_utf8_kernel_text_is_named(work):
    (work / "latin1.txt").write_bytes("1 0 \xe9\n".encode("latin-1"))
    with pytest.raises(cli.UsageError, match="not UTF-8 text"):
        cli.read_kernel_file(work / "latin1.txt")


def test_repeated_or_abbreviated_options_are_refused(work, capsys):
    code, out, err = main_in_process(capsys, "--mode", "depthwise", "--mode", "pointwise")
    assert_refused(code, out, err, "--mode: given twice")
    code, out, err = main_in_process(capsys, "--out", "x.png")
    assert_refused(code, out, err, "unrecognized arguments: --out")
    code, out, err = main_in_process(capsys, "--show", "--no-show")
    assert_refused(code, out, err, "not allowed with argument")
    code, out, err = main_in_process(capsys, "--stride", "9" * 5000)
    assert_refused(code, out, err, r"stride must be a positive integer, got '9{37}\.\.\.'")
    code, out, err = main_in_process(capsys, "--kernel", "gaussian:\u0663")  # an Arabic-Indic digit
    assert_refused(code, out, err, "kernel size in")
    assert list(work.iterdir()) == [work / "in.png"]


# ------------------------------------------------------------ the library's errors
def test_library_refuses_absurd_allocations():
    x = np.zeros((64, 64, 3))
    for call in (lambda: conv.depthwise_conv2d(x, np.ones((3, 3, 3)), padding=10**5),
                 lambda: conv.depthwise_conv2d(x, np.ones((3, 3, 3)), dilation=10**6),
                 lambda: conv.depthwise_separable_conv2d(x, np.ones((3, 3, 3)), np.ones((3, 2)), dilation=10**6),
                 lambda: conv.spatial_separable_conv2d(x, np.ones(3), np.ones(3), padding=10**6),
                 lambda: conv.conv2d(x, np.ones((3, 3, 3, 2)), padding=10**6),
                 lambda: conv.pointwise_conv2d(np.broadcast_to(np.zeros(1), (2**15, 2**15, 1)), np.ones((1, 2**16)))):
        with pytest.raises(ValueError, match=r"would need about .* more than helpers\.conv\.MAX_BYTES"):
            call()


def test_library_huge_stride_gives_one_pixel():
    x = np.random.default_rng(0).standard_normal((9, 7, 3))
    k = np.random.default_rng(1).standard_normal((3, 3, 3, 2))
    for stride in (10**12, 50):
        got = conv.depthwise_conv2d(x, k, stride=stride)
        np.testing.assert_allclose(got, conv.depthwise_conv2d_loop(x, k, stride=9), atol=1e-12)
        np.testing.assert_allclose(conv.conv2d(x, k, stride=stride), conv.conv2d_loop(x, k, stride=9), atol=1e-12)


def test_channels_first_images_get_the_convention():
    chw = np.zeros((3, 224, 224))
    for call in (lambda: conv.depthwise_conv2d(chw, np.ones((3, 3, 3))),
                 lambda: conv.conv2d(chw, np.ones((3, 3, 3, 8))),
                 lambda: conv.pointwise_conv2d(chw, np.ones((3, 8))),
                 lambda: conv.depthwise_separable_conv2d(chw, np.ones((3, 3, 3)), np.ones((3, 8)))):
        with pytest.raises(ValueError, match=r"images are channels-last \(H, W, C\).*channels-first \(C, H, W\).*"
                                             r"transpose\(1, 2, 0\)"):
            call()
    # a real mismatch that is not channels-first gets no such hint
    with pytest.raises(ValueError) as info:
        conv.depthwise_conv2d(np.zeros((8, 8, 3)), np.ones((3, 3, 4)))
    assert "channels-first" not in str(info.value)


def test_overflow_and_nan_have_distinct_messages():
    x32 = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ValueError, match=r"values up to 1e\+300, beyond the range of float32"):
        conv.depthwise_conv2d(x32, np.full((3, 3), 1e300))
    with pytest.raises(ValueError, match="contains NaN or infinity"):
        conv.depthwise_conv2d(x32, np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="is complex"):
        conv.conv2d(x32, np.ones((3, 3, 3, 1)) * 1j)
    with pytest.raises(ValueError, match="pointwise weights is complex"):
        conv.pointwise_conv2d(x32, np.ones((3, 1)) + 0j)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: conv.output_size((5, 5), 2.5), r"kernel size must be a positive integer .* got 2\.5"),
    (lambda: conv.output_size((5, 5), (3, True)), "kernel size"),
    (lambda: conv.output_size((5, 5), (3, 3, 3)), "kernel size"),
    (lambda: conv.depthwise_conv2d(np.zeros((5, 5)), np.ones((3, 3)), stride=2.0), "stride must be"),
    (lambda: conv.depthwise_separable_conv2d(np.zeros((5, 5, 1)), np.ones((3, 3)), np.ones((1, 1)), stride=2.0),
     "stride must be"),
    (lambda: conv.depthwise_conv2d(np.zeros((5, 5)), np.ones((3, 3)), padding=True), "padding must be"),
])
def test_library_arguments_are_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(("call", "message"), [
    (lambda: conv.output_size((5.5, 5), 3), r"in_size must be \(H, W\) with positive integers, got \(5\.5, 5\)"),
    (lambda: conv.output_size((0, 5), 3), "in_size must be"),
    (lambda: conv.output_size(5, 3), r"in_size must be \(H, W\), got 5"),
    (lambda: conv.pad_amounts(5.5, 3), r"n \(the input length\) must be a positive integer, got 5\.5"),
    (lambda: conv.pad_amounts(5, 0), r"k \(the kernel length\) must be a positive integer, got 0"),
])
def test_size_helpers_check_their_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_replacing_a_hard_linked_output_leaves_the_other_name_alone(work, capsys):
    """Decided: the figure is a new file renamed over the output name, so another hard link
    to the old file (not an input) keeps the old contents instead of being overwritten."""
    (work / "keep.png").write_bytes(b"precious")
    os.link(work / "keep.png", work / "out.png")
    code, _, err = main_in_process(capsys, "--image", "in.png", "--output", "out.png", "--no-show")
    assert code == 0, err
    assert (work / "keep.png").read_bytes() == b"precious"
    assert (work / "out.png").read_bytes().startswith(b"\x89PNG")


def test_the_textbook_loops_refuse_absurd_padding_too():
    """The loop references pad the whole image once: an absurd padding is a ValueError, not a MemoryError."""
    from helpers.conv import conv2d_loop, depthwise_conv2d_loop

    image = np.zeros((4, 4, 3))
    with pytest.raises(ValueError, match="MAX_BYTES"):
        conv2d_loop(image, np.zeros((3, 3, 3, 1)), padding=10**6)
    with pytest.raises(ValueError, match="MAX_BYTES"):
        depthwise_conv2d_loop(image, np.zeros((3, 3, 3)), padding=10**6)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), cli.Interrupted(signal.SIGTERM)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_lazy_import_is_an_interruption_not_a_missing_package(work, capsys, monkeypatch, interrupt):
    """A signal that lands while a C extension loads (the figure's writer, say) surfaces as an
    ImportError("initialization failed") chained to the interrupt: it is reported as the interruption
    it is, not as a broken package (seen once in a full test run)."""
    def run(args):
        try:
            raise interrupt
        except KeyboardInterrupt as exc:
            raise ImportError("initialization failed") from exc

    monkeypatch.setattr(cli, "run", run)
    code, out, err = main_in_process(capsys, "--image", "in.png", "--no-show")
    signum = getattr(interrupt, "signum", signal.SIGINT)
    assert code == 128 + signum and out == ""
    assert err.strip().splitlines() == [f"{PREFIX}interrupted ({signal.Signals(signum).name}); "
                                        "no figure was left half-written"]
