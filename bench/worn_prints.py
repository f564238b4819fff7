"""A second development set made from the repository's prints: worn, dry, creased fingers on a
cheap 400 dpi scanner, simulated (no public set of such prints is reachable here, and FVC2000,
FVC2002 DB2/DB3 and FVC2004 stay out for an independent check).

Each impression gets its own damage, fixed by a seed from its name, so the set is the same on
every run:
- dry skin: ridges fade towards white in blotches (a smooth random field), and break up in
  small specks where the ridge does not touch the glass;
- creases and cracks: a few white lines across the ridges, 2-4 px wide;
- sensor noise: Gaussian, σ 0.05 of the gray range;
- resolution: resampled from 500 to 400 dpi by area averaging (the extractors are told 400).

Pixels follow the extractor's convention: 1.0 is a black ridge, 0.0 white.
"""
from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image, ImageDraw

SOURCE_DPI = 500
WORN_DPI = 400


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(f"worn:{name}".encode()).digest()[:8], "little"))


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Random values on a coarse grid, interpolated smoothly to `shape`, in [0, 1]."""
    coarse = Image.fromarray(rng.random((cells, cells)).astype(np.float32), mode="F")
    return np.asarray(coarse.resize((shape[1], shape[0]), Image.BICUBIC), dtype=np.float64).clip(0.0, 1.0)


def worn(pixels: np.ndarray, name: str) -> np.ndarray:
    """The 500 dpi print `pixels` as a worn, dry, creased finger scanned at 400 dpi."""
    rng = _rng(name)
    image = np.asarray(pixels, dtype=np.float64).copy()
    height, width = image.shape
    # Dry blotches: where the field is high the ridges lose up to 75 % of their darkness.
    fade = np.clip((_smooth_field(rng, image.shape, 7) - 0.35) / 0.4, 0.0, 1.0) * 0.75
    image *= 1.0 - fade
    # Broken ridges: specks of 2 x 2 px where the skin does not touch.
    specks = rng.random((-(-height // 2), -(-width // 2))) < 0.15
    image *= 1.0 - 0.6 * np.kron(specks, np.ones((2, 2)))[:height, :width]
    # Creases and cracks: white lines across the ridges.
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    for _ in range(int(rng.integers(5, 10))):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        length, angle = rng.uniform(40, 150), rng.uniform(0, np.pi)
        draw.line((x0, y0, x0 + length * np.cos(angle), y0 + length * np.sin(angle)),
                  fill=255, width=int(rng.integers(2, 5)))
    image[np.asarray(mask) > 0] = 0.0
    image = np.clip(image + rng.normal(0.0, 0.05, image.shape), 0.0, 1.0)
    # The cheap scanner's resolution: area-averaged down to 400 dpi.
    size = (round(width * WORN_DPI / SOURCE_DPI), round(height * WORN_DPI / SOURCE_DPI))
    return np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize(size, Image.BOX), dtype=np.float64)
