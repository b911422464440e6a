"""Notebooks 03 and 04: explorers (every control matters, every suggested try shows what the text says),
architecture counts, schematics, exercise checks, and each shown solution passing its check."""

import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from helpers import architectures, checks, diagrams, explorers, nn
from helpers.costs import conv_cost

residual_module = importlib.import_module("helpers.explorers.residual")

ROOT = Path(__file__).resolve().parents[1]
FACTORIES = [explorers.one_by_one, explorers.bottleneck, explorers.two_one_by_ones, explorers.residual]


@pytest.mark.parametrize("factory", FACTORIES)
def test_every_control_changes_the_text_and_picture(factory):
    ex = factory()
    base_view, base_png = ex.render()
    assert base_png[:8] == b"\x89PNG\r\n\x1a\n"
    for name, (kind, *opts) in ex.controls.items():
        default = opts[-1]
        if kind in ("slider", "float"):
            others = [v for v in (opts[0], opts[1]) if v != default]
        elif kind in ("dropdown", "toggle"):
            others = [o for o in opts[0] if o != default][:2]
        else:
            others = [not default]
        for other in others:
            view, png = ex.render(**{name: other})
            assert png != base_png, f"{name}={other!r} left the picture unchanged"
            assert view.text != base_view.text, f"{name}={other!r} left the text unchanged"


# ---------------------------------------------------------------- notebook 04's suggested tries
def _view(**settings):
    values = {**explorers.residual().defaults(), **settings}
    return explorers.residual_view(**values)


def _states(view):
    lines = view.text.splitlines()
    return lines[1], lines[2], lines[3]


def test_residual_default_shows_degradation_not_vanishing():
    plain, res, verdict = _states(_view())
    assert verdict == "verdict: the residual net trains, the plain net of the same depth does not (stuck)"
    assert "it grows toward the input instead of vanishing" in plain
    assert "loss stayed at" in plain and "gradient is ≈" in plain
    losses, grads, _ = residual_module._run(16, "plain", 0.1, True)
    assert grads[0] / grads[-1] > 10 and losses[-1] > 0.5 * np.log(3)


def test_residual_depth_4_both_train():
    _, _, verdict = _states(_view(depth=4))
    assert verdict.startswith("verdict: both train")


def test_residual_learning_rate_1_spikes_and_fails():
    _, res, verdict = _states(_view(learning_rate=1.0))
    assert "the step is too large" in res and "residual: stuck" in verdict


def test_residual_without_batchnorm_neither_trains_and_the_stream_explodes():
    for shortcut in ("v1", "pre-activation"):
        plain, res, verdict = _states(_view(batchnorm=False, shortcut=shortcut))
        assert verdict.startswith("verdict: neither trains") and "plain: stuck" in verdict
        assert "diverged" in verdict or "exploding" in verdict
    losses, _, rms = residual_module._run(16, "v1", 0.01, False)
    assert rms[-1] / rms[0] > 100


def test_residual_pre_activation_trains():
    _, res, verdict = _states(_view(shortcut="pre-activation"))
    assert verdict == "verdict: the residual net trains, the plain net of the same depth does not (stuck)"
    assert res.startswith("residual (pre-activation): loss")


def test_diagnose_names_each_failure():
    steps = np.linspace(1.1, 0.05, 50)
    assert residual_module.diagnose(steps, np.ones(5), np.ones(5))[0] == "trained"
    assert residual_module.diagnose(np.r_[1.1, np.nan], np.ones(5), np.ones(5))[0] == "diverged"
    assert residual_module.diagnose(np.full(50, 1.1), np.r_[1e-6, np.ones(4)], np.ones(5))[0] == "vanishing"
    assert residual_module.diagnose(np.full(50, 1.1), np.ones(5), np.r_[1.0, 1, 1, 1, 1e3])[0] == "exploding"


# ---------------------------------------------------------------- notebook 03's explorers
def test_bottleneck_counts_and_break_even():
    view = explorers.bottleneck_view(256, 64, 3)
    assert "462.42 M MACs" in view.text and "54.59 M MACs" in view.text and "8.5x fewer" in view.text
    from helpers.explorers.one_by_one import bottleneck_macs, break_even_width
    for c_in, k in [(256, 3), (512, 7), (64, 5)]:
        m = break_even_width(c_in, k)
        direct, below = bottleneck_macs(28, 28, c_in, int(np.floor(m)), k)
        _, above = bottleneck_macs(28, 28, c_in, int(np.ceil(m)), k)
        assert below <= direct <= above
    assert "MORE than direct" in explorers.bottleneck_view(256, 256, 3).text


def test_bottleneck_variance_kept_grows_with_width():
    kept = [float(explorers.bottleneck_view(256, m, 3).text.split("keeps ")[1].split("%")[0]) for m in (4, 16, 64)]
    assert kept[0] < kept[1] < kept[2] <= 100


def test_bottleneck_suggested_tries():
    """Notebook 03's text: C_mid = 16 saves a lot but loses much of the variance; K = 7 saves more than K = 3."""
    ratio = lambda v: float(v.text.split("(")[1].split("x fewer")[0])
    kept = lambda v: float(v.text.split("keeps ")[1].split("%")[0])
    narrow, default, wide_k = (explorers.bottleneck_view(256, 16, 3), explorers.bottleneck_view(256, 64, 3),
                               explorers.bottleneck_view(256, 64, 7))
    assert ratio(narrow) > 4 * ratio(default) and kept(narrow) < 80 < kept(default)
    assert ratio(wide_k) > 1.5 * ratio(default)


def test_two_one_by_ones_suggested_tries():
    error = lambda v: float(v.text.split("relative error ")[1].split("\n")[0])
    with_relu = explorers.two_one_by_ones_view(8, True, True)
    without = explorers.two_one_by_ones_view(8, False, True)
    raw = explorers.two_one_by_ones_view(8, True, False)
    assert error(without) < 1e-9 < 0.1 < error(with_relu) and "collapse" in without.text
    assert error(raw) < 0.5 * error(with_relu)
    switching = lambda v: int(v.text.split(" of 8 hidden units")[0].split("; ")[-1])
    assert switching(raw) < switching(with_relu) and switching(raw) < 8 / 2  # "most units stop changing sign"


def test_one_by_one_presets():
    img = explorers._image("photo")
    w, b, _ = explorers.one_by_one_weights("pca", 2, img)
    assert w.shape == (3, 2) and np.allclose(w.T @ w, np.eye(2))
    w, b, note = explorers.one_by_one_weights("ycbcr", 5, img)
    assert w.shape == (3, 3) and b.tolist() == [0.0, 0.5, 0.5] and "at most 3" in note
    view = explorers.one_by_one_view("random", 6, True)
    assert len(view.panels) == 6 and "ReLU zeroed" in view.text
    assert all(p.min() >= 0 for _, p in view.panels)


# ---------------------------------------------------------------- architectures and diagrams
@pytest.mark.parametrize(("depth", "paper_gmacs", "params_m"), [(18, 1.8, 11.7), (34, 3.6, 21.8), (50, 3.8, 25.5)])
def test_resnet_totals_match_the_paper(depth, paper_gmacs, params_m):
    total = architectures.resnet_cost(depth)
    assert abs(total.macs / 1e9 - paper_gmacs) < 0.1
    assert round(total.params / 1e6, 1) == params_m  # the usual ImageNet parameter counts
    layers = architectures.resnet_layers(depth)
    assert sum(c.macs for _, c in layers) == total.macs
    assert layers[-1][1].out_shape == (1000,)


def test_resnet_layers_chain_shapes():
    layers = architectures.resnet_layers(50)
    assert layers[0][1].out_shape == (112, 112, 64)
    last_conv = [c for name, c in layers if "shortcut" not in name and not name.startswith("fc")][-1]
    assert last_conv.out_shape == (7, 7, 2048)
    assert sum("shortcut" in name for name, _ in layers) == 4  # one projection per stage
    with pytest.raises(ValueError, match="ResNet depth"):
        architectures.resnet_layers(20)


def test_inception_3a_branches():
    red, naive = architectures.inception_3a_branches(True), architectures.inception_3a_branches(False)
    assert red["5x5"].macs == conv_cost("pointwise", (28, 28, 192), 1, 16).macs + conv_cost(
        "standard", (28, 28, 16), 5, 32).macs
    assert sum(c.out_shape[2] for c in red.values()) == 256  # the module's output width in the paper
    assert sum(c.macs for c in naive.values()) > 2 * sum(c.macs for c in red.values())


def test_diagrams_have_alt_text_and_render():
    for fig in (diagrams.residual_blocks(), diagrams.one_by_one_mixing()):
        png, meta = fig._repr_png_()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(meta["alt"]) > 40
    with pytest.raises(ValueError, match="weights must be"):
        diagrams.one_by_one_mixing(np.ones((3, 2)), np.ones(4))


# ---------------------------------------------------------------- checks and solutions
def _not_done(*args):
    raise NotImplementedError


def test_residual_backward_check(capsys):
    class Good(nn.Residual):
        def backward(self, dy):
            return dy + self.block.backward(dy)

    class ShortcutOnly(nn.Residual):
        def backward(self, dy):
            return dy

    class BranchOnly(nn.Residual):
        def backward(self, dy):
            return self.block.backward(dy)

    class NotYet(nn.Residual):
        def backward(self, dy):
            raise NotImplementedError

    assert checks.check_residual_backward(Good)
    assert "ResNet v1 network and in a pre-activation network" in capsys.readouterr().out
    assert not checks.check_residual_backward(ShortcutOnly)
    assert "you returned dy only" in capsys.readouterr().out
    assert not checks.check_residual_backward(BranchOnly)
    assert "identity shortcut passes dy" in capsys.readouterr().out
    assert not checks.check_residual_backward(NotYet)
    assert "not implemented yet" in capsys.readouterr().out


def test_residual_block_check_names_v1_without_calling_it_a_mistake(capsys):
    assert not checks.check_residual_block(lambda x, a, b: np.maximum(np.maximum(x @ a, 0) @ b + x, 0))
    out = capsys.readouterr().out
    assert "ResNet v1 block" in out and "a valid block" in out and "mistake" not in out


def test_inception_check(capsys):
    good = lambda r: sum(c.macs for c in architectures.inception_3a_branches(r).values())
    assert checks.check_inception_3a(good)
    assert not checks.check_inception_3a(lambda r: 2 * good(r))
    assert "FLOPs" in capsys.readouterr().out
    assert not checks.check_inception_3a(lambda r: good(r) - (architectures.inception_3a_branches(r)["pool"].macs))
    assert "pool branch" in capsys.readouterr().out
    assert not checks.check_inception_3a(_not_done)
    assert "not implemented yet" in capsys.readouterr().out


def _solutions(notebook: str) -> list[str]:
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return re.findall(r"<details>.*?```python\n(.*?)```.*?</details>", text, flags=re.S)


@pytest.mark.parametrize(("notebook", "count"), [("03_one_by_one_convolution.ipynb", 2),
                                                 ("04_residual_connections.ipynb", 1)])
def test_every_shown_solution_passes_its_check(notebook, count, capsys):
    from helpers import conv
    from helpers.costs import format_count

    solutions = _solutions(notebook)
    assert len(solutions) == count
    for source in solutions:
        scope = {"np": np, "nn": nn, "checks": checks, "conv": conv, "conv_cost": conv_cost,
                 "format_count": format_count}
        exec(source, scope)  # noqa: S102 - our own notebook's solution
        assert scope["passed"] is True, capsys.readouterr().out
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    assert not any(c["metadata"].get("jupyter", {}).get("source_hidden") for c in cells)
