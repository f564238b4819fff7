"""Skeleton graph: minutiae (ridge ends and junctions) joined by traced ridges
(SourceAFIS's Skeleton, SkeletonMinutia, SkeletonRidge and SkeletonTracing).

Each ridge exists twice, once per direction; both views share one point list. Lists
of ridges and minutiae compare by identity, as in the original, and keep its order,
because later filters depend on that order.
"""

from __future__ import annotations

import enum

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


def pack(point: Point) -> int:
    """A point as one int: ridge point lists hold these, because ints, unlike tuples,
    are not tracked by the garbage collector, whose passes otherwise dominate tracing time."""
    return (point[1] << 16) | point[0]


def unpack(packed: int) -> Point:
    return packed & 0xFFFF, packed >> 16


class SkeletonRidge:
    """One direction of a ridge. `points` runs from start to end in this direction."""

    __slots__ = ("_points", "forward", "reversed", "start", "end")

    def __init__(self, reversed: SkeletonRidge | None = None) -> None:
        self.start: SkeletonMinutia | None = None
        self.end: SkeletonMinutia | None = None
        if reversed is None:
            self._points: list[int] = []  # packed points, in the forward direction
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
        return unpack(self._points[index] if self.forward else self._points[len(self._points) - 1 - index])

    @property
    def points(self) -> list[Point]:
        return [unpack(packed) for packed in self.packed_points()]

    def packed_points(self) -> list[int]:
        return list(self._points) if self.forward else self._points[::-1]

    def append(self, point: Point) -> None:
        if self.forward:
            self._points.append(pack(point))
        else:
            self._points.insert(0, pack(point))

    def extend(self, points: list[Point]) -> None:
        self.extend_packed([pack(point) for point in points])

    def extend_packed(self, packed: list[int]) -> None:
        if self.forward:
            self._points.extend(packed)
        else:
            self._points[0:0] = packed[::-1]

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
        points: list[int] = []
        for minutia in self.minutiae:
            points.append(pack(minutia.position))
            for ridge in minutia.ridges:
                if ridge.start.position[1] <= ridge.end.position[1]:
                    points.extend(ridge._points)
        if points:
            packed = np.array(points, dtype=np.int64)
            shadow[packed >> 16, packed & 0xFFFF] = True
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


@numba.njit(cache=True)
def _trace_graph(thinned):
    """Minutiae and ridge paths of a thinned image, all in the original's order.

    Minutia points are skeleton pixels with one or more than two neighbours. Touching
    minutia points are merged into one minutia at their average position; the merge
    order follows the original's list merging, so the same point heads each group.
    Then every ridge is walked from each minutia point (sorted by y, then x) to the
    next minutia point.

    Returns (centers_x, centers_y, ridge start minutia, ridge end minutia, offsets into
    the point arrays, point xs, point ys, ok); ok is False if a walk did not end, which
    a proper thinned image never causes.
    """
    height, width = thinned.shape
    point_at = np.full((height, width), -1, dtype=np.int64)
    xs = []
    ys = []
    for y in range(height):
        for x in range(width):
            if thinned[y, x]:
                count = 0
                for k in range(8):
                    nx = x + _DX[k]
                    ny = y + _DY[k]
                    if 0 <= nx < width and 0 <= ny < height and thinned[ny, nx]:
                        count += 1
                if count == 1 or count > 2:
                    point_at[y, x] = len(xs)
                    xs.append(x)
                    ys.append(y)
    n = len(xs)
    # Groups of touching points, as linked lists of point indices.
    group_of = np.full(n, -1, dtype=np.int64)
    head = np.full(n, -1, dtype=np.int64)
    tail = np.full(n, -1, dtype=np.int64)
    following = np.full(n, -1, dtype=np.int64)
    for p in range(n):
        own = -1
        for k in range(8):
            nx = xs[p] + _DX[k]
            ny = ys[p] + _DY[k]
            if not (0 <= nx < width and 0 <= ny < height):
                continue
            q = point_at[ny, nx]
            # Only points linked so far count, as in the original's growing map.
            if q < 0 or q >= p:
                continue
            group = group_of[q]
            if group != own:
                if own != -1:
                    following[tail[group]] = head[own]
                    tail[group] = tail[own]
                    m = head[own]
                    while m != -1:
                        group_of[m] = group
                        m = following[m]
                own = group
        if own == -1:
            own = p
        if head[own] == -1:
            head[own] = p
        else:
            following[tail[own]] = p
        tail[own] = p
        group_of[p] = own
    minutia_of_point = np.full(n, -1, dtype=np.int64)
    minutia_of_head = np.full(n, -1, dtype=np.int64)
    centers_x = []
    centers_y = []
    for p in range(n):
        primary = head[group_of[p]]
        if minutia_of_head[primary] == -1:
            sx = 0
            sy = 0
            size = 0
            m = primary
            while m != -1:
                sx += xs[m]
                sy += ys[m]
                size += 1
                m = following[m]
            minutia_of_head[primary] = len(centers_x)
            centers_x.append(sx // size)
            centers_y.append(sy // size)
        minutia_of_point[p] = minutia_of_head[primary]

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
    ok = True
    for i in range(n):
        mx = xs[i]
        my = ys[i]
        for k in range(8):
            sx = mx + _DX[k]
            sy = my + _DY[k]
            if not (0 <= sx < width and 0 <= sy < height) or not thinned[sy, sx]:
                continue
            if point_at[sy, sx] >= 0 or leads[sy, sx]:
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
                if 0 <= cur_x < width and 0 <= cur_y < height and point_at[cur_y, cur_x] >= 0:
                    break
                if count > limit:
                    ok = False
                    break
            if not ok:
                break
            starts.append(minutia_of_point[i])
            ends.append(minutia_of_point[point_at[cur_y, cur_x]])
            offsets.append(len(px))
            leads[sy, sx] = True
            leads[prev_y, prev_x] = True
        if not ok:
            break
    return (
        np.array(centers_x, dtype=np.int64),
        np.array(centers_y, dtype=np.int64),
        np.array(starts, dtype=np.int64),
        np.array(ends, dtype=np.int64),
        np.array(offsets, dtype=np.int64),
        np.array(px, dtype=np.int64),
        np.array(py, dtype=np.int64),
        ok,
    )


def _fix_linking_gaps(skeleton: Skeleton) -> None:
    for minutia in skeleton.minutiae:
        center = pack(minutia.position)
        for ridge in minutia.ridges:
            first = ridge._points[0] if ridge.forward else ridge._points[-1]
            if first != center:
                filling = line_to(unpack(first), minutia.position)
                for point in filling[1:]:
                    ridge.reversed.append(point)


def trace(thinned: np.ndarray, type: SkeletonType) -> Skeleton:
    """Skeleton graph of a thinned image ("traced-skeleton")."""
    height, width = thinned.shape
    skeleton = Skeleton(type, width, height)
    centers_x, centers_y, starts, ends, offsets, px, py, ok = _trace_graph(np.ascontiguousarray(thinned, dtype=np.bool_))
    if not ok:
        raise RuntimeError("skeleton tracing did not terminate")
    minutiae = [SkeletonMinutia(center) for center in zip(centers_x.tolist(), centers_y.tolist())]
    skeleton.minutiae = list(minutiae)
    points = ((py << 16) | px).tolist()
    offsets_list = offsets.tolist()
    for index, (first, last) in enumerate(zip(starts.tolist(), ends.tolist())):
        ridge = SkeletonRidge()
        ridge._points.extend(points[offsets_list[index]:offsets_list[index + 1]])
        # What set_start and set_end do for a fresh ridge, without their checks.
        start = minutiae[first]
        end = minutiae[last]
        reversed = ridge.reversed
        ridge.start = reversed.end = start
        start.ridges.append(ridge)
        ridge.end = reversed.start = end
        end.ridges.append(reversed)
    _fix_linking_gaps(skeleton)
    return skeleton
