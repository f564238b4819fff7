from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pypdf import PdfReader

from recordings.blobstore import BlobStore
from recordings.contentcheck import check_bytes
from recordings.creditfile import (
    CreditFileEntry,
    CreditFileError,
    CreditFileIndex,
    IndexSignature,
    IndexSigner,
    IndexTampered,
    IndexVerifier,
    compare,
    generate_signing_key,
)
from recordings.pdfexport import export_pages_pdf
from recordings.zipexport import ExportIntegrityError, check_exported_zip, stream_credit_file_zip

from . import samples
from .backdoor import overwrite_raw

T0 = datetime(2026, 11, 3, 9, 30, tzinfo=timezone.utc)


def entry(code: str, order: int, data: bytes, kind: str = "document_page", title: str = "", media_type: str = "image/jpeg") -> CreditFileEntry:
    return CreditFileEntry(
        kind=kind, code=code, title=title or f"document {code}", digest=hashlib.sha256(data).hexdigest(),
        size=len(data), filed_at=T0 + timedelta(minutes=order), order=order, media_type=media_type,
    )


@pytest.fixture(scope="module")
def signer() -> IndexSigner:
    return IndexSigner.from_config(generate_signing_key())


def sample_index() -> CreditFileIndex:
    entries = [
        entry("A10", 1, b"a10"),
        entry("A2", 2, b"a2 p2"),
        entry("A2", 1, b"a2 p1"),
        entry("B01", 1, b"b01"),
        entry("M-2026-07", 1, b"manifest", kind="recording_manifest", media_type="application/json"),
        entry("M-2026-07", 1, b"video", kind="recording", media_type="video/webm"),
        entry("F-0001", 1, b"fp record", kind="fingerprint_record", media_type="application/json"),
    ]
    return CreditFileIndex.empty("L-2026-0001", T0).file(entries, T0 + timedelta(hours=1))


def test_pages_sorted_by_code_then_page() -> None:
    pages = sample_index().scanned_pages()
    assert [(p.code, p.order) for p in pages] == [("A2", 1), ("A2", 2), ("A10", 1), ("B01", 1)]


def test_canonical_bytes_round_trip_and_are_stable() -> None:
    index = sample_index()
    again = CreditFileIndex("L-2026-0001", tuple(reversed(index.entries)), index.issued_at, index.version, index.previous)
    assert again.canonical_bytes() == index.canonical_bytes()
    assert CreditFileIndex.from_canonical(index.canonical_bytes()) == index
    with pytest.raises(CreditFileError):
        CreditFileIndex.from_canonical(index.canonical_bytes().replace(b'{"entries"', b'{ "entries"'))


def test_signature_verifies(signer: IndexSigner) -> None:
    index = sample_index()
    signature = signer.sign(index)
    signer.verifier().verify(index, signature)
    verifier = IndexVerifier.from_pem(signer.public_key_pem())
    verifier.verify(index, IndexSignature.from_bytes(signature.to_bytes()))


def test_signed_index_detects_changed_entry(signer: IndexSigner) -> None:
    index = sample_index()
    signature = signer.sign(index)
    target = index.entries[2]
    forged_entry = replace(target, digest=hashlib.sha256(b"a swapped page").hexdigest())
    forged = replace(index, entries=tuple(forged_entry if e is target else e for e in index.entries))
    with pytest.raises(IndexTampered):
        signer.verifier().verify(forged, signature)
    diff = compare(index, forged.entries)
    assert diff.changed == ((target, forged_entry),) and not diff.added and not diff.removed


def test_signed_index_detects_added_and_removed_entries(signer: IndexSigner) -> None:
    index = sample_index()
    signature = signer.sign(index)
    extra = entry("C01", 1, b"slipped in later")
    added = replace(index, entries=index.entries + (extra,))
    removed = replace(index, entries=index.entries[1:])
    for forged in (added, removed):
        with pytest.raises(IndexTampered):
            signer.verifier().verify(forged, signature)
    assert compare(index, added.entries).added == (extra,)
    assert compare(index, removed.entries).removed == (index.entries[0],)


def test_edited_bytes_and_wrong_key_are_detected(signer: IndexSigner) -> None:
    index = sample_index()
    signature = signer.sign(index)
    data = index.canonical_bytes().replace(b'"size":3', b'"size":4', 1)
    with pytest.raises(IndexTampered):
        signer.verifier().verify_bytes(data, signature)
    other = IndexSigner.from_config(generate_signing_key())
    with pytest.raises(IndexTampered, match="unknown key"):
        other.verifier().verify(index, signature)


def test_versions_chain() -> None:
    v1 = sample_index()
    v2 = v1.file([entry("C01", 1, b"c01")], T0 + timedelta(days=1))
    assert v2.version == v1.version + 1 and v2.previous == v1.digest()
    assert len(v2.entries) == len(v1.entries) + 1


def test_bad_entries_are_refused() -> None:
    with pytest.raises(CreditFileError):
        entry("../etc", 1, b"x")
    with pytest.raises(CreditFileError):
        CreditFileEntry("document_page", "A01", "t", "0" * 64, 1, datetime(2026, 1, 1), 1)  # naive time
    with pytest.raises(CreditFileError, match="twice"):
        CreditFileIndex("L1", (entry("A01", 1, b"x"), entry("A01", 1, b"y")), T0)
    with pytest.raises(CreditFileError):
        IndexSigner.from_config("not a key")


async def filed_index(store: BlobStore) -> CreditFileIndex:
    files = [
        ("B01", 1, samples.jpeg("B01 p1"), "image/jpeg"),
        ("A01", 2, samples.png("A01 p2"), "image/png"),
        ("A01", 1, samples.tiff("A01 p1"), "image/tiff"),
        ("A03", 1, samples.pdf(2, "A03"), "application/pdf"),
    ]
    entries = []
    for code, order, data, mime in files:
        await store.put_bytes(data)
        entries.append(entry(code, order, data, media_type=mime))
    return CreditFileIndex.empty("L-2026-0002", T0).file(entries, T0 + timedelta(hours=2))


async def test_zip_export_streams_and_checks(store: BlobStore, signer: IndexSigner, tmp_path: Path) -> None:
    index = await filed_index(store)
    signature = signer.sign(index)
    path = tmp_path / "credit-file.zip"
    with open(path, "wb") as out:
        async for chunk in stream_credit_file_zip(index, signature, store, public_key_pem=signer.public_key_pem()):
            out.write(chunk)
    assert check_exported_zip(path, IndexVerifier.from_pem(signer.public_key_pem())) == index
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert "signing-key.pem" in archive.namelist()

    # An auditor's copy with one page swapped fails the check.
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(forged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.startswith("files/") and "B01" in item.filename:
                data = samples.jpeg("another page")
            dst.writestr(item.filename, data)
    with pytest.raises(ExportIntegrityError):
        check_exported_zip(forged, signer.verifier())


async def test_zip_export_stops_on_altered_blob(store: BlobStore, signer: IndexSigner) -> None:
    index = await filed_index(store)
    await overwrite_raw(store, index.entries[0].digest, b"rewritten behind the archive's back")
    with pytest.raises(ExportIntegrityError):
        async for _ in stream_credit_file_zip(index, signer.sign(index), store):
            pass


async def test_pdf_export_in_code_order(store: BlobStore) -> None:
    index = await filed_index(store)
    buf = io.BytesIO()
    count = await export_pages_pdf(index.scanned_pages(), store, buf)
    assert count == 5  # A01 p1, A01 p2, A03 (two pages), B01
    reader = PdfReader(io.BytesIO(buf.getvalue()))
    assert len(reader.pages) == 5
    assert [item.title for item in reader.outline] == ["A01 document A01", "A03 document A03", "B01 document B01"]
    assert check_bytes(buf.getvalue()).kind == "pdf"  # our own export passes our own check
    # A 400x560 scan at 200 dpi is a 144x201.6 pt page.
    width = float(reader.pages[0].mediabox.width)
    assert 140 < width < 150


async def test_zip_export_over_http(aiohttp_client, store: BlobStore, signer: IndexSigner, tmp_path: Path) -> None:
    from aiohttp import web

    from recordings.zipexport import send_credit_file_zip

    index = await filed_index(store)
    signature = signer.sign(index)

    async def export(request: web.Request) -> web.StreamResponse:
        return await send_credit_file_zip(request, index, signature, store, filename="L-2026-0002.zip")

    app = web.Application()
    app.router.add_get("/export", export)
    client = await aiohttp_client(app)
    resp = await client.get("/export")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/zip"
    path = tmp_path / "download.zip"
    path.write_bytes(await resp.read())
    assert check_exported_zip(path, signer.verifier()).digest() == index.digest()
