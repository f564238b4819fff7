"""Matching one probe against candidates: root pairs, a pairing grown from each, the best score.

A Matcher prepares its probe once (minutia arrays, edge shapes, neighbour stars
and the edge hash), then matches candidate templates one by one or a packed
Gallery in one compiled loop.  Scores equal SourceAFIS 3.18.1's: the same roots
in the same order, the same pairing (ties in the queue broken the way Java's
PriorityQueue breaks them), the same float32 angle sums, and the first root
wins ties for the best score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .edgehash import EdgeHash
from .edges import SearchTemplate
from .gallery import Gallery
from .pairing import PROPOSALS_PER_STEP, crawl
from .parameters import MAX_TRIED_ROOTS
from .roots import enumerate_roots
from .scoring import PART_COUNT, PART_NAMES, compute
from .template import Template


@njit(cache=True)
def _match_one(
    ptypes, plengths, preference_angles, pneighbor_angles, pstar_offsets, pstar_neighbors,
    length_bins, hash_offsets, hash_edges,
    ctypes, clengths, creference_angles, cneighbor_angles, cstar_offsets, cstar_neighbors,
    roots_probe, roots_candidate, seen, pairs, heap, tree, by_probe, by_candidate, support_log, parts,
):
    pcount = plengths.shape[0]
    ccount = clengths.shape[0]
    root_count = enumerate_roots(
        plengths, preference_angles, pneighbor_angles, length_bins, hash_offsets, hash_edges,
        clengths, creference_angles, cneighbor_angles, roots_probe, roots_candidate, seen,
    )
    high = 0.0
    best = -1
    for i in range(root_count):
        count, _ = crawl(
            roots_probe[i], roots_candidate[i],
            pstar_offsets, pstar_neighbors, plengths, preference_angles, pneighbor_angles,
            cstar_offsets, cstar_neighbors, clengths, creference_angles, cneighbor_angles,
            pairs, heap, tree, by_probe, by_candidate, support_log,
        )
        score = compute(
            pairs, tree, count, pcount, ccount, ptypes, ctypes,
            plengths, preference_angles, pneighbor_angles, clengths, creference_angles, cneighbor_angles, parts,
        )
        # Strictly greater: among equal scores the first root tried wins, as in the original.
        if best < 0 or score > high:
            high = score
            best = i
    return high


@njit(cache=True)
def _match_gallery(
    ptypes, plengths, preference_angles, pneighbor_angles, pstar_offsets, pstar_neighbors,
    length_bins, hash_offsets, hash_edges,
    counts, minutia_offsets, edge_offsets, star_offsets_offsets, star_neighbor_offsets,
    types, lengths, reference_angles, neighbor_angles, star_offsets, star_neighbors,
    first, last, scores,
):
    pcount = plengths.shape[0]
    max_count = 1
    for index in range(first, last):
        max_count = max(max_count, counts[index])
    roots_probe = np.zeros(MAX_TRIED_ROOTS, dtype=np.int32)
    roots_candidate = np.zeros(MAX_TRIED_ROOTS, dtype=np.int32)
    seen = np.zeros(max(pcount, 1) * max_count, dtype=np.uint8)
    capacity = 1 + max(pcount, 1) * PROPOSALS_PER_STEP
    pairs = np.zeros((6, capacity), dtype=np.int32)
    heap = np.zeros(capacity, dtype=np.int32)
    tree = np.zeros(max(pcount, 1), dtype=np.int32)
    by_probe = np.full(max(pcount, 1), -1, dtype=np.int32)
    by_candidate = np.full(max_count, -1, dtype=np.int32)
    support_log = np.zeros((0, 4), dtype=np.int32)
    parts = np.zeros(PART_COUNT, dtype=np.float64)
    for index in range(first, last):
        n = counts[index]
        m0 = minutia_offsets[index]
        e0 = edge_offsets[index]
        s0 = star_offsets_offsets[index]
        n0 = star_neighbor_offsets[index]
        scores[index] = _match_one(
            ptypes, plengths, preference_angles, pneighbor_angles, pstar_offsets, pstar_neighbors,
            length_bins, hash_offsets, hash_edges,
            types[m0:m0 + n],
            lengths[e0:e0 + n * n].reshape((n, n)),
            reference_angles[e0:e0 + n * n].reshape((n, n)),
            neighbor_angles[e0:e0 + n * n].reshape((n, n)),
            star_offsets[s0:s0 + n + 1],
            star_neighbors[n0:star_neighbor_offsets[index + 1]],
            roots_probe, roots_candidate, seen, pairs, heap, tree, by_probe, by_candidate, support_log, parts,
        )


@dataclass
class RootPairing:
    """What the matcher did with one root (for checking against the original's transparency data)."""

    root: tuple[int, int]
    tree: list[tuple[int, int, int, int]]  # (probe ref, probe, candidate ref, candidate) per pair after the root
    support: list[tuple[int, int, int, int]]  # supporting edges in the order they were counted, same layout
    parts: dict[str, float]


@dataclass
class MatchExplanation:
    roots: list[tuple[int, int]]
    pairings: list[RootPairing] = field(default_factory=list)
    best: int = -1
    score: float = 0.0


class Matcher:
    """A probe prepared for matching against many candidates (not thread-safe: one per thread)."""

    def __init__(self, probe: Template | SearchTemplate) -> None:
        self.template = probe if isinstance(probe, SearchTemplate) else SearchTemplate.build(probe)
        self.edge_hash = EdgeHash.build(self.template.lengths, self.template.reference_angles, self.template.neighbor_angles)
        pcount = max(self.template.count, 1)
        self._roots_probe = np.zeros(MAX_TRIED_ROOTS, dtype=np.int32)
        self._roots_candidate = np.zeros(MAX_TRIED_ROOTS, dtype=np.int32)
        capacity = 1 + pcount * PROPOSALS_PER_STEP
        self._pairs = np.zeros((6, capacity), dtype=np.int32)
        self._heap = np.zeros(capacity, dtype=np.int32)
        self._tree = np.zeros(pcount, dtype=np.int32)
        self._by_probe = np.full(pcount, -1, dtype=np.int32)
        self._parts = np.zeros(PART_COUNT, dtype=np.float64)
        self._no_log = np.zeros((0, 4), dtype=np.int32)
        self._reserve(64)

    def _reserve(self, candidate_count: int) -> None:
        self._candidate_capacity = candidate_count
        self._seen = np.zeros(max(self.template.count, 1) * candidate_count, dtype=np.uint8)
        self._by_candidate = np.full(candidate_count, -1, dtype=np.int32)

    def _probe_args(self) -> tuple:
        p, h = self.template, self.edge_hash
        return (
            p.types, p.lengths, p.reference_angles, p.neighbor_angles, p.star_offsets, p.star_neighbors,
            h.length_bins, h.offsets, h.edges,
        )

    def match(self, candidate: Template | SearchTemplate) -> float:
        """Similarity score of the candidate to the probe (0 = nothing in common, 40 ≈ FMR 0.01%)."""
        c = candidate if isinstance(candidate, SearchTemplate) else SearchTemplate.build(candidate)
        if c.count > self._candidate_capacity:
            self._reserve(c.count)
        return float(
            _match_one(
                *self._probe_args(),
                c.types, c.lengths, c.reference_angles, c.neighbor_angles, c.star_offsets, c.star_neighbors,
                self._roots_probe, self._roots_candidate, self._seen, self._pairs, self._heap, self._tree,
                self._by_probe, self._by_candidate, self._no_log, self._parts,
            )
        )

    def match_gallery(self, gallery: Gallery, first: int = 0, last: int | None = None) -> np.ndarray:
        """Scores against gallery candidates first..last-1 in one compiled loop (the 1:N path)."""
        last = len(gallery) if last is None else last
        if not 0 <= first <= last <= len(gallery):
            raise IndexError(f"candidate range {first}..{last} is outside the gallery of {len(gallery)}")
        scores = np.zeros(len(gallery), dtype=np.float64)
        _match_gallery(*self._probe_args(), *gallery.arrays(), first, last, scores)
        return scores[first:last]

    def explain(self, candidate: Template | SearchTemplate) -> MatchExplanation:
        """Runs the match step by step and reports roots, each root's pairing and score parts."""
        c = candidate if isinstance(candidate, SearchTemplate) else SearchTemplate.build(candidate)
        p, h = self.template, self.edge_hash
        seen = np.zeros(max(p.count, 1) * max(c.count, 1), dtype=np.uint8)
        by_candidate = np.full(max(c.count, 1), -1, dtype=np.int32)
        count = enumerate_roots(
            p.lengths, p.reference_angles, p.neighbor_angles, h.length_bins, h.offsets, h.edges,
            c.lengths, c.reference_angles, c.neighbor_angles, self._roots_probe, self._roots_candidate, seen,
        )
        explanation = MatchExplanation(roots=[(int(a), int(b)) for a, b in zip(self._roots_probe[:count], self._roots_candidate[:count])])
        support_log = np.zeros((self._pairs.shape[1], 4), dtype=np.int32)
        for index, (root_probe, root_candidate) in enumerate(explanation.roots):
            size, logged = crawl(
                root_probe, root_candidate,
                p.star_offsets, p.star_neighbors, p.lengths, p.reference_angles, p.neighbor_angles,
                c.star_offsets, c.star_neighbors, c.lengths, c.reference_angles, c.neighbor_angles,
                self._pairs, self._heap, self._tree, self._by_probe, by_candidate, support_log,
            )
            score = compute(
                self._pairs, self._tree, size, p.count, c.count, p.types, c.types,
                p.lengths, p.reference_angles, p.neighbor_angles, c.lengths, c.reference_angles, c.neighbor_angles,
                self._parts,
            )
            tree = [
                (int(self._pairs[2, t]), int(self._pairs[0, t]), int(self._pairs[3, t]), int(self._pairs[1, t]))
                for t in self._tree[1:size]
            ]
            explanation.pairings.append(
                RootPairing(
                    root=(root_probe, root_candidate),
                    tree=tree,
                    support=[tuple(int(v) for v in row) for row in support_log[:logged]],
                    parts=dict(zip(PART_NAMES, (float(v) for v in self._parts))),
                )
            )
            if explanation.best < 0 or score > explanation.score:
                explanation.best = index
                explanation.score = float(score)
        return explanation
