"""Decoding of fingerprint image files into the matrix extraction works on.

Pixels are read as the raw values the scanner stored (see the golden data README:
Java's ImageIO applies an sRGB curve to 8-bit gray, which is an artefact of its
decoder, not of the algorithm). 1.0 is black (ridge), 0.0 white.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

try:  # Registers the WSQ format with Pillow.
    import wsq  # noqa: F401
except ImportError:  # pragma: no cover - WSQ files then fail as "not an image"
    wsq = None

# Largest accepted side and area; checked from the header, before any pixel is decoded.
# 4000 px at 500 dpi is 20 cm, more than any finger or palm scanner produces.
MAX_SIDE = 4000
MAX_PIXELS = MAX_SIDE * MAX_SIDE
MAX_FILE_BYTES = 64 * 1024 * 1024


class ImageError(ValueError):
    """The bytes are not a fingerprint image this project can read."""


def _matrix(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        values = np.asarray(image, dtype=np.uint16).astype(np.float64)
        return 1 - values / 65535.0
    if mode in ("1", "L", "LA", "La"):
        gray = np.asarray(image.convert("L") if mode != "L" else image, dtype=np.uint8)
        # The raw-pixel constructor of the original: 1 - v / 255.
        return 1 - gray / 255.0
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    total = rgb[:, :, 0].astype(np.int64) + rgb[:, :, 1] + rgb[:, :, 2]
    # FingerprintImage's formula for colour pixels, alpha ignored as getRGB's low 24 bits are.
    return 1 - total * (1.0 / (3.0 * 255.0))


def decode_image(data: bytes) -> np.ndarray:
    """PNG, JPEG, BMP, TIFF or WSQ bytes → float64 (height, width) matrix with 1.0 = black.

    Raises ImageError for empty or oversized input, anything that is not a readable
    image, and images larger than MAX_SIDE × MAX_SIDE (decompression bombs included).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError(f"expected image bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ImageError("empty file: no image data")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"image file of {len(data)} bytes is larger than the limit of {MAX_FILE_BYTES}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(bytes(data)))
            width, height = image.size
            if width < 1 or height < 1:
                raise ImageError(f"image has no pixels ({width}×{height})")
            if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise ImageError(
                    f"image of {width}×{height} px is larger than the limit of {MAX_SIDE}×{MAX_SIDE}"
                )
            image.load()
            return _matrix(image)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image: the data is not PNG, JPEG, BMP, TIFF or WSQ") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"image refused as a decompression bomb: {error}") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as error:
        raise ImageError(f"image cannot be decoded: {error}") from None
