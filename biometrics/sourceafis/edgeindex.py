"""The edge index of a compact gallery: a pre-filter for 1:N search from minutia-pair geometry.

Each candidate star edge (a minutia to one of its EDGE_TABLE_NEIGHBORS nearest, the edges
pairing crawls) is kept as its edge-hash cell (the bin of its two angles and length, as the
probe's EdgeHash files edges) and its shape quantised to a byte each: length, reference angle,
neighbour angle.  Five bytes per star edge, aligned with CompactGallery.stars, so the index of
candidates i..j is a slice, galleries concatenate without a rebuild, and one pass over a
gallery reads it in order.

The screen (votes) files the probe's star edges under every cell they may match (EdgeHash's
coverage) and walks each candidate's edges once: a candidate edge in a cell is compared with
the probe edges filed there within the matcher's tolerances (on the quantised shape), and each
agreeing probe edge is one vote for pairing the candidate edge's reference minutia with the
probe edge's.  A candidate minutia's support is the most votes any one probe minutia got (how
many of its star edges agree with that minutia's star); the candidate's score is the sum over its
minutiae of support - 1, because a single agreeing edge is what chance gives.  A bag of edge
cells without this local check does not separate the mate from the rest (measured in
docs/benchmarks.md, issue 16).

The screen is not a score: Matcher.prefilter_compact scores exactly only the best candidates by
votes (see Prefilter), and the others are reported as 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numba import njit

from .compact import STAR, CompactGallery
from .edgehash import angle_bin, coverage
from .edges import POLAR_DIRECTIONS, POLAR_LENGTHS, edge_angles, edge_vector
from .parameters import ANGLE_BINS, MAX_ANGLE_ERROR, MAX_DISTANCE_ERROR, PI2

# Star edges up to this many length bins (13 px each: shorter than 208 px) are indexed; a star
# edge longer than that (sparse minutiae) gets no cell and never votes.  Its length fits a byte.
LENGTH_BINS = 16
CELLS = ANGLE_BINS * ANGLE_BINS * LENGTH_BINS
# The cell of an edge that is not indexed (a missing star slot or a long edge): the probe table
# has one more, always empty, cell for it.
NO_CELL = CELLS
# Angles in 256ths of a turn; the tolerance covers MAX_ANGLE_ERROR plus both sides' rounding.
ANGLE_STEPS = 256
ANGLE_TOLERANCE = 7
LENGTH_TOLERANCE = MAX_DISTANCE_ERROR
_FIELDS = (("cells", np.uint16), ("shapes", np.uint8))


@njit(cache=True, inline="always")
def _quantised(angle):
    return np.int64(angle * (ANGLE_STEPS / PI2) + 0.5) & (ANGLE_STEPS - 1)


@njit(cache=True, _nrt=False)
def build_cells(offsets, xs, ys, directions, stars, polar_lengths, polar_directions, cells, shapes):
    """Each star slot's cell and quantised shape (length, reference angle, neighbour angle)."""
    for template in range(offsets.shape[0] - 1):
        first = offsets[template]
        count = offsets[template + 1] - first
        size = min(STAR, max(count - 1, 0))
        for reference in range(count):
            for j in range(STAR):
                slot = (first + reference) * STAR + j
                cells[slot] = NO_CELL
                shapes[3 * slot] = 0
                shapes[3 * slot + 1] = 0
                shapes[3 * slot + 2] = 0
                if j >= size:
                    continue
                neighbor = first + stars[slot]
                length, angle = edge_vector(xs[first + reference], ys[first + reference], xs[neighbor], ys[neighbor],
                                            polar_lengths, polar_directions)
                lbin = length // MAX_DISTANCE_ERROR
                if lbin >= LENGTH_BINS:
                    continue
                reference_angle, neighbor_angle = edge_angles(directions[first + reference], directions[neighbor], angle)
                cells[slot] = (angle_bin(reference_angle) * ANGLE_BINS + angle_bin(neighbor_angle)) * LENGTH_BINS + lbin
                shapes[3 * slot] = length
                shapes[3 * slot + 1] = _quantised(reference_angle)
                shapes[3 * slot + 2] = _quantised(neighbor_angle)


@njit(cache=True)
def probe_table(star_offsets, lengths, reference_angles, neighbor_angles):
    """The probe's star edges filed under every cell they may match (EdgeHash's coverage, cut to
    LENGTH_BINS): CSR offsets over CELLS + 1 cells, and per filed edge its reference minutia,
    length and quantised angles."""
    offsets = np.zeros(CELLS + 2, dtype=np.int32)
    count = star_offsets.shape[0] - 1
    references = np.empty(0, dtype=np.uint8)
    filed = np.empty(0, dtype=np.int32)
    cursor = np.empty(0, dtype=np.int32)
    for phase in range(2):
        if phase == 1:
            for cell in range(CELLS + 1):
                offsets[cell + 1] += offsets[cell]
            references = np.empty(offsets[CELLS + 1], dtype=np.uint8)
            filed = np.empty(offsets[CELLS + 1], dtype=np.int32)
            cursor = offsets[:CELLS + 1].copy()
        for reference in range(count):
            for edge in range(star_offsets[reference], star_offsets[reference + 1]):
                lo, hi, rstart, rend, nstart, nend = coverage(lengths[edge], reference_angles[edge], neighbor_angles[edge])
                for lbin in range(max(lo, 0), min(hi, LENGTH_BINS - 1) + 1):
                    rbin = rstart
                    while rbin != rend:
                        nbin = nstart
                        while nbin != nend:
                            cell = (rbin * ANGLE_BINS + nbin) * LENGTH_BINS + lbin
                            if phase == 0:
                                offsets[cell + 1] += 1
                            else:
                                references[cursor[cell]] = reference
                                filed[cursor[cell]] = edge
                                cursor[cell] += 1
                            nbin = (nbin + 1) % ANGLE_BINS
                        rbin = (rbin + 1) % ANGLE_BINS
    filed_lengths = np.empty(filed.shape[0], dtype=np.int32)
    filed_reference_angles = np.empty(filed.shape[0], dtype=np.int32)
    filed_neighbor_angles = np.empty(filed.shape[0], dtype=np.int32)
    for slot in range(filed.shape[0]):
        filed_lengths[slot] = lengths[filed[slot]]
        filed_reference_angles[slot] = _quantised(reference_angles[filed[slot]])
        filed_neighbor_angles[slot] = _quantised(neighbor_angles[filed[slot]])
    return offsets, references, filed_lengths, filed_reference_angles, filed_neighbor_angles


@njit(cache=True, inline="always")
def _close(first, second):
    delta = (first - second) & (ANGLE_STEPS - 1)
    return (delta <= ANGLE_TOLERANCE) | (delta >= ANGLE_STEPS - ANGLE_TOLERANCE)


@njit(cache=True, _nrt=False, nogil=True)
def votes(offsets, cells, shapes, table_offsets, table_references, table_lengths, table_reference_angles,
          table_neighbor_angles, support, touched, out):
    """Each candidate's screening votes (the module docstring) into out[0..]; support and touched
    are zeroed int32 scratch of at least the probe's minutia count (support is zero again on return)."""
    for template in range(offsets.shape[0] - 1):
        total = 0
        for reference in range(offsets[template], offsets[template + 1]):
            distinct = 0
            best = 0
            for slot in range(reference * STAR, reference * STAR + STAR):
                cell = cells[slot]
                length = np.int32(shapes[3 * slot])
                reference_angle = np.int32(shapes[3 * slot + 1])
                neighbor_angle = np.int32(shapes[3 * slot + 2])
                for filed in range(table_offsets[cell], table_offsets[cell + 1]):
                    delta = table_lengths[filed] - length
                    if (delta >= -LENGTH_TOLERANCE) & (delta <= LENGTH_TOLERANCE) \
                            & _close(table_reference_angles[filed], reference_angle) \
                            & _close(table_neighbor_angles[filed], neighbor_angle):
                        probe = table_references[filed]
                        if support[probe] == 0:
                            touched[distinct] = probe
                            distinct += 1
                        support[probe] += 1
                        best = max(best, support[probe])
            for i in range(distinct):
                support[touched[i]] = 0
            if best > 1:
                total += best - 1
        out[template] = total


@dataclass(frozen=True)
class Prefilter:
    """The setting of the pre-filtered 1:N search (Matcher.prefilter_compact): the best
    max(keep, fraction × gallery size) candidates by votes are scored exactly, the rest not at all.

    Measured (docs/benchmarks.md, issue 16): on 10,000 and 100,000 candidates (10 probes of the
    repository's prints, the rest rotated and shifted copies, a tenth of them the probe's own
    finger) the exhaustive first candidate ranked at worst 46th of 10,000 by votes; 2 % keeps
    a margin of four or more at any size."""

    keep: int = 200
    fraction: float = 0.02

    def __post_init__(self) -> None:
        if self.keep < 1 or not 0.0 <= self.fraction <= 1.0:
            raise ValueError("keep must be at least 1 and fraction 0..1")

    def kept(self, size: int) -> int:
        return min(size, max(self.keep, math.ceil(self.fraction * size)))


class EdgeIndex:
    """The index of one CompactGallery (slot for slot with its stars; see the module docstring)."""

    def __init__(self, cells: np.ndarray, shapes: np.ndarray) -> None:
        if shapes.shape[0] != 3 * cells.shape[0]:
            raise ValueError("not an edge index")
        self.cells, self.shapes = cells, shapes

    @classmethod
    def build(cls, gallery: CompactGallery) -> "EdgeIndex":
        slots = gallery.stars.shape[0]
        cells = np.empty(slots, dtype=np.uint16)
        shapes = np.empty(3 * slots, dtype=np.uint8)
        build_cells(gallery.offsets, gallery.xs, gallery.ys, gallery.directions, gallery.stars,
                    POLAR_LENGTHS, POLAR_DIRECTIONS, cells, shapes)
        return cls(cells, shapes)

    @classmethod
    def concatenate(cls, indexes: Sequence["EdgeIndex"]) -> "EdgeIndex":
        """The index of CompactGallery.concatenate of the indexed galleries, in the same order."""
        return cls(np.concatenate([i.cells for i in indexes] or [np.zeros(0, np.uint16)]),
                   np.concatenate([i.shapes for i in indexes] or [np.zeros(0, np.uint8)]))

    def fits(self, gallery: CompactGallery) -> bool:
        return self.cells.shape[0] == gallery.stars.shape[0]

    @property
    def nbytes(self) -> int:
        return self.cells.nbytes + self.shapes.nbytes

    def to_bytes(self) -> bytes:
        header = np.array([self.cells.shape[0]], dtype=np.int64)
        return header.tobytes() + np.ascontiguousarray(self.cells).tobytes() + np.ascontiguousarray(self.shapes).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "EdgeIndex":
        """The index to_bytes wrote, its arrays viewing the buffer."""
        if len(data) < 8:
            raise ValueError("not an edge index")
        slots = int(np.frombuffer(data, dtype=np.int64, count=1)[0])
        if slots < 0 or len(data) != 8 + 5 * slots:
            raise ValueError("not an edge index")
        cells = np.frombuffer(data, dtype=np.uint16, count=slots, offset=8)
        if slots and int(cells.max()) > NO_CELL:
            raise ValueError("not an edge index")
        return cls(cells, np.frombuffer(data, dtype=np.uint8, count=3 * slots, offset=8 + 2 * slots))


__all__ = ["CELLS", "EdgeIndex", "LENGTH_BINS", "Prefilter", "build_cells", "probe_table", "votes"]
