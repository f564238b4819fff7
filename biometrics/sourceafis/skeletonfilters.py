"""Clean-up of the skeleton graph: dots, pores, gaps, tails, fragments and knots
(SourceAFIS's Skeleton*Filter classes). Each filter edits the skeleton in place.
"""

from __future__ import annotations

import numpy as np

from . import doubleangle as angles
from . import extraction_parameters as parameters
from .skeleton import Skeleton, SkeletonMinutia, SkeletonRidge, line_to


def remove_dots(skeleton: Skeleton) -> None:
    """Drop minutiae left without any ridge ("removed-dots")."""
    skeleton.minutiae = [minutia for minutia in skeleton.minutiae if minutia.ridges]


def remove_knots(skeleton: Skeleton) -> None:
    """Merge the two ridges meeting at a minutia that has exactly two."""
    for minutia in skeleton.minutiae:
        if len(minutia.ridges) == 2 and minutia.ridges[0].reversed is not minutia.ridges[1]:
            extended = minutia.ridges[0].reversed
            removed = minutia.ridges[1]
            if extended.size() < removed.size():
                extended, removed = removed.reversed, extended.reversed
            extended.remove_last()
            extended.extend_packed(removed.packed_points())
            extended.set_end(removed.end)
            removed.detach()
    remove_dots(skeleton)


def remove_pores(skeleton: Skeleton) -> None:
    """Replace a small loop (two short arms between the same two junctions) by a straight ridge ("removed-pores")."""
    for minutia in skeleton.minutiae:
        if len(minutia.ridges) == 3:
            for exit in range(3):
                exit_ridge = minutia.ridges[exit]
                arm1 = minutia.ridges[(exit + 1) % 3]
                arm2 = minutia.ridges[(exit + 2) % 3]
                if (
                    arm1.end is arm2.end
                    and exit_ridge.end is not arm1.end
                    and arm1.end is not minutia
                    and exit_ridge.end is not minutia
                ):
                    end = arm1.end
                    if (
                        len(end.ridges) == 3
                        and arm1.size() <= parameters.MAX_PORE_ARM
                        and arm2.size() <= parameters.MAX_PORE_ARM
                    ):
                        arm1.detach()
                        arm2.detach()
                        merged = SkeletonRidge()
                        merged.set_start(minutia)
                        merged.set_end(end)
                        merged.extend(line_to(minutia.position, end.position))
                    break
    remove_knots(skeleton)


def _angle_sample(minutia: SkeletonMinutia) -> tuple[int, int]:
    ridge = minutia.ridges[0]
    if parameters.GAP_ANGLE_OFFSET < ridge.size():
        return ridge.point(parameters.GAP_ANGLE_OFFSET)
    return ridge.end.position


def _direction(origin: tuple[int, int], target: tuple[int, int]) -> float:
    return angles.atan(float(target[0] - origin[0]), float(target[1] - origin[1]))


def _within_gap_limits(end1: SkeletonMinutia, end2: SkeletonMinutia) -> bool:
    dx = end1.position[0] - end2.position[0]
    dy = end1.position[1] - end2.position[1]
    distance_sq = dx * dx + dy * dy
    if distance_sq <= parameters.MAX_RUPTURE_SIZE ** 2:
        return True
    if distance_sq > parameters.MAX_GAP_SIZE ** 2:
        return False
    gap_direction = _direction(end1.position, end2.position)
    direction1 = _direction(end1.position, _angle_sample(end1))
    if angles.distance(direction1, angles.opposite(gap_direction)) > parameters.MAX_GAP_ANGLE:
        return False
    direction2 = _direction(end2.position, _angle_sample(end2))
    if angles.distance(direction2, gap_direction) > parameters.MAX_GAP_ANGLE:
        return False
    return True


def remove_gaps(skeleton: Skeleton) -> None:
    """Join ridge endings that face each other across a short gap, nearest pairs first ("removed-gaps")."""
    candidates = [
        minutia
        for minutia in skeleton.minutiae
        if len(minutia.ridges) == 1 and minutia.ridges[0].size() >= parameters.SHORTEST_JOINED_ENDING
    ]
    gaps = []
    if len(candidates) > 1:
        xs = np.array([m.position[0] for m in candidates], dtype=np.int64)
        ys = np.array([m.position[1] for m in candidates], dtype=np.int64)
        distance_sq = (xs[:, None] - xs[None, :]) ** 2 + (ys[:, None] - ys[None, :]) ** 2
        # Pairs farther than the largest gap fail the limits anyway; skip them cheaply.
        near = distance_sq <= parameters.MAX_GAP_SIZE ** 2
        np.fill_diagonal(near, False)
        for i, j in zip(*np.nonzero(near)):
            end1 = candidates[i]
            end2 = candidates[j]
            if end1.ridges[0].end is not end2 and _within_gap_limits(end1, end2):
                # Priority order of the original: distance, then positions compared y first.
                key = (int(distance_sq[i, j]), end1.position[1], end1.position[0], end2.position[1], end2.position[0])
                gaps.append((key, end1, end2))
    gaps.sort(key=lambda gap: gap[0])
    shadow = skeleton.shadow()
    overlap = parameters.TOLERATED_GAP_OVERLAP
    for _, end1, end2 in gaps:
        if len(end1.ridges) == 1 and len(end2.ridges) == 1:
            line = line_to(end1.position, end2.position)
            if not any(shadow[y, x] for x, y in line[overlap:len(line) - overlap]):
                ridge = SkeletonRidge()
                ridge.extend(line)
                ridge.set_start(end1)
                ridge.set_end(end2)
                for x, y in line:
                    shadow[y, x] = True
    remove_knots(skeleton)


def remove_tails(skeleton: Skeleton) -> None:
    """Cut short ridges that hang off a junction ("removed-tails")."""
    for minutia in skeleton.minutiae:
        if len(minutia.ridges) == 1 and len(minutia.ridges[0].end.ridges) >= 3:
            if minutia.ridges[0].size() < parameters.MIN_TAIL_LENGTH:
                minutia.ridges[0].detach()
    remove_dots(skeleton)
    remove_knots(skeleton)


def remove_fragments(skeleton: Skeleton) -> None:
    """Drop short free-standing ridges ("removed-fragments")."""
    for minutia in skeleton.minutiae:
        if len(minutia.ridges) == 1:
            ridge = minutia.ridges[0]
            if len(ridge.end.ridges) == 1 and ridge.size() < parameters.MIN_FRAGMENT_LENGTH:
                ridge.detach()
    remove_dots(skeleton)
