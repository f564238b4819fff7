"""Edges between minutiae: their shape (length and two angles) and each minutia's nearest neighbours.

An edge from a reference minutia to a neighbour is described, as in SourceAFIS,
by its length and by the angles between each end's direction and the edge.
Lengths and edge angles come from a 256×256 polar lookup (coarser beyond it),
exactly as the original computes them, so the matcher sees identical shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from . import angles
from .edgehash import angle_cells
from .fdlibm import atan2
from .parameters import EDGE_TABLE_NEIGHBORS, HALF_PI, MIN_ROOT_EDGE_LENGTH, PI
from .template import Template

_POLAR_BITS = 8
_POLAR_RADIUS = 1 << _POLAR_BITS


def _polar_tables() -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:_POLAR_RADIUS, 0:_POLAR_RADIUS].astype(np.float64)
    # Java's Math.round is floor(x + 0.5); sqrt of an integer never lands on a half.
    lengths = np.floor(np.sqrt(xs * xs + ys * ys) + 0.5).astype(np.int32)
    directions = np.empty((_POLAR_RADIUS, _POLAR_RADIUS), dtype=np.float32)
    for y in range(_POLAR_RADIUS):
        for x in range(_POLAR_RADIUS):
            # Java's Math.atan2 (fdlibm), rounded to float as the original's FloatAngle does.
            directions[y, x] = atan2(y, x) if (x or y) else 0.0
    return lengths.ravel(), directions.ravel()


POLAR_LENGTHS, POLAR_DIRECTIONS = _polar_tables()


@njit(cache=True, inline="always")
def edge_vector(rx, ry, nx, ny, polar_lengths, polar_directions):
    """(length, direction) of the vector from minutia r to minutia n, from the polar lookup."""
    quadrant = np.float32(0)
    x = nx - rx
    y = ny - ry
    if y < 0:
        x = -x
        y = -y
        quadrant = PI
    if x < 0:
        tmp = -x
        x = y
        y = tmp
        quadrant = np.float32(quadrant + HALF_PI)
    # Beyond the table, look up a scaled-down vector and scale the length back up.
    rest = (x | y) >> _POLAR_BITS
    shift = 0
    while rest:
        shift += 1
        rest >>= 1
    offset = (y >> shift) * _POLAR_RADIUS + (x >> shift)
    length = polar_lengths[offset] << shift
    return length, np.float32(polar_directions[offset] + quadrant)


@njit(cache=True, inline="always")
def edge_angles(rdirection, ndirection, angle):
    """The edge's reference and neighbour angles: each end's direction against the edge direction."""
    return angles.difference(rdirection, angle), angles.difference(ndirection, angles.opposite(angle))


@njit(cache=True)
def edge_shape(rx, ry, rdirection, nx, ny, ndirection, polar_lengths, polar_directions):
    """(length, reference angle, neighbour angle) of the edge from minutia r to minutia n."""
    length, angle = edge_vector(rx, ry, nx, ny, polar_lengths, polar_directions)
    reference_angle, neighbor_angle = edge_angles(rdirection, ndirection, angle)
    return length, reference_angle, neighbor_angle


@njit(cache=True)
def all_edge_shapes(xs, ys, directions, polar_lengths, polar_directions):
    """Shapes of all ordered edges, as n×n matrices indexed [reference, neighbour]."""
    count = xs.shape[0]
    lengths = np.zeros((count, count), dtype=np.int32)
    reference_angles = np.zeros((count, count), dtype=np.float32)
    neighbor_angles = np.zeros((count, count), dtype=np.float32)
    for reference in range(count):
        for neighbor in range(count):
            if reference != neighbor:
                length, ra, na = edge_shape(
                    xs[reference], ys[reference], directions[reference],
                    xs[neighbor], ys[neighbor], directions[neighbor],
                    polar_lengths, polar_directions,
                )
                lengths[reference, neighbor] = length
                reference_angles[reference, neighbor] = ra
                neighbor_angles[reference, neighbor] = na
    return lengths, reference_angles, neighbor_angles


@njit(cache=True)
def neighbor_table(xs, ys, lengths):
    """Each minutia's star: its nearest neighbours (at most EDGE_TABLE_NEIGHBORS), sorted by edge length then index.

    Returns (offsets, neighbours): the star of minutia i is neighbours[offsets[i]:offsets[i + 1]].
    """
    count = xs.shape[0]
    offsets = np.zeros(count + 1, dtype=np.int32)
    neighbors = np.empty(count * min(EDGE_TABLE_NEIGHBORS, max(count - 1, 0)), dtype=np.int32)
    squared = np.empty(count, dtype=np.int64)
    star = np.empty(count, dtype=np.int64)
    filled = 0
    for reference in range(count):
        for other in range(count):
            dx = np.int64(xs[reference] - xs[other])
            dy = np.int64(ys[reference] - ys[other])
            squared[other] = dx * dx + dy * dy
        # The cut uses the true squared distance (the reference itself sorts first at 0).
        limit = np.int64(2**62)
        if count - 1 > EDGE_TABLE_NEIGHBORS:
            limit = np.sort(squared)[EDGE_TABLE_NEIGHBORS]
        size = 0
        for other in range(count):
            if other != reference and squared[other] <= limit:
                # Sort key: the polar (rounded) length first, then the neighbour's index.
                star[size] = np.int64(lengths[reference, other]) * 65536 + other
                size += 1
        ordered = np.sort(star[:size])
        size = min(size, EDGE_TABLE_NEIGHBORS)
        for i in range(size):
            neighbors[filled + i] = ordered[i] & 0xFFFF
        filled += size
        offsets[reference + 1] = filled
    return offsets, neighbors[:filled].copy()


@njit(cache=True)
def root_edge_order(lengths, min_long_length):
    """Edges in the order root search visits them: long edges, then short, each by stride (period) and phase.

    For each period every minutia is a reference once, paired with the minutia
    period places further (cyclically), so each pass sees every ordered pair once.
    """
    count = lengths.shape[0]
    order = np.empty(count * max(count - 1, 0), dtype=np.int32)
    filled = 0
    for short_edges in (False, True):
        for period in range(1, count):
            for phase in range(period + 1):
                for reference in range(phase, count, period + 1):
                    neighbor = (reference + period) % count
                    if (lengths[reference, neighbor] >= min_long_length) != short_edges:
                        order[filled] = reference * count + neighbor
                        filled += 1
    return order


@dataclass(frozen=True, eq=False)
class SearchTemplate:
    """A template prepared for matching: minutia arrays, all edge shapes and the neighbour stars.

    Build one per template and reuse it: as a candidate it is matched against
    any number of probes, and a Matcher builds one for its probe.
    """

    width: int
    height: int
    xs: np.ndarray
    ys: np.ndarray
    directions: np.ndarray
    types: np.ndarray
    lengths: np.ndarray
    reference_angles: np.ndarray
    neighbor_angles: np.ndarray
    star_offsets: np.ndarray
    star_neighbors: np.ndarray
    # Shapes of the star edges, aligned with star_neighbors (scanned in the inner loop of pairing).
    star_lengths: np.ndarray
    star_reference_angles: np.ndarray
    star_neighbor_angles: np.ndarray
    # Edges as root search visits them (reference * count + neighbour), with their shapes and angle-bin cell.
    root_edges: np.ndarray
    root_references: np.ndarray
    root_lengths: np.ndarray
    root_reference_angles: np.ndarray
    root_neighbor_angles: np.ndarray
    root_angle_cells: np.ndarray

    @classmethod
    def build(cls, template: Template) -> "SearchTemplate":
        xs = template.positions_x
        ys = template.positions_y
        directions = template.directions
        lengths, reference_angles, neighbor_angles = all_edge_shapes(
            xs, ys, directions, POLAR_LENGTHS, POLAR_DIRECTIONS
        )
        # Narrow integer types keep a candidate small in cache during 1:N matching (lengths stay below
        # 2^15: coordinates are within ±10,000; indices below 256; star offsets below 256 * 9).
        lengths = lengths.astype(np.int16)
        offsets, neighbors = neighbor_table(xs, ys, lengths)
        offsets = offsets.astype(np.int16)
        neighbors = neighbors.astype(np.int16)
        count = int(xs.shape[0])
        star_references = np.repeat(np.arange(count, dtype=np.int32), np.diff(offsets))
        order = root_edge_order(lengths, MIN_ROOT_EDGE_LENGTH)
        root_reference_angles = reference_angles.ravel()[order]
        root_neighbor_angles = neighbor_angles.ravel()[order]
        return cls(
            template.width, template.height, xs, ys, directions, template.types,
            lengths, reference_angles, neighbor_angles, offsets, neighbors,
            lengths[star_references, neighbors], reference_angles[star_references, neighbors],
            neighbor_angles[star_references, neighbors],
            order, (order // max(count, 1)).astype(np.int16), lengths.ravel()[order],
            root_reference_angles, root_neighbor_angles,
            angle_cells(root_reference_angles, root_neighbor_angles).astype(np.int16),
        )

    def star_arrays(self) -> tuple:
        return (
            self.star_offsets, self.star_neighbors, self.star_lengths,
            self.star_reference_angles, self.star_neighbor_angles,
        )

    def root_arrays(self) -> tuple:
        return (
            self.root_references, self.root_lengths, self.root_reference_angles,
            self.root_neighbor_angles, self.root_angle_cells,
        )

    @property
    def count(self) -> int:
        return int(self.xs.shape[0])
