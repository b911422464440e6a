"""The exercise self-checks: right answers pass, each typical mistake gets its own diagnosis."""

import numpy as np
import pytest

from helpers import checks, conv


def _not_done(*args):
    raise NotImplementedError


def test_not_implemented_is_reported_not_raised(capsys):
    for check in (checks.check_output_size, checks.check_rank1_factors, checks.check_depthwise,
                  checks.check_pointwise, checks.check_flag_program, checks.check_merged_1x1,
                  checks.check_residual_block, checks.check_inception_3a):
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
