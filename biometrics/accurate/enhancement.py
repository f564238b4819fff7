"""Contextual image enhancement before SourceAFIS binarisation (Hong, Wan & Jain 1998).

The ridge orientation is estimated from smoothed gradient moments, the orientation field is
smoothed as a doubled-angle vector field, and each pixel is replaced by the response of an
even-symmetric Gabor filter tuned to the local ridge orientation and the ridge frequency of a
500 dpi print. Cracks and pores across a ridge are bridged along it; noise off the ridge
frequency is suppressed. Works on the image already scaled to 500 dpi.

Quality adaptation (optional, off in the accuracy mode): where the ridge orientation is unclear
(low coherence of the smoothed gradient moments: a blotch, a scar, a crossing of creases), a
filter tuned to a guessed orientation paints ridges that are not there. With `coherence_floor`
set, the response there fades to flat gray: its weight rises from 0 at `coherence_floor` to 1
at `coherence_full`. Measured in docs/fingerprint-accuracy.md: it helped on the fit fingers and
lost on the held-out ones (SourceAFIS keeps a flat hole inside the print as foreground and finds
ridge endings along its edge), so the mode does not use it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numba import njit


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
    # Quality adaptation: the response's weight by local orientation coherence (0 below the
    # floor, 1 from `coherence_full`, linear between); None keeps the response everywhere.
    coherence_floor: float | None = None
    coherence_full: float = 0.30


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(round(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-(x * x) / (2 * sigma * sigma))
    return kernel / kernel.sum()


def _fast_length(n: int) -> int:
    """The smallest 7-smooth number >= n: NumPy's FFT is many times faster on those (and 7
    spares the Gabor transforms of a 388-px-wide print a 5-smooth 432)."""
    while True:
        m = n
        for p in (2, 3, 5, 7):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


@njit(cache=True)
def _filter_rows(padded: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Each row of `padded` (already extended by the kernel's radius on both sides) filtered by
    the symmetric `kernel`: the row length shrinks back by the kernel's size - 1."""
    rows, extended = padded.shape
    size = kernel.shape[0]
    width = extended - size + 1
    out = np.zeros((rows, width))
    for y in range(rows):
        # Tap by tap over the whole row: the inner loop has no carried sum, so it vectorises.
        for i in range(size):
            weight = kernel[i]
            for x in range(width):
                out[y, x] += padded[y, x + i] * weight
    return out


def _blur_real(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    radius = kernel.size // 2
    rows = _filter_rows(np.pad(image, ((0, 0), (radius, radius)), mode="reflect"), kernel)
    # Reflecting the row-filtered image along the columns is the row filter of the reflected
    # image: the same as reflecting both ways first (what a 2-D Gaussian of the padded image does).
    return _filter_rows(np.ascontiguousarray(np.pad(rows, ((radius, radius), (0, 0)), mode="reflect").T),
                        kernel).T


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with reflected edges, as two 1-D passes (the Gaussian is separable): the
    images blurred here are small (pooled), where direct filtering is many times cheaper than
    an FFT. `image` may be complex (real and imaginary parts are blurred alike)."""
    kernel = _gaussian_kernel(sigma)
    if np.iscomplexobj(image):
        return _blur_real(np.ascontiguousarray(image.real), kernel) + 1j * _blur_real(
            np.ascontiguousarray(image.imag), kernel)
    return _blur_real(image, kernel)


@njit(cache=True)
def _bilinear(pooled, y0, y1, wy, x0, x1, wx, out):
    """`out` = the pooled field interpolated bilinearly: rows first, then columns."""
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            low = pooled[y0[y], x0[x]] * (1 - wy[y]) + pooled[y1[y], x0[x]] * wy[y]
            high = pooled[y0[y], x1[x]] * (1 - wy[y]) + pooled[y1[y], x1[x]] * wy[y]
            out[y, x] = low * (1 - wx[x]) + high * wx[x]
    return out


def _wide_blur(image: np.ndarray, sigma: float, factor: int) -> np.ndarray:
    """`_blur`, computed on the image mean-pooled by `factor` and interpolated back bilinearly."""
    if factor == 1:
        return _blur(image, sigma)
    pooled = _blur(_pooled(image, factor), sigma / factor)
    return _bilinear(pooled, *_upsampling(image.shape, pooled.shape, factor),
                     np.empty(image.shape, dtype=pooled.dtype))


@njit(cache=True)
def _pooled(image: np.ndarray, factor: int) -> np.ndarray:
    """Means over factor × factor cells (the last row and column repeated out to whole cells)."""
    height, width = image.shape
    rows, columns = -(-height // factor), -(-width // factor)
    out = np.zeros((rows, columns))
    for y in range(rows * factor):
        source = image[min(y, height - 1)]
        target = out[y // factor]
        for column in range(columns):
            for x in range(column * factor, (column + 1) * factor):
                target[column] += source[min(x, width - 1)]
    return out / (factor * factor)


def _upsampling(shape: tuple[int, int], cells: tuple[int, int], factor: int) -> tuple[np.ndarray, ...]:
    """Bilinear weights from a field pooled by `factor` back to `shape`: y0, y1, wy, x0, x1, wx."""
    def axis(pixels: int, count: int):
        position = np.clip((np.arange(pixels) + 0.5) / factor - 0.5, 0, count - 1)
        low = np.floor(position).astype(np.int64)
        return low, np.minimum(low + 1, count - 1), position - low

    return (*axis(shape[0], cells[0]), *axis(shape[1], cells[1]))


@njit(cache=True)
def _moments(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gradient's doubled-angle moments gx² - gy², 2·gx·gy and gx² + gy², in one pass: the
    image smoothed by a 3 × 3 binomial (edges repeated; keeps pixel noise out of the gradients),
    then central differences (one-sided at the edges, as np.gradient)."""
    height, width = image.shape
    rows = np.empty((height, width))
    for y in range(height):
        for x in range(width):
            rows[y, x] = (image[y, max(x - 1, 0)] + 2 * image[y, x] + image[y, min(x + 1, width - 1)]) / 4
    smooth = np.empty((height, width))
    for y in range(height):
        for x in range(width):
            smooth[y, x] = (rows[max(y - 1, 0), x] + 2 * rows[y, x] + rows[min(y + 1, height - 1), x]) / 4
    difference = np.empty((height, width))
    product = np.empty((height, width))
    energy = np.empty((height, width))
    for y in range(height):
        for x in range(width):
            if height == 1:
                gy = 0.0
            elif y == 0:
                gy = smooth[1, x] - smooth[0, x]
            elif y == height - 1:
                gy = smooth[y, x] - smooth[y - 1, x]
            else:
                gy = (smooth[y + 1, x] - smooth[y - 1, x]) / 2
            if width == 1:
                gx = 0.0
            elif x == 0:
                gx = smooth[y, 1] - smooth[y, 0]
            elif x == width - 1:
                gx = smooth[y, x] - smooth[y, x - 1]
            else:
                gx = (smooth[y, x + 1] - smooth[y, x - 1]) / 2
            difference[y, x] = gx * gx - gy * gy
            product[y, x] = 2 * gx * gy
            energy[y, x] = gx * gx + gy * gy
    return difference, product, energy


@njit(cache=True, inline="always")
def _between(field, top, bottom, down, left, right, across):
    """The pooled field at a pixel, bilinearly between its four nearest cells."""
    return ((field[top, left] * (1 - down) + field[bottom, left] * down) * (1 - across)
            + (field[top, right] * (1 - down) + field[bottom, right] * down) * across)


@njit(cache=True, inline="always")
def _at(difference, product, energy, top, bottom, down, left, right, across):
    """The smoothed doubled-angle moments at a pixel (bilinear from the pooled grid) and their
    coherence in [0, 1]."""
    a = _between(difference, top, bottom, down, left, right, across)
    b = _between(product, top, bottom, down, left, right, across)
    e = _between(energy, top, bottom, down, left, right, across)
    return a, b, min(max(np.sqrt(a * a + b * b) / max(e, 1e-12), 0.0), 1.0)


@njit(cache=True)
def _field(difference, product, energy, y0, y1, wy, x0, x1, wx):
    """Orientation (along the ridges, [0, π)) and coherence ([0, 1]) from the smoothed moments,
    interpolated bilinearly from their pooled grid to every pixel."""
    height, width = y0.shape[0], x0.shape[0]
    angle = np.empty((height, width))
    coherence = np.empty((height, width))
    for y in range(height):
        for x in range(width):
            a, b, coherence[y, x] = _at(difference, product, energy, y0[y], y1[y], wy[y], x0[x], x1[x], wx[x])
            angle[y, x] = np.mod(0.5 * np.arctan2(b, a) + np.pi / 2, np.pi)
    return angle, coherence


def _smoothed_moments(image: np.ndarray, params: GaborParameters) -> tuple:
    """The gradient moments, pooled by `coarse` and smoothed, with the bilinear weights back to
    the image's pixels."""
    # Doubled-angle vector of the gradient, smoothed: averaging the moments over a window and
    # then smoothing the orientation field (two Gaussians) is one Gaussian of the combined width,
    # computed on the moments pooled by `coarse` (they vary slowly) and interpolated back.
    sigma = float(np.hypot(params.moment_sigma, params.field_sigma))
    factor = params.coarse
    smoothed = [_blur(_pooled(m, factor) if factor > 1 else m, sigma / factor) for m in _moments(image)]
    return (*smoothed, *_upsampling(image.shape, smoothed[0].shape, factor))


def ridge_orientation(image: np.ndarray, params: GaborParameters = GaborParameters()) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel ridge orientation (radians in [0, π), the direction along the ridges) and its
    coherence in [0, 1] (1 = perfectly parallel ridges)."""
    return _field(*_smoothed_moments(np.ascontiguousarray(image, dtype=np.float64), params))


@njit(cache=True)
def _atan2(y: float, x: float) -> float:
    """atan2 within 1e-5 rad (a minimax polynomial of atan on [0, 1], folded to the octants):
    several times cheaper than the library's, and far finer than an orientation bin."""
    ax, ay = abs(x), abs(y)
    big = max(ax, ay)
    if big == 0.0:
        return 0.0
    z = min(ax, ay) / big
    z2 = z * z
    r = z * (0.99997726 + z2 * (-0.33262347 + z2 * (0.19354346 + z2 * (-0.11643287 + z2 * (0.05265332 + z2 * -0.01172120)))))
    if ay > ax:
        r = np.pi / 2 - r
    if x < 0:
        r = np.pi - r
    return -r if y < 0 else r


@njit(cache=True)
def _bins(difference, product, energy, y0, y1, wy, x0, x1, wx, bins, floor, span):
    """What the filtering needs per pixel from the smoothed moments: the orientation bin (of
    `bins` over [0, π), the nearest to the ridge orientation) and the response's weight from
    the coherence (`confidence`), in one pass."""
    height, width = y0.shape[0], x0.shape[0]
    index = np.empty((height, width), dtype=np.int64)
    weight = np.empty((height, width))
    step = np.pi / bins
    for y in range(height):
        for x in range(width):
            a, b, coherence = _at(difference, product, energy, y0[y], y1[y], wy[y], x0[x], x1[x], wx[x])
            weight[y, x] = min(max((coherence - floor) / span, 0.0), 1.0)
            angle = 0.5 * _atan2(b, a) + np.pi / 2  # in [0, π]
            index[y, x] = int(np.floor(angle / step + 0.5)) % bins
    return index, weight


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
    """The filter bank's spectra, one per orientation, at the FFT size `shape` (cached)."""
    step = np.pi / params.orientations
    return tuple(np.fft.rfft2(_gabor_kernel(k * step, params).astype(np.float32), shape)
                 for k in range(params.orientations))


@njit(cache=True)
def _by_bin(index: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The flat positions of the pixels grouped by orientation bin (a counting sort), and where
    each bin's group ends."""
    flat = index.ravel()
    ends = np.zeros(bins, dtype=np.int64)
    for value in flat:
        ends[value] += 1
    for k in range(1, bins):
        ends[k] += ends[k - 1]
    fill = ends.copy()
    order = np.empty(flat.size, dtype=np.int64)
    for p in range(flat.size - 1, -1, -1):
        fill[flat[p]] -= 1
        order[fill[flat[p]]] = p
    return order, ends


@njit(cache=True)
def _take(result: np.ndarray, response: np.ndarray, pixels: np.ndarray, offset: int) -> None:
    """result at the flat positions `pixels` = response there, shifted by `offset` both ways
    (each orientation's pixels are visited alone, not the whole image once per orientation)."""
    width = result.shape[1]
    for p in pixels:
        y, x = p // width, p % width
        result[y, x] = response[y + offset, x + offset]


def _oriented_gabor(normalized: np.ndarray, index: np.ndarray, params: GaborParameters) -> np.ndarray:
    """Each pixel's response to the Gabor filter of its orientation bin `index`: the image is
    transformed once, brought back once per orientation bin that occurs. In single precision,
    about twice as fast as double: its rounding (~1e-7 of the response) is far below what
    the binarisation that follows can tell apart."""
    height, width = normalized.shape
    radius = int(round(3 * params.sigma))
    shape = (_fast_length(height + 2 * radius), _fast_length(width + 2 * radius))
    spectrum = np.fft.rfft2(np.pad(normalized.astype(np.float32), radius, mode="reflect"), shape)
    result = np.zeros_like(normalized)
    order, ends = _by_bin(np.ascontiguousarray(index), params.orientations)
    for k, kernel_spectrum in enumerate(_kernel_spectra(shape, params)):
        pixels = order[ends[k - 1] if k else 0:ends[k]]
        if pixels.size:
            # Full convolution: the kernel's centre shifts the output by its radius, the padding by another.
            _take(result, np.fft.irfft2(spectrum * kernel_spectrum, shape), pixels, 2 * radius)
    return result


def enhance(image: np.ndarray, params: GaborParameters = GaborParameters()) -> np.ndarray:
    """The enhanced image in the extractor's convention (float, 1.0 = black ridge, 0.0 = white)."""
    image = np.ascontiguousarray(image, dtype=np.float64)
    normalized = image - _wide_blur(image, 8.0, params.coarse)
    spread = np.sqrt(np.maximum(_wide_blur(normalized * normalized, 8.0, params.coarse), 0.0))
    normalized = normalized / np.maximum(spread, 1e-3)
    # Without the adaptation every weight is 1 (coherence is at least 0 = floor - 1, over a span of 1).
    floor, span = (-1.0, 1.0) if params.coherence_floor is None else (
        params.coherence_floor, max(params.coherence_full - params.coherence_floor, 1e-9))
    index, weight = _bins(*_smoothed_moments(image, params), params.orientations, floor, span)
    result = _oriented_gabor(normalized, index, params)
    # Map the response back to gray: ridges (dark, high values in the input) stay high. The
    # scale is the 99th percentile of the response's size, on every other row and column (a
    # quarter of the sorting; template version accurate-3).
    scale = np.percentile(np.abs(result[::2, ::2]), 99) or 1.0
    return np.clip(0.5 + (0.5 / scale) * result * weight, 0.0, 1.0)


def confidence(coherence: np.ndarray, params: GaborParameters = GaborParameters()) -> np.ndarray:
    """The weight of the filter's response per pixel: 0 where the orientation is too unclear to
    filter along (the pixel becomes flat gray), 1 where it is clear; 1 everywhere without the
    adaptation."""
    if params.coherence_floor is None:
        return np.ones_like(coherence)
    span = max(params.coherence_full - params.coherence_floor, 1e-9)
    return np.clip((coherence - params.coherence_floor) / span, 0.0, 1.0)
