"""Angle arithmetic on doubles in [0, 2π), as SourceAFIS's DoubleAngle does it (extraction side).

Plain scalar functions compiled with numba so compiled stages and Python stages share them.
"""

import math

import numba

from .fdlibm import atan2

PI2 = 2 * math.pi
INV_PI2 = 1.0 / PI2


@numba.njit(cache=True)
def java_round(value: float) -> int:
    """Java's Math.round: the nearest integer, ties up (not to even).

    floor(value + 0.5) is not it: the addition rounds, so 0.49999999999999994 would give 1 and
    2^52 + 1 would give 2^52 + 2. The fraction value - floor(value) is always exact.
    """
    whole = math.floor(value)
    return int(whole) + (1 if value - whole >= 0.5 else 0)


@numba.njit(cache=True)
def atan(x: float, y: float) -> float:
    """Direction of the vector (x, y) in [0, 2π), with Java's atan2 (fdlibm), not the C library's."""
    angle = atan2(y, x)
    return angle if angle >= 0 else angle + PI2


@numba.njit(cache=True)
def to_orientation(angle: float) -> float:
    return 2 * angle if angle < math.pi else 2 * (angle - math.pi)


@numba.njit(cache=True)
def from_orientation(angle: float) -> float:
    return 0.5 * angle


@numba.njit(cache=True)
def add(start: float, delta: float) -> float:
    angle = start + delta
    return angle if angle < PI2 else angle - PI2


@numba.njit(cache=True)
def bucket_center(bucket: int, resolution: int) -> float:
    return PI2 * (2 * bucket + 1) / (2 * resolution)


@numba.njit(cache=True)
def quantize(angle: float, resolution: int) -> int:
    result = int(angle * INV_PI2 * resolution)
    if result < 0:
        return 0
    if result >= resolution:
        return resolution - 1
    return result


@numba.njit(cache=True)
def opposite(angle: float) -> float:
    return angle + math.pi if angle < math.pi else angle - math.pi


@numba.njit(cache=True)
def distance(first: float, second: float) -> float:
    delta = abs(first - second)
    return delta if delta <= math.pi else PI2 - delta
