"""Local histogram equalization with bilinear blending between block corners (SourceAFIS's ImageEqualization)."""

import numba
import numpy as np

from . import extraction_parameters as parameters
from .blocks import BlockMap


@numba.njit(cache=True)
def _equalize(image, pxs, pys, histogram, block_mask, max_scaling, min_scaling):
    corners_y, corners_x, bins = histogram.shape
    blocks_y = len(pys) - 1
    blocks_x = len(pxs) - 1
    range_min = -1.0
    range_max = 1.0
    range_size = range_max - range_min
    width_max = range_size / 256 * max_scaling
    width_min = range_size / 256 * min_scaling
    limited_min = np.empty(bins)
    limited_max = np.empty(bins)
    dequantized = np.empty(bins)
    for i in range(bins):
        limited_min[i] = max(i * width_min + range_min, range_max - (bins - 1 - i) * width_max)
        limited_max[i] = min(i * width_max + range_min, range_max - (bins - 1 - i) * width_min)
        dequantized[i] = i / (bins - 1)
    mappings = np.zeros((corners_y, corners_x, bins))
    for cy in range(corners_y):
        for cx in range(corners_x):
            used = False
            for dy in range(-1, 1):
                for dx in range(-1, 1):
                    by = cy + dy
                    bx = cx + dx
                    if 0 <= by < blocks_y and 0 <= bx < blocks_x and block_mask[by, bx]:
                        used = True
            if used:
                total = 0
                for i in range(bins):
                    total += histogram[cy, cx, i]
                step = range_size / total
                top = range_min
                for i in range(bins):
                    band = histogram[cy, cx, i] * step
                    equalized = top + dequantized[i] * band
                    top += band
                    if equalized < limited_min[i]:
                        equalized = limited_min[i]
                    if equalized > limited_max[i]:
                        equalized = limited_max[i]
                    mappings[cy, cx, i] = equalized
    height, width = image.shape
    result = np.empty((height, width))
    for by in range(blocks_y):
        for bx in range(blocks_x):
            left, right = pxs[bx], pxs[bx + 1]
            top_, bottom = pys[by], pys[by + 1]
            if block_mask[by, bx]:
                area_width = right - left
                area_height = bottom - top_
                for y in range(top_, bottom):
                    for x in range(left, right):
                        depth = max(0, min(bins - 1, int(image[y, x] * bins)))
                        rx = (x - left + 0.5) / area_width
                        ry = (y - top_ + 0.5) / area_height
                        topleft = mappings[by, bx, depth]
                        topright = mappings[by, bx + 1, depth]
                        bottomleft = mappings[by + 1, bx, depth]
                        bottomright = mappings[by + 1, bx + 1, depth]
                        left_value = topleft + ry * (bottomleft - topleft)
                        right_value = topright + ry * (bottomright - topright)
                        result[y, x] = left_value + rx * (right_value - left_value)
            else:
                for y in range(top_, bottom):
                    for x in range(left, right):
                        result[y, x] = -1.0
    return result


def equalize(blocks: BlockMap, image: np.ndarray, smoothed_histogram: np.ndarray, block_mask: np.ndarray) -> np.ndarray:
    """Image with contrast stretched locally to [-1, 1]; -1 outside the mask ("equalized-image")."""
    return _equalize(
        image,
        blocks.primary.xs,
        blocks.primary.ys,
        smoothed_histogram,
        block_mask,
        parameters.MAX_EQUALIZATION_SCALING,
        parameters.MIN_EQUALIZATION_SCALING,
    )
