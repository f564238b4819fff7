"""Majority vote smoothing of boolean matrices (SourceAFIS's VoteFilter)."""

import math

import numpy as np


def vote(input: np.ndarray, mask: "np.ndarray | None", radius: int, majority: float, border_distance: int) -> np.ndarray:
    """True where at least `majority` of the (2r+1)² window (clipped to the image) is set.

    Only pixels at least `border_distance` from the edge and inside `mask` vote; the
    rest are False. The original counts incrementally; an integral image gives the
    same integer counts.
    """
    height, width = input.shape
    output = np.zeros((height, width), dtype=bool)
    top, bottom = border_distance, height - border_distance
    left, right = border_distance, width - border_distance
    if top >= bottom or left >= right:
        return output
    integral = np.zeros((height + 1, width + 1), dtype=np.int64)
    integral[1:, 1:] = np.cumsum(np.cumsum(input, axis=0, dtype=np.int64), axis=1)
    ys = np.arange(top, bottom)
    xs = np.arange(left, right)
    y0 = np.maximum(ys - radius, 0)[:, None]
    y1 = np.minimum(ys + radius, height - 1)[:, None] + 1
    x0 = np.maximum(xs - radius, 0)[None, :]
    x1 = np.minimum(xs + radius, width - 1)[None, :] + 1
    ones = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    thresholds = np.array([math.ceil(majority * i) for i in range((2 * radius + 1) ** 2 + 1)], dtype=np.int64)
    area = (y1 - y0) * (x1 - x0)
    result = ones >= thresholds[area]
    if mask is not None:
        result &= mask[top:bottom, left:right]
    output[top:bottom, left:right] = result
    return output
