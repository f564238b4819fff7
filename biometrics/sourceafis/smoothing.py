"""Smoothing along and across the ridges (SourceAFIS's OrientedSmoothing)."""

import functools
import math

import numba
import numpy as np

from . import doubleangle as angles
from . import extraction_parameters as parameters
from .blocks import BlockMap


@functools.cache
def lines(resolution: int, radius: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Sample offsets along a line for each of `resolution` orientations.

    Returns (points (n, 2) int64 as (x, y), starts (resolution + 1) int64) so line i is
    points[starts[i]:starts[i + 1]].
    """
    points: list[tuple[int, int]] = []
    starts = [0]
    for index in range(resolution):
        line = [(0, 0)]
        direction = angles.from_orientation(angles.bucket_center(index, resolution))
        cos, sin = math.cos(direction), math.sin(direction)
        r = float(radius)
        while r >= 0.5:
            sample = (angles.java_round(r * cos), angles.java_round(r * sin))
            if sample not in line:
                line.append(sample)
                line.append((-sample[0], -sample[1]))
            r /= step
        points.extend(line)
        starts.append(len(points))
    return np.array(points, dtype=np.int64).reshape(-1, 2), np.array(starts, dtype=np.int64)


@numba.njit(cache=True)
def _smooth(image, orientation, block_mask, pxs, pys, angle, points, starts):
    height, width = image.shape
    output = np.zeros((height, width))
    resolution = len(starts) - 1
    blocks_y, blocks_x = block_mask.shape
    for by in range(blocks_y):
        for bx in range(blocks_x):
            if not block_mask[by, bx]:
                continue
            index = angles.quantize(angles.add(orientation[by, bx], angle), resolution)
            left, right = pxs[bx], pxs[bx + 1]
            top, bottom = pys[by], pys[by + 1]
            count = starts[index + 1] - starts[index]
            for p in range(starts[index], starts[index + 1]):
                lx = points[p, 0]
                ly = points[p, 1]
                x_low = max(left, -lx)
                x_high = min(right, width - lx)
                if x_high <= x_low:
                    continue
                for y in range(max(top, -ly), min(bottom, height - ly)):
                    # Row slices keep the inner loop simple enough to vectorize.
                    source = image[y + ly, x_low + lx:x_high + lx]
                    target = output[y, x_low:x_high]
                    for i in range(x_high - x_low):
                        target[i] += source[i]
            factor = 1.0 / count
            for y in range(top, bottom):
                for x in range(left, right):
                    output[y, x] *= factor
    return output


def _apply(image, orientation, block_mask, blocks, angle, resolution, radius, step):
    points, starts = lines(resolution, radius, step)
    return _smooth(image, orientation, block_mask, blocks.primary.xs, blocks.primary.ys, angle, points, starts)


def parallel(image: np.ndarray, orientation: np.ndarray, block_mask: np.ndarray, blocks: BlockMap) -> np.ndarray:
    """Average along the ridge ("parallel-smoothing")."""
    return _apply(
        image, orientation, block_mask, blocks, 0.0,
        parameters.PARALLEL_SMOOTHING_RESOLUTION, parameters.PARALLEL_SMOOTHING_RADIUS, parameters.PARALLEL_SMOOTHING_STEP,
    )


def orthogonal(image: np.ndarray, orientation: np.ndarray, block_mask: np.ndarray, blocks: BlockMap) -> np.ndarray:
    """Average across the ridge, of the parallel-smoothed image ("orthogonal-smoothing")."""
    return _apply(
        image, orientation, block_mask, blocks, math.pi,
        parameters.ORTHOGONAL_SMOOTHING_RESOLUTION, parameters.ORTHOGONAL_SMOOTHING_RADIUS, parameters.ORTHOGONAL_SMOOTHING_STEP,
    )
