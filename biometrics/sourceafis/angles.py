"""Angle arithmetic in float32, as SourceAFIS's FloatAngle does it.

Every result is rounded to float32 explicitly.  Whatever width numba picks for
the intermediate, one IEEE operation on two float32 values rounded once to
float32 equals the float32 operation, so these match Java bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .parameters import PI, PI2

_F32 = np.float32


@njit(cache=True, inline="always")
def add(start, delta):
    angle = _F32(start + delta)
    return angle if angle < PI2 else _F32(angle - PI2)


@njit(cache=True, inline="always")
def difference(first, second):
    angle = _F32(first - second)
    return angle if angle >= 0 else _F32(angle + PI2)


@njit(cache=True, inline="always")
def distance(first, second):
    delta = _F32(abs(_F32(first - second)))
    return delta if delta <= PI else _F32(PI2 - delta)


@njit(cache=True, inline="always")
def opposite(angle):
    return _F32(angle + PI) if angle < PI else _F32(angle - PI)
