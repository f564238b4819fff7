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

The votes are not a score: Matcher.prefilter_compact passes the best by votes to the root screen
of the two-stage search and scores exactly only the best of those (see Prefilter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numba import njit

from .compact import STAR, CompactGallery, Screening
from .edgehash import MAX_COVERED_CELLS, angle_bin, covered_cells
from .edges import POLAR_DIRECTIONS, POLAR_LENGTHS, edge_angles, edge_vector
from .parameters import ANGLE_BINS, MAX_ANGLE_ERROR, MAX_DISTANCE_ERROR, PI2

# Star edges up to this many length bins (13 px each: shorter than 208 px) are indexed; a star
# edge longer than that (sparse minutiae) gets no cell and never votes.  Its length fits a byte.
LENGTH_BINS = 16
CELLS = ANGLE_BINS * ANGLE_BINS * LENGTH_BINS
# The cell of an edge that is not indexed (a missing star slot or a long edge): the probe table
# has one more, always empty, cell for it.
NO_CELL = CELLS
# Angles in 256ths of a turn; the tolerances are the matcher's (MAX_ANGLE_ERROR is 7.1 steps: 7).
# Measured: a step wider (8, or 9 to cover both sides' rounding) let chance agreements in and
# put the exhaustive first candidate of the 10 probes at rank 129 of 10,000 instead of 46 (0 = first).
ANGLE_STEPS = 256
ANGLE_TOLERANCE = int(float(MAX_ANGLE_ERROR) / float(PI2) * ANGLE_STEPS)
LENGTH_TOLERANCE = MAX_DISTANCE_ERROR


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
    LENGTH_BINS): CSR offsets over CELLS + 1 cells, and per filed edge one uint32: reference
    minutia << 24 | length << 16 | quantised reference angle << 8 | quantised neighbour angle
    (one load per filed edge in the vote loop)."""
    offsets = np.zeros(CELLS + 2, dtype=np.int32)
    count = star_offsets.shape[0] - 1
    references = np.empty(0, dtype=np.uint8)
    filed = np.empty(0, dtype=np.int32)
    cursor = np.empty(0, dtype=np.int32)
    covered = np.empty(MAX_COVERED_CELLS, dtype=np.int64)
    for phase in range(2):
        if phase == 1:
            for cell in range(CELLS + 1):
                offsets[cell + 1] += offsets[cell]
            references = np.empty(offsets[CELLS + 1], dtype=np.uint8)
            filed = np.empty(offsets[CELLS + 1], dtype=np.int32)
            cursor = offsets[:CELLS + 1].copy()
        for reference in range(count):
            for edge in range(star_offsets[reference], star_offsets[reference + 1]):
                size = covered_cells(lengths[edge], reference_angles[edge], neighbor_angles[edge], LENGTH_BINS, covered)
                for i in range(size):
                    cell = covered[i]
                    if phase == 0:
                        offsets[cell + 1] += 1
                    else:
                        references[cursor[cell]] = reference
                        filed[cursor[cell]] = edge
                        cursor[cell] += 1
    packed = np.empty(filed.shape[0], dtype=np.uint32)
    for slot in range(filed.shape[0]):
        # Filed lengths are below (LENGTH_BINS + 1) * MAX_DISTANCE_ERROR < 256 (coverage is cut there).
        packed[slot] = (np.uint32(references[slot]) << 24) | (np.uint32(lengths[filed[slot]]) << 16) \
            | (np.uint32(_quantised(reference_angles[filed[slot]])) << 8) | np.uint32(_quantised(neighbor_angles[filed[slot]]))
    return offsets, packed


@njit(cache=True, inline="always")
def _close(first, second):
    delta = (first - second) & (ANGLE_STEPS - 1)
    return (delta <= ANGLE_TOLERANCE) | (delta >= ANGLE_STEPS - ANGLE_TOLERANCE)


@njit(cache=True, _nrt=False, nogil=True)
def votes(offsets, cells, shapes, table_offsets, table, support, voted, out):
    """Each candidate's screening votes (the module docstring) into out[0..].

    support and voted are zeroed int64 scratch of at least the probe's minutia count.  Both are
    stamped rather than cleared: support[p] is (candidate minutia + 1) * 16 + votes of the minutia
    being counted, voted[p] the last star slot + 1 that voted for p; stamps only grow, so an old
    one reads as none.  With no branch on the comparisons the loop keeps its loads in flight
    (a mispredicted branch per filed edge cost most of the time)."""
    for template in range(offsets.shape[0] - 1):
        total = 0
        for reference in range(offsets[template], offsets[template + 1]):
            base = (reference + 1) * 16
            best = 0
            for slot in range(reference * STAR, reference * STAR + STAR):
                cell = cells[slot]
                length = np.int64(shapes[3 * slot])
                reference_angle = np.int64(shapes[3 * slot + 1])
                neighbor_angle = np.int64(shapes[3 * slot + 2])
                stamp = slot + 1
                for filed in range(table_offsets[cell], table_offsets[cell + 1]):
                    entry = np.int64(table[filed])
                    delta = ((entry >> 16) & 0xFF) - length
                    probe = entry >> 24
                    # One vote per candidate edge and probe minutia (two of the minutia's edges
                    # may agree with the same candidate edge).
                    agree = np.int64((delta >= -LENGTH_TOLERANCE) & (delta <= LENGTH_TOLERANCE)
                                     & _close(entry >> 8, reference_angle) & _close(entry, neighbor_angle)
                                     & (voted[probe] != stamp))
                    voted[probe] = max(voted[probe], agree * stamp)
                    count = max(support[probe] - base, 0) + agree
                    support[probe] = base + count
                    best = max(best, count)
            if best > 1:
                total += best - 1
        out[template] = total


@dataclass(frozen=True)
class Prefilter:
    """The setting of the pre-filtered 1:N search (Matcher.prefilter_compact), in three stages:
    the best max(keep, passed × size) candidates by votes are screened as compact.Screening
    screens (every `stride`-th of the first `roots` roots crawled); the best
    max(keep, fraction × size) of those by screening score, and the best trusted × size by
    votes, are scored exactly.

    The two screens fail differently, so each covers the other (docs/benchmarks.md, issue 16;
    the repository's 80 prints, each impression number in turn as the 10 probes, over 10,000
    and 100,000 candidates of which a tenth are the probe's finger): votes cannot order
    near-ties (at 10,000 the exhaustive first had rank 267 by votes at worst, 0 = first, with ~150 copies
    within 5 % of its score), which the root screen orders; the root screen can sample only
    wrong roots (a first candidate screened at 88 of its exact 150+, rank 2 by votes; at
    100,000 a weak mate screened at 1.7, rank 600 by votes: trusting 0.5 % missed it)."""

    keep: int = 100
    fraction: float = 0.01
    passed: float = 0.05
    trusted: float = 0.02
    roots: int = Screening.roots
    stride: int = Screening.stride

    def __post_init__(self) -> None:
        if self.keep < 1 or not all(0.0 <= f <= 1.0 for f in (self.fraction, self.passed, self.trusted)):
            raise ValueError("keep must be at least 1, fraction, passed and trusted 0..1")
        Screening(self.roots, self.stride)  # checks them

    def kept(self, size: int) -> int:
        """Candidates scored exactly for their screening score."""
        return min(size, max(self.keep, math.ceil(self.fraction * size)))

    def screened(self, size: int) -> int:
        """Candidates passed from the votes to the root screen (no screen when not more than kept)."""
        return min(size, max(self.kept(size), math.ceil(self.passed * size)))

    def trusted_votes(self, size: int) -> int:
        """Candidates scored exactly for their votes alone."""
        return min(size, math.ceil(self.trusted * size))


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
