"""Rescaling of the image to 500 dpi by area averaging (SourceAFIS's ImageResizer)."""

import math

import numba
import numpy as np

from .doubleangle import java_round


@numba.njit(cache=True)
def _resize(image: np.ndarray, new_width: int, new_height: int) -> np.ndarray:
    height, width = image.shape
    output = np.zeros((new_height, new_width))
    scale_x = new_width / width
    scale_y = new_height / height
    descale_x = 1 / scale_x
    descale_y = 1 / scale_y
    for y in range(new_height):
        y1 = y * descale_y
        y2 = y1 + descale_y
        y1i = int(y1)
        y2i = min(int(math.ceil(y2)), height)
        for x in range(new_width):
            x1 = x * descale_x
            x2 = x1 + descale_x
            x1i = int(x1)
            x2i = min(int(math.ceil(x2)), width)
            total = 0.0
            for oy in range(y1i, y2i):
                ry = min(oy + 1, y2) - max(oy, y1)
                for ox in range(x1i, x2i):
                    rx = min(ox + 1, x2) - max(ox, x1)
                    total += rx * ry * image[oy, ox]
            output[y, x] = total * (scale_x * scale_y)
    return output


def scaled_size(width: int, height: int, dpi: float) -> tuple[int, int]:
    return java_round(500.0 / dpi * width), java_round(500.0 / dpi * height)


def resize(image: np.ndarray, dpi: float) -> np.ndarray:
    """The image scaled to 500 dpi; unchanged (same object) when it already has that size."""
    height, width = image.shape
    new_width, new_height = scaled_size(width, height, dpi)
    if new_width == width and new_height == height:
        return image
    if new_width < 1 or new_height < 1:
        raise ValueError(f"image of {width}×{height} px at {dpi} dpi is smaller than one pixel at 500 dpi")
    return _resize(np.ascontiguousarray(image, dtype=np.float64), new_width, new_height)
