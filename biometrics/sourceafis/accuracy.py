"""Error rates of a matcher from genuine and impostor scores: FMR, FNMR, EER (FVC method), FNMR at a fixed FMR.

A comparison is a match when score >= threshold.  The EER follows the FVC
competitions: between the last threshold where FNMR <= FMR (t1) and the first
where FNMR >= FMR (t2) the rates cross; the EER interval is taken at whichever
of the two has the smaller FMR + FNMR, and the EER is its midpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class EqualErrorRate:
    low: float
    high: float
    threshold: float

    @property
    def value(self) -> float:
        return (self.low + self.high) / 2


class ErrorRates:
    """FMR and FNMR as functions of the threshold, from two samples of scores."""

    def __init__(self, genuine: Sequence[float], impostor: Sequence[float]) -> None:
        self.genuine = np.sort(np.asarray(genuine, dtype=np.float64))
        self.impostor = np.sort(np.asarray(impostor, dtype=np.float64))
        if self.genuine.size == 0 or self.impostor.size == 0:
            raise ValueError(
                f"error rates need genuine and impostor scores (got {self.genuine.size} genuine, "
                f"{self.impostor.size} impostor)"
            )
        if np.isnan(self.genuine).any() or np.isnan(self.impostor).any():
            raise ValueError("scores contain NaN")

    def fmr(self, threshold: float) -> float:
        """Share of impostor comparisons scoring at or above the threshold."""
        accepted = self.impostor.size - np.searchsorted(self.impostor, threshold, side="left")
        return accepted / self.impostor.size

    def fnmr(self, threshold: float) -> float:
        """Share of genuine comparisons scoring below the threshold."""
        return np.searchsorted(self.genuine, threshold, side="left") / self.genuine.size

    def _thresholds(self) -> np.ndarray:
        # The rates only change at observed scores; one threshold above all rejects everything.
        scores = np.unique(np.concatenate([self.genuine, self.impostor]))
        return np.append(scores, math.inf)

    def eer(self) -> EqualErrorRate:
        thresholds = self._thresholds()
        fmr = self.impostor.size - np.searchsorted(self.impostor, thresholds, side="left")
        fmr = fmr / self.impostor.size
        fnmr = np.searchsorted(self.genuine, thresholds, side="left") / self.genuine.size
        below = np.nonzero(fnmr <= fmr)[0]
        above = np.nonzero(fnmr >= fmr)[0]
        # At threshold -inf FNMR = 0 <= FMR and at +inf FNMR = 1 >= FMR = 0, so both sets are non-empty.
        t1 = below[-1] if below.size else 0
        t2 = above[0] if above.size else thresholds.size - 1
        if fnmr[t1] + fmr[t1] <= fnmr[t2] + fmr[t2]:
            return EqualErrorRate(float(fnmr[t1]), float(fmr[t1]), float(thresholds[t1]))
        return EqualErrorRate(float(fmr[t2]), float(fnmr[t2]), float(thresholds[t2]))

    def threshold_at_fmr(self, target: float) -> float:
        """Lowest threshold whose FMR does not exceed the target."""
        if not 0 <= target <= 1:
            raise ValueError(f"FMR target {target} is not a rate in [0, 1]")
        thresholds = self._thresholds()
        fmr = (self.impostor.size - np.searchsorted(self.impostor, thresholds, side="left")) / self.impostor.size
        return float(thresholds[np.nonzero(fmr <= target)[0][0]])

    def fnmr_at_fmr(self, target: float) -> float:
        """FNMR at the lowest threshold that keeps FMR at or below the target."""
        return self.fnmr(self.threshold_at_fmr(target))
