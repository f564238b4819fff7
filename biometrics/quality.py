"""Whether a capture is good enough to enroll or match: enough minutiae over enough skin.

Plain domain code: takes the template the extractor made, answers with a reason a clerk
can act on ("press the finger flatter", not a score).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

# Template coordinates are at 500 dpi: one pixel is 0.0508 mm.
MM_PER_PIXEL = 25.4 / 500


@dataclass(frozen=True)
class QualityPolicy:
    min_minutiae: int = 12
    min_area_mm2: float = 40.0


@dataclass(frozen=True)
class QualityReport:
    minutiae: int
    area_mm2: float
    refusal: str | None

    @property
    def acceptable(self) -> bool:
        return self.refusal is None


def convex_hull_area(points: Sequence[tuple[float, float]]) -> float:
    """Area of the convex hull (Andrew's monotone chain), in the points' unit squared."""
    pts = sorted(set(points))
    if len(pts) < 3:
        return 0.0

    def cross(o, a, b) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    hull = lower[:-1] + upper[:-1]
    twice = sum(hull[i][0] * hull[(i + 1) % len(hull)][1] - hull[(i + 1) % len(hull)][0] * hull[i][1]
                for i in range(len(hull)))
    return abs(twice) / 2


def assess(positions: Sequence[tuple[float, float]], policy: QualityPolicy) -> QualityReport:
    """The minutiae count and the area they cover (the hull of the minutiae, a conservative
    stand-in for the skin in contact); a refusal names what to do about it."""
    area = convex_hull_area(positions) * MM_PER_PIXEL ** 2
    count = len(positions)
    refusal = None
    if count < policy.min_minutiae:
        refusal = (f"too few minutiae ({count}, at least {policy.min_minutiae} needed): "
                   "clean the scanner and press the finger flat, then capture again")
    elif area < policy.min_area_mm2:
        refusal = (f"too small an area ({area:.0f} mm², at least {policy.min_area_mm2:.0f} mm² needed): "
                   "place the finger's centre on the scanner and capture again")
    return QualityReport(count, round(area, 1), refusal)
