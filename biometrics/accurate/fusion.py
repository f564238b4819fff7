"""Score fusion over the impressions enrolled for one finger.

A probe is compared with each enrolled impression; the scores are fused into one. Both come from
the same matcher on the same scale, so no normalisation is needed between them: `max` takes the
best-aligned impression (the bank's service already verifies that way), `mean` averages out
one impression's bad luck but is pulled down when the probe overlaps only one of them.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

FUSION_RULES: dict[str, Callable[[np.ndarray], float]] = {
    "max": lambda scores: float(np.max(scores)),
    "mean": lambda scores: float(np.mean(scores)),
}


def fuse(scores: Sequence[float], rule: str = "max") -> float:
    if rule not in FUSION_RULES:
        raise ValueError(f"unknown fusion rule {rule!r}; known: {', '.join(FUSION_RULES)}")
    if len(scores) == 0:
        raise ValueError("fusion needs at least one score")
    return FUSION_RULES[rule](np.asarray(scores, dtype=np.float64))
