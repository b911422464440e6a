"""The committed benchmark results: README, results.md and results.json tell the same story."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

# benchmarks/run.py pins BLAS threads and may import PyTorch: load it in its own process.
_RENDER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("bench_run", sys.argv[1])
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)
report = json.loads(open(sys.argv[2]).read())
print(json.dumps({"markdown": run.markdown(report), "targets": run.evaluate(report),
                  "start": run.README_START, "end": run.README_END}))
"""


@pytest.fixture(scope="module")
def rendered():
    out = subprocess.run([sys.executable, "-c", _RENDER, str(ROOT / "benchmarks" / "run.py"),
                          str(RESULTS / "results.json")], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def report():
    return json.loads((RESULTS / "results.json").read_text())


def test_results_md_is_the_json_rendered(rendered):
    assert (RESULTS / "results.md").read_text() == rendered["markdown"]


def test_readme_shows_the_committed_results(rendered):
    readme = (ROOT / "README.md").read_text()
    section = readme.split(rendered["start"], 1)[1].split(rendered["end"], 1)[0]
    assert section.strip() == (RESULTS / "results.md").read_text().strip()


def test_targets_in_the_json_follow_from_its_measurements(rendered, report):
    recomputed = rendered["targets"]
    assert [(t["target"], t["met"]) for t in recomputed] == [(t["target"], t["met"]) for t in report["targets"]]
    # every target the issue sets has a row, and a miss would say why
    assert len([t for t in recomputed if t["met"] is not None]) >= 10
    assert all(t.get("why") for t in recomputed if t["met"] is False)


def test_the_report_describes_the_machine(report):
    m = report["machine"]
    for key in ("date", "cpu", "cores", "python", "numpy", "blas", "pytorch", "allocator"):
        assert m.get(key), key


def test_the_networks_have_the_schema_notebook_02_reads(report):
    from helpers.costs import mobilenet_v1_layers

    nets = report["networks"]
    assert [n["name"] for n in nets] == ["MobileNet v1", "MobileNet v1, full convolution"]
    for net, full in zip(nets, (False, True), strict=True):
        assert set(net) == {"name", "macs", "params", "ours_ms", "torch_ms"}
        layers = mobilenet_v1_layers(full_convolution=full)
        assert net["macs"] == sum(c.macs for _, c in layers) and isinstance(net["macs"], int)
        assert net["params"] == sum(c.params for _, c in layers) and isinstance(net["params"], int)
        assert net["ours_ms"] > 0 and net["torch_ms"] > 0
    assert round(nets[1]["macs"] / nets[0]["macs"], 1) == 8.6  # the MAC ratio the issue quotes


def test_every_pytorch_time_is_the_fastest_of_its_three_variants(report):
    timed = [r for r in report["rows"] if "pytorch" in r["ms"]]
    assert len(timed) >= 40
    for r in timed:
        variants = r["pytorch_variants"]
        assert set(variants) == {"pytorch NCHW", "pytorch channels-last", "pytorch nn.Conv2d"}, r["case"]
        assert r["ms"]["pytorch"] == min(variants.values()), r["case"]
    # the layers of the networks the issue asks for are all there, in both dtypes
    cases = {r["case"] for r in report["rows"]}
    for dtype in ("float32", "float64"):
        for case in ("standard 224x224x3->32 K=3 s2", "depthwise 112x112x32 K=3", "depthwise 7x7x1024 K=3",
                     "pointwise 7x7x1024->1024 K=1", "depthwise 14x14x512 K=3 s2", "standard 56x56x64->64 K=3",
                     "pointwise 56x56x256->64 K=1", "standard 56x56x128->128 K=3 s2"):
            assert f"{case} {dtype}" in cases


# What PyTorch and SciPy are handed, checked in a process of its own (run.py pins threads).
_INPUTS = """
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("bench_run", sys.argv[1])
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)
torch = run.torch
facts = {"inputs": [], "weights": [], "refused": [], "modules": []}
rng = np.random.default_rng(0)
for h, w, c in [(5, 7, 3), (4, 4, 1), (3, 6, 64)]:
    x = rng.standard_normal((h, w, c)).astype(np.float32)
    for layout in run.LAYOUTS:
        t = run.torch_input(x, layout)
        facts["inputs"].append({"hwc": [h, w, c], "layout": layout, "shape": list(t.shape), "stride": list(t.stride()),
                                "nchw": t.is_contiguous(), "cl": t.is_contiguous(memory_format=torch.channels_last),
                                "same": bool(np.array_equal(t[0].permute(1, 2, 0).numpy(), x))})
    # the view the old benchmark used: batch stride C, not H*W*C
    old = torch.from_numpy(x).permute(2, 0, 1).unsqueeze(0)
    try:
        run.check_layout(old, "channels-last")
        facts["refused"].append(False)
    except AssertionError:
        facts["refused"].append(True)
for shape in [(3, 3, 1, 8), (3, 3, 4, 6), (1, 1, 16, 32)]:
    wt = rng.standard_normal(shape).astype(np.float32)
    for layout in run.LAYOUTS:
        t = run.torch_weight(wt, layout)
        facts["weights"].append({"hwio": list(shape), "layout": layout, "shape": list(t.shape),
                                 "stride": list(t.stride()),
                                 "same": bool(np.array_equal(t.permute(2, 3, 1, 0).numpy(), wt))})
x = rng.standard_normal((9, 9, 8)).astype(np.float32)
variants = run.torch_variants(x, [run.TorchConv(rng.standard_normal((3, 3, 1, 8)).astype(np.float32), 2, 1, groups=8)])
with torch.inference_mode():
    outs = {k: f().numpy() for k, f in variants.items()}
facts["variants"] = sorted(outs)
facts["variants_agree"] = all(np.allclose(v, outs["pytorch NCHW"], atol=1e-5) for v in outs.values())
planes = run.scipy_planes(x)
facts["planes"] = {"contiguous": bool(planes.flags.c_contiguous), "strides": list(planes.strides),
                   "same": bool(np.array_equal(planes.transpose(1, 2, 0), x))}
layers = run.mobilenet_weights(False, np.random.default_rng(1))
img = np.random.default_rng(2).standard_normal((224, 224, 3)).astype(np.float32)
ours = run.mobilenet_ours(img, layers)
with torch.inference_mode():
    theirs = [run.mobilenet_torch(layers, layout)(run.torch_input(img, layout))[0].numpy() for layout in run.LAYOUTS]
scale = float(np.abs(ours).max())
facts["network"] = {"shape": list(ours.shape), "err": [float(np.abs(t - ours).max()) / scale for t in theirs],
                    "params": run.count_params(layers)}
print(json.dumps(facts))
"""


@pytest.fixture(scope="module")
def inputs():
    import importlib.util

    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("scipy") is None:
        pytest.skip("the benchmark's extras are not installed: pip install -e '.[bench]' (make bench does)")
    out = subprocess.run([sys.executable, "-c", _INPUTS, str(ROOT / "benchmarks" / "run.py")],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


def test_pytorch_gets_exactly_the_memory_format_and_strides_claimed(inputs):
    for t in inputs["inputs"]:
        h, w, c = t["hwc"]
        assert t["shape"] == [1, c, h, w] and t["same"]
        if t["layout"] == "NCHW":
            assert t["stride"] == [c * h * w, h * w, w, 1] and t["nchw"]
        else:
            assert t["stride"] == [h * w * c, 1, w * c, c] and t["cl"]
    for t in inputs["weights"]:
        kh, kw, ci, co = t["hwio"]
        assert t["shape"] == [co, ci, kh, kw] and t["same"]
        want = [ci * kh * kw, kh * kw, kw, 1] if t["layout"] == "NCHW" else [kh * kw * ci, 1, kw * ci, ci]
        assert t["stride"] == want
    assert all(inputs["refused"])  # the strided view of the old benchmark is not taken for channels-last
    assert inputs["variants"] == ["pytorch NCHW", "pytorch channels-last", "pytorch nn.Conv2d"]
    assert inputs["variants_agree"]


def test_scipy_gets_each_channel_as_a_contiguous_plane(inputs):
    p = inputs["planes"]
    assert p["contiguous"] and p["same"] and p["strides"] == [9 * 9 * 4, 9 * 4, 4]


def test_the_benchmarked_network_is_the_same_in_numpy_and_pytorch(inputs):
    from helpers.costs import mobilenet_v1_layers

    net = inputs["network"]
    assert net["shape"] == [1000]
    assert max(net["err"]) < 1e-3
    assert net["params"] == sum(c.params for _, c in mobilenet_v1_layers())
