"""Named kernels and the SVD separability analysis."""

import numpy as np
import pytest

from helpers import kernels
from helpers.conv import depthwise_conv2d, spatial_separable_conv2d


@pytest.mark.parametrize(("name", "rank"), [
    ("box", 1), ("gaussian", 1), ("sobel_x", 1), ("sobel_y", 1), ("identity", 1),
    ("laplacian", 2), ("sharpen", 2), ("emboss", 3), ("random", 3),
])
def test_ranks(name, rank):
    assert kernels.separability(kernels.get_kernel(name)).rank == rank


def test_sobel_is_the_outer_product():
    np.testing.assert_array_equal(kernels.sobel_x(), np.outer([1, 2, 1], [1, 0, -1]))
    sep = kernels.separability(kernels.sobel_x())
    np.testing.assert_allclose(np.outer(sep.column, sep.row), kernels.sobel_x(), atol=1e-12)
    assert sep.relative_error < 1e-12 and sep.separable


@pytest.mark.parametrize("size", [3, 5, 9])
def test_gaussian_and_box(size):
    g = kernels.gaussian(size, sigma=1.2)
    assert g.shape == (size, size) and g.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(g, g.T)
    assert kernels.box(size).sum() == pytest.approx(1.0)
    assert kernels.identity(size)[size // 2, size // 2] == 1.0


def test_best_rank1_error_matches_singular_values():
    """Eckart-Young: the error of the best rank-1 approximation is sqrt(sum s_i^2, i>=2) / ||k||."""
    k = kernels.random_kernel(5, seed=3)
    sep = kernels.separability(k)
    s = np.linalg.svd(k, compute_uv=False)
    assert sep.relative_error == pytest.approx(np.sqrt((s[1:] ** 2).sum() / (s**2).sum()))


@pytest.mark.parametrize("name", ["laplacian", "sharpen", "emboss", "random"])
def test_low_rank_terms_sum_exactly(name):
    k = kernels.get_kernel(name)
    terms = kernels.low_rank_terms(k)
    np.testing.assert_allclose(sum(np.outer(c, r) for c, r in terms), k, atol=1e-12)
    image = np.random.default_rng(0).standard_normal((12, 12, 3))
    via_passes = sum(spatial_separable_conv2d(image, c, r) for c, r in terms)
    np.testing.assert_allclose(via_passes, depthwise_conv2d(image, k), atol=1e-10)


def test_errors_and_presets():
    with pytest.raises(ValueError, match="unknown kernel"):
        kernels.get_kernel("blur")
    with pytest.raises(ValueError, match="2-D"):
        kernels.separability(np.ones((3, 3, 3)))
    assert kernels.pointwise_preset("grayscale").shape == (3, 1)
    np.testing.assert_allclose(kernels.pointwise_preset("grayscale").sum(), 1.0)
    with pytest.raises(ValueError, match="unknown pointwise"):
        kernels.pointwise_preset("sepia")
    dk = kernels.default_depthwise_kernel(4)
    assert dk.shape == (3, 3, 4)
    np.testing.assert_array_equal(dk[:, :, 3], kernels.sobel_x())


@pytest.mark.parametrize(("call", "message"), [
    (lambda: kernels.box(20000), r"kernel size 20000x20000 is too large"),
    (lambda: kernels.gaussian(100000), "too large"),
    (lambda: kernels.identity((1, 10**7)), "too large"),
    (lambda: kernels.box(2.5), r"kernel size must be a positive integer or a pair \(Kh, Kw\), got 2\.5"),
    (lambda: kernels.box(0), "kernel size must be"),
    (lambda: kernels.box(True), "kernel size must be"),
    (lambda: kernels.gaussian_1d(0), "size must be a positive integer .* got 0"),
    (lambda: kernels.gaussian(5, sigma=float("nan")), "sigma must be a positive finite number"),
    (lambda: kernels.gaussian(5, sigma=0), "sigma must be"),
    (lambda: kernels.get_kernel(["box"]), "unknown kernel"),
    (lambda: kernels.pointwise_preset(None), "unknown pointwise preset"),
    (lambda: kernels.separability(np.full((3, 3), np.nan)), r"kernel contains NaN or infinity \(shape \(3, 3\)\)"),
    (lambda: kernels.separability(np.ones((3, 3)) * 1j), "real numbers"),
    (lambda: kernels.separability(np.zeros((0, 3))), r"non-empty 2-D array \(Kh, Kw\), got shape \(0, 3\)"),
    (lambda: kernels.separability(np.array([["a"]])), "real numbers"),
    (lambda: kernels.low_rank_terms(np.eye(3), rank=1.5), "rank must be"),
    (lambda: kernels.default_depthwise_kernel(0), "channels must be a positive integer, got 0"),
    (lambda: kernels.default_depthwise_kernel(2.0), "channels must be a positive integer"),
    (lambda: kernels.pca_pointwise(np.zeros((4, 4)), 1), r"non-empty \(H, W, C\) array, got shape \(4, 4\)"),
    (lambda: kernels.pca_pointwise(np.zeros((4, 4, 0)), 1), r"got shape \(4, 4, 0\)"),
    (lambda: kernels.pca_pointwise(np.zeros((4, 4, 3)), 4), r"k must be an integer between 1 and .* 3 "
                                                            r"\(features shape \(4, 4, 3\)\), got 4"),
    (lambda: kernels.pca_pointwise(np.zeros((4, 4, 3)), 1.0), "k must be an integer"),
    (lambda: kernels.pca_pointwise(np.zeros((1, 1, 3)), 1), "at least 2 pixels"),
    (lambda: kernels.pca_pointwise(np.full((2, 2, 3), np.inf), 1), "features contain NaN or infinity"),
    (lambda: kernels.pca_pointwise(np.ones((2, 2, 3)) * 1j, 1), "features must hold real numbers"),
])
def test_bad_arguments_raise_value_errors_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_degenerate_but_valid_inputs_work():
    assert kernels.separability(np.zeros((3, 3))).rank == 0
    assert kernels.separability(np.array([[True, False]])).rank == 1
    weights, mean, explained = kernels.pca_pointwise(np.ones((3, 3, 2)), 1)  # no variance at all
    assert weights.shape == (2, 1) and np.all(explained == 0)
    assert kernels.default_depthwise_kernel(np.int64(5)).shape == (3, 3, 5)
