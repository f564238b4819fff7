"""atan and atan2 exactly as Java's Math.atan2 computes them (fdlibm 5.3, e_atan2.c and s_atan.c).

HotSpot has no intrinsic for Math.atan2: it is StrictMath.atan2, fdlibm's algorithm, which is
not correctly rounded. The C library's atan2 (glibc) is, so the two differ by one unit in the
last place for some arguments, e.g. atan2(1, 5) and atan2(-21, -14). SourceAFIS compares such
angles with thresholds (the gap filter's 45° limit), and a vector pair at exactly 45° then falls on
either side of the limit depending on that last bit: on FVC2002 DB2_B 105_5 at 569 dpi glibc
left a gap open that Java joins, a self-match of 525.08 instead of Java's 513.42.

The constants and the order of every operation follow fdlibm; the tests compare this function
with Java's Math.atan2 on integer vectors, the angles the extractor takes.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_ATAN_HI = (
    4.63647609000806093515e-01,  # atan(0.5)hi
    7.85398163397448278999e-01,  # atan(1.0)hi
    9.82793723247329054082e-01,  # atan(1.5)hi
    1.57079632679489655800e00,  # atan(inf)hi
)
_ATAN_LO = (
    2.26987774529616870924e-17,
    3.06161699786838301793e-17,
    1.39033110312309984516e-17,
    6.12323399573676603587e-17,
)
_AT0 = 3.33333333333329318027e-01
_AT1 = -1.99999999998764832476e-01
_AT2 = 1.42857142725034663711e-01
_AT3 = -1.11111104054623557880e-01
_AT4 = 9.09088713343650656196e-02
_AT5 = -7.69187620504482999495e-02
_AT6 = 6.66107313738753120669e-02
_AT7 = -5.83357013379057348645e-02
_AT8 = 4.97687799461593236017e-02
_AT9 = -3.65315727442169155270e-02
_AT10 = 1.62858201153657823623e-02

_PI_O_4 = 7.8539816339744827900e-01
_PI_O_2 = 1.5707963267948965580e00
_PI = 3.1415926535897931160e00
_PI_LO = 1.2246467991473531772e-16

# fdlibm compares the high 32 bits of |x| with these words; each word with zero low bits is the
# double below, so `high word < W` is `|x| < value` and `high word >= W` is `|x| >= value`.
_TWO_66 = 2.0**66  # 0x44100000
_TWO_M29 = 2.0**-29  # 0x3e200000
_SMALLEST_NORMAL = 2.0**-1022


@numba.njit(cache=True)
def atan(x: float) -> float:
    """fdlibm's atan (s_atan.c)."""
    if x != x:
        return x + x
    ax = abs(x)
    negative = x < 0.0 or (x == 0.0 and math.copysign(1.0, x) < 0.0)
    if ax >= _TWO_66:
        if not negative:
            return _ATAN_HI[3] + _ATAN_LO[3]
        return -_ATAN_HI[3] - _ATAN_LO[3]
    if ax < 0.4375:  # 0x3fdc0000
        if ax < _TWO_M29:
            return x
        identifier = -1
    else:
        x = ax
        if ax < 1.1875:  # 0x3ff30000
            if ax < 0.6875:  # 0x3fe60000
                identifier = 0
                x = (2.0 * x - 1.0) / (2.0 + x)
            else:
                identifier = 1
                x = (x - 1.0) / (x + 1.0)
        else:
            if ax < 2.4375:  # 0x40038000
                identifier = 2
                x = (x - 1.5) / (1.0 + 1.5 * x)
            else:
                identifier = 3
                x = -1.0 / x
    z = x * x
    w = z * z
    s1 = z * (_AT0 + w * (_AT2 + w * (_AT4 + w * (_AT6 + w * (_AT8 + w * _AT10)))))
    s2 = w * (_AT1 + w * (_AT3 + w * (_AT5 + w * (_AT7 + w * _AT9))))
    if identifier < 0:
        return x - x * (s1 + s2)
    z = _ATAN_HI[identifier] - ((x * (s1 + s2) - _ATAN_LO[identifier]) - x)
    return -z if negative else z


@numba.njit(cache=True)
def _high_word(value: float) -> int:
    cell = np.empty(1, dtype=np.float64)
    cell[0] = value
    return (cell.view(np.int64)[0] >> 32) & 0x7FFFFFFF


@numba.njit(cache=True)
def atan2(y: float, x: float) -> float:
    """fdlibm's atan2 (e_atan2.c): Java's Math.atan2 and StrictMath.atan2."""
    if x != x or y != y:
        return x + y
    if x == 1.0:
        return atan(y)
    y_negative = math.copysign(1.0, y) < 0.0
    x_negative = math.copysign(1.0, x) < 0.0
    m = (1 if y_negative else 0) | (2 if x_negative else 0)
    if y == 0.0:
        if m <= 1:
            return y
        if m == 2:
            return _PI
        return -_PI
    if x == 0.0:
        return -_PI_O_2 if y_negative else _PI_O_2
    if math.isinf(x):
        if math.isinf(y):
            if m == 0:
                return _PI_O_4
            if m == 1:
                return -_PI_O_4
            if m == 2:
                return 3.0 * _PI_O_4
            return -3.0 * _PI_O_4
        if m == 0:
            return 0.0
        if m == 1:
            return -0.0
        if m == 2:
            return _PI
        return -_PI
    if math.isinf(y):
        return -_PI_O_2 if y_negative else _PI_O_2
    ax = abs(x)
    ay = abs(y)
    # k = (iy - ix) >> 20 on the high words; it only matters beyond ±60, so the words are
    # read only when the ratio comes near 2^60 or a subnormal blurs the exponent.
    if ay >= 2.0**58 * ax or ax >= 2.0**58 * ay or ax < _SMALLEST_NORMAL or ay < _SMALLEST_NORMAL:
        k = (_high_word(y) - _high_word(x)) >> 20
    else:
        k = 0
    if k > 60:
        z = _PI_O_2 + 0.5 * _PI_LO
    elif x_negative and k < -60:
        z = 0.0
    else:
        z = atan(abs(y / x))
    if m == 0:
        return z
    if m == 1:
        return -z
    if m == 2:
        return _PI - (z - _PI_LO)
    return (z - _PI_LO) - _PI
