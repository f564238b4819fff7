"""One printable PDF of a credit file's scanned pages, in document-code order.

Image pages (JPEG, PNG, TIFF, every TIFF frame) become PDF pages sized from their
scan resolution; PDF uploads contribute all their pages. Each document code gets
a bookmark so a reader can jump to "B03 land contract".
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from dataclasses import dataclass
from typing import BinaryIO, Sequence

from PIL import Image, ImageSequence

from .blobstore import BlobNotFound, BlobStore
from .creditfile import CreditFileEntry

DEFAULT_DPI = 200.0  # typical document scanner setting when the file does not say


class PdfExportError(Exception):
    pass


@dataclass(frozen=True)
class _Page:
    entry: CreditFileEntry
    data: bytes


def _image_as_pdf(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        dpi = float(im.info.get("dpi", (DEFAULT_DPI,))[0] or DEFAULT_DPI)
        if not 50 <= dpi <= 2400:
            # Files without a real resolution often say 1 or 72; a page metres wide helps nobody.
            dpi = DEFAULT_DPI
        frames = []
        for frame in ImageSequence.Iterator(im):
            frame = frame.convert("RGB") if frame.mode not in ("RGB", "L", "CMYK", "1") else frame.copy()
            frames.append(frame)
        buf = io.BytesIO()
        frames[0].save(buf, "PDF", save_all=True, append_images=frames[1:], resolution=dpi)
        return buf.getvalue()


def _build(pages: Sequence[_Page], out: BinaryIO) -> int:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    current_code = None
    for page in pages:
        is_pdf = page.data.startswith(b"%PDF-")
        reader = PdfReader(io.BytesIO(page.data if is_pdf else _image_as_pdf(page.data)))
        first = len(writer.pages)
        for pdf_page in reader.pages:
            writer.add_page(pdf_page)
        if page.entry.code != current_code:
            title = f"{page.entry.code} {page.entry.title}".strip()
            writer.add_outline_item(title=title, page_number=first)
            current_code = page.entry.code
    writer.add_metadata({"/Producer": "Loan Acceptance Suite archive"})
    writer.write(out)
    return len(writer.pages)


async def export_pages_pdf(pages: Sequence[CreditFileEntry], store: BlobStore, out: BinaryIO) -> int:
    """Write one PDF of ``pages`` (already in code order, see CreditFileIndex.scanned_pages).

    Returns the number of PDF pages written. Every blob is rehashed before use.
    """
    if not pages:
        raise PdfExportError("the credit file has no scanned pages")
    loaded = []
    for entry in pages:
        try:
            data = await store.read(entry.digest)
        except BlobNotFound:
            raise PdfExportError(f"page {entry.code} p{entry.order} is missing from the store") from None
        if hashlib.sha256(data).hexdigest() != entry.digest:
            raise PdfExportError(f"page {entry.code} p{entry.order} no longer matches its index entry")
        loaded.append(_Page(entry, data))
    return await asyncio.to_thread(_build, loaded, out)
