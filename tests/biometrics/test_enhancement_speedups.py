"""The accuracy mode's fast enhancement computes what the textbook way computes: separable
Gaussian blurs equal a full 2-D FFT blur, the per-orientation Gabor responses (single-precision
FFT, pixels grouped by bin) equal each pixel filtered directly by its own kernel, and the fused
orientation kernel finds the orientation of a synthetic ridge pattern."""
from __future__ import annotations

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
