"""Skeleton graph: minutiae (ridge ends and junctions) joined by traced ridges
(SourceAFIS's Skeleton, SkeletonMinutia, SkeletonRidge and SkeletonTracing).

Each ridge exists twice, once per direction; both views share one point list. Lists
of ridges and minutiae compare by identity, as in the original, and keep its order,
because later filters depend on that order.
"""

from __future__ import annotations

import enum
import itertools
import math

import numba
import numpy as np

from . import doubleangle as angles
from . import extraction_parameters as parameters

Point = tuple[int, int]  # (x, y)

# Neighbour order of the original (row by row, top-left first); it decides ties while tracing.
CORNER_NEIGHBORS: tuple[Point, ...] = ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1))
_DX = np.array([dx for dx, _ in CORNER_NEIGHBORS], dtype=np.int64)
_DY = np.array([dy for _, dy in CORNER_NEIGHBORS], dtype=np.int64)


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

    def extend(self, points: list[Point]) -> None:
        if self.forward:
            self._points.extend(points)
        else:
            self._points[0:0] = points[::-1]

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
        points: list[Point] = []
        for minutia in self.minutiae:
            points.append(minutia.position)
            for ridge in minutia.ridges:
                if ridge.start.position[1] <= ridge.end.position[1]:
                    points.extend(ridge._points)
        if points:
            xy = np.fromiter(itertools.chain.from_iterable(points), dtype=np.int64, count=2 * len(points))
            shadow[xy[1::2], xy[0::2]] = True
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


@numba.njit(cache=True)
def _trace_paths(thinned, labels, xs, ys):
    """Walks every ridge from each minutia point (in sorted order) to the next minutia point.

    labels[y, x] >= 0 marks minutia points. Returns (start point index, end point index,
    offsets into the point arrays, point xs, point ys, ok); ok is False if a walk did not
    end, which a proper thinned image never causes.
    """
    height, width = thinned.shape
    leads = np.zeros((height, width), dtype=np.bool_)
    limit = 2
    for y in range(height):
        for x in range(width):
            if thinned[y, x]:
                limit += 1
    starts = []
    ends = []
    offsets = [0]
    px = []
    py = []
    for i in range(len(xs)):
        mx = xs[i]
        my = ys[i]
        for k in range(8):
            sx = mx + _DX[k]
            sy = my + _DY[k]
            if not (0 <= sx < width and 0 <= sy < height) or not thinned[sy, sx]:
                continue
            if labels[sy, sx] >= 0 or leads[sy, sx]:
                continue
            count = 2
            px.append(mx)
            py.append(my)
            px.append(sx)
            py.append(sy)
            prev_x, prev_y = mx, my
            cur_x, cur_y = sx, sy
            while True:
                next_x, next_y = cur_x, cur_y
                for j in range(8):
                    next_x = cur_x + _DX[j]
                    next_y = cur_y + _DY[j]
                    if (
                        0 <= next_x < width
                        and 0 <= next_y < height
                        and thinned[next_y, next_x]
                        and not (next_x == prev_x and next_y == prev_y)
                    ):
                        break
                prev_x, prev_y = cur_x, cur_y
                cur_x, cur_y = next_x, next_y
                px.append(cur_x)
                py.append(cur_y)
                count += 1
                if 0 <= cur_x < width and 0 <= cur_y < height and labels[cur_y, cur_x] >= 0:
                    break
                if count > limit:
                    return _arrays(starts, ends, offsets, px, py), False
            starts.append(i)
            ends.append(labels[cur_y, cur_x])
            offsets.append(len(px))
            leads[sy, sx] = True
            leads[prev_y, prev_x] = True
    return _arrays(starts, ends, offsets, px, py), True


@numba.njit(cache=True)
def _arrays(starts, ends, offsets, px, py):
    # Plain arrays cross back into Python far faster than numba lists.
    return (
        np.array(starts, dtype=np.int64),
        np.array(ends, dtype=np.int64),
        np.array(offsets, dtype=np.int64),
        np.array(px, dtype=np.int64),
        np.array(py, dtype=np.int64),
    )


def _trace_ridges(thinned: np.ndarray, minutia_points: dict[Point, SkeletonMinutia]) -> None:
    ordered = _sorted_points(minutia_points)
    labels = np.full(thinned.shape, -1, dtype=np.int64)
    xs = np.array([p[0] for p in ordered], dtype=np.int64)
    ys = np.array([p[1] for p in ordered], dtype=np.int64)
    labels[ys, xs] = np.arange(len(ordered))
    (starts, ends, offsets, px, py), ok = _trace_paths(thinned, labels, xs, ys)
    if not ok:
        raise RuntimeError("skeleton tracing did not terminate")
    points = list(zip(px.tolist(), py.tolist()))
    starts, ends, offsets = starts.tolist(), ends.tolist(), offsets.tolist()
    minutiae = [minutia_points[p] for p in ordered]
    for index in range(len(starts)):
        ridge = SkeletonRidge()
        ridge._points.extend(points[offsets[index]:offsets[index + 1]])
        # What set_start and set_end do for a fresh ridge, without their checks.
        start = minutiae[starts[index]]
        end = minutiae[ends[index]]
        reversed = ridge.reversed
        ridge.start = reversed.end = start
        start.ridges.append(ridge)
        ridge.end = reversed.start = end
        end.ridges.append(reversed)


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
