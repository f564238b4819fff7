"""Which blocks hold fingerprint and which background (SourceAFIS's SegmentationMask and helpers)."""

import math

import numba
import numpy as np

from . import extraction_parameters as parameters
from .doubleangle import java_round
from .blocks import BlockMap
from .votefilter import vote


@numba.njit(cache=True)
def _clipped_contrast(histogram, clip_ratio):
    height, width, bins = histogram.shape
    result = np.zeros((height, width))
    for by in range(height):
        for bx in range(width):
            volume = 0
            for i in range(bins):
                volume += histogram[by, bx, i]
            clip_limit = int(math.floor(volume * clip_ratio + 0.5))
            accumulator = 0
            lower = bins - 1
            for i in range(bins):
                accumulator += histogram[by, bx, i]
                if accumulator > clip_limit:
                    lower = i
                    break
            accumulator = 0
            upper = 0
            for i in range(bins - 1, -1, -1):
                accumulator += histogram[by, bx, i]
                if accumulator > clip_limit:
                    upper = i
                    break
            result[by, bx] = (upper - lower) * (1.0 / (bins - 1))
    return result


def clipped_contrast(histogram: np.ndarray) -> np.ndarray:
    """Per block: spread of darkness after clipping 8 % of pixels at each end ("contrast")."""
    return _clipped_contrast(histogram, parameters.CLIPPED_CONTRAST)


def absolute_contrast_mask(contrast: np.ndarray) -> np.ndarray:
    """True (background) where contrast is below an absolute floor."""
    return contrast < parameters.MIN_ABSOLUTE_CONTRAST


def _java_average(values: list[float]) -> float:
    # DoubleStream.average() sums with Kahan compensation (the form of JDK 17 before the
    # JDK-8214761 fix). The fix only flips the sign of a ~1e-17 correction, far below
    # the 1/255 steps of the contrast values this average is compared with.
    total = 0.0
    compensation = 0.0
    for value in values:
        corrected = value - compensation
        updated = total + corrected
        compensation = (updated - total) - corrected
        total = updated
    return (total + compensation) / len(values)


def relative_contrast_mask(contrast: np.ndarray, blocks: BlockMap) -> np.ndarray:
    """True (background) where contrast is far below that of the best-contrast part of the print."""
    ordered = sorted(contrast.ravel().tolist(), reverse=True)
    pixels_per_block = (blocks.width * blocks.height) // (blocks.primary.width * blocks.primary.height)
    sample_count = min(len(ordered), parameters.RELATIVE_CONTRAST_SAMPLE // pixels_per_block)
    considered = max(java_round(sample_count * parameters.RELATIVE_CONTRAST_PERCENTILE), 1)
    limit = _java_average(ordered[:considered]) * parameters.MIN_RELATIVE_CONTRAST
    return contrast < limit


def _block_errors(mask: np.ndarray) -> np.ndarray:
    return vote(
        mask,
        None,
        parameters.BLOCK_ERRORS_VOTE_RADIUS,
        parameters.BLOCK_ERRORS_VOTE_MAJORITY,
        parameters.BLOCK_ERRORS_VOTE_BORDER_DISTANCE,
    )


def filter_mask(combined: np.ndarray) -> np.ndarray:
    """The combined background mask cleaned by votes and inverted: True = fingerprint ("filtered-mask")."""
    mask = combined.copy()
    mask |= _block_errors(mask)
    mask = ~mask
    mask |= _block_errors(mask)
    mask |= _block_errors(mask)
    mask |= vote(
        mask, None, parameters.MASK_VOTE_RADIUS, parameters.MASK_VOTE_MAJORITY, parameters.MASK_VOTE_BORDER_DISTANCE
    )
    return mask


def pixelwise(mask: np.ndarray, blocks: BlockMap) -> np.ndarray:
    """The block mask expanded to pixels ("pixel-mask")."""
    widths = np.diff(blocks.primary.xs)
    heights = np.diff(blocks.primary.ys)
    return np.repeat(np.repeat(mask, heights, axis=0), widths, axis=1)


def _shrink(mask: np.ndarray, amount: int) -> np.ndarray:
    height, width = mask.shape
    shrunk = np.zeros_like(mask)
    if height <= 2 * amount or width <= 2 * amount:
        return shrunk
    a = amount
    shrunk[a:height - a, a:width - a] = (
        mask[0:height - 2 * a, a:width - a]
        & mask[2 * a:height, a:width - a]
        & mask[a:height - a, 0:width - 2 * a]
        & mask[a:height - a, 2 * a:width]
    )
    return shrunk


def inner(outer: np.ndarray) -> np.ndarray:
    """The pixel mask pulled in from its edges, where minutiae are trusted ("inner-mask")."""
    height, width = outer.shape
    result = np.zeros_like(outer)
    result[1:height - 1, 1:width - 1] = outer[1:height - 1, 1:width - 1]
    distance = parameters.INNER_MASK_BORDER_DISTANCE
    if distance >= 1:
        result = _shrink(result, 1)
    total = 1
    step = 1
    while total + step <= distance:
        result = _shrink(result, step)
        total += step
        step *= 2
    if total < distance:
        result = _shrink(result, distance - total)
    return result
