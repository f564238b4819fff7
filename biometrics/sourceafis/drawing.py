"""Drawing minutiae over the print, so a person can check a template by eye."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from .template import MinutiaType, Template

ENDING_COLOUR = (220, 30, 30)
BIFURCATION_COLOUR = (20, 110, 230)
RADIUS = 4
TICK = 12


def draw_minutiae(pixels: np.ndarray, template: Template) -> Image.Image:
    """The image (1.0 = black) in gray with each minutia as a circle and a tick along its direction.

    Endings are red, bifurcations blue.  Template coordinates are at 500 dpi, so
    they are scaled to the image when it was scanned at another resolution.
    """
    if pixels.ndim != 2 or pixels.size == 0:
        raise ValueError(f"expected a non-empty 2-D image matrix, got shape {pixels.shape}")
    gray = np.clip(np.rint(255 * (1 - pixels)), 0, 255).astype(np.uint8)
    image = Image.fromarray(gray, mode="L").convert("RGB")
    height, width = gray.shape
    scale_x = width / template.width if template.width else 1.0
    scale_y = height / template.height if template.height else 1.0
    draw = ImageDraw.Draw(image)
    for minutia in template.minutiae:
        colour = BIFURCATION_COLOUR if minutia.type == MinutiaType.BIFURCATION else ENDING_COLOUR
        x = (minutia.x + 0.5) * scale_x
        y = (minutia.y + 0.5) * scale_y
        draw.ellipse((x - RADIUS, y - RADIUS, x + RADIUS, y + RADIUS), outline=colour, width=2)
        # Directions are measured with y pointing down, as image rows are.
        end = (x + TICK * math.cos(minutia.direction), y + TICK * math.sin(minutia.direction))
        draw.line(((x, y), end), fill=colour, width=2)
    return image
