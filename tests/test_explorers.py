"""The explorers: every control changes what is drawn, the counts are the library's, widgets build."""

import numpy as np
import pytest

from helpers import explorers
from helpers.costs import conv_cost, format_count

FACTORIES = [explorers.sliding_window, explorers.separable,
             explorers.depthwise_pointwise, explorers.program]


@pytest.mark.parametrize("factory", FACTORIES)
def test_every_control_changes_the_picture(factory):
    ex = factory()
    base_view, base_png = ex.render()
    assert base_png[:8] == b"\x89PNG\r\n\x1a\n"
    for name, (kind, *opts) in ex.controls.items():
        default = opts[-1]
        if kind in ("slider", "float"):
            lo, hi, step, _ = opts
            other = hi if default != hi else lo
        elif kind in ("dropdown", "toggle"):
            other = next(o for o in opts[0] if o != default)
        else:
            other = not default
        if factory is explorers.sliding_window and name in ("out_row", "out_col"):
            other = 0  # the default window is off the corner; row/col 0 moves it
        view, png = ex.render(**{name: other})
        assert png != base_png or view.text != base_view.text, f"{name}={other!r} changed nothing"


def test_separable_counts_match_costs():
    view = explorers.separable_view("gaussian", 7, 1.5, "separable", "test_card")
    assert format_count(conv_cost("depthwise", (256, 256, 3), 7).macs, "MACs") in view.text
    assert format_count(conv_cost("spatial_separable", (256, 256, 3), 7).macs, "MACs") in view.text
    assert "max |difference from full| = 0.00e+00" in view.text
    lap = explorers.separable_view("laplacian", 3, 1.0, "best rank-1", "test_card")
    assert "rank 2" in lap.text and "0.00e+00" not in lap.text
    assert np.abs(lap.panels[-1][1]).max() > 0


def test_depthwise_pointwise_view_shapes_and_costs():
    for mode, n in [("standard", 5), ("depthwise", 6), ("pointwise", 5), ("depthwise-separable", 5)]:
        view = explorers.depthwise_pointwise_view(mode, "sobel_x", 3, 5, 2)
        assert len(view.panels) == n
    view = explorers.depthwise_pointwise_view("depthwise", "gaussian", 5, 4, 1)
    assert format_count(conv_cost("depthwise_separable", (128, 128, 3), 5, 4).macs) in view.text


def test_layer_weights_standard_is_not_factorable():
    w = explorers.layer_weights("sobel_x", 3, 3, 4, 1)["standard"]
    ranks = [np.linalg.matrix_rank(w[:, :, c, :].reshape(9, -1)) for c in range(3)]
    assert min(ranks) > 1


def test_program_view_reports_errors_and_command():
    view = explorers.program_view("spatial_separable", "default", "photo", 2, "same")
    assert "error: spatial_separable mode supports stride 1" in view.text
    assert "--image images/grace_hopper.png --stride 2" in view.text
    view = explorers.program_view("pointwise", "grayscale", "test_card", 1, "same")
    assert view.text.startswith("$ python convolution_program.py --mode pointwise --kernel grayscale")
    assert len(view.panels) == 1


def test_widget_builds_and_redraws(capsys):
    pytest.importorskip("ipywidgets")
    import ipywidgets as w

    ex = explorers.depthwise_pointwise()
    box = ex.widget()
    controls = [c for c in box.children[:-1]]
    sliders = [c for row in controls for c in (row.children if isinstance(row, w.HBox) else [row])
               if isinstance(c, w.IntSlider)]
    assert {s.description for s in sliders} == {"size", "out channels", "multiplier"}
    capsys.readouterr()
    next(s for s in sliders if s.description == "out channels").value = 2
    assert "C_out = 2" in capsys.readouterr().out


# Notebooks 03 and 04's explorers are tested in tests/test_explorers_nn.py.
