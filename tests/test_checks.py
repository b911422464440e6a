"""The exercise self-checks: right answers pass, each typical mistake gets its own diagnosis."""

import numpy as np
import pytest

from helpers import checks, cli, conv


def _not_done(*args):
    raise NotImplementedError


def test_not_implemented_is_reported_not_raised(capsys):
    for check in (checks.check_output_size, checks.check_rank1_factors, checks.check_depthwise,
                  checks.check_pointwise, checks.check_flag_program, checks.check_merged_1x1,
                  checks.check_residual_block, checks.check_inception_3a, checks.check_merged_1x1_bias):
        assert check(_not_done) is False
        assert "not implemented yet" in capsys.readouterr().out


def test_output_size(capsys):
    assert checks.check_output_size(lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s + 1)
    assert not checks.check_output_size(lambda n, k, s, p, d: (n + 2 * p - d * (k - 1)) // s + 1)
    assert "off by one" in capsys.readouterr().out
    assert not checks.check_output_size(lambda n, k, s, p, d: (n + 2 * p - k) // s + 1)
    assert "dilat" in capsys.readouterr().out


def test_rank1_factors(capsys):
    def good(k):
        u, s, vt = np.linalg.svd(k)
        return u[:, 0] * s[0], vt[0]

    assert checks.check_rank1_factors(good)
    assert not checks.check_rank1_factors(lambda k: good(k)[::-1])
    assert "swapped" in capsys.readouterr().out


def valid_dw(image, kernel):
    return conv.depthwise_conv2d(image, kernel, padding="valid")


@pytest.mark.parametrize(("fn", "message"), [
    (valid_dw, "matches the reference"),
    (lambda i, k: valid_dw(i, k).sum(axis=2), "summed over channels"),
    (lambda i, k: conv.depthwise_conv2d(i, k, padding="same"), "'same' padding"),
    (lambda i, k: valid_dw(i, k[::-1, ::-1]), "flipped the kernel"),
    (lambda i, k: valid_dw(i, k)[:-1], "off by one"),
    (lambda i, k: valid_dw(i, k) + valid_dw(i, k)[:, :, ::-1], "only input channel c"),
])
def test_depthwise_diagnoses(fn, message, capsys):
    ok = checks.check_depthwise(fn)
    out = capsys.readouterr().out
    assert message in out and ok == (message == "matches the reference")


def test_pointwise_diagnoses(capsys):
    assert checks.check_pointwise(lambda i, w: i @ w)
    assert not checks.check_pointwise(lambda i, w: i * w[:, 0])
    assert "mix channels into C_out" in capsys.readouterr().out
    assert not checks.check_pointwise(lambda i, w: i @ (w * 2))
    assert "*all* input channels" in capsys.readouterr().out


def test_flag_program(capsys):
    def good(image, kernel, mode):
        if mode == "depthwise":
            return conv.depthwise_conv2d(image, kernel)
        if mode == "pointwise":
            return conv.pointwise_conv2d(image, kernel)
        raise ValueError(mode)

    assert checks.check_flag_program(good)
    assert not checks.check_flag_program(lambda i, k, m: conv.depthwise_conv2d(i, k).sum(axis=2)
                                         if m == "depthwise" else good(i, k, m))
    assert "summed the channels" in capsys.readouterr().out
    assert not checks.check_flag_program(lambda i, k, m: good(i, k, m) if m != "dilated" else i)
    assert "should raise ValueError" in capsys.readouterr().out


def test_merged_and_residual(capsys):
    assert checks.check_merged_1x1(lambda a, b: a @ b)
    assert not checks.check_merged_1x1(lambda a, b: a[:, :2] * 1.0)
    assert checks.check_residual_block(lambda x, a, b: np.maximum(x @ a, 0) @ b + x)
    assert not checks.check_residual_block(lambda x, a, b: np.maximum(x @ a, 0) @ b)
    assert "skip connection" in capsys.readouterr().out
    assert not checks.check_residual_block(lambda x, a, b: np.maximum(np.maximum(x @ a, 0) @ b + x, 0))
    assert "ResNet v1 block" in capsys.readouterr().out  # a valid block, named, not called a mistake


# ------------------------------------------------ numeric and conceptual exercises (notebooks 01, 02, 05)
def test_new_checks_report_not_implemented(capsys):
    for check, blank in [(checks.check_output_size_predictions, {k: ... for k in "abcde"}),
                         (checks.check_separable_macs, {"full": ..., "separable": ..., "inception": ...}),
                         (checks.check_which_separate, ...),
                         (checks.check_dw_separable_cost, {"macs": ..., "params": ...}),
                         (checks.check_which_mix_channels, ...),
                         (checks.check_program_prediction, dict.fromkeys(["dw_shape", "dw_macs", "pw_shape", "pw_macs"],
                                                                        ...))]:
        assert check(blank) is False
        assert "not implemented yet" in capsys.readouterr().out


def test_output_size_predictions(capsys):
    right = {"a": 32, "b": 15, "c": 24, "d": 5, "e": 3}
    assert checks.check_output_size_predictions(right)
    for key, wrong, message in [("a", 30, "2 zero(s) on *each* side"), ("b", 16, "round down"),
                                ("c", 26, "dilated kernel spans"), ("b", 14, "off by one"),
                                ("e", 4, "k//2 on each side")]:
        capsys.readouterr()
        assert not checks.check_output_size_predictions({**right, key: wrong})
        assert message in capsys.readouterr().out


def test_separable_macs(capsys):
    right = {"full": 64 * 64 * 16 * 49, "separable": 64 * 64 * 16 * 14, "inception": 2 * 64 * 64 * 7 * 16 * 16}
    assert checks.check_separable_macs(right)
    for key, wrong, message in [("full", 2 * right["full"], "FLOPs"),
                                ("full", right["full"] // 16, "forgot the channels"),
                                ("separable", 64 * 64 * 16 * 7, "one pass only"),
                                ("inception", right["inception"] // 2, "one of the two layers")]:
        capsys.readouterr()
        assert not checks.check_separable_macs({**right, key: wrong})
        assert message in capsys.readouterr().out


def test_which_separate(capsys):
    assert checks.check_which_separate({"A", "C", "E"})
    assert not checks.check_which_separate({"A", "B", "E"})
    out = capsys.readouterr().out
    assert "you included B" in out and "you left out C" in out
    for name, k in checks.SEPARATE_CANDIDATES.items():   # the hints' claims about each kernel
        assert (np.linalg.matrix_rank(k) == 1) == (name in {"A", "C", "E"})


def test_dw_separable_cost(capsys):
    right = {"macs": 32 * 32 * 128 * (9 + 256), "params": 128 * (9 + 256)}
    assert checks.check_dw_separable_cost(right)
    assert not checks.check_dw_separable_cost({**right, "macs": 32 * 32 * 128 * 256})
    assert "pointwise part only" in capsys.readouterr().out
    assert not checks.check_dw_separable_cost({**right, "params": 128 * 9 * 256})
    assert "standard 3x3" in capsys.readouterr().out


def test_which_mix_channels(capsys):
    assert checks.check_which_mix_channels({"C", "D", "F"})
    assert not checks.check_which_mix_channels({"B", "C", "D", "F"})
    assert "you included B" in capsys.readouterr().out
    assert not checks.check_which_mix_channels({"C", "D"})
    assert "you left out F" in capsys.readouterr().out


def test_program_prediction(capsys, tmp_path):
    right = {"dw_shape": (127, 127, 3), "dw_macs": 127 * 127 * 27, "pw_shape": (256, 256, 1), "pw_macs": 256 * 256 * 3}
    assert checks.check_program_prediction(right)
    # the prediction matches what the program really computes
    s = cli.run(cli.build_parser().parse_args(["--mode", "depthwise", "--stride", "2", "--padding", "valid",
                                               "--output", str(tmp_path / "f.png")]))
    assert (s.output_shape, s.macs) == (right["dw_shape"], right["dw_macs"])
    s = cli.run(cli.build_parser().parse_args(["--mode", "pointwise", "--kernel", "grayscale",
                                               "--output", str(tmp_path / "g.png")]))
    assert (s.output_shape, s.macs) == (right["pw_shape"], right["pw_macs"])
    assert not checks.check_program_prediction({**right, "dw_shape": (128, 128, 3)})
    assert "'same' padding" in capsys.readouterr().out


def test_merged_1x1_bias(capsys):
    assert checks.check_merged_1x1_bias(lambda w1, b1, w2, b2: (w1 @ w2, b1 @ w2 + b2))
    assert "b1 @ W2 + b2" in capsys.readouterr().out
    assert not checks.check_merged_1x1_bias(lambda w1, b1, w2, b2: (w1 @ w2, b2))
    assert "b2 only" in capsys.readouterr().out
    assert not checks.check_merged_1x1_bias(lambda w1, b1, w2, b2: (w1 @ w2, b1 @ w2))
    assert "b2 is missing" in capsys.readouterr().out
    assert not checks.check_merged_1x1_bias(lambda w1, b1, w2, b2: (w1 @ w2, b1[:2] + b2))
    assert "collect the terms" in capsys.readouterr().out
    assert not checks.check_merged_1x1_bias(lambda w1, b1, w2, b2: (w2 @ w1, b1 @ w2 + b2))
    assert "check the order" in capsys.readouterr().out
    assert not checks.check_merged_1x1_bias(lambda w1, b1, w2, b2: w1 @ w2)
    assert "pair (W, b)" in capsys.readouterr().out
    assert not checks.check_merged_1x1_bias(_not_done)
    assert "not implemented yet" in capsys.readouterr().out


# ------------------------------------------------ each typical mistake named, never mis-named (review r12)
@pytest.mark.parametrize(("fn", "message"), [
    (lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1, "padded only once"),
    (lambda n, k, s, p, d: (n - d * (k - 1) - 1) // s + 1, "left out the padding"),
    (lambda n, k, s, p, d: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1, "rounded up"),
    (lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s, "first window position counts"),
    (lambda n, k, s, p, d: (n + 2 * p - k) // s + 1, "dilated kernel spans"),
    (lambda n, k, s, p, d: n + 2 * p - d * (k - 1), "left out the stride"),
])
def test_output_size_names_each_mistake_alone(fn, message, capsys):
    assert not checks.check_output_size(fn)
    out = capsys.readouterr().out
    assert message in out and "; or " not in out, out   # one diagnosis, the right one


def test_output_size_unknown_mistake_gets_the_formula(capsys):
    assert not checks.check_output_size(lambda n, k, s, p, d: 3)
    assert "floor((n + 2p - span) / s) + 1" in capsys.readouterr().out


def test_rank1_factors_catches_a_split_that_divides_by_the_corner(capsys):
    with np.errstate(divide="ignore", invalid="ignore"):
        assert not checks.check_rank1_factors(lambda k: (k[:, 0] / k[0, 0], k[0]))
        assert "division by zero" in capsys.readouterr().out
        assert not checks.check_rank1_factors(lambda k: (k[:, 0], k[0] / k[0, 0]))
        assert "division by zero" in capsys.readouterr().out

    def projection(kernel):            # the notebook's solution: the heaviest row, every row projected on it
        row = kernel[np.argmax(np.abs(kernel).sum(axis=1))]
        return kernel @ row / (row @ row), row

    assert checks.check_rank1_factors(projection)


def test_answers_given_in_other_shapes(capsys):
    right = {"dw_shape": [127, 127, 3], "dw_macs": 127 * 127 * 27, "pw_shape": (256, 256, 1), "pw_macs": 256 * 256 * 3}
    assert checks.check_program_prediction(right)            # a list is a shape too
    capsys.readouterr()
    assert not checks.check_program_prediction({**right, "dw_shape": ("a", 127, 3)})   # no traceback
    assert "shape of whole numbers" in capsys.readouterr().out
    assert checks.check_which_separate("A, C, E")             # letters in a string
    assert checks.check_which_mix_channels(["c", "d", "f"])
    assert not checks.check_which_separate(5)
    assert "set of letters" in capsys.readouterr().out
