"""Matching one probe against candidates: root pairs, a pairing grown from each, the best score.

A Matcher prepares its probe once (minutia arrays, edge shapes, neighbour stars
and the edge hash), then matches candidate templates one by one or a packed
Gallery in one compiled loop.  Scores equal SourceAFIS 3.18.1's: the same roots
in the same order, the same pairing (ties in the queue broken the way Java's
PriorityQueue breaks them), the same float32 angle sums, and the first root
wins ties for the best score.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .compact import CompactGallery, CompactScratch, Screening, ScreenedScores, search_compact
from .edgehash import EdgeHash
from .edgeindex import EdgeIndex, Prefilter, probe_table, votes
from .edges import POLAR_DIRECTIONS, POLAR_LENGTHS, SearchTemplate
from .gallery import Gallery
from .pairing import PAIR_FIELDS, PROPOSALS_PER_STEP, crawl
from .parameters import MAX_TRIED_ROOTS
from .roots import enumerate_roots
from .scoring import PART_COUNT, PART_NAMES, compute
from .template import Template


@njit(cache=True, _nrt=False, nogil=True)
def _match_one(
    ptypes, plengths, preference_angles, pneighbor_angles,
    pstar_offsets, pstar_neighbors, pstar_lengths, pstar_reference_angles, pstar_neighbor_angles,
    length_bins, hash_offsets, hash_references, hash_lengths, hash_reference_angles, hash_neighbor_angles,
    ctypes, clengths, creference_angles, cneighbor_angles,
    cstar_offsets, cstar_neighbors, cstar_lengths, cstar_reference_angles, cstar_neighbor_angles,
    root_references, root_lengths, root_reference_angles, root_neighbor_angles, root_angle_cells,
    roots_probe, roots_candidate, seen, pairs, heap, tree, by_probe, by_candidate, support_log, parts,
):
    pcount = plengths.shape[0]
    ccount = clengths.shape[0]
    root_count = enumerate_roots(
        pcount, length_bins, hash_offsets, hash_references, hash_lengths, hash_reference_angles, hash_neighbor_angles,
        ccount, root_references, root_lengths, root_reference_angles, root_neighbor_angles, root_angle_cells,
        roots_probe, roots_candidate, seen,
    )
    high = 0.0
    best = -1
    for i in range(root_count):
        count, _ = crawl(
            roots_probe[i], roots_candidate[i],
            pstar_offsets, pstar_neighbors, pstar_lengths, pstar_reference_angles, pstar_neighbor_angles,
            cstar_offsets, cstar_neighbors, cstar_lengths, cstar_reference_angles, cstar_neighbor_angles,
            pairs, heap, tree, by_probe, by_candidate, support_log,
        )
        score = compute(
            pairs, tree, count, pcount, ccount, ptypes, ctypes,
            pstar_lengths, pstar_reference_angles, pstar_neighbor_angles,
            cstar_lengths, cstar_reference_angles, cstar_neighbor_angles, parts,
        )
        # Strictly greater: among equal scores the first root tried wins, as in the original.
        if best < 0 or score > high:
            high = score
            best = i
    return high


@njit(cache=True, _nrt=False, nogil=True)
def _match_gallery(
    ptypes, plengths, preference_angles, pneighbor_angles,
    pstar_offsets, pstar_neighbors, pstar_lengths, pstar_reference_angles, pstar_neighbor_angles,
    length_bins, hash_offsets, hash_references, hash_lengths, hash_reference_angles, hash_neighbor_angles,
    counts, minutia_offsets, matrix_offsets, star_offset_offsets, star_offsets_, root_offsets,
    types, lengths, reference_angles, neighbor_angles,
    star_offsets, star_neighbors, star_lengths, star_reference_angles, star_neighbor_angles,
    root_references, root_lengths, root_reference_angles, root_neighbor_angles, root_angle_cells,
    first, last, scores,
    roots_probe, roots_candidate, seen, pairs, heap, tree, by_probe, by_candidate, support_log, parts,
):
    for index in range(first, last):
        n = counts[index]
        m0 = minutia_offsets[index]
        e0 = matrix_offsets[index]
        o0 = star_offset_offsets[index]
        s0 = star_offsets_[index]
        s1 = star_offsets_[index + 1]
        r0 = root_offsets[index]
        r1 = root_offsets[index + 1]
        scores[index - first] = _match_one(
            ptypes, plengths, preference_angles, pneighbor_angles,
            pstar_offsets, pstar_neighbors, pstar_lengths, pstar_reference_angles, pstar_neighbor_angles,
            length_bins, hash_offsets, hash_references, hash_lengths, hash_reference_angles, hash_neighbor_angles,
            types[m0:m0 + n],
            lengths[e0:e0 + n * n].reshape((n, n)),
            reference_angles[e0:e0 + n * n].reshape((n, n)),
            neighbor_angles[e0:e0 + n * n].reshape((n, n)),
            star_offsets[o0:o0 + n + 1], star_neighbors[s0:s1], star_lengths[s0:s1],
            star_reference_angles[s0:s1], star_neighbor_angles[s0:s1],
            root_references[r0:r1], root_lengths[r0:r1], root_reference_angles[r0:r1],
            root_neighbor_angles[r0:r1], root_angle_cells[r0:r1],
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


class _Scratch:
    """Working memory of one matching thread: root list, pair records, queue, pairing indexes."""

    def __init__(self, probe_count: int, candidate_count: int) -> None:
        probe_count = max(probe_count, 1)
        capacity = 1 + probe_count * PROPOSALS_PER_STEP
        self.probe_count = probe_count
        self.candidate_capacity = max(candidate_count, 64)
        self.buffers = (
            np.zeros(MAX_TRIED_ROOTS, dtype=np.int32),
            np.zeros(MAX_TRIED_ROOTS, dtype=np.int32),
            np.zeros(probe_count * self.candidate_capacity, dtype=np.uint8),
            np.zeros((capacity, PAIR_FIELDS), dtype=np.int32),
            np.zeros(capacity, dtype=np.int32),
            np.zeros(probe_count, dtype=np.int32),
            np.full(probe_count, -1, dtype=np.int32),
            np.full(self.candidate_capacity, -1, dtype=np.int32),
            np.zeros((0, 4), dtype=np.int32),
            np.zeros(PART_COUNT, dtype=np.float64),
        )


class Matcher:
    """A probe prepared for matching against many candidates.

    Safe to share between threads: each thread gets its own working memory, and
    the compiled loops release the GIL, so threads can match in parallel.
    """

    def __init__(self, probe: Template | SearchTemplate) -> None:
        self.template = probe if isinstance(probe, SearchTemplate) else SearchTemplate.build(probe)
        self.edge_hash = EdgeHash.build(self.template.lengths, self.template.reference_angles, self.template.neighbor_angles)
        self._local = threading.local()

    def _scratch(self, candidate_count: int = 0) -> tuple:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None or candidate_count > scratch.candidate_capacity:
            scratch = self._local.scratch = _Scratch(self.template.count, candidate_count)
        return scratch.buffers

    def _probe_args(self) -> tuple:
        p, h = self.template, self.edge_hash
        return (
            p.types, p.lengths, p.reference_angles, p.neighbor_angles, *p.star_arrays(),
            h.length_bins, h.offsets, h.references, h.lengths, h.reference_angles, h.neighbor_angles,
        )

    def match(self, candidate: Template | SearchTemplate) -> float:
        """Similarity score of the candidate to the probe (0 = nothing in common, 40 ≈ FMR 0.01%)."""
        c = candidate if isinstance(candidate, SearchTemplate) else SearchTemplate.build(candidate)
        return float(
            _match_one(
                *self._probe_args(),
                c.types, c.lengths, c.reference_angles, c.neighbor_angles, *c.star_arrays(), *c.root_arrays(),
                *self._scratch(c.count),
            )
        )

    def match_gallery(self, gallery: Gallery, first: int = 0, last: int | None = None) -> np.ndarray:
        """Scores against gallery candidates first..last-1 in one compiled loop (the 1:N path)."""
        last = len(gallery) if last is None else last
        if not 0 <= first <= last <= len(gallery):
            raise IndexError(f"candidate range {first}..{last} is outside the gallery of {len(gallery)}")
        scores = np.zeros(last - first, dtype=np.float64)
        _match_gallery(*self._probe_args(), *gallery.arrays(), first, last, scores, *self._scratch(gallery.max_count))
        return scores

    def match_compact(self, gallery: CompactGallery, first: int = 0, last: int | None = None) -> np.ndarray:
        """Scores against compact-gallery candidates first..last-1 in one compiled loop (the same
        scores as match() on each candidate's template)."""
        last = len(gallery) if last is None else last
        if not 0 <= first <= last <= len(gallery):
            raise IndexError(f"candidate range {first}..{last} is outside the gallery of {len(gallery)}")
        return self._compact(gallery, np.arange(first, last, dtype=np.int64), MAX_TRIED_ROOTS, 1)

    def screen_compact(self, gallery: CompactGallery, screening: Screening) -> ScreenedScores:
        """The two-stage search: every candidate screened (only a subset of its roots
        crawled, see Screening; the same compiled loop), then the best screening.kept(len(gallery)) scored exactly.
        Exactly scored candidates carry match()'s score; the others a screening score that is
        never above it, so a candidate whose exact score beats every screened one ranks as in
        the exhaustive search."""
        screened = self._compact(gallery, np.arange(len(gallery), dtype=np.int64), screening.roots, screening.stride)
        keep = min(screening.kept(len(gallery)), len(gallery))
        # Stable order: among equal screening scores the earlier candidate goes first.
        chosen = np.sort(np.argsort(-screened, kind="stable")[:keep]).astype(np.int64)
        scores = screened.copy()
        scores[chosen] = self._compact(gallery, chosen, MAX_TRIED_ROOTS, 1)
        exact = np.zeros(len(gallery), dtype=bool)
        exact[chosen] = True
        return ScreenedScores(scores, exact)

    def prefilter_compact(self, gallery: CompactGallery, index: EdgeIndex,
                          prefilter: Prefilter = Prefilter()) -> ScreenedScores:
        """The pre-filtered search: every candidate screened by the edge index's votes (one
        compiled pass, see edgeindex), the best prefilter.screened(n) of them by a subset of their
        roots (as screen_compact), then the best prefilter.kept(n) of those by that screen and
        the best prefilter.trusted_votes(n) by votes scored exactly.  Exactly scored candidates
        carry match()'s score, the root-screened ones their screening score and the rest 0
        (neither ever above match()'s)."""
        if not index.fits(gallery):
            raise ValueError("the edge index was not built from this gallery")
        count = len(gallery)
        scores = np.zeros(count, dtype=np.float64)
        # Stable orders: among equal votes or screening scores the earlier candidate goes first.
        by_votes = np.argsort(-self.prefilter_votes(gallery, index), kind="stable")
        passed = np.sort(by_votes[:prefilter.screened(count)]).astype(np.int64)
        keep = prefilter.kept(count)
        chosen = passed
        if passed.shape[0] > keep:
            screened = self._compact(gallery, passed, prefilter.roots, prefilter.stride)
            scores[passed] = screened
            chosen = np.union1d(passed[np.argsort(-screened, kind="stable")[:keep]],
                                by_votes[:prefilter.trusted_votes(count)]).astype(np.int64)
        scores[chosen] = self._compact(gallery, chosen, MAX_TRIED_ROOTS, 1)
        exact = np.zeros(count, dtype=bool)
        exact[chosen] = True
        return ScreenedScores(scores, exact)

    def prefilter_votes(self, gallery: CompactGallery, index: EdgeIndex) -> np.ndarray:
        """Each candidate's screening votes (edgeindex.votes) against this probe."""
        table = getattr(self, "_edge_table", None)
        if table is None:
            p = self.template
            table = self._edge_table = probe_table(
                p.star_offsets, p.star_lengths, p.star_reference_angles, p.star_neighbor_angles)
        scratch = np.zeros((2, max(self.template.count, 1)), dtype=np.int64)
        counted = np.zeros(len(gallery), dtype=np.int32)
        votes(gallery.offsets, index.cells, index.shapes, *table, scratch[0], scratch[1], counted)
        return counted

    def _compact(self, gallery: CompactGallery, candidates: np.ndarray, max_roots: int, stride: int) -> np.ndarray:
        scores = np.zeros(candidates.shape[0], dtype=np.float64)
        stars = getattr(self._local, "compact", None)
        if stars is None or stars.max_count < gallery.max_count:
            stars = self._local.compact = CompactScratch(gallery.max_count)
        p, h = self.template, self.edge_hash
        search_compact(
            p.types, *p.star_arrays(),
            h.length_bins, h.offsets, h.references, h.lengths, h.reference_angles, h.neighbor_angles,
            gallery.offsets, gallery.xs, gallery.ys, gallery.directions, gallery.types, gallery.stars,
            POLAR_LENGTHS, POLAR_DIRECTIONS, candidates, max_roots, stride, scores,
            *stars.stars, *self._scratch(gallery.max_count),
        )
        return scores

    def explain(self, candidate: Template | SearchTemplate) -> MatchExplanation:
        """Runs the match step by step and reports roots, each root's pairing and score parts."""
        c = candidate if isinstance(candidate, SearchTemplate) else SearchTemplate.build(candidate)
        p, h = self.template, self.edge_hash
        roots_probe, roots_candidate, seen, pairs, heap, tree, by_probe, by_candidate, _, parts = self._scratch(c.count)
        count = enumerate_roots(
            p.count, h.length_bins, h.offsets, h.references, h.lengths, h.reference_angles, h.neighbor_angles,
            c.count, *c.root_arrays(), roots_probe, roots_candidate, seen,
        )
        explanation = MatchExplanation(roots=[(int(a), int(b)) for a, b in zip(roots_probe[:count], roots_candidate[:count])])
        support_log = np.zeros((pairs.shape[0], 4), dtype=np.int32)
        for index, (root_probe, root_candidate) in enumerate(explanation.roots):
            size, logged = crawl(
                root_probe, root_candidate, *p.star_arrays(), *c.star_arrays(),
                pairs, heap, tree, by_probe, by_candidate, support_log,
            )
            score = compute(
                pairs, tree, size, p.count, c.count, p.types, c.types,
                p.star_lengths, p.star_reference_angles, p.star_neighbor_angles,
                c.star_lengths, c.star_reference_angles, c.star_neighbor_angles, parts,
            )
            edges = [
                (int(pairs[t, 2]), int(pairs[t, 0]), int(pairs[t, 3]), int(pairs[t, 1]))
                for t in tree[1:size]
            ]
            explanation.pairings.append(
                RootPairing(
                    root=(root_probe, root_candidate),
                    tree=edges,
                    support=[tuple(int(v) for v in row) for row in support_log[:logged]],
                    parts=dict(zip(PART_NAMES, (float(v) for v in parts))),
                )
            )
            if explanation.best < 0 or score > explanation.score:
                explanation.best = index
                explanation.score = float(score)
        return explanation


def _refresh_kernel_cache() -> None:
    from . import angles, compact, edgehash, edgeindex, edges, jitcache, pairing, parameters, roots, scoring
    from . import matcher as this

    kernels = [
        _match_one, _match_gallery, roots.enumerate_roots, pairing.crawl, scoring.compute, scoring.shape,
        edgehash.build_table, edgehash.angle_cells, edges.edge_shape, edges.all_edge_shapes,
        edges.neighbor_table, edges.root_edge_order, compact.build_stars, compact.enumerate_compact_roots,
        compact.search_compact, edgeindex.build_cells, edgeindex.probe_table, edgeindex.votes,
    ]
    jitcache.refresh(kernels, [angles, compact, edgehash, edgeindex, edges, pairing, parameters, roots, scoring, this])


_refresh_kernel_cache()
