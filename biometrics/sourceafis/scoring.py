"""Scoring a pairing, and shaping the raw score onto SourceAFIS's FMR-calibrated scale.

The parts and their order of summation follow the original; the angle error
sums are float32 as in Java, the rest double.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import angles
from .parameters import (
    ANGLE_ACCURACY_SCORE, DISTANCE_ACCURACY_SCORE, EDGE_SCORE, INNER_ANGLE_RADIUS, INNER_DISTANCE_RADIUS,
    MAX_ANGLE_ERROR, MAX_DISTANCE_ERROR, MIN_SUPPORTING_EDGES, MINUTIA_FRACTION_SCORE, MINUTIA_SCORE,
    MINUTIA_TYPE_SCORE, SUPPORTED_MINUTIA_SCORE, THRESHOLD_FMR_10, THRESHOLD_FMR_100, THRESHOLD_FMR_1000,
    THRESHOLD_FMR_10_000, THRESHOLD_FMR_100_000, THRESHOLD_FMR_2, THRESHOLD_FMR_MAX,
)

# Names of the entries compute() writes into its parts array, as in the original's ScoringData.
PART_NAMES = (
    "minutiaCount", "minutiaScore", "minutiaFractionInProbe", "minutiaFractionInCandidate", "minutiaFraction",
    "minutiaFractionScore", "supportingEdgeSum", "edgeCount", "edgeScore", "supportedMinutiaCount",
    "supportedMinutiaScore", "minutiaTypeHits", "minutiaTypeScore", "distanceErrorSum", "distanceAccuracySum",
    "distanceAccuracyScore", "angleErrorSum", "angleAccuracySum", "angleAccuracyScore", "totalScore", "shapedScore",
)
PART_COUNT = len(PART_NAMES)


@njit(cache=True, inline="always")
def _interpolate(raw, low, high, start, length):
    return (raw - low) / (high - low) * length + start


@njit(cache=True)
def shape(raw):
    """Maps the raw score so that 10, 20, 30, 40 mean roughly FMR 10%, 1%, 0.1%, 0.01%."""
    if raw < THRESHOLD_FMR_MAX:
        return 0.0
    if raw < THRESHOLD_FMR_2:
        return _interpolate(raw, THRESHOLD_FMR_MAX, THRESHOLD_FMR_2, 0.0, 3.0)
    if raw < THRESHOLD_FMR_10:
        return _interpolate(raw, THRESHOLD_FMR_2, THRESHOLD_FMR_10, 3.0, 7.0)
    if raw < THRESHOLD_FMR_100:
        return _interpolate(raw, THRESHOLD_FMR_10, THRESHOLD_FMR_100, 10.0, 10.0)
    if raw < THRESHOLD_FMR_1000:
        return _interpolate(raw, THRESHOLD_FMR_100, THRESHOLD_FMR_1000, 20.0, 10.0)
    if raw < THRESHOLD_FMR_10_000:
        return _interpolate(raw, THRESHOLD_FMR_1000, THRESHOLD_FMR_10_000, 30.0, 10.0)
    if raw < THRESHOLD_FMR_100_000:
        return _interpolate(raw, THRESHOLD_FMR_10_000, THRESHOLD_FMR_100_000, 40.0, 10.0)
    return (raw - THRESHOLD_FMR_100_000) / (THRESHOLD_FMR_100_000 - THRESHOLD_FMR_100) * 30.0 + 50.0


@njit(cache=True, _nrt=False)
def compute(
    pairs, tree, count, pcount, ccount, ptypes, ctypes,
    pstar_lengths, pstar_reference_angles, pstar_neighbor_angles,
    cstar_lengths, cstar_reference_angles, cstar_neighbor_angles, parts,
):
    """Scores the pairing tree[:count] (pair records as filled by pairing.crawl); returns the shaped score.

    Every pair after the root joined through a star edge on each side; the record names the
    star slots, whose shapes the error sums read.  parts receives every intermediate value
    (PART_NAMES order).
    """
    minutia_score = MINUTIA_SCORE * count
    fraction_in_probe = count / pcount
    fraction_in_candidate = count / ccount
    fraction = 0.5 * (fraction_in_probe + fraction_in_candidate)
    fraction_score = MINUTIA_FRACTION_SCORE * fraction
    supporting_edge_sum = 0
    supported_count = 0
    type_hits = 0
    for i in range(count):
        pair = tree[i]
        support = pairs[pair, 5]
        supporting_edge_sum += support
        if support >= MIN_SUPPORTING_EDGES:
            supported_count += 1
        if ptypes[pairs[pair, 0]] == ctypes[pairs[pair, 1]]:
            type_hits += 1
    edge_count = count + supporting_edge_sum
    edge_score = EDGE_SCORE * edge_count
    supported_score = SUPPORTED_MINUTIA_SCORE * supported_count
    type_score = MINUTIA_TYPE_SCORE * type_hits
    distance_error_sum = 0
    angle_error_sum = np.float32(0)
    for i in range(1, count):
        pair = tree[i]
        pslot, cslot = pairs[pair, 6], pairs[pair, 7]
        distance_error_sum += max(INNER_DISTANCE_RADIUS, abs(np.int32(pstar_lengths[pslot]) - np.int32(cstar_lengths[cslot])))
        reference_error = angles.distance(pstar_reference_angles[pslot], cstar_reference_angles[cslot])
        angle_error_sum = np.float32(angle_error_sum + max(INNER_ANGLE_RADIUS, reference_error))
        neighbor_error = angles.distance(pstar_neighbor_angles[pslot], cstar_neighbor_angles[cslot])
        angle_error_sum = np.float32(angle_error_sum + max(INNER_ANGLE_RADIUS, neighbor_error))
    distance_potential = MAX_DISTANCE_ERROR * max(0, count - 1)
    distance_accuracy_sum = distance_potential - distance_error_sum
    distance_accuracy_score = DISTANCE_ACCURACY_SCORE * (
        distance_accuracy_sum / distance_potential if distance_potential > 0 else 0.0
    )
    angle_potential = np.float32(np.float32(MAX_ANGLE_ERROR * np.float32(max(0, count - 1))) * np.float32(2))
    angle_accuracy_sum = np.float32(angle_potential - angle_error_sum)
    # Java divides two floats here, so the quotient is rounded to float before the double multiply.
    angle_ratio = np.float32(angle_accuracy_sum / angle_potential) if angle_potential > 0 else np.float32(0)
    angle_accuracy_score = ANGLE_ACCURACY_SCORE * np.float64(angle_ratio)
    total = (
        minutia_score + fraction_score + supported_score + edge_score + type_score
        + distance_accuracy_score + angle_accuracy_score
    )
    shaped = shape(total)
    parts[0] = count
    parts[1] = minutia_score
    parts[2] = fraction_in_probe
    parts[3] = fraction_in_candidate
    parts[4] = fraction
    parts[5] = fraction_score
    parts[6] = supporting_edge_sum
    parts[7] = edge_count
    parts[8] = edge_score
    parts[9] = supported_count
    parts[10] = supported_score
    parts[11] = type_hits
    parts[12] = type_score
    parts[13] = distance_error_sum
    parts[14] = distance_accuracy_sum
    parts[15] = distance_accuracy_score
    parts[16] = angle_error_sum
    parts[17] = angle_accuracy_sum
    parts[18] = angle_accuracy_score
    parts[19] = total
    parts[20] = shaped
    return shaped

