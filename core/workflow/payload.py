"""Typed payload fields of an action, and the check of a submitted payload against them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from core.inputs import DATE_MAX, DATE_MIN, MAX_FEN

from .errors import InvalidPayload

FIELD_TYPES = frozenset({
    "string", "text", "integer", "money", "boolean", "date", "datetime",
    "user", "office", "enum", "user_list", "code_list", "object",
})
_STRING_LIMIT = 200
_TEXT_LIMIT = 20_000
# What a 64-bit column holds, for integers whose field declares no range; money is further
# held to MAX_FEN here and to the product's limit by the `amount_within_limit` guard.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = True
    choices: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    label: str = ""


def _fail(spec: FieldSpec, message: str) -> InvalidPayload:
    return InvalidPayload(f"field '{spec.name}' {message}", details={"field": spec.name})


def _text(spec: FieldSpec, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise _fail(spec, f"must be text, got {type(value).__name__}")
    value = value.strip()
    if spec.required and not value:
        raise _fail(spec, "must not be empty")
    if len(value) > limit:
        raise _fail(spec, f"is longer than {limit} characters")
    return value


def _integer(spec: FieldSpec, value: Any) -> int:
    # bool is an int in Python; a checkbox is not an amount
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        if isinstance(value, float):
            raise _fail(spec, "must be an integer (fen for money), not a float")
        raise _fail(spec, f"must be an integer, got {type(value).__name__}")
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise _fail(spec, "must be a whole number")
        value = int(value)
    lowest = spec.min if spec.min is not None else _INT_MIN
    highest = spec.max if spec.max is not None else (MAX_FEN if spec.type == "money" else _INT_MAX)
    if value < lowest:
        raise _fail(spec, f"must be at least {lowest}")
    if value > highest:
        raise _fail(spec, f"must be at most {highest}")
    return value


def _in_window(spec: FieldSpec, day: dt.date) -> None:
    if not DATE_MIN <= day <= DATE_MAX:
        raise _fail(spec, f"must lie between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}")


def _coerce(spec: FieldSpec, value: Any) -> Any:
    kind = spec.type
    if kind == "string":
        return _text(spec, value, _STRING_LIMIT)
    if kind == "text":
        return _text(spec, value, _TEXT_LIMIT)
    if kind in ("user", "office"):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return _text(spec, value, _STRING_LIMIT)
    if kind == "integer":
        return _integer(spec, value)
    if kind == "money":
        amount = _integer(spec, value)
        if amount < 0:
            raise _fail(spec, "must not be negative")
        return amount
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(spec, "must be true or false")
        return value
    if kind == "date":
        day = None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            day = value
        elif isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                pass
        if day is None:
            raise _fail(spec, "must be a date (YYYY-MM-DD)")
        _in_window(spec, day)
        return day
    if kind == "datetime":
        if isinstance(value, dt.datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value)
            except ValueError:
                raise _fail(spec, "must be a date and time (ISO 8601)") from None
        else:
            raise _fail(spec, "must be a date and time (ISO 8601)")
        if parsed.tzinfo is None:
            raise _fail(spec, "must carry a time zone offset")
        _in_window(spec, parsed.date())
        return parsed
    if kind == "enum":
        if value not in spec.choices:
            raise _fail(spec, f"must be one of {', '.join(spec.choices)}")
        return value
    if kind in ("user_list", "code_list"):
        if not isinstance(value, (list, tuple)) or not value:
            raise _fail(spec, "must be a non-empty list")
        items = []
        for item in value:
            if isinstance(item, int) and not isinstance(item, bool) and kind == "user_list":
                item = str(item)
            if not isinstance(item, str) or not item.strip():
                raise _fail(spec, "must hold non-empty strings")
            items.append(item.strip())
        if len(set(items)) != len(items):
            raise _fail(spec, "must not repeat an entry")
        if spec.min is not None and len(items) < spec.min:
            raise _fail(spec, f"must have at least {spec.min} entries")
        if spec.max is not None and len(items) > spec.max:
            raise _fail(spec, f"must have at most {spec.max} entries")
        return tuple(items)
    if kind == "object":
        if not isinstance(value, Mapping):
            raise _fail(spec, "must be an object")
        return dict(value)
    raise AssertionError(f"unknown field type {kind}")  # the loader refuses these


def check_payload(specs: Mapping[str, FieldSpec], payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return the payload with values normalised; refuse unknown, missing or ill-typed fields."""
    if not isinstance(payload, Mapping):
        raise InvalidPayload("payload must be an object")
    unknown = sorted(set(payload) - set(specs))
    if unknown:
        raise InvalidPayload(f"unknown field(s): {', '.join(unknown)}", details={"fields": unknown})
    result: dict[str, Any] = {}
    for name, spec in specs.items():
        value = payload.get(name)
        if value is None or (isinstance(value, str) and not value.strip() and spec.type != "text"):
            if spec.required:
                raise InvalidPayload(f"field '{name}' is required", details={"field": name})
            continue
        result[name] = _coerce(spec, value)
    return result
