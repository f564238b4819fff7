"""Contextual image enhancement before SourceAFIS binarisation (Hong, Wan & Jain 1998).

The ridge orientation is estimated from smoothed gradient moments, the orientation field is
smoothed as a doubled-angle vector field, and each pixel is replaced by the response of an
even-symmetric Gabor filter tuned to the local ridge orientation and the ridge frequency of a
500 dpi print. Cracks and pores across a ridge are bridged along it; noise off the ridge
frequency is suppressed. Works on the image already scaled to 500 dpi.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaborParameters:
    # Ridge period of adult fingers at 500 dpi is 8-11 px (Hong, Wan & Jain use ~1/9 cycles/px).
    ridge_period: float = 9.0
    sigma: float = 4.0
    orientations: int = 16
    gradient_sigma: float = 1.0
    moment_sigma: float = 7.0
    field_sigma: float = 7.0
    # The wide blurs (orientation field, local contrast) vary slowly: they may be computed on an
    # image pooled by this factor and interpolated back, which is several times cheaper.
    coarse: int = 2


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(round(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-(x * x) / (2 * sigma * sigma))
    return kernel / kernel.sum()


def _fast_length(n: int) -> int:
    """The smallest 5-smooth number >= n: NumPy's FFT is many times faster on those."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


@functools.lru_cache(maxsize=32)
def _gaussian_spectrum(shape: tuple[int, int], sigma: float) -> np.ndarray:
    kernel = _gaussian_kernel(sigma)
    return np.fft.fft2(np.outer(kernel, kernel), shape)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (reflected edges) by FFT; `image` may be complex, which blurs two real
    fields for the price of one."""
    radius = _gaussian_kernel(sigma).size // 2
    height, width = image.shape
    shape = (_fast_length(height + 2 * radius), _fast_length(width + 2 * radius))
    padded = np.pad(image, radius, mode="reflect")
    blurred = np.fft.ifft2(np.fft.fft2(padded, shape) * _gaussian_spectrum(shape, sigma))
    blurred = blurred[2 * radius:2 * radius + height, 2 * radius:2 * radius + width]
    return blurred if np.iscomplexobj(image) else blurred.real


def _wide_blur(image: np.ndarray, sigma: float, factor: int) -> np.ndarray:
    """`_blur`, computed on the image mean-pooled by `factor` and interpolated back bilinearly."""
    if factor == 1:
        return _blur(image, sigma)
    height, width = image.shape
    rows, columns = -(-height // factor), -(-width // factor)
    padded = np.pad(image, ((0, rows * factor - height), (0, columns * factor - width)), mode="edge")
    pooled = _blur(padded.reshape(rows, factor, columns, factor).mean(axis=(1, 3)), sigma / factor)

    def axis(pixels: int, cells: int):
        position = np.clip((np.arange(pixels) + 0.5) / factor - 0.5, 0, cells - 1)
        low = np.floor(position).astype(np.int64)
        return low, np.minimum(low + 1, cells - 1), position - low

    y0, y1, wy = axis(height, rows)
    x0, x1, wx = axis(width, columns)
    blended = pooled[y0] * (1 - wy)[:, None] + pooled[y1] * wy[:, None]
    return blended[:, x0] * (1 - wx) + blended[:, x1] * wx


def _presmooth(image: np.ndarray) -> np.ndarray:
    """A 3 × 3 binomial filter: keeps pixel noise out of the gradients."""
    padded = np.pad(image, 1, mode="edge")
    rows = (padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]) / 4
    return (rows[:-2] + 2 * rows[1:-1] + rows[2:]) / 4


def ridge_orientation(image: np.ndarray, params: GaborParameters = GaborParameters()) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel ridge orientation (radians in [0, π), the direction along the ridges) and its
    coherence in [0, 1] (1 = perfectly parallel ridges)."""
    gy, gx = np.gradient(_presmooth(np.asarray(image, dtype=np.float64)))
    # Doubled-angle vector of the gradient, smoothed: averaging the moments over a window and
    # then smoothing the orientation field (two Gaussians) is one Gaussian of the combined width.
    sigma = float(np.hypot(params.moment_sigma, params.field_sigma))
    doubled = _wide_blur((gx * gx - gy * gy) + 2j * (gx * gy), sigma, params.coarse)
    energy = _wide_blur(gx * gx + gy * gy, sigma, params.coarse)
    coherence = np.abs(doubled) / np.maximum(energy, 1e-12)
    angle = np.mod(0.5 * np.angle(doubled) + np.pi / 2, np.pi)
    return angle, np.clip(coherence, 0.0, 1.0)


def _gabor_kernel(angle: float, params: GaborParameters) -> np.ndarray:
    radius = int(round(3 * params.sigma))
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float64)
    # Coordinate across the ridges: the cosine oscillates there, the envelope is isotropic.
    across = -x * np.sin(angle) + y * np.cos(angle)
    envelope = np.exp(-(x * x + y * y) / (2 * params.sigma ** 2))
    kernel = envelope * np.cos(2 * np.pi * across / params.ridge_period)
    return kernel - kernel.mean()  # no response to flat gray


@functools.lru_cache(maxsize=16)
def _kernel_spectra(shape: tuple[int, int], params: GaborParameters) -> tuple[np.ndarray, ...]:
    step = np.pi / params.orientations
    return tuple(np.fft.rfft2(_gabor_kernel(k * step, params), shape) for k in range(params.orientations))


def enhance(image: np.ndarray, params: GaborParameters = GaborParameters()) -> np.ndarray:
    """The enhanced image in the extractor's convention (float, 1.0 = black ridge, 0.0 = white)."""
    image = np.asarray(image, dtype=np.float64)
    height, width = image.shape
    normalized = image - _wide_blur(image, 8.0, params.coarse)
    spread = np.sqrt(np.maximum(_wide_blur(normalized * normalized, 8.0, params.coarse), 0.0))
    normalized = normalized / np.maximum(spread, 1e-3)
    angle, _ = ridge_orientation(image, params)
    radius = int(round(3 * params.sigma))
    shape = (_fast_length(height + 2 * radius), _fast_length(width + 2 * radius))
    spectrum = np.fft.rfft2(np.pad(normalized, radius, mode="reflect"), shape)
    step = np.pi / params.orientations
    index = np.round(angle / step).astype(np.int64) % params.orientations
    result = np.zeros_like(image)
    for k, kernel_spectrum in enumerate(_kernel_spectra(shape, params)):
        chosen = index == k
        if not chosen.any():
            continue
        response = np.fft.irfft2(spectrum * kernel_spectrum, shape)
        # Full convolution: the kernel's centre shifts the output by its radius, the padding by another.
        response = response[2 * radius:2 * radius + height, 2 * radius:2 * radius + width]
        result[chosen] = response[chosen]
    # Map the response back to gray: ridges (dark, high values in the input) stay high.
    scale = np.percentile(np.abs(result), 99) or 1.0
    return np.clip(0.5 + 0.5 * result / scale, 0.0, 1.0)
