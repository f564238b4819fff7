"""The compact gallery: per candidate only what comparison reads, about 18 bytes per minutia.

A candidate is its minutiae (x, y as int16, direction as float32, type) and its neighbour
stars (the nearest EDGE_TABLE_NEIGHBORS minutiae as uint8 indices, in the original's order).
Edge shapes are not stored: the 1:N kernel computes each one when it needs it with the same
polar lookup SearchTemplate uses, so every length and angle, and so every score, is the one
the all-pairs matrices give, bit for bit; the root edges are visited in the same order
(edges.root_edge_order) without materialising it.

Arrays are flat and concatenated (candidate i owns minutiae offsets[i]..offsets[i+1]), so a
gallery moves between processes as a few buffers and is searched in one compiled loop.

The same loop also gives a screening score (a subset of the roots crawled, see Screening) for
the two-stage search Matcher.screen_compact; the service searches exhaustively.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from numba import njit

from .edgehash import angle_bin
from .edges import POLAR_DIRECTIONS, POLAR_LENGTHS, SearchTemplate, edge_angles, edge_vector
from .pairing import crawl
from .parameters import (
    ANGLE_BINS, EDGE_TABLE_NEIGHBORS, MAX_DISTANCE_ERROR, MAX_ROOT_EDGE_LOOKUPS, MAX_TRIED_ROOTS, MIN_ROOT_EDGE_LENGTH,
)
from .roots import forget, lookup
from .scoring import compute
from .template import MAX_MINUTIAE, Template

STAR = EDGE_TABLE_NEIGHBORS
# The arrays of a gallery, in the order to_bytes writes them.
_FIELDS = (("offsets", np.int64), ("xs", np.int16), ("ys", np.int16), ("directions", np.float32),
           ("types", np.int8), ("stars", np.uint8))


@njit(cache=True, _nrt=False)
def build_stars(offsets, xs, ys, polar_lengths, polar_directions, stars, nearest, keys, squared):
    """Each minutia's star as neighbor_table orders it: the EDGE_TABLE_NEIGHBORS nearest (true
    squared distance; ties at the cut all enter), sorted by polar length then index, cut to
    EDGE_TABLE_NEIGHBORS.  stars has STAR slots per minutia; nearest, keys and squared are
    scratch of at least STAR, MAX_MINUTIAE and MAX_MINUTIAE entries."""
    for template in range(offsets.shape[0] - 1):
        first = offsets[template]
        count = offsets[template + 1] - first
        for reference in range(count):
            rx = np.int64(xs[first + reference])
            ry = np.int64(ys[first + reference])
            for other in range(count):
                dx = np.int64(xs[first + other]) - rx
                dy = np.int64(ys[first + other]) - ry
                squared[other] = dx * dx + dy * dy
            limit = np.int64(2**62)
            if count - 1 > STAR:
                # The STAR smallest squared distances to the others, kept sorted by insertion.
                for k in range(STAR):
                    nearest[k] = limit
                for other in range(count):
                    distance = squared[other]
                    if other == reference or distance >= nearest[STAR - 1]:
                        continue
                    slot = STAR - 1
                    while slot > 0 and nearest[slot - 1] > distance:
                        nearest[slot] = nearest[slot - 1]
                        slot -= 1
                    nearest[slot] = distance
                limit = nearest[STAR - 1]
            size = 0
            for other in range(count):
                if other != reference and squared[other] <= limit:
                    length, _ = edge_vector(xs[first + reference], ys[first + reference],
                                            xs[first + other], ys[first + other], polar_lengths, polar_directions)
                    key = np.int64(length) * 65536 + other
                    slot = size
                    while slot > 0 and keys[slot - 1] > key:
                        keys[slot] = keys[slot - 1]
                        slot -= 1
                    keys[slot] = key
                    size += 1
            base = (first + reference) * STAR
            for j in range(min(size, STAR)):
                stars[base + j] = keys[j] & 0xFFFF


@njit(cache=True, inline="always")
def _candidate_stars(xs, ys, directions, stars, polar_lengths, polar_directions,
                     star_offsets, star_neighbors, star_lengths, star_reference_angles, star_neighbor_angles):
    """Shapes of the candidate's star edges, laid out as SearchTemplate.star_arrays."""
    count = xs.shape[0]
    size = min(STAR, max(count - 1, 0))
    for reference in range(count):
        star_offsets[reference] = reference * size
        for j in range(size):
            neighbor = stars[reference * STAR + j]
            length, angle = edge_vector(xs[reference], ys[reference], xs[neighbor], ys[neighbor],
                                        polar_lengths, polar_directions)
            reference_angle, neighbor_angle = edge_angles(directions[reference], directions[neighbor], angle)
            slot = reference * size + j
            star_neighbors[slot] = neighbor
            star_lengths[slot] = length
            star_reference_angles[slot] = reference_angle
            star_neighbor_angles[slot] = neighbor_angle
    star_offsets[count] = count * size


@njit(cache=True, _nrt=False)
def enumerate_compact_roots(
    pcount, length_bins, hash_offsets, hash_references, hash_lengths, hash_reference_angles, hash_neighbor_angles,
    xs, ys, directions, polar_lengths, polar_directions, roots_probe, roots_candidate, seen, max_roots,
):
    """roots.enumerate_roots over the candidate edges in edges.root_edge_order, each shaped when visited.

    Stops early once max_roots roots are found: the roots are found in order, so they are the
    first max_roots of the full list (MAX_TRIED_ROOTS or more gives the full list: found <= tried)."""
    ccount = xs.shape[0]
    tried = 0
    found = 0
    visits = 0
    for short_edges in range(2):
        for period in range(1, ccount):
            for phase in range(period + 1):
                # range(phase, ccount, period + 1) and (reference + period) % ccount without the
                # integer divisions they compile to (a 64-bit division costs as much as an edge).
                reference = phase - period - 1
                while True:
                    reference += period + 1
                    if reference >= ccount:
                        break
                    neighbor = reference + period
                    if neighbor >= ccount:
                        neighbor -= ccount
                    length, angle = edge_vector(xs[reference], ys[reference], xs[neighbor], ys[neighbor],
                                                polar_lengths, polar_directions)
                    if (length >= MIN_ROOT_EDGE_LENGTH) == (short_edges == 1):
                        continue
                    if visits >= MAX_ROOT_EDGE_LOOKUPS:
                        forget(roots_probe, roots_candidate, found, seen, ccount)
                        return found
                    visits += 1
                    lbin = length // MAX_DISTANCE_ERROR
                    if lbin >= length_bins:
                        continue
                    reference_angle, neighbor_angle = edge_angles(directions[reference], directions[neighbor], angle)
                    cell = (angle_bin(reference_angle) * ANGLE_BINS + angle_bin(neighbor_angle)) * length_bins + lbin
                    tried, found = lookup(
                        pcount, hash_offsets, hash_references, hash_lengths, hash_reference_angles, hash_neighbor_angles,
                        cell, length, reference_angle, neighbor_angle, reference, ccount,
                        roots_probe, roots_candidate, seen, tried, found,
                    )
                    if tried >= MAX_TRIED_ROOTS or found >= max_roots:
                        forget(roots_probe, roots_candidate, found, seen, ccount)
                        return found
    forget(roots_probe, roots_candidate, found, seen, ccount)
    return found


@njit(cache=True, _nrt=False, nogil=True)
def search_compact(
    ptypes, pstar_offsets, pstar_neighbors, pstar_lengths, pstar_reference_angles, pstar_neighbor_angles,
    length_bins, hash_offsets, hash_references, hash_lengths, hash_reference_angles, hash_neighbor_angles,
    offsets, xs, ys, directions, types, stars, polar_lengths, polar_directions,
    candidates, max_roots, stride, scores,
    star_offsets, star_neighbors, star_lengths, star_reference_angles, star_neighbor_angles,
    roots_probe, roots_candidate, seen, pairs, heap, tree, by_probe, by_candidate, support_log, parts,
):
    """Scores of the gallery's candidates[0..] against one probe (matcher._match_one's steps: roots,
    a pairing grown from each, the best score; the first root wins ties) into scores[0..].

    max_roots >= MAX_TRIED_ROOTS with stride 1 scores exactly (bit for bit the 1:1 score).  Otherwise
    the score is a screening score: only the first max_roots roots are found, and of those only
    every stride-th (0, stride, 2 stride, ...) is crawled; the best of a subset of the same roots,
    each scored exactly, so never above the exact score."""
    pcount = ptypes.shape[0]
    for slot in range(candidates.shape[0]):
        index = candidates[slot]
        m0 = offsets[index]
        m1 = offsets[index + 1]
        ccount = m1 - m0
        cxs = xs[m0:m1]
        cys = ys[m0:m1]
        cdirections = directions[m0:m1]
        ctypes = types[m0:m1]
        root_count = enumerate_compact_roots(
            pcount, length_bins, hash_offsets, hash_references, hash_lengths, hash_reference_angles, hash_neighbor_angles,
            cxs, cys, cdirections, polar_lengths, polar_directions, roots_probe, roots_candidate, seen, max_roots,
        )
        root_count = min(root_count, max_roots)
        high = 0.0
        if root_count > 0:
            # Star shapes only for candidates with a root to crawl from (the others score 0).
            _candidate_stars(cxs, cys, cdirections, stars[m0 * STAR:m1 * STAR], polar_lengths, polar_directions,
                             star_offsets, star_neighbors, star_lengths, star_reference_angles, star_neighbor_angles)
        for i in range(0, root_count, stride):
            count, _ = crawl(
                roots_probe[i], roots_candidate[i],
                pstar_offsets, pstar_neighbors, pstar_lengths, pstar_reference_angles, pstar_neighbor_angles,
                star_offsets, star_neighbors, star_lengths, star_reference_angles, star_neighbor_angles,
                pairs, heap, tree, by_probe, by_candidate, support_log,
            )
            score = compute(
                pairs, tree, count, pcount, ccount, ptypes, ctypes,
                pstar_lengths, pstar_reference_angles, pstar_neighbor_angles,
                star_lengths, star_reference_angles, star_neighbor_angles, parts,
            )
            # Strictly greater: among equal scores the first root tried wins, as in the original.
            if i == 0 or score > high:
                high = score
        scores[slot] = high


class CompactGallery:
    """Candidates for 1:N search in the compact form (see the module docstring)."""

    def __init__(self, offsets: np.ndarray, xs: np.ndarray, ys: np.ndarray, directions: np.ndarray,
                 types: np.ndarray, stars: np.ndarray) -> None:
        self.offsets, self.xs, self.ys, self.directions, self.types, self.stars = offsets, xs, ys, directions, types, stars
        counts = np.diff(offsets)
        self.max_count = int(counts.max()) if counts.shape[0] else 0

    @classmethod
    def from_minutiae(cls, counts: np.ndarray, xs: np.ndarray, ys: np.ndarray, directions: np.ndarray,
                      types: np.ndarray) -> "CompactGallery":
        """From concatenated minutiae (each template's in its shuffled order, as Template keeps them)."""
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape[0] and (counts.min() < 0 or counts.max() > MAX_MINUTIAE):
            raise ValueError(f"a template holds more than {MAX_MINUTIAE} minutiae")
        offsets = np.zeros(counts.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        xs = np.ascontiguousarray(xs, dtype=np.int16)
        ys = np.ascontiguousarray(ys, dtype=np.int16)
        stars = np.zeros(int(offsets[-1]) * STAR, dtype=np.uint8)
        build_stars(offsets, xs, ys, POLAR_LENGTHS, POLAR_DIRECTIONS, stars, np.zeros(STAR, dtype=np.int64),
                    np.zeros(MAX_MINUTIAE + 1, dtype=np.int64), np.zeros(MAX_MINUTIAE + 1, dtype=np.int64))
        return cls(offsets, xs, ys, np.ascontiguousarray(directions, dtype=np.float32),
                   np.ascontiguousarray(types, dtype=np.int8), stars)

    @classmethod
    def from_templates(cls, templates: Iterable[Template | SearchTemplate]) -> "CompactGallery":
        templates = list(templates)
        if not templates:
            return cls.from_minutiae(np.zeros(0, np.int64), *(np.zeros(0, t) for t in (np.int16, np.int16, np.float32, np.int8)))
        return cls.from_minutiae(
            np.array([len(t.types) for t in templates], dtype=np.int64),
            np.concatenate([_positions(t)[0] for t in templates]),
            np.concatenate([_positions(t)[1] for t in templates]),
            np.concatenate([t.directions for t in templates]),
            np.concatenate([t.types for t in templates]),
        )

    @classmethod
    def concatenate(cls, galleries: Sequence["CompactGallery"]) -> "CompactGallery":
        """One gallery of the candidates of several, in order (stars are per candidate: nothing is rebuilt)."""
        if not galleries:
            return cls.from_templates([])
        counts = np.concatenate([np.diff(g.offsets) for g in galleries])
        offsets = np.zeros(counts.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(offsets, *(np.concatenate([getattr(g, name) for g in galleries])
                              for name, _ in _FIELDS[1:]))

    def __len__(self) -> int:
        return self.offsets.shape[0] - 1

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name, _ in _FIELDS)

    def to_bytes(self) -> bytes:
        """The arrays in one buffer (a header of their lengths, then each array's bytes)."""
        arrays = [np.ascontiguousarray(getattr(self, name), dtype=dtype) for name, dtype in _FIELDS]
        header = np.array([a.shape[0] for a in arrays], dtype=np.int64)
        return header.tobytes() + b"".join(a.tobytes() for a in arrays)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "CompactGallery":
        """The gallery to_bytes wrote, its arrays viewing the buffer (no copy, no rebuild)."""
        header = np.frombuffer(data, dtype=np.int64, count=len(_FIELDS))
        position = header.nbytes
        arrays = []
        for (name, dtype), length in zip(_FIELDS, header.tolist()):
            arrays.append(np.frombuffer(data, dtype=dtype, count=length, offset=position))
            position += length * np.dtype(dtype).itemsize
        if position != len(data) or arrays[0].shape[0] < 1 or arrays[0][-1] != arrays[1].shape[0]:
            raise ValueError("not a compact gallery")
        return cls(*arrays)


def _positions(template: Template | SearchTemplate) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(template, SearchTemplate):
        return template.xs, template.ys
    return template.positions_x, template.positions_y


@dataclass(frozen=True)
class Screening:
    """The setting of the two-stage 1:N search (Matcher.screen_compact): each candidate is
    screened by crawling only every `stride`-th of its first `roots` roots (0, stride, ...), then
    the best max(keep, fraction × gallery size) candidates by that screening score are scored
    exactly (every root crawled)."""

    roots: int = MAX_TRIED_ROOTS
    # Measured (docs/benchmarks.md, issue 16): stride 8 missed a mate at 100,000 (its roots 0, 8,
    # ..., 40 all wrong, 22 of its 46 right); stride 4 kept every probe's first candidate at
    # 10,000 and 100,000.
    stride: int = 4
    keep: int = 200
    # The exhaustive first candidate ranked at worst 49th of 3,000 by screening score on the
    # repository's prints (stride 4); 2 % keeps such a margin at any size.
    fraction: float = 0.02

    def __post_init__(self) -> None:
        if not 1 <= self.roots <= MAX_TRIED_ROOTS or not 1 <= self.stride <= MAX_TRIED_ROOTS or self.keep < 1 \
                or not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"roots and stride must be 1..{MAX_TRIED_ROOTS}, keep at least 1, fraction 0..1")

    def kept(self, size: int) -> int:
        return max(self.keep, math.ceil(self.fraction * size))


@dataclass(frozen=True)
class ScreenedScores:
    """Scores of a two-stage search: exact (match()'s) where `exact`, screening scores (never above
    the exact ones) elsewhere."""

    scores: np.ndarray
    exact: np.ndarray


class CompactScratch:
    """Working memory of one searching thread (the candidate's star shapes, then Matcher's buffers)."""

    def __init__(self, max_count: int) -> None:
        capacity = max(max_count, 1)
        self.max_count = capacity
        self.stars = (
            np.zeros(capacity + 1, dtype=np.int32),
            np.zeros(capacity * STAR, dtype=np.int32),
            np.zeros(capacity * STAR, dtype=np.int32),
            np.zeros(capacity * STAR, dtype=np.float32),
            np.zeros(capacity * STAR, dtype=np.float32),
        )


__all__ = ["CompactGallery", "CompactScratch", "ScreenedScores", "Screening", "search_compact"]
