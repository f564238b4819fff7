"""Growing a pairing from a root: SourceAFIS's edge spider over the neighbour stars.

From the newest paired minutia, every probe star edge that matches a candidate
star edge proposes pairing the two far ends.  Proposals wait in a queue ordered
by candidate edge length; the shortest whose minutiae are both still free joins
the pairing, and proposals that confirm an existing pair count as supporting
edges.  The queue reproduces java.util.PriorityQueue's binary heap step by
step, because proposals of equal length leave it in heap order, and that order
decides which pair wins.
"""

from __future__ import annotations

from numba import njit

from .parameters import COMPLEMENTARY_MAX_ANGLE_ERROR, EDGE_TABLE_NEIGHBORS, MAX_ANGLE_ERROR, MAX_DISTANCE_ERROR
from . import angles

# Upper bound of proposals per step: one star against the other.
PROPOSALS_PER_STEP = EDGE_TABLE_NEIGHBORS * EDGE_TABLE_NEIGHBORS


_PROBE, _CANDIDATE, _PROBE_REF, _CANDIDATE_REF, _DISTANCE, _SUPPORT = 0, 1, 2, 3, 4, 5
# The star slots of the edge that proposed the pair: scoring reads the edge's shape from the
# stars, so a candidate needs no all-pairs edge matrix (the compact gallery keeps none).
PROBE_SLOT, CANDIDATE_SLOT = 6, 7
# A pair record is one row of this many int32 (32 bytes), so it sits in a single cache line.
PAIR_FIELDS = 8


@njit(cache=True, inline="always")
def _heap_push(heap, size, pair, pairs):
    # PriorityQueue.siftUp with a comparator on distance.
    k = size
    key = pairs[pair, _DISTANCE]
    while k > 0:
        parent = (k - 1) >> 1
        above = heap[parent]
        if key >= pairs[above, _DISTANCE]:
            break
        heap[k] = above
        k = parent
    heap[k] = pair
    return size + 1


@njit(cache=True, inline="always")
def _heap_pop(heap, size, pairs):
    # PriorityQueue.poll: take the head, sift the last element down from the top.
    result = heap[0]
    size -= 1
    if size > 0:
        last = heap[size]
        key = pairs[last, _DISTANCE]
        half = size >> 1
        k = 0
        while k < half:
            child = 2 * k + 1
            smallest = heap[child]
            right = child + 1
            if right < size and pairs[smallest, _DISTANCE] > pairs[heap[right], _DISTANCE]:
                child = right
                smallest = heap[child]
            if key <= pairs[smallest, _DISTANCE]:
                break
            heap[k] = smallest
            k = child
        heap[k] = last
    return result, size


@njit(cache=True, inline="always")
def _support(pairs, pair, by_probe, support_log, logged):
    """A proposal that repeats an existing pair supports it and the pair it came from."""
    probe = pairs[pair, _PROBE]
    existing = by_probe[probe]
    if existing >= 0 and pairs[existing, _CANDIDATE] == pairs[pair, _CANDIDATE]:
        pairs[existing, _SUPPORT] += 1
        pairs[by_probe[pairs[pair, _PROBE_REF]], _SUPPORT] += 1
        if logged < support_log.shape[0]:
            support_log[logged, 0] = pairs[pair, _PROBE_REF]
            support_log[logged, 1] = probe
            support_log[logged, 2] = pairs[pair, _CANDIDATE_REF]
            support_log[logged, 3] = pairs[pair, _CANDIDATE]
        return logged + 1
    return logged


@njit(cache=True, _nrt=False)
def crawl(
    root_probe, root_candidate,
    pstar_offsets, pstar_neighbors, pstar_lengths, pstar_reference_angles, pstar_neighbor_angles,
    cstar_offsets, cstar_neighbors, cstar_lengths, cstar_reference_angles, cstar_neighbor_angles,
    pairs, heap, tree, by_probe, by_candidate, support_log,
):
    """Grows the pairing from a root; returns (tree size, supporting edges logged).

    tree[i] are pair records in the order pairs joined (tree[0] is the root);
    by_probe/by_candidate must be all -1 on entry and are reset on return.
    """
    pairs[0, _PROBE] = root_probe
    pairs[0, _CANDIDATE] = root_candidate
    pairs[0, _PROBE_REF] = 0
    pairs[0, _CANDIDATE_REF] = 0
    pairs[0, _DISTANCE] = 0
    pairs[0, _SUPPORT] = 0
    allocated = 1
    heap_size = _heap_push(heap, 0, 0, pairs)
    count = 0
    logged = 0
    while True:
        pair, heap_size = _heap_pop(heap, heap_size, pairs)
        tree[count] = pair
        by_probe[pairs[pair, _PROBE]] = pair
        by_candidate[pairs[pair, _CANDIDATE]] = pair
        count += 1
        # Proposals from the stars of the newly paired minutiae, as EdgeSpider.matchPairs walks them.
        probe_ref = pairs[pair, _PROBE]
        candidate_ref = pairs[pair, _CANDIDATE]
        pfirst = pstar_offsets[probe_ref]
        plast = pstar_offsets[probe_ref + 1]
        start = pfirst
        end = pfirst
        for cslot in range(cstar_offsets[candidate_ref], cstar_offsets[candidate_ref + 1]):
            clength = cstar_lengths[cslot]
            while start < plast and pstar_lengths[start] < clength - MAX_DISTANCE_ERROR:
                start += 1
            if end < start:
                end = start
            while end < plast and pstar_lengths[end] <= clength + MAX_DISTANCE_ERROR:
                end += 1
            if start == end:
                continue
            creference_angle = cstar_reference_angles[cslot]
            cneighbor_angle = cstar_neighbor_angles[cslot]
            for pslot in range(start, end):
                rdiff = angles.difference(pstar_reference_angles[pslot], creference_angle)
                ndiff = angles.difference(pstar_neighbor_angles[pslot], cneighbor_angle)
                # Bitwise, not short-circuit: one rarely taken branch instead of four unpredictable ones.
                if ((rdiff <= MAX_ANGLE_ERROR) | (rdiff >= COMPLEMENTARY_MAX_ANGLE_ERROR)) & (
                    (ndiff <= MAX_ANGLE_ERROR) | (ndiff >= COMPLEMENTARY_MAX_ANGLE_ERROR)
                ):
                    pneighbor = pstar_neighbors[pslot]
                    cneighbor = cstar_neighbors[cslot]
                    proposal = allocated
                    allocated += 1
                    pairs[proposal, _PROBE] = pneighbor
                    pairs[proposal, _CANDIDATE] = cneighbor
                    pairs[proposal, _PROBE_REF] = probe_ref
                    pairs[proposal, _CANDIDATE_REF] = candidate_ref
                    pairs[proposal, _DISTANCE] = clength
                    pairs[proposal, _SUPPORT] = 0
                    pairs[proposal, PROBE_SLOT] = pslot
                    pairs[proposal, CANDIDATE_SLOT] = cslot
                    if by_candidate[cneighbor] < 0 and by_probe[pneighbor] < 0:
                        heap_size = _heap_push(heap, heap_size, proposal, pairs)
                    else:
                        logged = _support(pairs, proposal, by_probe, support_log, logged)
        # Drop queued proposals whose minutiae got paired meanwhile; they may still support.
        while heap_size > 0 and (by_probe[pairs[heap[0], _PROBE]] >= 0 or by_candidate[pairs[heap[0], _CANDIDATE]] >= 0):
            stale, heap_size = _heap_pop(heap, heap_size, pairs)
            logged = _support(pairs, stale, by_probe, support_log, logged)
        if heap_size == 0:
            break
    for i in range(count):
        by_probe[pairs[tree[i], _PROBE]] = -1
        by_candidate[pairs[tree[i], _CANDIDATE]] = -1
    return count, logged
