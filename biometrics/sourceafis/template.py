"""The fingerprint template: image size and minutiae, and its CBOR form.

The CBOR map is the one SourceAFIS 3.18.1 for Java writes (``version``,
``width``, ``height``, ``positionsX``, ``positionsY``, ``directions`` as float32,
``types`` as a string of ``E``/``B``), so templates move both ways between this
project and the Java original.
"""

from __future__ import annotations

import enum
import math
import struct
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

from . import cbor

TEMPLATE_VERSION = "3.18.1-python"
# Templates of the accuracy mode (biometrics.accurate) carry this mark in their version: their
# minutiae come from an enhanced image, so the exact mode refuses them rather than score them.
ACCURATE_VERSION_MARK = "+accurate"

# SourceAFIS rejects positions beyond this when it reads a template.
MAX_COORDINATE = 10_000
# The Java matcher keeps minutia indices in a byte; extraction keeps at most 100 minutiae.
MAX_MINUTIAE = 255
MAX_VERSION_LENGTH = 100
# float32(2π): directions are float32 values in [0, PI2).
PI2_FLOAT32 = float(np.float32(2 * math.pi))

_KEYS = ("version", "width", "height", "positionsX", "positionsY", "directions", "types")
_SHUFFLE_PRIME = 1610612741


class TemplateError(ValueError):
    """A template is malformed or its content is out of range."""


class MinutiaType(enum.IntEnum):
    ENDING = 0
    BIFURCATION = 1


_FLOAT32_MAX = 3.4028234663852886e38


def _float32(value: float) -> float:
    """Rounds to the nearest float32, as Java's (float) cast does (beyond its range: infinity)."""
    if math.isnan(value):
        return value
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


@dataclass(frozen=True)
class Minutia:
    x: int
    y: int
    direction: float  # radians in [0, 2π), always a float32 value
    type: MinutiaType

    def __post_init__(self) -> None:
        # Java keeps directions in float; rounding here keeps every later computation on the same value.
        object.__setattr__(self, "direction", _float32(float(self.direction)))
        object.__setattr__(self, "type", MinutiaType(self.type))


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _shuffle_key(minutia: Minutia) -> tuple:
    # SearchTemplate's order: a multiplicative hash of the position (Java int arithmetic,
    # wrapping), then x, y, direction (Double.compare puts -0.0 before 0.0), type.
    scrambled = _int32(_int32(minutia.x * _SHUFFLE_PRIME + minutia.y) * _SHUFFLE_PRIME)
    return (
        scrambled,
        minutia.x,
        minutia.y,
        minutia.direction,
        math.copysign(1.0, minutia.direction),
        int(minutia.type),
    )


def shuffle(minutiae: "tuple[Minutia, ...] | list[Minutia]") -> tuple[Minutia, ...]:
    """Minutiae in the order SourceAFIS keeps them (its "shuffled-minutiae")."""
    return tuple(sorted(minutiae, key=_shuffle_key))


@dataclass(frozen=True)
class Template:
    """Size of the print at 500 dpi and its minutiae, in SourceAFIS's shuffled order.

    The constructor puts the minutiae in that order (as Java's SearchTemplate
    does), so two templates with the same minutiae compare equal and match alike.
    """

    width: int
    height: int
    minutiae: tuple[Minutia, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "minutiae", shuffle(tuple(self.minutiae)))

    @cached_property
    def positions_x(self) -> np.ndarray:
        return np.array([m.x for m in self.minutiae], dtype=np.int32)

    @cached_property
    def positions_y(self) -> np.ndarray:
        return np.array([m.y for m in self.minutiae], dtype=np.int32)

    @cached_property
    def directions(self) -> np.ndarray:
        return np.array([m.direction for m in self.minutiae], dtype=np.float32)

    @cached_property
    def types(self) -> np.ndarray:
        return np.array([int(m.type) for m in self.minutiae], dtype=np.int8)

    def to_cbor(self, version: str = TEMPLATE_VERSION) -> bytes:
        """The template as SourceAFIS for Java serializes it (indefinite-length map and arrays)."""
        return cbor.dumps(
            {
                "version": version,
                "width": self.width,
                "height": self.height,
                "positionsX": [m.x for m in self.minutiae],
                "positionsY": [m.y for m in self.minutiae],
                "directions": [cbor.Float32(m.direction) for m in self.minutiae],
                "types": "".join("B" if m.type == MinutiaType.BIFURCATION else "E" for m in self.minutiae),
            }
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> "Template":
        """Reads a SourceAFIS CBOR template; raises TemplateError on anything malformed or out of
        range, and on a template of the accuracy mode (scoring it here would mix two modes)."""
        return cls.read_cbor(data, refuse=_refuse_accurate)

    @classmethod
    def read_cbor(cls, data: bytes, refuse: "Callable[[str], None]" = lambda version: None) -> "Template":
        """Reads the CBOR map; `refuse(version)` raises TemplateVersionError for a version the
        caller's mode does not match."""
        try:
            root = cbor.loads(data)
        except cbor.CborError as error:
            raise TemplateError(f"not a valid template: {error}") from None
        if not isinstance(root, dict):
            raise TemplateError(f"not a valid template: expected a CBOR map, got {_kind(root)}")
        if isinstance(root.get("version"), str) and len(root["version"]) <= MAX_VERSION_LENGTH:
            # Another mode's template is refused as such, whatever else it holds (the accuracy
            # mode's carries a second minutia set under a key SourceAFIS does not know).
            refuse(root["version"])
        unknown = sorted(set(root) - set(_KEYS))
        if unknown:
            raise TemplateError(f"not a valid template: unknown keys {', '.join(unknown)}")
        missing = [key for key in _KEYS if key not in root]
        if missing:
            raise TemplateError(f"not a valid template: missing keys {', '.join(missing)}")
        version = root["version"]
        if not isinstance(version, str) or len(version) > MAX_VERSION_LENGTH:
            raise TemplateError("not a valid template: version must be a short text string")
        refuse(version)
        width = _size(root, "width")
        height = _size(root, "height")
        types = root["types"]
        if not isinstance(types, str):
            raise TemplateError(f"not a valid template: types must be a text string, got {_kind(types)}")
        count = len(types)
        if count > MAX_MINUTIAE:
            raise TemplateError(f"not a valid template: {count} minutiae, more than the limit of {MAX_MINUTIAE}")
        xs = _array(root, "positionsX", count)
        ys = _array(root, "positionsY", count)
        directions = _array(root, "directions", count)
        minutiae = []
        for index in range(count):
            x, y, direction, kind = xs[index], ys[index], directions[index], types[index]
            for name, value in (("positionsX", x), ("positionsY", y)):
                if not _is_int(value):
                    raise TemplateError(f"not a valid template: {name}[{index}] is {_kind(value)}, not an integer")
                if abs(value) > MAX_COORDINATE:
                    raise TemplateError(f"not a valid template: {name}[{index}] = {value} is out of range ±{MAX_COORDINATE}")
            if not isinstance(direction, float):
                raise TemplateError(f"not a valid template: directions[{index}] is {_kind(direction)}, not a float")
            if math.isnan(direction) or math.isinf(direction):
                raise TemplateError(f"not a valid template: directions[{index}] is {direction}")
            # Java reads the directions into a float[], rounding wider floats.
            direction = _float32(direction)
            if not 0.0 <= direction < PI2_FLOAT32:
                raise TemplateError(f"not a valid template: directions[{index}] = {direction} is outside [0, 2π)")
            if kind not in "EB":
                raise TemplateError(f"not a valid template: types[{index}] = {kind!r}, expected 'E' or 'B'")
            minutiae.append(
                Minutia(x, y, direction, MinutiaType.BIFURCATION if kind == "B" else MinutiaType.ENDING)
            )
        return cls(width, height, tuple(minutiae))


class TemplateVersionError(TemplateError):
    """The template is well formed but was made by another template/matcher mode."""


def _refuse_accurate(version: str) -> None:
    if ACCURATE_VERSION_MARK in version:
        raise TemplateVersionError(
            f"template version {version!r} was made by the accuracy mode; the exact SourceAFIS mode "
            f"cannot match it (use the accurate mode, or re-enroll the print in the exact mode)"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, cbor.Float32) or isinstance(value, float):
        return "a float"
    return {int: "an integer", str: "a text string", bytes: "a byte string", list: "an array", dict: "a map"}.get(
        type(value), type(value).__name__
    )


def _size(root: dict, key: str) -> int:
    value = root[key]
    # Java stores width and height in a short; they are informative only.
    if not _is_int(value) or not 0 <= value <= 32767:
        raise TemplateError(f"not a valid template: {key} must be an integer in [0, 32767], got {value!r}")
    return value


def _array(root: dict, key: str, count: int) -> list:
    value = root[key]
    if not isinstance(value, list):
        raise TemplateError(f"not a valid template: {key} must be an array, got {_kind(value)}")
    if len(value) != count:
        raise TemplateError(
            f"not a valid template: {key} has {len(value)} items but types has {count} (lengths must agree)"
        )
    return value
