"""Root pairs: the probe/candidate minutia pairs a match starts from.

Candidate edges are visited in SourceAFIS's order (long edges first, then short;
within each, by stride between the two minutiae), each looked up in the probe's
edge hash; every matching probe edge gives a root (its reference minutia paired
with the candidate edge's), skipping repeats, until the original's limits on
tried roots and lookups are hit.
"""

from __future__ import annotations

from numba import njit

from .edgehash import angle_bin, matching
from .parameters import ANGLE_BINS, MAX_DISTANCE_ERROR, MAX_ROOT_EDGE_LOOKUPS, MAX_TRIED_ROOTS, MIN_ROOT_EDGE_LENGTH


@njit(cache=True)
def enumerate_roots(
    plengths, preference_angles, pneighbor_angles,
    length_bins, hash_offsets, hash_edges,
    clengths, creference_angles, cneighbor_angles,
    roots_probe, roots_candidate, seen,
):
    """Fills roots_probe/roots_candidate (capacity MAX_TRIED_ROOTS) and returns how many roots there are.

    seen is a zeroed uint8 scratch of probe count × candidate count; it is zeroed again on return.
    """
    pcount = plengths.shape[0]
    ccount = clengths.shape[0]
    lookups = 0
    tried = 0
    found = 0
    done = False
    for short_edges in (False, True):
        if done:
            break
        for period in range(1, ccount):
            if done:
                break
            for phase in range(period + 1):
                if done:
                    break
                for creference in range(phase, ccount, period + 1):
                    cneighbor = (creference + period) % ccount
                    clength = clengths[creference, cneighbor]
                    if (clength >= MIN_ROOT_EDGE_LENGTH) == short_edges:
                        continue
                    creference_angle = creference_angles[creference, cneighbor]
                    cneighbor_angle = cneighbor_angles[creference, cneighbor]
                    lbin = clength // MAX_DISTANCE_ERROR
                    if lbin < length_bins:
                        cell = (angle_bin(creference_angle) * ANGLE_BINS + angle_bin(cneighbor_angle)) * length_bins + lbin
                        for slot in range(hash_offsets[cell], hash_offsets[cell + 1]):
                            edge = hash_edges[slot]
                            preference = edge // pcount
                            pneighbor = edge - preference * pcount
                            if matching(
                                plengths[preference, pneighbor], preference_angles[preference, pneighbor],
                                pneighbor_angles[preference, pneighbor],
                                clength, creference_angle, cneighbor_angle,
                            ):
                                key = preference * ccount + creference
                                if seen[key] == 0:
                                    seen[key] = 1
                                    roots_probe[found] = preference
                                    roots_candidate[found] = creference
                                    found += 1
                                tried += 1
                                if tried >= MAX_TRIED_ROOTS:
                                    done = True
                                    break
                    if done:
                        break
                    lookups += 1
                    if lookups >= MAX_ROOT_EDGE_LOOKUPS:
                        done = True
                        break
    for i in range(found):
        seen[roots_probe[i] * ccount + roots_candidate[i]] = 0
    return found
