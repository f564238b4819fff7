"""Loading many CBOR templates straight into a compact gallery, in one compiled pass.

Template.from_cbor reads one template in Python (tens of microseconds); a gallery of a
hundred thousand needs a faster road.  The compiled reader here accepts the CBOR that this
project and the Java original write (a map of the seven keys; integers; float32 directions;
definite or indefinite lengths) with the same range checks, and it checks that the minutiae
already stand in SourceAFIS's shuffled order.  Anything else it declines, and that template
goes through Template.from_cbor, which reorders what needs reordering and raises
TemplateError for what is malformed: both roads give the same minutiae.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numba import njit

from .compact import CompactGallery
from .template import MAX_COORDINATE, MAX_MINUTIAE, MAX_VERSION_LENGTH, PI2_FLOAT32, Template

_SHUFFLE_PRIME = 1610612741
# Key names, and the bit each sets once seen.
_KEYS = (b"version", b"width", b"height", b"positionsX", b"positionsY", b"directions", b"types")
_KEY_TABLE = np.zeros((len(_KEYS), 16), dtype=np.uint8)
_KEY_LENGTHS = np.array([len(k) for k in _KEYS], dtype=np.int64)
for _index, _key in enumerate(_KEYS):
    _KEY_TABLE[_index, :len(_key)] = np.frombuffer(_key, dtype=np.uint8)
_DECLINED = -1
# Each minutia takes at least one byte in each coordinate array, five in directions, one in types.
_MIN_BYTES_PER_MINUTIA = 8


@njit(cache=True, inline="always")
def _head(data, pos, end):
    """(major type, argument, next position); argument -1 means indefinite length, -2 malformed."""
    if pos >= end:
        return 0, -2, pos
    initial = data[pos]
    major = initial >> 5
    info = initial & 31
    pos += 1
    if info < 24:
        return major, np.int64(info), pos
    if info == 31:
        return major, -1, pos
    if info > 27:
        return major, -2, pos
    size = 1 << (info - 24)
    if pos + size > end:
        return major, -2, pos
    value = np.int64(0)
    for i in range(size):
        value = (value << 8) | data[pos + i]
    if value < 0:
        return major, -2, pos
    return major, value, pos + size


@njit(cache=True, inline="always")
def _is_break(data, pos, end):
    return pos < end and data[pos] == 0xFF


@njit(cache=True)
def _read_ints(data, pos, end, out, first, limit):
    """An array of integers in [-limit, limit] into out[first:]; returns (count, next position) or count -1."""
    major, length, pos = _head(data, pos, end)
    if major != 4 or length == -2:
        return -1, pos
    count = 0
    while True:
        if length == -1:
            if _is_break(data, pos, end):
                return count, pos + 1
        elif count == length:
            return count, pos
        if count >= MAX_MINUTIAE or first + count >= out.shape[0]:
            return -1, pos
        major, value, pos = _head(data, pos, end)
        if value < 0:
            return -1, pos
        if major == 1:
            value = -1 - value
        elif major != 0:
            return -1, pos
        if value < -limit or value > limit:
            return -1, pos
        out[first + count] = value
        count += 1


@njit(cache=True)
def _read_directions(data, pos, end, out, first, bits, floats):
    major, length, pos = _head(data, pos, end)
    if major != 4 or length == -2:
        return -1, pos
    count = 0
    while True:
        if length == -1:
            if _is_break(data, pos, end):
                return count, pos + 1
        elif count == length:
            return count, pos
        # float32 only (0xFA); other widths are left to Template.from_cbor, which rounds them.
        if count >= MAX_MINUTIAE or first + count >= out.shape[0] or pos + 5 > end or data[pos] != 0xFA:
            return -1, pos
        # bits and floats share one word: the float32 is read by its bit pattern, exactly.
        bits[0] = ((np.uint32(data[pos + 1]) << 24) | (np.uint32(data[pos + 2]) << 16)
                   | (np.uint32(data[pos + 3]) << 8) | np.uint32(data[pos + 4]))
        value = floats[0]
        if not (value >= 0 and value < PI2_FLOAT32):  # also refuses NaN and infinities
            return -1, pos
        out[first + count] = value
        count += 1
        pos += 5


@njit(cache=True)
def _parse_one(data, start, end, first, key_table, key_lengths, xs, ys, directions, types, bits, floats):
    """Minutiae of one template into the arrays at first; returns their count or _DECLINED."""
    major, length, pos = _head(data, start, end)
    if major != 5 or length == -2:
        return _DECLINED
    seen = 0
    counts = np.full(4, -1, dtype=np.int64)  # positionsX, positionsY, directions, types
    entries = 0
    while True:
        if length == -1:
            if _is_break(data, pos, end):
                pos += 1
                break
        elif entries == length:
            break
        major, size, pos = _head(data, pos, end)
        if major != 3 or size < 0 or pos + size > end:
            return _DECLINED
        key = -1
        for k in range(key_table.shape[0]):
            if key_lengths[k] == size:
                same = True
                for i in range(size):
                    if data[pos + i] != key_table[k, i]:
                        same = False
                        break
                if same:
                    key = k
                    break
        if key < 0 or seen & (1 << key):
            return _DECLINED
        seen |= 1 << key
        pos += size
        entries += 1
        if key == 0:  # version: a short ASCII text
            major, size, pos = _head(data, pos, end)
            if major != 3 or size < 0 or size > MAX_VERSION_LENGTH or pos + size > end:
                return _DECLINED
            for i in range(size):
                if data[pos + i] >= 0x80:
                    return _DECLINED
            pos += size
        elif key <= 2:  # width, height
            major, value, pos = _head(data, pos, end)
            if major != 0 or value < 0 or value > 32767:
                return _DECLINED
        elif key <= 4:
            target = xs if key == 3 else ys
            count, pos = _read_ints(data, pos, end, target, first, MAX_COORDINATE)
            if count < 0:
                return _DECLINED
            counts[key - 3] = count
        elif key == 5:
            count, pos = _read_directions(data, pos, end, directions, first, bits, floats)
            if count < 0:
                return _DECLINED
            counts[2] = count
        else:
            major, size, pos = _head(data, pos, end)
            if major != 3 or size < 0 or size > MAX_MINUTIAE or pos + size > end or first + size > types.shape[0]:
                return _DECLINED
            for i in range(size):
                letter = data[pos + i]
                if letter == 69:  # E
                    types[first + i] = 0
                elif letter == 66:  # B
                    types[first + i] = 1
                else:
                    return _DECLINED
            counts[3] = size
            pos += size
    if pos != end or seen != (1 << key_table.shape[0]) - 1:
        return _DECLINED
    count = counts[0]
    if counts[1] != count or counts[2] != count or counts[3] != count:
        return _DECLINED
    # The minutiae must already be in shuffled order (template._shuffle_key); otherwise Template sorts them.
    for i in range(first + 1, first + count):
        if _shuffle_compare(xs[i - 1], ys[i - 1], directions[i - 1], types[i - 1],
                            xs[i], ys[i], directions[i], types[i]) > 0:
            return _DECLINED
    return count


@njit(cache=True, inline="always")
def _scrambled(x, y):
    value = (np.int64(x) * _SHUFFLE_PRIME + y) & 0xFFFFFFFF
    if value >= 1 << 31:
        value -= 1 << 32
    value = (value * _SHUFFLE_PRIME) & 0xFFFFFFFF
    if value >= 1 << 31:
        value -= 1 << 32
    return value


@njit(cache=True)
def _shuffle_compare(x1, y1, d1, t1, x2, y2, d2, t2):
    """Sign of the comparison of two minutiae's shuffle keys (hash, x, y, direction, sign, type)."""
    a, b = _scrambled(x1, y1), _scrambled(x2, y2)
    if a != b:
        return -1 if a < b else 1
    if x1 != x2:
        return -1 if x1 < x2 else 1
    if y1 != y2:
        return -1 if y1 < y2 else 1
    if d1 != d2:
        return -1 if d1 < d2 else 1
    s1, s2 = np.signbit(d1), np.signbit(d2)
    if s1 != s2:
        return -1 if s1 else 1
    if t1 != t2:
        return -1 if t1 < t2 else 1
    return 0


@njit(cache=True)
def parse_all(data, bounds, key_table, key_lengths, counts, xs, ys, directions, types):
    """Parses template i from data[bounds[i]:bounds[i + 1]]; counts[i] = minutiae or _DECLINED."""
    first = 0
    bits = np.zeros(1, dtype=np.uint32)
    floats = bits.view(np.float32)
    for i in range(bounds.shape[0] - 1):
        count = _parse_one(data, bounds[i], bounds[i + 1], first, key_table, key_lengths, xs, ys, directions, types,
                           bits, floats)
        counts[i] = count
        if count > 0:
            first += count
    return first


def load_gallery(templates: Sequence[bytes]) -> CompactGallery:
    """The compact gallery of the CBOR templates, in order (TemplateError if one is malformed)."""
    data = np.frombuffer(b"".join(templates), dtype=np.uint8)
    bounds = np.zeros(len(templates) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in templates], out=bounds[1:])
    capacity = data.shape[0] // _MIN_BYTES_PER_MINUTIA + 1
    counts = np.zeros(len(templates), dtype=np.int64)
    xs = np.zeros(capacity, dtype=np.int32)
    ys = np.zeros(capacity, dtype=np.int32)
    directions = np.zeros(capacity, dtype=np.float32)
    types = np.zeros(capacity, dtype=np.int8)
    total = parse_all(data, bounds, _KEY_TABLE, _KEY_LENGTHS, counts, xs, ys, directions, types)
    declined = np.flatnonzero(counts == _DECLINED)
    if declined.shape[0] == 0:
        return CompactGallery.from_minutiae(counts, xs[:total], ys[:total], directions[:total], types[:total])
    # The rare template the compiled reader declines: read it in Python and splice it in.
    parsed = {int(i): Template.from_cbor(templates[i]) for i in declined}
    for i, template in parsed.items():
        counts[i] = len(template.minutiae)
    parts: list[tuple] = []
    read = 0
    for i in range(len(templates)):
        if i in parsed:
            t = parsed[i]
            parts.append((t.positions_x, t.positions_y, t.directions, t.types))
        else:
            size = int(counts[i])
            parts.append((xs[read:read + size], ys[read:read + size], directions[read:read + size], types[read:read + size]))
            read += size
    return CompactGallery.from_minutiae(counts, *(np.concatenate([p[k] for p in parts]) for k in range(4)))
