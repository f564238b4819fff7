"""Image decoding: raw gray values, the colour formula, and refusal of bad input."""

from __future__ import annotations

import io
import zlib
import struct

import numpy as np
import pytest
from PIL import Image

from biometrics.sourceafis.extractor import extract
from biometrics.sourceafis.image import MAX_SIDE, ImageError, decode_image

from tests.fingerprint_data import write_fvc_tiff


def _encode(image: Image.Image, format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def _bomb_png(width: int, height: int) -> bytes:
    """A valid 8-bit gray PNG of width × height white pixels, compressed to a few kB."""
    compressor = zlib.compressobj(1)
    row = b"\x00" + b"\xff" * width
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def test_gray_values_are_raw():
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for format in ("PNG", "BMP", "TIFF"):
        decoded = decode_image(_encode(Image.fromarray(values), format))
        np.testing.assert_array_equal(decoded, 1 - values / 255.0)


def test_wsq_is_decoded():
    import wsq  # noqa: F401 - a dependency of the project: registers the WSQ format with Pillow
    # Smooth ridges of a 9 px period, like a print: WSQ's wavelets keep them well.
    ys, xs = np.indices((64, 80))
    values = (128 + 100 * np.sin((xs + 0.5 * ys) * (2 * np.pi / 9))).astype(np.uint8)
    decoded = decode_image(_encode(Image.fromarray(values), "WSQ"))
    assert decoded.shape == (64, 80)
    # WSQ is lossy: only closeness to the original gray values can be asked for.
    assert np.mean(np.abs(decoded - (1 - values / 255.0))) < 0.05


def test_jpeg_is_decoded():
    values = np.full((32, 48), 128, dtype=np.uint8)
    decoded = decode_image(_encode(Image.fromarray(values), "JPEG"))
    assert decoded.shape == (32, 48)
    assert np.allclose(decoded, 1 - 128 / 255.0, atol=2 / 255.0)


def test_rgba_uses_the_colour_formula():
    pixels = np.zeros((2, 2, 4), dtype=np.uint8)
    pixels[0, 0] = (255, 255, 255, 0)
    pixels[0, 1] = (10, 20, 30, 255)
    decoded = decode_image(_encode(Image.fromarray(pixels, "RGBA"), "PNG"))
    assert decoded[0, 0] == 1 - 765 * (1.0 / (3.0 * 255.0))
    assert decoded[0, 1] == 1 - 60 * (1.0 / (3.0 * 255.0))
    assert decoded[1, 1] == 1.0


def test_real_tiff_matches_its_stored_bytes(tmp_path):
    path = write_fvc_tiff("101_1", tmp_path / "101_1.tif")
    raw = np.asarray(Image.open(path))
    decoded = decode_image(path.read_bytes())
    assert decoded.shape == (374, 388)
    np.testing.assert_array_equal(decoded, 1 - raw / 255.0)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty file"),
        (b"%PDF-1.4 this is not an image", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image"),
    ],
)
def test_garbage_is_refused(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data)


def test_truncated_png_is_refused():
    data = _encode(Image.fromarray(np.zeros((100, 100), dtype=np.uint8)), "PNG")
    with pytest.raises(ImageError):
        decode_image(data[: len(data) // 2])


def test_non_bytes_are_refused():
    with pytest.raises(ImageError, match="expected image bytes"):
        decode_image("101_1.tif")  # type: ignore[arg-type]


def test_oversized_image_is_refused_from_its_header():
    # 20000 × 20000 would take 3.2 GB as float64; the header check refuses it first.
    with pytest.raises(ImageError, match="larger than the limit|decompression bomb"):
        decode_image(_bomb_png(20_000, 20_000))


def test_decompression_bomb_is_refused():
    data = _bomb_png(MAX_SIDE + 1, MAX_SIDE + 1)
    assert len(data) < 100_000
    with pytest.raises(ImageError, match="larger than the limit"):
        decode_image(data)


def test_one_pixel_image_gives_an_empty_template():
    decoded = decode_image(_encode(Image.fromarray(np.zeros((1, 1), dtype=np.uint8)), "PNG"))
    assert decoded.shape == (1, 1)
    template = extract(decoded)
    assert (template.width, template.height, template.minutiae) == (1, 1, ())


def test_blank_page_gives_an_empty_template():
    decoded = decode_image(_encode(Image.fromarray(np.full((400, 300), 255, dtype=np.uint8)), "PNG"))
    template = extract(decoded)
    assert (template.width, template.height) == (300, 400)
    assert template.minutiae == ()


def test_extract_refuses_bad_matrices_and_dpi():
    with pytest.raises(ImageError, match="dpi"):
        extract(np.zeros((10, 10)), dpi=0)
    with pytest.raises(ImageError, match="2-D"):
        extract(np.zeros((0, 10)))
    with pytest.raises(ImageError, match="NaN"):
        extract(np.full((10, 10), np.nan))
    with pytest.raises(ImageError, match="smaller than one pixel"):
        extract(np.zeros((1, 1)), dpi=5000)
