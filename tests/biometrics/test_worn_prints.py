"""The simulated worn/dry 400 dpi development set (bench/worn_prints.py) is the same on every
run, is at 400 dpi, and is damaged: fainter, noisier, fewer usable minutiae for the exact mode."""
from __future__ import annotations

import numpy as np

from bench.worn_prints import WORN_DPI, worn
from biometrics.sourceafis.extractor import extract
from biometrics.sourceafis.image import decode_image
from tests.fingerprint_data import fvc_path


def test_worn_prints_are_reproducible_damaged_and_at_400_dpi():
    pixels = decode_image(fvc_path("104_1").read_bytes())
    first, again, other = worn(pixels, "104_1"), worn(pixels, "104_1"), worn(pixels, "104_2")
    assert np.array_equal(first, again) and not np.array_equal(first[:50, :50], other[:50, :50])
    assert first.shape == (round(pixels.shape[0] * 0.8), round(pixels.shape[1] * 0.8))
    assert first.min() >= 0.0 and first.max() <= 1.0
    # Dry: the ridges are fainter on average than the original's.
    assert first.mean() < pixels.mean()
    template = extract(first, WORN_DPI)
    assert 0 < template.width <= pixels.shape[1] + 1
    assert len(template.minutiae) > 0
