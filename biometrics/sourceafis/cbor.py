"""A small, bounded CBOR reader and writer for fingerprint templates.

Templates arrive from outside (enrolment stations, other banks, SourceAFIS for
Java), so they are decoded by this reader rather than a general-purpose CBOR
library: it accepts only the item kinds a template uses (integers, text,
floats, arrays, maps), caps nesting depth, item counts and input size, and
never allocates from a length field before checking it against the bytes that
are actually left.  Every problem is a :class:`CborError` naming the offset.
"""

from __future__ import annotations

import math
import struct
from typing import Union

CborValue = Union[int, float, str, list, dict]

MAX_INPUT_BYTES = 1 << 20
MAX_DEPTH = 4
MAX_ITEMS = 100_000

_BREAK = object()


class CborError(ValueError):
    """The bytes are not CBOR this reader accepts."""


class Float32(float):
    """A float the writer encodes as CBOR single precision (0xFA)."""


class CborReader:
    """Decodes one CBOR item from a byte string, within fixed limits."""

    def __init__(self, data: bytes, *, max_depth: int = MAX_DEPTH, max_items: int = MAX_ITEMS) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise CborError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) > MAX_INPUT_BYTES:
            raise CborError(f"input is {len(data)} bytes, more than the limit of {MAX_INPUT_BYTES}")
        self._data = data
        self._pos = 0
        self._max_depth = max_depth
        self._items_left = max_items

    def read_single(self) -> CborValue:
        """Decodes exactly one item and rejects anything after it."""
        if not self._data:
            raise CborError("input is empty")
        value = self._item(0)
        if value is _BREAK:
            raise CborError("unexpected break code at offset 0")
        if self._pos != len(self._data):
            raise CborError(f"{len(self._data) - self._pos} trailing bytes after the CBOR item at offset {self._pos}")
        return value

    def _take(self, count: int) -> bytes:
        if count > len(self._data) - self._pos:
            raise CborError(f"truncated input: need {count} bytes at offset {self._pos}, {len(self._data) - self._pos} left")
        chunk = self._data[self._pos : self._pos + count]
        self._pos += count
        return chunk

    def _argument(self, info: int, offset: int) -> int | None:
        """The head's argument; None means indefinite length (info 31)."""
        if info < 24:
            return info
        if info == 24:
            return self._take(1)[0]
        if info == 25:
            return struct.unpack(">H", self._take(2))[0]
        if info == 26:
            return struct.unpack(">I", self._take(4))[0]
        if info == 27:
            return struct.unpack(">Q", self._take(8))[0]
        if info == 31:
            return None
        raise CborError(f"reserved additional information {info} at offset {offset}")

    def _count_item(self, offset: int) -> None:
        self._items_left -= 1
        if self._items_left < 0:
            raise CborError(f"too many CBOR items (limit {MAX_ITEMS}) at offset {offset}")

    def _item(self, depth: int) -> object:
        offset = self._pos
        head = self._take(1)[0]
        major, info = head >> 5, head & 0x1F
        if major == 7:
            return self._simple(info, offset)
        self._count_item(offset)
        argument = self._argument(info, offset)
        if major == 0:
            if argument is None:
                raise CborError(f"indefinite-length integer at offset {offset}")
            return argument
        if major == 1:
            if argument is None:
                raise CborError(f"indefinite-length integer at offset {offset}")
            return -1 - argument
        if major in (2, 3):
            return self._string(major, argument, offset)
        if major in (4, 5):
            if depth + 1 > self._max_depth:
                raise CborError(f"nesting deeper than {self._max_depth} levels at offset {offset}")
            return self._array(argument, depth + 1) if major == 4 else self._map(argument, depth + 1, offset)
        raise CborError(f"CBOR tags are not accepted (tag at offset {offset})")

    def _simple(self, info: int, offset: int) -> object:
        if info == 31:
            return _BREAK
        self._count_item(offset)
        if info == 25:
            return struct.unpack(">e", self._take(2))[0]
        if info == 26:
            return Float32(struct.unpack(">f", self._take(4))[0])
        if info == 27:
            return struct.unpack(">d", self._take(8))[0]
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        raise CborError(f"unsupported simple value {info} at offset {offset}")

    def _string(self, major: int, length: int | None, offset: int) -> str | bytes:
        if length is None:
            raise CborError(f"indefinite-length strings are not accepted (offset {offset})")
        raw = self._take(length)
        if major == 2:
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CborError(f"text string at offset {offset} is not valid UTF-8") from error

    def _array(self, length: int | None, depth: int) -> list:
        items: list = []
        if length is None:
            while True:
                item = self._item(depth)
                if item is _BREAK:
                    return items
                items.append(item)
        # Each item takes at least one byte, so a length beyond the remaining input is a lie.
        if length > len(self._data) - self._pos:
            raise CborError(f"array of {length} items does not fit in the {len(self._data) - self._pos} bytes left")
        for _ in range(length):
            item = self._item(depth)
            if item is _BREAK:
                raise CborError("unexpected break code inside a definite-length array")
            items.append(item)
        return items

    def _map(self, length: int | None, depth: int, offset: int) -> dict:
        result: dict = {}
        count = 0
        while length is None or count < length:
            key_offset = self._pos
            key = self._item(depth)
            if key is _BREAK:
                if length is None:
                    return result
                raise CborError("unexpected break code inside a definite-length map")
            if not isinstance(key, str):
                raise CborError(f"map key at offset {key_offset} is not text")
            if key in result:
                raise CborError(f"duplicate map key {key!r} at offset {key_offset}")
            value = self._item(depth)
            if value is _BREAK:
                raise CborError(f"map key {key!r} has no value")
            result[key] = value
            count += 1
        return result


class CborWriter:
    """Encodes the item kinds a template uses, the way SourceAFIS for Java does.

    Maps and arrays are written with indefinite length, as Jackson 2.7 does, so a
    template with the same content and version gives the same bytes.
    """

    def __init__(self) -> None:
        self._out = bytearray()

    def getvalue(self) -> bytes:
        return bytes(self._out)

    def _head(self, major: int, argument: int) -> None:
        if argument < 24:
            self._out.append((major << 5) | argument)
        elif argument < 1 << 8:
            self._out += bytes(((major << 5) | 24, argument))
        elif argument < 1 << 16:
            self._out.append((major << 5) | 25)
            self._out += struct.pack(">H", argument)
        elif argument < 1 << 32:
            self._out.append((major << 5) | 26)
            self._out += struct.pack(">I", argument)
        else:
            self._out.append((major << 5) | 27)
            self._out += struct.pack(">Q", argument)

    def write(self, value: CborValue) -> None:
        if isinstance(value, bool):
            raise TypeError("booleans are not used in templates")
        if isinstance(value, int):
            if value >= 0:
                self._head(0, value)
            else:
                self._head(1, -1 - value)
        elif isinstance(value, Float32):
            if math.isnan(value):
                raise ValueError("NaN is not written")
            self._out.append(0xFA)
            self._out += struct.pack(">f", value)
        elif isinstance(value, float):
            self._out.append(0xFB)
            self._out += struct.pack(">d", value)
        elif isinstance(value, str):
            raw = value.encode("utf-8")
            if len(raw) == 23:
                # Jackson gives a 23-byte text a one-byte length field instead of the short form.
                self._out += bytes((0x78, 23))
            else:
                self._head(3, len(raw))
            self._out += raw
        elif isinstance(value, (list, tuple)):
            self._out.append(0x9F)
            for item in value:
                self.write(item)
            self._out.append(0xFF)
        elif isinstance(value, dict):
            self._out.append(0xBF)
            for key, item in value.items():
                self.write(str(key))
                self.write(item)
            self._out.append(0xFF)
        else:
            raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


def loads(data: bytes) -> CborValue:
    return CborReader(data).read_single()  # type: ignore[return-value]


def dumps(value: CborValue) -> bytes:
    writer = CborWriter()
    writer.write(value)
    return writer.getvalue()
