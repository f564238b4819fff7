"""Ridge/valley binarization and its cleanup (SourceAFIS's BinarizedImage)."""

import numba
import numpy as np

from . import extraction_parameters as parameters
from .blocks import BlockMap
from .segmentation import pixelwise
from .votefilter import vote


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


def cleanup(binary: np.ndarray, pixel_mask: np.ndarray) -> np.ndarray:
    """Islands and holes voted away, diagonal-only crossings removed ("filtered-binary-image")."""
    args = (
        parameters.BINARIZED_VOTE_RADIUS,
        parameters.BINARIZED_VOTE_MAJORITY,
        parameters.BINARIZED_VOTE_BORDER_DISTANCE,
    )
    islands = vote(~binary, pixel_mask, *args)
    holes = vote(binary, pixel_mask, *args)
    result = (binary & ~islands) | holes
    _remove_crosses(result)
    return result


def invert(binary: np.ndarray, pixel_mask: np.ndarray) -> np.ndarray:
    """Valleys: not ridge but inside the mask."""
    return ~binary & pixel_mask
