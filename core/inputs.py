"""The bounds every value from outside is held to, shared by the HTTP layer and the use cases
that read ids back out of stored payloads."""
from __future__ import annotations

import datetime as dt
import re

from .errors import InvalidInput

# Ids are INTEGER columns (32-bit on PostgreSQL): anything larger is a 404/422, never a query.
ID_MAX = 2**31 - 1
# An integer field without a declared range still cannot leave what a 64-bit column holds.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# No single amount anywhere may exceed 10 trillion yuan (10^15 fen): a product's own limit in
# the rule table is lower still, and a 64-bit sum holds 9,000 amounts of even this size.
MAX_FEN = 10**15
# Dates a loan's paperwork can name: year 1 and year 9999 are typing errors (and 9999 plus any
# deadline overflows Python's datetime).
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
# JSON is bounded before and while it is parsed: nesting (Python's parser recurses), the
# digits of a number (int() refuses more than 4,300 and is quadratic below that).
MAX_JSON_DEPTH = 32
MAX_NUMBER_DIGITS = 24
_ASCII_ID = re.compile(r"[0-9]{1,10}")
# Lone surrogates cannot be encoded (SQLite and PostgreSQL drivers fail on them) and
# PostgreSQL text cannot hold NUL: refuse both wherever a string enters.
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def parse_id(raw: str) -> int | None:
    """An id from a path or a stored reference: ASCII digits only (str.isdigit() also takes
    '²', '١' and fullwidth digits), within the id column's range; else None."""
    if not isinstance(raw, str) or not _ASCII_ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= ID_MAX else None


def check_text(name: str, value: str) -> str:
    """Refuse NUL and lone surrogates (422) in any text the request brings."""
    if _BAD_TEXT.search(value):
        raise InvalidInput(f"{name} contains a NUL character or an unpaired surrogate",
                           details={name: "characters"})
    return value
