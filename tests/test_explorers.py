"""The explorers: every enabled control changes what is shown, in every state; the counts are the library's."""

import numpy as np
import pytest

from helpers import conv, explorers
from helpers.costs import conv_cost, format_count

FACTORIES = [explorers.sliding_window, explorers.separable, explorers.depthwise_pointwise, explorers.program,
             explorers.one_by_one, explorers.bottleneck, explorers.two_one_by_ones, explorers.residual]


def _alternatives(ex, name, values, constraints):
    """A few other valid values of control ``name``: its neighbours and both ends of its range."""
    options = ex.options(name, constraints)
    if values[name] not in options:
        return []
    i = options.index(values[name])
    picks = {j for j in (0, len(options) - 1, i - 1, i + 1) if 0 <= j < len(options) and j != i}
    return [options[j] for j in sorted(picks)]


def _shown(view):
    """What a learner sees change: the drawn data (image panels, lines, a drawing's data) and the text."""
    return view.data_key(), view.text


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_every_enabled_control_changes_the_view_in_every_state(factory):
    """From the default and from each of the explorer's other states, every enabled control, moved to a
    neighbour or an end of its valid range, changes the drawn data (or, for counts, the printed text)."""
    ex = factory()
    inert = []
    for state in [{}, *ex.states]:
        values, constraints = ex.settle(state)
        view = ex.view(**values)
        base = _shown(view)
        for name in ex.controls:
            if constraints.get(name, {}).get("disabled"):
                assert f"{name.replace('_', ' ')} is disabled: " in view.text, (name, "reason not printed")
                continue
            for other in _alternatives(ex, name, values, constraints):
                moved = ex.settle({**values, name: other})[0]
                assert moved[name] == other, f"{name}={other!r} is offered but not valid from {state}"
                data, text = _shown(ex.view(**moved))
                if data == base[0] and text == base[1]:
                    inert.append(f"{name}: {values[name]!r} -> {other!r} from {state or 'the default'}")
    assert not inert, "controls that change nothing:\n" + "\n".join(inert)


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_states_and_defaults_are_valid(factory):
    ex = factory()
    for state in [{}, *ex.states]:
        values, constraints = ex.settle(state)
        for name, value in state.items():
            assert values[name] == value, f"state {state} is not valid: {name} moved to {values[name]!r}"
        for name in ex.controls:
            assert values[name] in ex.options(name, constraints), (name, values[name])


def test_sliding_window_ranges_follow_the_valid_values():
    ex = explorers.sliding_window()
    # the position slider ends at the last output pixel of the pass shown
    for state in [{}, *ex.states]:
        values, cons = ex.settle(state)
        h, w = conv.output_size((values["n"],) * 2, values["kernel"], stride=values["stride"],
                                padding=int(values["padding"]) if values["padding"].isdigit() else values["padding"],
                                dilation=values["dilation"])
        n_out = ex.options("position", cons)[-1] + 1
        if values["step"] == "pass 1: column K×1":
            assert n_out % h == 0 and n_out // h > w  # pass 1 also runs over the padded columns
        else:
            assert n_out == h * w
    # a window that would not fit is never offered: n=4, K=5 needs padding
    _, cons = ex.settle({"n": 4, "kernel": 5})
    assert "valid" not in cons["padding"]["options"]
    values, cons = ex.settle({"n": 4, "kernel": 5, "padding": "1"})
    assert ex.options("dilation", cons) == [1] and "does not fit" in cons["dilation"]["disabled"]
    values, cons = ex.settle({"n": 8, "kernel": 3, "padding": "valid"})
    assert ex.options("dilation", cons) == [1, 2, 3]


def test_sliding_window_values_are_the_convolution():
    """The numbers in the output grid are the convolution of the grid with the column ⊗ row kernel,
    and the two 1-D passes give the same output as the full kernel."""
    from helpers.explorers.separable import PASSES, _window_grid, _window_setup, window_factors

    for n, k, s, p, d in [(6, 3, 1, "same", 1), (7, 4, 2, "valid", 1), (5, 3, 1, "2", 2), (8, 5, 3, "1", 1)]:
        col, row = window_factors(k)
        pad = int(p) if p.isdigit() else p
        expected = conv.conv2d(_window_grid(n), np.outer(col, row), stride=s, padding=pad, dilation=d)
        full = _window_setup(n, k, s, p, d, PASSES[0])["out"]
        two = _window_setup(n, k, s, p, d, PASSES[2])["out"]
        np.testing.assert_allclose(full, expected)
        np.testing.assert_allclose(two, expected)
    assert window_factors(3)[0].tolist() == [1, 2, 1] and window_factors(3)[1].tolist() == [-1, 0, 1]


def test_sliding_window_static_strip_shows_several_positions(capsys):
    ex = explorers.sliding_window()
    ex.show()
    out = capsys.readouterr().out
    assert "at output positions (0, 0), (0, 1), (5, 5)" in out


def test_separable_counts_match_costs():
    view = explorers.separable_view("gaussian", 7, 1.5, "separable", "test_card")
    assert format_count(conv_cost("depthwise", (256, 256, 3), 7).macs, "MACs") in view.text
    assert format_count(conv_cost("spatial_separable", (256, 256, 3), 7).macs, "MACs") in view.text
    assert "max |difference from full| = 0.00e+00" in view.text
    lap = explorers.separable_view("laplacian", 3, 1.0, "best rank-1", "test_card")
    assert "rank 2" in lap.text and "0.00e+00" not in lap.text
    diff = lap.panels[-1]
    assert diff.kind == "diff" and diff.data.max() > 0 and f"max error {diff.data.max():.1e}" in diff.title


def test_separable_shows_kernel_factors_and_outer_product():
    view = explorers.separable_view("sobel_x", 3, 1.0, "separable", "test_card")
    by_title = {p.title.split("\n")[0]: p for p in view.panels}
    k = by_title["kernel 3×3"].data
    col, row = by_title["column"].data, by_title["row 1×3"].data
    assert col.shape == (3, 1) and row.shape == (1, 3)
    np.testing.assert_allclose(col @ row, k, atol=1e-12)
    np.testing.assert_allclose(by_title["column ⊗ row"].data, k, atol=1e-12)
    assert view.panels[0].kind == "rgb"


def test_separable_inert_controls_are_disabled_with_a_reason():
    ex = explorers.separable()
    view, _ = ex.render(kernel="laplacian")
    assert "size is disabled: laplacian is 3×3 only" in view.text
    assert "sigma is disabled: sigma sets the width of the gaussian only" in view.text


def test_depthwise_pointwise_view_shapes_and_costs():
    for mode, n in [("standard/grouped", 2 + 5), ("depthwise", 2 + 6), ("pointwise", 2 + 5),
                    ("depthwise-separable", 2 + 5)]:
        view = explorers.depthwise_pointwise_view(mode, "sobel_x", 3, 5, 2)
        assert len(view.panels) == n
    view = explorers.depthwise_pointwise_view("depthwise", "gaussian", 5, 4, 1)
    assert format_count(conv_cost("depthwise_separable", (128, 128, 3), 5, 4).macs) in view.text


def test_depthwise_uses_a_different_kernel_per_channel_on_pure_rgb_shapes():
    view = explorers.depthwise_pointwise_view("depthwise", explorers.depthwise_pointwise().defaults()["kernel"],
                                              3, 6, 1)
    outs = [p.data for p in view.panels if p.group == "out"]
    assert len(outs) == 3
    img = explorers._image("rgb_shapes", 128)
    for c, out in enumerate(outs):  # each output sees only its own channel's shape
        assert np.abs(out[img[:, :, c] == 0]).sum() < np.abs(out).sum()
    wts = explorers.layer_weights("per channel: sobel_x, sobel_y, laplacian", 3, 3, 6, 1)["depthwise"]
    assert not np.allclose(wts[:, :, 0, 0], wts[:, :, 1, 0]) and not np.allclose(wts[:, :, 1, 0], wts[:, :, 2, 0])


@pytest.mark.parametrize("image,c", [("rgb_shapes", 3), ("rgb_shapes + inverted (C=6)", 6)])
def test_groups_walk_from_standard_to_depthwise(image, c):
    ex = explorers.depthwise_pointwise()
    values, cons = ex.settle({"mode": "standard/grouped", "image": image, "out_channels": 6})
    divisors = ex.options("groups", cons)
    assert divisors == [g for g in range(1, c + 1) if c % g == 0] and divisors[0] == 1 and divisors[-1] == c
    macs = []
    for g in divisors:
        view = explorers.depthwise_pointwise_view("standard/grouped", "sobel_x", 3, 6, 1, g, image)
        cost = conv_cost("standard", (128, 128, c), 3, 6, groups=g)
        assert f"{format_count(cost.macs):>12s}" in view.text and f"{cost.params:8d}  <- shown" in view.text
        macs.append(cost.macs)
        if g > 1:
            assert f"nn.Conv2d({c}, 6, 3, padding=1, groups={g})" in view.text
    assert macs == sorted(macs, reverse=True)
    # groups = C is exactly the depthwise layer with multiplier C_out / C
    g_c = explorers.depthwise_pointwise_view("standard/grouped", "sobel_x", 3, 6, 1, c, image)
    dw = explorers.depthwise_pointwise_view("depthwise", "sobel_x", 3, 6, 6 // c, 1, image)
    for a, b in zip([p for p in g_c.panels if p.group == "out"], [p for p in dw.panels if p.group == "out"],
                    strict=True):
        np.testing.assert_allclose(a.data, b.data, atol=1e-12)
    assert f'layers.DepthwiseConv2D(3, depth_multiplier={6 // c}, padding="same")' in g_c.text


def test_framework_layer_text():
    from helpers.explorers.depthwise_pointwise import framework_layer

    assert framework_layer("standard/grouped", 3, 3, 6, 1, 3)[0] == "PyTorch: nn.Conv2d(3, 6, 3, padding=1, groups=3)"
    assert framework_layer("depthwise", 3, 3, 6, 2, 1)[1] == \
        'Keras:   layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")'
    assert framework_layer("standard/grouped", 3, 5, 4, 1, 1) == [
        "PyTorch: nn.Conv2d(3, 4, 5, padding=2)", 'Keras:   layers.Conv2D(4, 5, padding="same")']


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
    assert [p.kind for p in view.panels] == ["rgb", "kernel", "auto"]


def test_program_explorer_offers_only_what_the_program_accepts():
    ex = explorers.program()
    for state in [{}, *ex.states]:
        values, cons = ex.settle(state)
        for name in ("kernel", "stride", "padding"):
            for other in ex.options(name, cons):
                view = explorers.program_view(**{**values, name: other})
                assert "error:" not in view.text, (values, name, other, view.text)


def test_widget_builds_applies_rules_and_redraws(capsys):
    pytest.importorskip("ipywidgets")
    import ipywidgets as w

    ex = explorers.depthwise_pointwise()
    box = ex.widget()
    flat = [c for row in box.children[:-1] for c in (row.children if isinstance(row, w.HBox) else [row])]
    by_name = {c.description: c for c in flat}
    assert by_name["out channels"].disabled and by_name["groups"].disabled  # depthwise mode
    by_name["mode"].value = "standard/grouped"
    assert not by_name["groups"].disabled and list(by_name["groups"].options) == [1, 3]
    capsys.readouterr()
    by_name["groups"].value = 3
    assert "nn.Conv2d(3, 6, 3, padding=1, groups=3)" in capsys.readouterr().out
    by_name["out channels"].value = 4
    assert by_name["groups"].disabled and by_name["groups"].value == 1
    assert "groups is disabled: C_out = 4 shares no divisor > 1 with C = 3" in capsys.readouterr().out
    by_name["mode"].value = "pointwise"
    assert by_name["kernel"].disabled and by_name["size"].disabled


def test_live_image_is_an_img_with_the_text_alternative():
    ex = explorers.depthwise_pointwise()
    view, png = ex.render(mode="pointwise")
    page = ex.html(view, png)
    assert page.startswith('<img src="data:image/png;base64,') and f'alt="{view.alt}"' in page
    assert "pointwise weights" in view.alt and "out c0" in view.alt


# Notebooks 03 and 04's own explorer tests (suggested tries, counts) are in tests/test_explorers_nn.py.
