"""Angle arithmetic on doubles in [0, 2π), as SourceAFIS's DoubleAngle does it (extraction side).

Plain scalar functions compiled with numba so compiled stages and Python stages share them.
"""

import math

import numba

PI2 = 2 * math.pi
INV_PI2 = 1.0 / PI2


@numba.njit(cache=True)
def java_round(value: float) -> int:
    """Java's Math.round: ties go up, not to even."""
    return int(math.floor(value + 0.5))


@numba.njit(cache=True)
def atan(x: float, y: float) -> float:
    """Direction of the vector (x, y) in [0, 2π)."""
    angle = math.atan2(y, x)
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
