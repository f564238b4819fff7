"""Root pairs: the probe/candidate minutia pairs a match starts from.

Candidate edges are visited in SourceAFIS's order (long edges first, then short;
within each, by stride between the two minutiae; see edges.root_edge_order),
each looked up in the probe's edge hash; every matching probe edge gives a root
(its reference minutia paired with the candidate edge's), skipping repeats,
until the original's limits on tried roots and lookups are hit.
"""

from __future__ import annotations

from numba import njit

from .edgehash import matching
from .parameters import MAX_DISTANCE_ERROR, MAX_ROOT_EDGE_LOOKUPS, MAX_TRIED_ROOTS


@njit(cache=True, inline="always")
def lookup(
    pcount, hash_offsets, hash_references, hash_lengths, hash_reference_angles, hash_neighbor_angles,
    cell, clength, creference_angle, cneighbor_angle, creference, ccount,
    roots_probe, roots_candidate, seen, tried, found,
):
    """One candidate edge against the probe edges filed in its hash cell; returns (tried, found).

    Stops as soon as tried reaches MAX_TRIED_ROOTS (the caller then stops too).
    """
    for slot in range(hash_offsets[cell], hash_offsets[cell + 1]):
        if matching(
            hash_lengths[slot], hash_reference_angles[slot], hash_neighbor_angles[slot],
            clength, creference_angle, cneighbor_angle,
        ):
            preference = hash_references[slot]
            key = preference * ccount + creference
            if seen[key] == 0:
                seen[key] = 1
                roots_probe[found] = preference
                roots_candidate[found] = creference
                found += 1
            tried += 1
            if tried >= MAX_TRIED_ROOTS:
                return tried, found
    return tried, found


@njit(cache=True, inline="always")
def forget(roots_probe, roots_candidate, found, seen, ccount):
    for i in range(found):
        seen[roots_probe[i] * ccount + roots_candidate[i]] = 0


@njit(cache=True, _nrt=False)
def enumerate_roots(
    pcount, length_bins, hash_offsets, hash_references, hash_lengths, hash_reference_angles, hash_neighbor_angles,
    ccount, root_references, root_lengths, root_reference_angles, root_neighbor_angles, root_angle_cells,
    roots_probe, roots_candidate, seen,
):
    """Fills roots_probe/roots_candidate (capacity MAX_TRIED_ROOTS) and returns how many roots there are.

    seen is a zeroed uint8 scratch of at least probe count × candidate count; it is zeroed again on return.
    """
    tried = 0
    found = 0
    for visit in range(min(root_lengths.shape[0], MAX_ROOT_EDGE_LOOKUPS)):
        clength = root_lengths[visit]
        lbin = clength // MAX_DISTANCE_ERROR
        if lbin >= length_bins:
            continue
        tried, found = lookup(
            pcount, hash_offsets, hash_references, hash_lengths, hash_reference_angles, hash_neighbor_angles,
            root_angle_cells[visit] * length_bins + lbin, clength, root_reference_angles[visit],
            root_neighbor_angles[visit], root_references[visit], ccount,
            roots_probe, roots_candidate, seen, tried, found,
        )
        if tried >= MAX_TRIED_ROOTS:
            break
    forget(roots_probe, roots_candidate, found, seen, ccount)
    return found
