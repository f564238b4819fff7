"""Minutiae taken from the skeletons and filtered (SourceAFIS's MinutiaCollector,
InnerMinutiaeFilter, MinutiaCloudFilter and TopMinutiaeFilter)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import doubleangle as angles
from . import extraction_parameters as parameters
from .skeleton import Skeleton

ENDING = 0
BIFURCATION = 1


@dataclass(frozen=True, eq=False)
class FeatureMinutia:
    """A minutia before shuffling. Compared by identity, as the original's filters do."""

    x: int
    y: int
    direction: float  # float32 value, radians in [0, 2π)
    type: int  # ENDING or BIFURCATION


def collect(ridges: Skeleton, valleys: Skeleton) -> list[FeatureMinutia]:
    """Ridge endings of both skeletons: endings of ridges, and of valleys, which are bifurcations ("skeleton-minutiae")."""
    result = []
    for skeleton, kind in ((ridges, ENDING), (valleys, BIFURCATION)):
        for minutia in skeleton.minutiae:
            if len(minutia.ridges) == 1:
                result.append(FeatureMinutia(minutia.position[0], minutia.position[1], minutia.ridges[0].direction(), kind))
    return result


def inner(minutiae: list[FeatureMinutia], inner_mask: np.ndarray) -> list[FeatureMinutia]:
    """Keep minutiae whose point ~10 px behind them lies inside the inner mask ("inner-minutiae")."""
    height, width = inner_mask.shape
    kept = []
    for minutia in minutiae:
        x = minutia.x + angles.java_round(-parameters.MASK_DISPLACEMENT * math.cos(minutia.direction))
        y = minutia.y + angles.java_round(-parameters.MASK_DISPLACEMENT * math.sin(minutia.direction))
        if 0 <= x < width and 0 <= y < height and inner_mask[y, x]:
            kept.append(minutia)
    return kept


def remove_clouds(minutiae: list[FeatureMinutia]) -> list[FeatureMinutia]:
    """Drop minutiae with more than 4 others within 20 px ("removed-minutia-clouds")."""
    if not minutiae:
        return []
    xs = np.array([m.x for m in minutiae], dtype=np.int64)
    ys = np.array([m.y for m in minutiae], dtype=np.int64)
    distance_sq = (xs[:, None] - xs[None, :]) ** 2 + (ys[:, None] - ys[None, :]) ** 2
    neighbors = (distance_sq <= parameters.MINUTIA_CLOUD_RADIUS ** 2).sum(axis=1) - 1
    return [minutia for minutia, count in zip(minutiae, neighbors) if count <= parameters.MAX_CLOUD_SIZE]


def top(minutiae: list[FeatureMinutia]) -> list[FeatureMinutia]:
    """At most 100 minutiae, preferring those farthest from their 5th neighbour ("top-minutiae")."""
    if len(minutiae) <= parameters.MAX_MINUTIAE:
        return list(minutiae)
    xs = np.array([m.x for m in minutiae], dtype=np.int64)
    ys = np.array([m.y for m in minutiae], dtype=np.int64)
    distance_sq = np.sort((xs[:, None] - xs[None, :]) ** 2 + (ys[:, None] - ys[None, :]) ** 2, axis=1)
    rank = distance_sq[:, parameters.SORT_BY_NEIGHBOR].tolist()
    # Stable sort, descending, as the original's reversed comparator.
    order = sorted(range(len(minutiae)), key=lambda i: -rank[i])
    return [minutiae[i] for i in order[: parameters.MAX_MINUTIAE]]
