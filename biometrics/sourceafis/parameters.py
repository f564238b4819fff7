"""Matching parameters of SourceAFIS 3.18.1 (the values are the original's; the names say what they bound)."""

from __future__ import annotations

import math

import numpy as np

# Float constants are kept as float32 where Java declares them float, so every
# comparison and sum sees the same value the original does.
PI = np.float32(math.pi)
PI2 = np.float32(2 * math.pi)
HALF_PI = np.float32(0.5 * math.pi)

EDGE_TABLE_NEIGHBORS = 9
MAX_DISTANCE_ERROR = 13
# Java evaluates FloatAngle.PI / 180 * 10 in float arithmetic.
MAX_ANGLE_ERROR = np.float32(np.float32(PI / np.float32(180)) * np.float32(10))
COMPLEMENTARY_MAX_ANGLE_ERROR = np.float32(PI2 - MAX_ANGLE_ERROR)
# Computed in double from the float constant: 36.000001 rounds up, so there are 37 bins.
ANGLE_BINS = int(math.ceil(2 * math.pi / float(MAX_ANGLE_ERROR)))

MAX_TRIED_ROOTS = 70
MIN_ROOT_EDGE_LENGTH = 58
MAX_ROOT_EDGE_LOOKUPS = 1633
MIN_SUPPORTING_EDGES = 1

DISTANCE_ERROR_FLATNESS = 0.69
ANGLE_ERROR_FLATNESS = 0.27
MINUTIA_SCORE = 0.032
MINUTIA_FRACTION_SCORE = 8.98
MINUTIA_TYPE_SCORE = 0.629
SUPPORTED_MINUTIA_SCORE = 0.193
EDGE_SCORE = 0.265
DISTANCE_ACCURACY_SCORE = 9.9
ANGLE_ACCURACY_SCORE = 2.79
# Java rounds half up; 0.69 * 13 = 8.97 is far from a tie.
INNER_DISTANCE_RADIUS = int(math.floor(DISTANCE_ERROR_FLATNESS * MAX_DISTANCE_ERROR + 0.5))
# (float)(double * float): the product is taken in double, then rounded once.
INNER_ANGLE_RADIUS = np.float32(ANGLE_ERROR_FLATNESS * float(MAX_ANGLE_ERROR))

THRESHOLD_FMR_MAX = 8.48
THRESHOLD_FMR_2 = 11.12
THRESHOLD_FMR_10 = 14.15
THRESHOLD_FMR_100 = 18.22
THRESHOLD_FMR_1000 = 22.39
THRESHOLD_FMR_10_000 = 27.24
THRESHOLD_FMR_100_000 = 32.01
