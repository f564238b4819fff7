"""One printable PDF of a credit file: its written summary (the case's findings, opinions and
decisions, `summary_pdf`), then the scanned pages in document-code order.

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


# Adobe's Song typeface for simplified Chinese: every PDF reader has it, so nothing is embedded.
SUMMARY_FONT = "STSong-Light"


def summary_pdf(title: str, sections: Sequence[tuple[str, Sequence[str]]]) -> bytes:
    """A plain A4 text document: a title, then headed sections of lines (wrapped to the page)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if SUMMARY_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(SUMMARY_FONT))
    width, height = A4
    margin, size = 56, 10.5
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=True)
    pdf.setTitle(title)
    y = height - margin

    def line(text: str, font_size: float = size, indent: float = 0) -> None:
        nonlocal y
        room = width - 2 * margin - indent
        rest = text
        while True:
            # wrap by measured width: Chinese has no spaces to break at
            cut = len(rest)
            while cut > 1 and pdfmetrics.stringWidth(rest[:cut], SUMMARY_FONT, font_size) > room:
                cut -= 1
            if y < margin + font_size:
                pdf.showPage()
                y = height - margin
            pdf.setFont(SUMMARY_FONT, font_size)
            pdf.drawString(margin + indent, y, rest[:cut])
            y -= font_size * 1.5
            rest = rest[cut:]
            if not rest:
                return

    line(title, 16)
    y -= 6
    for heading, lines in sections:
        y -= 4
        line(heading, 12)
        for text in lines:
            line(text, size, 12)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _build(pages: Sequence[_Page], out: BinaryIO, preface: tuple[str, bytes] | None = None) -> int:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    if preface is not None:
        for pdf_page in PdfReader(io.BytesIO(preface[1])).pages:
            writer.add_page(pdf_page)
        writer.add_outline_item(title=preface[0], page_number=0)
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


async def export_pages_pdf(pages: Sequence[CreditFileEntry], store: BlobStore, out: BinaryIO, *,
                           preface: tuple[str, bytes] | None = None) -> int:
    """Write one PDF of ``pages`` (already in code order, see CreditFileIndex.scanned_pages),
    after ``preface`` (its bookmark title and a PDF, e.g. `summary_pdf`) when given.

    Returns the number of PDF pages written. Every blob is rehashed before use.
    """
    if not pages and preface is None:
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
    return await asyncio.to_thread(_build, loaded, out, preface)
