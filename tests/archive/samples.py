"""Real files for the archive tests, produced by real encoders (Pillow, pypdf, PyAV)."""

from __future__ import annotations

import functools
import io
import shutil
import struct
import zlib
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageDraw


def scan_image(text: str = "page", size: tuple[int, int] = (400, 560), fmt: str = "JPEG") -> bytes:
    im = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(im)
    draw.rectangle((20, 20, size[0] - 20, 60), outline="black")
    draw.text((30, 30), text, fill="black")
    for y in range(90, size[1] - 20, 24):
        draw.line((30, y, size[0] - 30, y), fill=(90, 90, 90))
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()


def jpeg(text: str = "page") -> bytes:
    return scan_image(text, fmt="JPEG")


def png(text: str = "page") -> bytes:
    return scan_image(text, fmt="PNG")


def tiff(text: str = "page") -> bytes:
    return scan_image(text, fmt="TIFF")


def pdf(pages: int = 2, text: str = "contract") -> bytes:
    images = [Image.open(io.BytesIO(scan_image(f"{text} p{i + 1}"))) for i in range(pages)]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=100.0)
    return buf.getvalue()


def truncated_pdf() -> bytes:
    data = pdf(3)
    return data[: len(data) * 2 // 3]


def pdf_with_broken_xref() -> bytes:
    """Ends like a PDF (%%EOF present) but its cross-reference offsets point nowhere."""
    data = pdf(1)
    start = data.rindex(b"startxref") + len(b"startxref")
    end = data.index(b"%%EOF", start)
    return data[:start] + b"\n999999\n" + data[end:]


def elf_executable() -> bytes:
    exe = shutil.which("true") or "/bin/true"
    return Path(exe).read_bytes()


def pe_executable() -> bytes:
    """A DOS/PE header as a Windows linker writes it (MZ, e_lfanew, 'PE\\0\\0')."""
    header = bytearray(256)
    header[0:2] = b"MZ"
    header[0x3C:0x40] = struct.pack("<I", 0x80)
    header[0x80:0x84] = b"PE\x00\x00"
    return bytes(header)


def _png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def png_bomb_header(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny PNG whose header claims 900 megapixels of 1-bit pixels (all zero rows)."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def webm_recording(path: Path, seconds: float = 2.0, fps: int = 10) -> Path:
    path.write_bytes(_webm_bytes(seconds, fps))
    return path


@functools.lru_cache(maxsize=4)
def _webm_bytes(seconds: float, fps: int) -> bytes:
    """Encoding is the slow part of the tests; every test gets the same real file."""
    import tempfile

    import av
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recording.webm"
        _encode_webm(av, np, path, seconds, fps)
        return path.read_bytes()


def _encode_webm(av, np, path: Path, seconds: float, fps: int) -> None:
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        rng = np.random.default_rng(7)
        for i in range(int(seconds * fps)):
            # Noise makes every frame expensive to code, so the file is big enough to seek in.
            arr = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
