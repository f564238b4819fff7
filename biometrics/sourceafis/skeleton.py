"""Skeleton graph: minutiae (ridge ends and junctions) joined by traced ridges
(SourceAFIS's Skeleton, SkeletonMinutia, SkeletonRidge and SkeletonTracing).

Each ridge exists twice, once per direction; both views share one point list. Lists
of ridges and minutiae compare by identity, as in the original, and keep its order,
because later filters depend on that order.
"""

from __future__ import annotations

import enum
import math

import numpy as np

from . import doubleangle as angles
from . import extraction_parameters as parameters

Point = tuple[int, int]  # (x, y)

# Neighbour order of the original (row by row, top-left first); it decides ties while tracing.
CORNER_NEIGHBORS: tuple[Point, ...] = ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1))


class SkeletonType(enum.Enum):
    RIDGES = "ridges-"
    VALLEYS = "valleys-"


class SkeletonMinutia:
    __slots__ = ("position", "ridges")

    def __init__(self, position: Point) -> None:
        self.position = position
        self.ridges: list[SkeletonRidge] = []

    def attach_start(self, ridge: SkeletonRidge) -> None:
        if not _contains(self.ridges, ridge):
            self.ridges.append(ridge)
            ridge.set_start(self)

    def detach_start(self, ridge: SkeletonRidge) -> None:
        if _contains(self.ridges, ridge):
            _remove(self.ridges, ridge)
            if ridge.start is self:
                ridge.set_start(None)

    def __repr__(self) -> str:
        return f"{self.position}*{len(self.ridges)}"


def _contains(items: list, item: object) -> bool:
    return any(candidate is item for candidate in items)


def _remove(items: list, item: object) -> None:
    for index, candidate in enumerate(items):
        if candidate is item:
            del items[index]
            return


class SkeletonRidge:
    """One direction of a ridge. `points` runs from start to end in this direction."""

    __slots__ = ("_points", "forward", "reversed", "start", "end")

    def __init__(self, reversed: SkeletonRidge | None = None) -> None:
        self.start: SkeletonMinutia | None = None
        self.end: SkeletonMinutia | None = None
        if reversed is None:
            self._points: list[Point] = []
            self.forward = True
            self.reversed = SkeletonRidge(self)
        else:
            self._points = reversed._points
            self.forward = False
            self.reversed = reversed

    # Point list access in this ridge's direction.
    def size(self) -> int:
        return len(self._points)

    def point(self, index: int) -> Point:
        return self._points[index] if self.forward else self._points[len(self._points) - 1 - index]

    @property
    def points(self) -> list[Point]:
        return list(self._points) if self.forward else self._points[::-1]

    def append(self, point: Point) -> None:
        if self.forward:
            self._points.append(point)
        else:
            self._points.insert(0, point)

    def extend(self, points) -> None:
        for point in points:
            self.append(point)

    def remove_last(self) -> None:
        if self.forward:
            self._points.pop()
        else:
            self._points.pop(0)

    def set_start(self, value: SkeletonMinutia | None) -> None:
        if self.start is not value:
            if self.start is not None:
                detach_from = self.start
                self.start = None
                detach_from.detach_start(self)
            self.start = value
            if value is not None:
                value.attach_start(self)
            self.reversed.end = value

    def set_end(self, value: SkeletonMinutia | None) -> None:
        if self.end is not value:
            self.end = value
            self.reversed.set_start(value)

    def detach(self) -> None:
        self.set_start(None)
        self.set_end(None)

    def direction(self) -> float:
        """Angle from near the start to ~20 px along the ridge, rounded to float32 like the original."""
        first = parameters.RIDGE_DIRECTION_SKIP
        last = parameters.RIDGE_DIRECTION_SKIP + parameters.RIDGE_DIRECTION_SAMPLE - 1
        size = self.size()
        if last >= size:
            shift = last - size + 1
            last -= shift
            first -= shift
        if first < 0:
            first = 0
        a = self.point(first)
        b = self.point(last)
        return float(np.float32(angles.atan(float(b[0] - a[0]), float(b[1] - a[1]))))


class Skeleton:
    def __init__(self, type: SkeletonType, width: int, height: int) -> None:
        self.type = type
        self.width = width
        self.height = height
        self.minutiae: list[SkeletonMinutia] = []

    def remove_minutia(self, minutia: SkeletonMinutia) -> None:
        _remove(self.minutiae, minutia)

    def shadow(self) -> np.ndarray:
        """Pixels covered by the skeleton, shape (height, width)."""
        shadow = np.zeros((self.height, self.width), dtype=bool)
        for minutia in self.minutiae:
            shadow[minutia.position[1], minutia.position[0]] = True
            for ridge in minutia.ridges:
                if ridge.start.position[1] <= ridge.end.position[1]:
                    for x, y in ridge._points:
                        shadow[y, x] = True
        return shadow

    def ridges(self) -> list[tuple[int, int, list[Point]]]:
        """(start index, end index, points) of each ridge in its stored direction, as the transparency record lists them."""
        offsets = {id(minutia): index for index, minutia in enumerate(self.minutiae)}
        return [
            (offsets[id(ridge.start)], offsets[id(ridge.end)], ridge.points)
            for minutia in self.minutiae
            for ridge in minutia.ridges
            if ridge.forward
        ]


def line_to(start: Point, end: Point) -> list[Point]:
    """Pixels of the straight line from start to end inclusive (the original's IntPoint.lineTo)."""
    x, y = start
    rx, ry = end[0] - x, end[1] - y
    if abs(rx) >= abs(ry):
        if rx > 0:
            return [(x + i, y + angles.java_round(i * (ry / rx))) for i in range(rx + 1)]
        if rx < 0:
            return [(x - i, y - angles.java_round(i * (ry / rx))) for i in range(-rx + 1)]
        return [start]
    if ry > 0:
        return [(x + angles.java_round(i * (rx / ry)), y + i) for i in range(ry + 1)]
    return [(x - angles.java_round(i * (rx / ry)), y - i) for i in range(-ry + 1)]


def _find_minutiae(thinned: np.ndarray) -> list[Point]:
    height, width = thinned.shape
    padded = np.zeros((height + 2, width + 2), dtype=np.int8)
    padded[1:-1, 1:-1] = thinned
    count = np.zeros((height, width), dtype=np.int8)
    for dx, dy in CORNER_NEIGHBORS:
        count += padded[1 + dy:1 + dy + height, 1 + dx:1 + dx + width]
    ys, xs = np.nonzero(thinned & ((count == 1) | (count > 2)))
    return list(zip(xs.tolist(), ys.tolist()))


def _link_neighboring_minutiae(minutiae: list[Point]) -> dict[Point, list[Point]]:
    linking: dict[Point, list[Point]] = {}
    for position in minutiae:
        own: list[Point] | None = None
        for dx, dy in CORNER_NEIGHBORS:
            neighbor = (position[0] + dx, position[1] + dy)
            links = linking.get(neighbor)
            if links is not None and links is not own:
                if own is not None:
                    links.extend(own)
                    for merged in own:
                        linking[merged] = links
                own = links
        if own is None:
            own = []
        own.append(position)
        linking[position] = own
    return linking


def _sorted_points(points) -> list[Point]:
    return sorted(points, key=lambda p: (p[1], p[0]))


def _minutia_centers(skeleton: Skeleton, linking: dict[Point, list[Point]]) -> dict[Point, SkeletonMinutia]:
    centers: dict[Point, SkeletonMinutia] = {}
    for position in _sorted_points(linking):
        linked = linking[position]
        primary = linked[0]
        if primary not in centers:
            sx = sum(p[0] for p in linked)
            sy = sum(p[1] for p in linked)
            minutia = SkeletonMinutia((sx // len(linked), sy // len(linked)))
            skeleton.minutiae.append(minutia)
            centers[primary] = minutia
        centers[position] = centers[primary]
    return centers


def _trace_ridges(thinned: np.ndarray, minutia_points: dict[Point, SkeletonMinutia]) -> None:
    height, width = thinned.shape

    def on(point: Point) -> bool:
        x, y = point
        return 0 <= x < width and 0 <= y < height and bool(thinned[y, x])

    leads: set[Point] = set()
    # A traced ridge cannot be longer than the skeleton; the bound keeps bad input from looping forever.
    limit = int(np.count_nonzero(thinned)) + 2
    for position in _sorted_points(minutia_points):
        for dx, dy in CORNER_NEIGHBORS:
            start = (position[0] + dx, position[1] + dy)
            if on(start) and start not in minutia_points and start not in leads:
                ridge = SkeletonRidge()
                points = ridge._points
                points.append(position)
                points.append(start)
                previous = position
                current = start
                while True:
                    next_point = current
                    for nx, ny in CORNER_NEIGHBORS:
                        next_point = (current[0] + nx, current[1] + ny)
                        if on(next_point) and next_point != previous:
                            break
                    previous = current
                    current = next_point
                    points.append(current)
                    if current in minutia_points:
                        break
                    if len(points) > limit:
                        raise RuntimeError("skeleton tracing did not terminate")
                ridge.set_start(minutia_points[position])
                ridge.set_end(minutia_points[current])
                leads.add(ridge.point(1))
                leads.add(ridge.reversed.point(1))


def _fix_linking_gaps(skeleton: Skeleton) -> None:
    for minutia in skeleton.minutiae:
        for ridge in minutia.ridges:
            first = ridge.point(0)
            if first != minutia.position:
                filling = line_to(first, minutia.position)
                for point in filling[1:]:
                    ridge.reversed.append(point)


def trace(thinned: np.ndarray, type: SkeletonType) -> Skeleton:
    """Skeleton graph of a thinned image ("traced-skeleton")."""
    height, width = thinned.shape
    skeleton = Skeleton(type, width, height)
    linking = _link_neighboring_minutiae(_find_minutiae(thinned))
    centers = _minutia_centers(skeleton, linking)
    _trace_ridges(thinned, centers)
    _fix_linking_gaps(skeleton)
    return skeleton
