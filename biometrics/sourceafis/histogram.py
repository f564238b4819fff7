"""Per-block histograms of pixel darkness (SourceAFIS's LocalHistograms).

A histogram cube has shape (blocks_y, blocks_x, bins) of integer counts.
"""

import numba
import numpy as np

from . import extraction_parameters as parameters
from .blocks import BlockMap


@numba.njit(cache=True)
def _create(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, bins: int) -> np.ndarray:
    # int32 like the original's counts; halves the memory the later passes stream through.
    counts = np.zeros((len(ys) - 1, len(xs) - 1, bins), dtype=np.int32)
    for by in range(len(ys) - 1):
        for bx in range(len(xs) - 1):
            for y in range(ys[by], ys[by + 1]):
                for x in range(xs[bx], xs[bx + 1]):
                    # int() truncates toward zero like Java's (int) cast.
                    depth = int(image[y, x] * bins)
                    depth = max(0, min(bins - 1, depth))
                    counts[by, bx, depth] += 1
    return counts


def create(blocks: BlockMap, image: np.ndarray) -> np.ndarray:
    """Histogram of each primary block (transparency key "histogram")."""
    return _create(image, blocks.primary.xs, blocks.primary.ys, parameters.HISTOGRAM_DEPTH)


@numba.njit(cache=True)
def _smooth(histogram):
    height, width, bins = histogram.shape
    output = np.zeros((height + 1, width + 1, bins), dtype=np.int32)
    for y in range(height + 1):
        for x in range(width + 1):
            for dy in range(-1, 1):
                for dx in range(-1, 1):
                    by = y + dy
                    bx = x + dx
                    if 0 <= by < height and 0 <= bx < width:
                        for i in range(bins):
                            output[y, x, i] += histogram[by, bx, i]
    return output


def smooth(blocks: BlockMap, histogram: np.ndarray) -> np.ndarray:
    """Histogram of each block corner: the sum of the up to four blocks around it ("smoothed-histogram")."""
    return _smooth(histogram)
