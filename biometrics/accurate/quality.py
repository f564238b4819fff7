"""A capture quality score in the spirit of NIST's NFIQ: ridge clarity over the skin, and minutiae.

NFIQ predicts from local ridge clarity and minutiae whether a print will match; a low score
means asking the customer to press again instead of failing the verification. Here:
clarity = mean orientation coherence over the blocks that hold skin (1 = clean parallel ridges,
low on smudged, dry or cracked areas), weighed with how much skin there is and how many minutiae
SourceAFIS found. The score is 0-100; `recapture` names what to improve as a code the pages
translate (`few_minutiae`, `small_area`, `unclear_ridges`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sourceafis.template import Template
from .enhancement import ridge_orientation

BLOCK = 16
# A 16 × 16 block whose gray standard deviation is below this (0-1 scale) holds no ridges.
SKIN_CONTRAST = 0.04
# Minutiae and skin area past which more does not raise the score.
ENOUGH_MINUTIAE = 30
ENOUGH_SKIN = 0.35


@dataclass(frozen=True)
class CaptureQuality:
    score: float  # 0-100, higher is better
    clarity: float  # mean orientation coherence over the skin, 0-1
    skin: float  # share of the image's blocks that hold ridges, 0-1
    minutiae: int

    def recapture(self, threshold: float) -> str | None:
        """None when the capture is good enough; otherwise the main thing to improve."""
        if self.score >= threshold:
            return None
        shortfalls = {
            "few_minutiae": self.minutiae / ENOUGH_MINUTIAE,
            "small_area": self.skin / ENOUGH_SKIN,
            "unclear_ridges": self.clarity,
        }
        return min(shortfalls, key=shortfalls.get)


def assess_capture(image: np.ndarray, template: Template) -> CaptureQuality:
    """`image`: the print at 500 dpi (1.0 = black); `template`: what was extracted from it."""
    image = np.asarray(image, dtype=np.float64)
    rows, columns = image.shape[0] // BLOCK, image.shape[1] // BLOCK
    if rows == 0 or columns == 0:
        return CaptureQuality(0.0, 0.0, 0.0, len(template.minutiae))
    _, coherence = ridge_orientation(image)
    cropped = (slice(0, rows * BLOCK), slice(0, columns * BLOCK))
    blocks = image[cropped].reshape(rows, BLOCK, columns, BLOCK)
    skin = blocks.std(axis=(1, 3)) >= SKIN_CONTRAST
    block_coherence = coherence[cropped].reshape(rows, BLOCK, columns, BLOCK).mean(axis=(1, 3))
    clarity = float(block_coherence[skin].mean()) if skin.any() else 0.0
    share = float(skin.mean())
    count = len(template.minutiae)
    score = 100 * clarity * min(1.0, share / ENOUGH_SKIN) * min(1.0, count / ENOUGH_MINUTIAE)
    return CaptureQuality(round(score, 2), round(clarity, 4), round(share, 4), count)
