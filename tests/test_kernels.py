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
