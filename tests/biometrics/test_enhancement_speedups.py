"""The accuracy mode's fast enhancement computes what the textbook way computes: separable
Gaussian blurs equal a full 2-D FFT blur, the per-orientation Gabor responses (single-precision
FFT, pixels grouped by bin) equal each pixel filtered directly by its own kernel, and the fused
orientation kernel finds the orientation of a synthetic ridge pattern."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from biometrics.accurate import enhancement
from biometrics.accurate.enhancement import GaborParameters
from biometrics.accurate.extraction import normalized
from biometrics.sourceafis.image import decode_image
from tests.fingerprint_data import fvc_path

PARAMS = GaborParameters()


@pytest.fixture(scope="module")
def print_104_1() -> np.ndarray:
    return normalized(decode_image(fvc_path("104_1").read_bytes()), 500)


def _fft_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    kernel = enhancement._gaussian_kernel(sigma)
    radius = kernel.size // 2
    padded = np.pad(image, radius, mode="reflect")
    shape = (padded.shape[0] + 2 * radius, padded.shape[1] + 2 * radius)
    full = np.fft.irfft2(np.fft.rfft2(padded, shape) * np.fft.rfft2(np.outer(kernel, kernel), shape), shape)
    return full[2 * radius:2 * radius + image.shape[0], 2 * radius:2 * radius + image.shape[1]]


@pytest.mark.parametrize("sigma", [4.0, 4.95])
def test_separable_blur_equals_the_2d_blur(print_104_1, sigma):
    image = print_104_1[:150, :170]
    assert np.abs(enhancement._blur(image, sigma) - _fft_blur(image, sigma)).max() < 1e-12
    both = enhancement._blur(image + 2j * image[::-1], sigma)
    assert np.abs(both.imag - 2 * _fft_blur(image[::-1], sigma)).max() < 1e-12


def test_each_pixel_gets_the_response_of_its_own_orientation(print_104_1):
    image = print_104_1
    rng = np.random.default_rng(17)
    index = rng.integers(0, PARAMS.orientations, size=image.shape)
    fast = enhancement._oriented_gabor(image, index, PARAMS)
    radius = int(round(3 * PARAMS.sigma))
    padded = np.pad(image, radius, mode="reflect")
    step = np.pi / PARAMS.orientations
    for y, x in zip(rng.integers(0, image.shape[0], 300), rng.integers(0, image.shape[1], 300)):
        kernel = enhancement._gabor_kernel(index[y, x] * step, PARAMS)
        window = padded[y:y + 2 * radius + 1, x:x + 2 * radius + 1]
        direct = float((window * kernel[::-1, ::-1]).sum())  # convolution: the kernel turned over
        assert fast[y, x] == pytest.approx(direct, abs=1e-4 * max(1.0, np.abs(image).max()))


def test_the_grouping_by_bin_is_a_stable_counting_sort():
    index = np.random.default_rng(3).integers(0, 16, size=(37, 41))
    order, ends = enhancement._by_bin(index, 16)
    assert np.array_equal(order, np.argsort(index, axis=None, kind="stable"))
    assert np.array_equal(ends, np.cumsum(np.bincount(index.ravel(), minlength=16)))


@pytest.mark.parametrize("degrees", [0, 30, 90, 135])
def test_orientation_of_straight_ridges(degrees):
    theta = np.radians(degrees)
    y, x = np.mgrid[0:160, 0:160].astype(np.float64)
    # Ridges run along theta: the gray level varies across them only.
    across = -x * np.sin(theta) + y * np.cos(theta)
    ridges = 0.5 + 0.5 * np.cos(2 * np.pi * across / 9.0)
    angle, coherence = enhancement.ridge_orientation(ridges, PARAMS)
    inner = (slice(40, 120), slice(40, 120))
    error = np.angle(np.exp(2j * (angle[inner] - theta))) / 2
    assert np.abs(error).max() < np.radians(2)
    assert coherence[inner].min() > 0.9


def test_fast_atan2_is_within_1e_5_of_the_librarys():
    rng = np.random.default_rng(5)
    points = np.concatenate([rng.standard_normal((20000, 2)) * 10.0 ** rng.integers(-6, 6, (20000, 1)),
                             [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0], [1.0, 1.0], [-1.0, -1.0]]])
    fast = np.array([enhancement._atan2(y, x) for y, x in points])
    assert np.abs(fast - np.arctan2(points[:, 0], points[:, 1])).max() < 1e-5


def test_bins_and_weights_follow_the_orientation_field(print_104_1):
    """The one-pass kernel the enhancement uses gives each pixel the bin nearest to
    ridge_orientation's angle (a pixel within 1e-5 rad of a bin boundary may round either way)
    and the weight `confidence` gives its coherence."""
    image = np.ascontiguousarray(print_104_1)
    params = dataclasses.replace(PARAMS, orientations=12, coherence_floor=0.15, coherence_full=0.30)
    angle, coherence = enhancement.ridge_orientation(image, params)
    span = params.coherence_full - params.coherence_floor
    index, weight = enhancement._bins(*enhancement._smoothed_moments(image, params), params.orientations,
                                      params.coherence_floor, span)
    step = np.pi / params.orientations
    expected = np.floor(angle / step + 0.5).astype(np.int64) % params.orientations
    boundary = np.abs((angle / step) % 1 - 0.5) < 1e-4
    assert np.array_equal(index[~boundary], expected[~boundary])
    assert boundary.mean() < 1e-3
    assert np.allclose(weight, enhancement.confidence(coherence, params), atol=1e-12)
    # Without the adaptation (the mode's default) every weight is 1.
    _, ones = enhancement._bins(*enhancement._smoothed_moments(image, PARAMS), PARAMS.orientations, -1.0, 1.0)
    assert np.all(ones == 1.0)
