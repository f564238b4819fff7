"""Majority vote smoothing of boolean matrices (SourceAFIS's VoteFilter)."""

import math

import numba
import numpy as np


@numba.njit(cache=True)
def integral_image(binary):
    """Counts of true cells above and left of each corner: any window's count in four reads."""
    height, width = binary.shape
    integral = np.zeros((height + 1, width + 1), dtype=np.int32)
    for y in range(height):
        row = 0
        for x in range(width):
            if binary[y, x]:
                row += 1
            integral[y + 1, x + 1] = integral[y, x + 1] + row
    return integral


@numba.njit(cache=True)
def _vote(input, mask, use_mask, radius, thresholds, border_distance):
    height, width = input.shape
    output = np.zeros((height, width), dtype=np.bool_)
    if border_distance >= height - border_distance or border_distance >= width - border_distance:
        return output
    # Integral image: the original counts incrementally; both give the same integer counts.
    integral = integral_image(input)
    for y in range(border_distance, height - border_distance):
        y0 = max(0, y - radius)
        y1 = min(height - 1, y + radius) + 1
        for x in range(border_distance, width - border_distance):
            if use_mask and not mask[y, x]:
                continue
            x0 = max(0, x - radius)
            x1 = min(width - 1, x + radius) + 1
            ones = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
            if ones >= thresholds[(y1 - y0) * (x1 - x0)]:
                output[y, x] = True
    return output


def vote_thresholds(radius: int, majority: float) -> np.ndarray:
    """Votes needed for a majority, by window area (windows shrink at the image edge)."""
    return np.array([math.ceil(majority * i) for i in range((2 * radius + 1) ** 2 + 1)], dtype=np.int64)


def vote(input: np.ndarray, mask: "np.ndarray | None", radius: int, majority: float, border_distance: int) -> np.ndarray:
    """True where at least `majority` of the (2r+1)² window (clipped to the image) is set.

    Only pixels at least `border_distance` from the edge and inside `mask` vote; the
    rest are False.
    """
    thresholds = vote_thresholds(radius, majority)
    use_mask = mask is not None
    return _vote(
        np.ascontiguousarray(input, dtype=np.bool_),
        mask if use_mask else np.zeros((1, 1), dtype=np.bool_),
        use_mask,
        radius,
        thresholds,
        border_distance,
    )
