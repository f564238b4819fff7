"""Term limits per product (2024 revision: fixed asset normally ≤ 10 years; working capital ≤ 3,
at most 5; personal consumer ≤ 5; personal business normally ≤ 5, at most 10)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TermCheck:
    allowed: bool
    # longer than the normal limit but within the absolute one: allowed with a written reason
    needs_justification: bool
    normal_max_months: int | None
    max_months: int | None
    message: str


def check_term(product_code: str, months: int, normal_max: int | None, absolute_max: int | None) -> TermCheck:
    if isinstance(months, bool) or not isinstance(months, int) or months <= 0:
        return TermCheck(False, False, normal_max, absolute_max, f"a term must be a positive number of months, got {months!r}")
    if absolute_max is not None and months > absolute_max:
        return TermCheck(False, False, normal_max, absolute_max,
                         f"{months} months exceeds the limit of {absolute_max} months for {product_code}")
    if normal_max is not None and months > normal_max:
        return TermCheck(True, True, normal_max, absolute_max,
                         f"{months} months exceeds the normal limit of {normal_max} months for {product_code}")
    return TermCheck(True, False, normal_max, absolute_max, "within the term limit")
