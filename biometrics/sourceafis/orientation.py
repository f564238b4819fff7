"""Ridge orientation: per pixel, per block, smoothed, as angles (SourceAFIS's
PixelwiseOrientations and BlockOrientations).

Orientations are "doubled angles": a ridge direction θ and θ+π map to the same 2θ,
so vectors of opposite ridge directions add up instead of cancelling.
"""

import functools
import math

import numba
import numpy as np

from . import doubleangle as angles
from . import extraction_parameters as parameters
from .blocks import BlockMap

_PRIME = 1610612741
_BITS = 30
_MASK = (1 << _BITS) - 1
_SCALING = 1.0 / (1 << _BITS)
_LONG = (1 << 64) - 1


class _OrientationRandom:
    """The original's fixed pseudo-random sequence, with Java long (and initial int) overflow."""

    def __init__(self) -> None:
        cube = (_PRIME * _PRIME * _PRIME) & 0xFFFFFFFF  # computed in Java int, then widened
        if cube >= 1 << 31:
            cube -= 1 << 32
        self.state = cube & _LONG

    def next(self) -> float:
        self.state = (self.state * _PRIME) & _LONG
        return ((self.state & _MASK) + 0.5) * _SCALING


@functools.cache
def plan() -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets compared against, per row (mod 50), and the orientation vector of each.

    Returns offsets int64 (split, checked, 2) as (x, y) and vectors float64 (split, checked, 2).
    """
    random = _OrientationRandom()
    split, checked = parameters.ORIENTATION_SPLIT, parameters.ORIENTATIONS_CHECKED
    offsets = np.zeros((split, checked, 2), dtype=np.int64)
    vectors = np.zeros((split, checked, 2))
    ratio = parameters.MAX_ORIENTATION_RADIUS / parameters.MIN_ORIENTATION_RADIUS
    for i in range(split):
        chosen: list[tuple[int, int]] = []
        for j in range(checked):
            while True:
                angle = random.next() * math.pi
                distance = math.pow(ratio, random.next()) * parameters.MIN_ORIENTATION_RADIUS
                offset = (
                    angles.java_round(distance * math.cos(angle)),
                    angles.java_round(distance * math.sin(angle)),
                )
                if offset != (0, 0) and offset[1] >= 0 and offset not in chosen:
                    break
            chosen.append(offset)
            orientation = angles.add(angles.to_orientation(angles.atan(float(offset[0]), float(offset[1]))), math.pi)
            offsets[i, j] = offset
            vectors[i, j] = (math.cos(orientation), math.sin(orientation))
    return offsets, vectors


@numba.njit(cache=True)
def _pixelwise(image, block_mask, pxs, pys, offsets, vectors):
    height, width = image.shape
    # Separate x and y planes keep the inner loop on contiguous rows.
    sum_x = np.zeros((height, width))
    sum_y = np.zeros((height, width))
    blocks_y, blocks_x = block_mask.shape
    split = offsets.shape[0]
    for by in range(blocks_y):
        first = -1
        last = -1
        for bx in range(blocks_x):
            if block_mask[by, bx]:
                last = bx
                if first < 0:
                    first = bx
        if first < 0:
            continue
        valid_start = pxs[first]
        valid_end = pxs[last + 1]
        for y in range(pys[by], pys[by + 1]):
            row = y % split
            for n in range(offsets.shape[1]):
                ox = offsets[row, n, 0]
                oy = offsets[row, n, 1]
                radius = max(abs(ox), abs(oy))
                if y - radius >= 0 and y + radius < height:
                    vx = vectors[row, n, 0]
                    vy = vectors[row, n, 1]
                    low = max(radius, valid_start)
                    high = min(width - radius, valid_end)
                    if high <= low:
                        continue
                    at = image[y, low:high]
                    before = image[y - oy, low - ox:high - ox]
                    after = image[y + oy, low + ox:high + ox]
                    out_x = sum_x[y, low:high]
                    out_y = sum_y[y, low:high]
                    # Plain indexing on row slices and no branch let the loop vectorize.
                    # Adding 0·v (±0.0) where the strength is not positive leaves every sum
                    # bit-identical to skipping it, including the +0.0 of untouched cells.
                    for i in range(high - low):
                        b = before[i]
                        a = after[i]
                        strength = at[i] - (b if b > a else a)
                        strength = strength if strength > 0.0 else 0.0
                        out_x[i] += strength * vx
                        out_y[i] += strength * vy
    result = np.empty((height, width, 2))
    result[:, :, 0] = sum_x
    result[:, :, 1] = sum_y
    return result


def pixelwise(image: np.ndarray, block_mask: np.ndarray, blocks: BlockMap) -> np.ndarray:
    """Orientation vectors per pixel, shape (h, w, 2) as (x, y) ("pixelwise-orientation")."""
    offsets, vectors = plan()
    return _pixelwise(image, block_mask, blocks.primary.xs, blocks.primary.ys, offsets, vectors)


@numba.njit(cache=True)
def _aggregate(orientation, block_mask, pxs, pys):
    blocks_y, blocks_x = block_mask.shape
    sums = np.zeros((blocks_y, blocks_x, 2))
    for by in range(blocks_y):
        for bx in range(blocks_x):
            if block_mask[by, bx]:
                sx = 0.0
                sy = 0.0
                for y in range(pys[by], pys[by + 1]):
                    for x in range(pxs[bx], pxs[bx + 1]):
                        sx += orientation[y, x, 0]
                        sy += orientation[y, x, 1]
                sums[by, bx, 0] = sx
                sums[by, bx, 1] = sy
    return sums


def aggregate(orientation: np.ndarray, blocks: BlockMap, block_mask: np.ndarray) -> np.ndarray:
    """Sum of pixel orientation vectors per masked block ("block-orientation")."""
    return _aggregate(orientation, block_mask, blocks.primary.xs, blocks.primary.ys)


@numba.njit(cache=True)
def _smooth(orientation, block_mask, radius):
    blocks_y, blocks_x = block_mask.shape
    smoothed = np.zeros((blocks_y, blocks_x, 2))
    for by in range(blocks_y):
        for bx in range(blocks_x):
            if block_mask[by, bx]:
                sx = 0.0
                sy = 0.0
                for ny in range(max(by - radius, 0), min(by + radius + 1, blocks_y)):
                    for nx in range(max(bx - radius, 0), min(bx + radius + 1, blocks_x)):
                        if block_mask[ny, nx]:
                            sx += orientation[ny, nx, 0]
                            sy += orientation[ny, nx, 1]
                smoothed[by, bx, 0] = sx
                smoothed[by, bx, 1] = sy
    return smoothed


def smooth(orientation: np.ndarray, block_mask: np.ndarray) -> np.ndarray:
    """Block vectors summed with their masked 3×3 neighbourhood ("smoothed-orientation")."""
    return _smooth(orientation, block_mask, parameters.ORIENTATION_SMOOTHING_RADIUS)


@numba.njit(cache=True)
def _angles(vectors, block_mask):
    blocks_y, blocks_x = block_mask.shape
    result = np.zeros((blocks_y, blocks_x))
    for by in range(blocks_y):
        for bx in range(blocks_x):
            if block_mask[by, bx]:
                result[by, bx] = angles.atan(vectors[by, bx, 0], vectors[by, bx, 1])
    return result


def block_angles(vectors: np.ndarray, block_mask: np.ndarray) -> np.ndarray:
    """Orientation (doubled angle in [0, 2π)) of each masked block; 0 elsewhere."""
    return _angles(vectors, block_mask)
