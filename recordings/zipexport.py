"""Export a whole credit file as one ZIP for auditors, streamed from the store.

Layout::

    index.json            the signed index, canonical bytes
    index.sig.json        its Ed25519 signature
    signing-key.pem       the public key (a convenience: trust must come from the bank)
    files/0001-A01-p1-<digest prefix>.jpg ...

The ZIP is written to an unseekable sink (sizes and CRCs go in data descriptors),
so nothing is buffered beyond one chunk. Every blob is rehashed before the first byte
is sent (a missing or altered one refuses the export: an answer that has started cannot
become a refusal), and again on the way out; a blob altered in between cuts the
connection rather than shipping a file that fails its index.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import zipfile
from pathlib import Path
from typing import AsyncIterator

from aiohttp import web

from .blobstore import BlobNotFound, BlobStore
from .contentcheck import EXTENSIONS, MIME_TYPES
from .creditfile import CreditFileEntry, CreditFileIndex, IndexSignature, IndexVerifier, IndexTampered

_EXT_BY_MIME = {mime: EXTENSIONS[kind] for kind, mime in MIME_TYPES.items()}
_EXT_BY_MIME["application/json"] = "json"
ZIP64_THRESHOLD = 1 << 31
VERIFY_CONCURRENCY = 4

log = logging.getLogger(__name__)


class ExportIntegrityError(Exception):
    pass


class _Sink(io.RawIOBase):
    """Collects what zipfile writes; the exporter drains it after every write."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data) -> int:  # type: ignore[override]
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def entry_filename(number: int, entry: CreditFileEntry) -> str:
    code = re.sub(r"[^A-Za-z0-9._-]", "_", entry.code)
    ext = _EXT_BY_MIME.get(entry.media_type, "bin")
    return f"files/{number:04d}-{entry.kind}-{code}-p{entry.order}-{entry.digest[:12]}.{ext}"


async def stream_credit_file_zip(
    index: CreditFileIndex,
    signature: IndexSignature,
    store: BlobStore,
    *,
    public_key_pem: str | None = None,
) -> AsyncIterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.json", index.canonical_bytes())
        archive.writestr("index.sig.json", signature.to_bytes())
        if public_key_pem:
            archive.writestr("signing-key.pem", public_key_pem)
        yield sink.drain()
        for number, entry in enumerate(index.entries, 1):
            info = zipfile.ZipInfo(entry_filename(number, entry), date_time=entry.filed_at.timetuple()[:6])
            # Scans and video are compressed already; deflating them again costs CPU for nothing.
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = entry.size
            hasher = hashlib.sha256()
            with archive.open(info, "w", force_zip64=entry.size >= ZIP64_THRESHOLD) as member:
                async for chunk in store.open_range(entry.digest):
                    hasher.update(chunk)
                    member.write(chunk)
                    yield sink.drain()
            if hasher.hexdigest() != entry.digest:
                raise ExportIntegrityError(f"{entry.digest} no longer matches its content; export stopped")
            yield sink.drain()
    yield sink.drain()


async def check_entries(entries: tuple[CreditFileEntry, ...] | list[CreditFileEntry], store: BlobStore) -> None:
    """Rehash every entry's blob; ExportIntegrityError names every missing or altered one."""
    damaged = await store.damaged((e.digest for e in entries), concurrency=VERIFY_CONCURRENCY)
    problems = [f"{e.kind} {e.code} p{e.order} ({e.digest}) "
                + ("is missing from the store" if damaged[e.digest] == "missing" else "no longer matches its digest")
                for e in entries if e.digest in damaged]
    if problems:
        raise ExportIntegrityError("; ".join(problems))


async def send_credit_file_zip(
    request: web.Request,
    index: CreditFileIndex,
    signature: IndexSignature,
    store: BlobStore,
    *,
    filename: str,
    public_key_pem: str | None = None,
) -> web.StreamResponse:
    await check_entries(index.entries, store)
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    try:
        async for chunk in stream_credit_file_zip(index, signature, store, public_key_pem=public_key_pem):
            if chunk:
                await response.write(chunk)
    except (ExportIntegrityError, BlobNotFound) as error:
        # Changed after the check above: too late for a 409. Cutting the connection leaves the
        # client a truncated download (no end of chunked body, no ZIP central directory), never
        # a complete-looking file, and never a connection left hanging.
        log.error("credit-file export cut off: %s", error)
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response


def check_exported_zip(path: str | Path, verifier: IndexVerifier) -> CreditFileIndex:
    """What an auditor runs: the signature holds and every file matches the index.

    Raises IndexTampered or ExportIntegrityError; returns the index when all is well.
    """
    with zipfile.ZipFile(path) as archive:
        index_bytes = archive.read("index.json")
        signature = IndexSignature.from_bytes(archive.read("index.sig.json"))
        verifier.verify_bytes(index_bytes, signature)
        index = CreditFileIndex.from_canonical(index_bytes)
        names = [n for n in archive.namelist() if n.startswith("files/")]
        expected = [entry_filename(i, e) for i, e in enumerate(index.entries, 1)]
        if sorted(names) != sorted(expected):
            raise IndexTampered("the files in the archive are not the files in the index")
        for name, entry in zip(expected, index.entries):
            hasher = hashlib.sha256()
            with archive.open(name) as member:
                while chunk := member.read(1 << 20):
                    hasher.update(chunk)
            if hasher.hexdigest() != entry.digest:
                raise ExportIntegrityError(f"{name} does not match its index entry")
    return index
