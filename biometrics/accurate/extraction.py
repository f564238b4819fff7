"""Accuracy-mode extraction: resolution normalisation, enhancement, then SourceAFIS extraction;
beside it, the exact mode's extraction of the image as captured (the template keeps both).

Resolution normalisation is SourceAFIS's own (its area-averaging resize to 500 dpi, which the
exact mode already does); the enhancement runs on the 500 dpi image, whose ridge period its
Gabor filters are tuned to, and SourceAFIS then extracts from the enhanced image at 500 dpi.
"""
from __future__ import annotations

import numpy as np

from ..sourceafis import extractor, resizer
from ..sourceafis.image import ImageError
from ..sourceafis.template import Template
from .enhancement import GaborParameters, enhance
from .template import AccurateTemplate


def normalized(pixels: np.ndarray, dpi: float) -> np.ndarray:
    """The image at 500 dpi, by the exact mode's resize (the same checks on dpi and size)."""
    try:
        dpi = float(dpi)
    except (TypeError, ValueError):
        raise ImageError(f"dpi must be a number, got {dpi!r}") from None
    if not extractor.MIN_DPI <= dpi <= extractor.MAX_DPI:
        raise ImageError(f"dpi {dpi} is outside the supported range {extractor.MIN_DPI:g}–{extractor.MAX_DPI:g}")
    image = np.ascontiguousarray(pixels, dtype=np.float64)
    if image.ndim != 2 or image.size == 0:
        raise ImageError(f"expected a non-empty 2-D pixel matrix, got shape {image.shape}")
    if not np.isfinite(image).all():
        raise ImageError("pixel matrix contains NaN or infinite values")
    width, height = resizer.scaled_size(image.shape[1], image.shape[0], dpi)
    if min(width, height) < 1 or max(width, height) > extractor.MAX_SCALED_SIDE:
        raise ImageError(f"image of {image.shape[1]}×{image.shape[0]} px at {dpi:g} dpi cannot be scaled to 500 dpi")
    return resizer.resize(image, dpi)


def extract_enhanced(pixels: np.ndarray, dpi: float = 500, params: GaborParameters = GaborParameters()) -> Template:
    """Minutiae of the enhanced print (a Template in the 500 dpi frame, as the exact mode's)."""
    return extractor.extract(enhance(normalized(pixels, dpi), params), 500)


def extract(pixels: np.ndarray, dpi: float = 500, params: GaborParameters = GaborParameters()) -> AccurateTemplate:
    """The accuracy mode's template: the enhanced print's minutiae and the exact mode's own
    template of the capture (SourceAFIS bit for bit: the same call the exact mode makes)."""
    return AccurateTemplate(extract_enhanced(pixels, dpi, params), extractor.extract(pixels, dpi))
