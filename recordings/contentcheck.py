"""What a file really is, judged by its bytes and a full parse, never by its name.

Accepted: JPEG, PNG, TIFF and PDF (scanned documents) and WebM/Matroska
(committee recordings). Anything else, or a damaged file, raises ContentRejected
with a machine code and a sentence for the officer.
"""

from __future__ import annotations

import io
import re
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Collection

from PIL import Image, ImageFile

# An A3 page scanned at 600 dpi is about 70 million pixels; beyond this a "scan" is
# far more likely a decompression bomb (a 194 KB PNG can claim 200 megapixels).
MAX_IMAGE_PIXELS = 80_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# Pillow's default already refuses truncated images; set it so no import elsewhere
# can silently relax it for us.
ImageFile.LOAD_TRUNCATED_IMAGES = False

DEFAULT_MAX_SIZE = 200 * 1024 * 1024

DOCUMENT_KINDS = frozenset({"jpeg", "png", "tiff", "pdf"})
RECORDING_KINDS = frozenset({"webm", "matroska"})
ALL_KINDS = DOCUMENT_KINDS | RECORDING_KINDS

MIME_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "tiff": "image/tiff",
    "pdf": "application/pdf",
    "webm": "video/webm",
    "matroska": "video/x-matroska",
}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "tiff": "tif", "pdf": "pdf", "webm": "webm", "matroska": "mkv"}

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
EXECUTABLE_MAGICS = {
    b"\x7fELF": "an ELF executable",
    b"MZ": "a Windows (PE/DOS) executable",
    b"\xfe\xed\xfa\xce": "a Mach-O executable",
    b"\xfe\xed\xfa\xcf": "a Mach-O executable",
    b"\xcf\xfa\xed\xfe": "a Mach-O executable",
    b"\xca\xfe\xba\xbe": "a Mach-O or Java class file",
    b"#!": "a script",
}


class ContentRejected(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ContentVerdict:
    kind: str
    mime_type: str
    size: int
    pages: int = 1
    width: int | None = None
    height: int | None = None


def sniff(head: bytes) -> str | None:
    """The kind announced by the first bytes, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(PNG_MAGIC):
        return "png"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(EBML_MAGIC):
        return "matroska"  # refined to webm by the parse
    return None


def check_file(
    path: str | Path,
    *,
    allowed: Collection[str] = DOCUMENT_KINDS,
    max_size: int = DEFAULT_MAX_SIZE,
) -> ContentVerdict:
    """Check a file on disk. Blocking: run it in a thread from async code."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_size:
        raise ContentRejected("too_large", f"the file is {size} bytes; the limit is {max_size} bytes")
    if size == 0:
        raise ContentRejected("empty", "the file is empty")
    with open(path, "rb") as f:
        head = f.read(64)
    kind = _kind_or_reject(head)
    if kind in ("matroska", "webm"):
        verdict = _check_matroska(path, size)
    else:
        data = path.read_bytes()
        verdict = _check_document(kind, data)
    if verdict.kind not in allowed:
        raise ContentRejected(
            "kind_not_allowed", f"a {verdict.kind.upper()} file is not accepted here (allowed: {', '.join(sorted(allowed))})"
        )
    return verdict


def check_bytes(
    data: bytes, *, allowed: Collection[str] = DOCUMENT_KINDS, max_size: int = DEFAULT_MAX_SIZE
) -> ContentVerdict:
    """Check a document held in memory (recordings must be checked as files)."""
    if len(data) > max_size:
        raise ContentRejected("too_large", f"the file is {len(data)} bytes; the limit is {max_size} bytes")
    if not data:
        raise ContentRejected("empty", "the file is empty")
    kind = _kind_or_reject(data[:64])
    if kind not in DOCUMENT_KINDS:
        raise ContentRejected("kind_not_allowed", "recordings are checked from a file, not from memory")
    verdict = _check_document(kind, data)
    if verdict.kind not in allowed:
        raise ContentRejected("kind_not_allowed", f"a {verdict.kind.upper()} file is not accepted here")
    return verdict


def _kind_or_reject(head: bytes) -> str:
    for magic, what in EXECUTABLE_MAGICS.items():
        if head.startswith(magic):
            raise ContentRejected("executable", f"the file is {what}, not a document")
    kind = sniff(head)
    if kind is None:
        raise ContentRejected(
            "unknown_type", "the file is not a JPEG, PNG, TIFF, PDF or WebM/Matroska file (judged by its content)"
        )
    return kind


def _check_document(kind: str, data: bytes) -> ContentVerdict:
    if kind == "pdf":
        return _check_pdf(data)
    if kind == "png":
        _check_png_structure(data)
    elif kind == "jpeg":
        _check_jpeg_structure(data)
    return _check_image(kind, data)


def _check_image(kind: str, data: bytes) -> ContentVerdict:
    with warnings.catch_warnings():
        # Pillow only warns between 1x and 2x its limit; treat the warning as a refusal.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise Image.DecompressionBombError("pixel count over the limit")
                frames = getattr(im, "n_frames", 1)
                for frame in range(frames):
                    im.seek(frame)
                    fw, fh = im.size
                    if fw * fh > MAX_IMAGE_PIXELS:
                        raise Image.DecompressionBombError("pixel count over the limit")
                    im.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ContentRejected(
                "decompression_bomb",
                f"the image claims more than {MAX_IMAGE_PIXELS} pixels; it is refused as a decompression bomb",
            ) from None
        except ContentRejected:
            raise
        except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError...
            raise ContentRejected(
                f"bad_{kind}", f"the {kind.upper()} image is damaged or truncated: {exc}"
            ) from None
    return ContentVerdict(kind, MIME_TYPES[kind], len(data), frames, width, height)


def _check_png_structure(data: bytes) -> None:
    """Walk the chunks: every CRC must match and the file must end with IEND."""
    pos = len(PNG_MAGIC)
    while True:
        if pos + 8 > len(data):
            raise ContentRejected("bad_png", "the PNG image is truncated (no IEND chunk)")
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ContentRejected("bad_png", f"the PNG image is truncated inside a {ctype!r} chunk")
        crc = int.from_bytes(data[end - 4 : end], "big")
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            raise ContentRejected("bad_png", f"the PNG image is damaged (bad CRC in a {ctype!r} chunk)")
        pos = end
        if ctype == b"IEND":
            return


def _check_jpeg_structure(data: bytes) -> None:
    # Some scanners pad after the end-of-image marker with zeros; nothing else may follow.
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise ContentRejected("bad_jpeg", "the JPEG image is truncated (no end-of-image marker at the end)")


_ACTIVE_PDF = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|RichMedia)\b")


def _check_pdf(data: bytes) -> ContentVerdict:
    tail = data[-2048:]
    if b"%%EOF" not in tail:
        raise ContentRejected("bad_pdf", "the PDF is truncated (no %%EOF at the end)")
    if b"startxref" not in tail:
        raise ContentRejected("bad_pdf", "the PDF is truncated (no startxref/xref at the end)")
    if _ACTIVE_PDF.search(data):
        raise ContentRejected(
            "pdf_active_content", "the PDF carries scripts, launch actions or embedded files; scans do not"
        )
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        # strict: a damaged cross-reference table is an error, not something to repair.
        reader = PdfReader(io.BytesIO(data), strict=True)
        if reader.is_encrypted:
            raise ContentRejected("pdf_encrypted", "the PDF is encrypted; archive copies must be readable")
        pages = len(reader.pages)
        for page in reader.pages:
            page.mediabox  # noqa: B018 - resolves each page object
    except ContentRejected:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ContentRejected("bad_pdf", f"the PDF cannot be parsed: {exc}") from None
    if pages == 0:
        raise ContentRejected("bad_pdf", "the PDF has no pages")
    return ContentVerdict("pdf", MIME_TYPES["pdf"], len(data), pages)


def _check_matroska(path: Path, size: int) -> ContentVerdict:
    import av

    try:
        with av.open(str(path), mode="r") as container:
            fmt = container.format.name
            if not container.streams.video and not container.streams.audio:
                raise ContentRejected("bad_recording", "the recording has neither audio nor video")
            # Demuxing every packet (no decoding) reads the whole cluster structure.
            for _packet in container.demux():
                pass
            doctype = _ebml_doctype(path)
    except ContentRejected:
        raise
    except Exception as exc:  # av.error.* for damaged containers
        raise ContentRejected("bad_recording", f"the recording cannot be read: {exc}") from None
    if "matroska" not in fmt and "webm" not in fmt:
        raise ContentRejected("bad_recording", f"the recording's container is {fmt}, not WebM/Matroska")
    kind = "webm" if doctype == "webm" else "matroska"
    return ContentVerdict(kind, MIME_TYPES[kind], size)


def _ebml_doctype(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(256)
    idx = head.find(b"\x42\x82")  # DocType element id
    if idx < 0 or idx + 3 > len(head):
        return ""
    length = head[idx + 2] & 0x7F  # one-byte size (0x80 | n) is what muxers write
    return head[idx + 3 : idx + 3 + length].decode("ascii", "replace")
