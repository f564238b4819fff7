"""Ridge/valley binarization and its cleanup (SourceAFIS's BinarizedImage)."""

import numba
import numpy as np

from . import extraction_parameters as parameters
from .blocks import BlockMap
from .segmentation import pixelwise
from .votefilter import integral_image, vote_thresholds


def binarize(smoothed: np.ndarray, baseline: np.ndarray, block_mask: np.ndarray, blocks: BlockMap) -> np.ndarray:
    """True (ridge) where the along-ridge average is darker than the across-ridge one ("binarized-image")."""
    return (smoothed - baseline > 0) & pixelwise(block_mask, blocks)


@numba.njit(cache=True)
def _remove_crosses(image):
    # In place and in scan order, as the original: earlier removals change later matches.
    height, width = image.shape
    changed = True
    while changed:
        changed = False
        for y in range(height - 1):
            for x in range(width - 1):
                a = image[y, x]
                b = image[y, x + 1]
                c = image[y + 1, x]
                d = image[y + 1, x + 1]
                if (a and d and not c and not b) or (c and b and not a and not d):
                    image[y, x] = False
                    image[y + 1, x] = False
                    image[y, x + 1] = False
                    image[y + 1, x + 1] = False
                    changed = True


@numba.njit(cache=True)
def _vote_islands_and_holes(binary, mask, radius, thresholds, border_distance):
    # Both votes of the original (on the inverted image for islands, on the image for
    # holes) from one integral image: a window's zeros are its area minus its ones.
    height, width = binary.shape
    result = binary.copy()
    if border_distance >= height - border_distance or border_distance >= width - border_distance:
        return result
    integral = integral_image(binary)
    for y in range(border_distance, height - border_distance):
        y0 = max(0, y - radius)
        y1 = min(height - 1, y + radius) + 1
        for x in range(border_distance, width - border_distance):
            if not mask[y, x]:
                continue
            x0 = max(0, x - radius)
            x1 = min(width - 1, x + radius) + 1
            area = (y1 - y0) * (x1 - x0)
            ones = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
            threshold = thresholds[area]
            if ones >= threshold:
                result[y, x] = True
            elif area - ones >= threshold:
                result[y, x] = False
    return result


def cleanup(binary: np.ndarray, pixel_mask: np.ndarray) -> np.ndarray:
    """Islands and holes voted away, diagonal-only crossings removed ("filtered-binary-image")."""
    radius = parameters.BINARIZED_VOTE_RADIUS
    thresholds = vote_thresholds(radius, parameters.BINARIZED_VOTE_MAJORITY)
    result = _vote_islands_and_holes(
        np.ascontiguousarray(binary, dtype=np.bool_),
        np.ascontiguousarray(pixel_mask, dtype=np.bool_),
        radius,
        thresholds,
        parameters.BINARIZED_VOTE_BORDER_DISTANCE,
    )
    _remove_crosses(result)
    return result


def invert(binary: np.ndarray, pixel_mask: np.ndarray) -> np.ndarray:
    """Valleys: not ridge but inside the mask."""
    return ~binary & pixel_mask
