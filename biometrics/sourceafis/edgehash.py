"""The probe's edge hash: every probe edge filed under the (angle, angle, length) bins it may match.

SourceAFIS files each probe edge under all bins within one error step of its
shape, so a candidate edge needs a single lookup of its own bin.  The original
uses a hash map from a packed int key; here the bins index a dense table
(angle bins × angle bins × length bins), which holds the same lists in the same
(reference-major) order and needs no hashing.  Edges shorter than one length
bin also land in bin -1 in the original, a key no candidate edge can produce;
they are left out here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from . import angles
from .parameters import ANGLE_BINS, COMPLEMENTARY_MAX_ANGLE_ERROR, MAX_ANGLE_ERROR, MAX_DISTANCE_ERROR


# Cells one edge is filed under, at most: 3 length bins × 4 × 4 angle bins (an angle range of
# ±MAX_ANGLE_ERROR spans 4 bins where it crosses the 37th, narrow bin).
MAX_COVERED_CELLS = 48


@njit(cache=True, inline="always")
def angle_bin(angle):
    # Java divides in float and truncates.
    return int(np.float32(angle / MAX_ANGLE_ERROR))


@njit(cache=True)
def angle_cells(reference_angles, neighbor_angles):
    """The angle part of each edge's hash cell: reference bin * ANGLE_BINS + neighbour bin."""
    cells = np.empty(reference_angles.shape[0], dtype=np.int32)
    for i in range(cells.shape[0]):
        cells[i] = angle_bin(reference_angles[i]) * ANGLE_BINS + angle_bin(neighbor_angles[i])
    return cells


@njit(cache=True, inline="always")
def _truncating_div(dividend, divisor):
    quotient = abs(dividend) // divisor
    return quotient if dividend >= 0 else -quotient


@njit(cache=True, inline="always")
def matching(plength, preference, pneighbor, clength, creference, cneighbor):
    """Whether two edges agree within the distance and angle tolerances."""
    delta = plength - clength
    rdelta = angles.difference(preference, creference)
    ndelta = angles.difference(pneighbor, cneighbor)
    # Bitwise, not short-circuit: the caller's one branch is rarely taken and so well predicted.
    return (
        (delta >= -MAX_DISTANCE_ERROR) & (delta <= MAX_DISTANCE_ERROR)
        & ((rdelta <= MAX_ANGLE_ERROR) | (rdelta >= COMPLEMENTARY_MAX_ANGLE_ERROR))
        & ((ndelta <= MAX_ANGLE_ERROR) | (ndelta >= COMPLEMENTARY_MAX_ANGLE_ERROR))
    )


@njit(cache=True, inline="always")
def _coverage(length, reference_angle, neighbor_angle):
    """Ranges of bins an edge is filed under: length bins [lo, hi], angle bins cyclic [start, end)."""
    min_length = _truncating_div(length - MAX_DISTANCE_ERROR, MAX_DISTANCE_ERROR)
    max_length = _truncating_div(length + MAX_DISTANCE_ERROR, MAX_DISTANCE_ERROR)
    min_reference = angle_bin(angles.difference(reference_angle, MAX_ANGLE_ERROR))
    end_reference = (angle_bin(angles.add(reference_angle, MAX_ANGLE_ERROR)) + 1) % ANGLE_BINS
    min_neighbor = angle_bin(angles.difference(neighbor_angle, MAX_ANGLE_ERROR))
    end_neighbor = (angle_bin(angles.add(neighbor_angle, MAX_ANGLE_ERROR)) + 1) % ANGLE_BINS
    return min_length, max_length, min_reference, end_reference, min_neighbor, end_neighbor


@njit(cache=True, inline="always")
def covered_cells(length, reference_angle, neighbor_angle, length_bins, cells):
    """The cells (rbin * ANGLE_BINS + nbin) * length_bins + lbin an edge is filed under, into
    cells[0..] (MAX_COVERED_CELLS entries), in the original's loop order; returns how many.
    Length bins from length_bins on are left out."""
    lo, hi, rstart, rend, nstart, nend = _coverage(length, reference_angle, neighbor_angle)
    size = 0
    for lbin in range(max(lo, 0), min(hi, length_bins - 1) + 1):
        rbin = rstart
        while rbin != rend:
            nbin = nstart
            while nbin != nend:
                cells[size] = (rbin * ANGLE_BINS + nbin) * length_bins + lbin
                size += 1
                nbin = (nbin + 1) % ANGLE_BINS
            rbin = (rbin + 1) % ANGLE_BINS
    return size


@njit(cache=True)
def build_table(lengths, reference_angles, neighbor_angles):
    """CSR table: cell (rbin * ANGLE_BINS + nbin) * length_bins + lbin lists edges as reference * n + neighbour."""
    count = lengths.shape[0]
    length_bins = 1
    for reference in range(count):
        for neighbor in range(count):
            if reference != neighbor:
                top = (lengths[reference, neighbor] + MAX_DISTANCE_ERROR) // MAX_DISTANCE_ERROR
                length_bins = max(length_bins, top + 1)
    cells = ANGLE_BINS * ANGLE_BINS * length_bins
    counts = np.zeros(cells + 1, dtype=np.int32)
    edges = np.empty(0, dtype=np.int32)
    cursor = np.empty(0, dtype=np.int32)
    covered = np.empty(MAX_COVERED_CELLS, dtype=np.int64)
    for phase in range(2):
        if phase == 1:
            for cell in range(cells):
                counts[cell + 1] += counts[cell]
            edges = np.empty(counts[cells], dtype=np.int32)
            cursor = counts[:cells].copy()
        for reference in range(count):
            for neighbor in range(count):
                if reference == neighbor:
                    continue
                # Same loop order as the original, so each cell's list keeps its order.
                size = covered_cells(lengths[reference, neighbor], reference_angles[reference, neighbor],
                                     neighbor_angles[reference, neighbor], length_bins, covered)
                for i in range(size):
                    cell = covered[i]
                    if phase == 0:
                        counts[cell + 1] += 1
                    else:
                        edges[cursor[cell]] = reference * count + neighbor
                        cursor[cell] += 1
    # Copies of the filed edges' shapes, so that a lookup reads them contiguously.
    filed_references = np.empty(edges.shape[0], dtype=np.int32)
    filed_lengths = np.empty(edges.shape[0], dtype=lengths.dtype)
    filed_reference_angles = np.empty(edges.shape[0], dtype=np.float32)
    filed_neighbor_angles = np.empty(edges.shape[0], dtype=np.float32)
    for slot in range(edges.shape[0]):
        reference = edges[slot] // count
        neighbor = edges[slot] - reference * count
        filed_references[slot] = reference
        filed_lengths[slot] = lengths[reference, neighbor]
        filed_reference_angles[slot] = reference_angles[reference, neighbor]
        filed_neighbor_angles[slot] = neighbor_angles[reference, neighbor]
    return length_bins, counts, edges, filed_references, filed_lengths, filed_reference_angles, filed_neighbor_angles


@dataclass(frozen=True, eq=False)
class EdgeHash:
    length_bins: int
    offsets: np.ndarray
    edges: np.ndarray
    # Reference minutia and shape of each filed edge, aligned with edges, so a lookup scans
    # contiguous memory and divides nothing.
    references: np.ndarray
    lengths: np.ndarray
    reference_angles: np.ndarray
    neighbor_angles: np.ndarray

    @classmethod
    def build(cls, lengths: np.ndarray, reference_angles: np.ndarray, neighbor_angles: np.ndarray) -> "EdgeHash":
        length_bins, offsets, edges, references, filed_lengths, filed_reference_angles, filed_neighbor_angles = (
            build_table(lengths, reference_angles, neighbor_angles)
        )
        return cls(int(length_bins), offsets, edges, references, filed_lengths, filed_reference_angles,
                   filed_neighbor_angles)

    def cell_key(self, cell: int) -> int:
        """The original's int key of a cell: reference bin << 24 | neighbour bin << 16 | length bin."""
        lbin = cell % self.length_bins
        nbin = (cell // self.length_bins) % ANGLE_BINS
        rbin = cell // (self.length_bins * ANGLE_BINS)
        return (rbin << 24) + (nbin << 16) + lbin
