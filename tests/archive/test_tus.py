from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from recordings.blobstore import BlobStore
from recordings.tus import METADATA_KEY, TUS_VERSION, Upload, create_upload_app, encode_metadata
from tests.waiting import PATIENCE

from . import samples
from .backdoor import count_objects

TOKENS = {"token-officer-li": "officer-li", "token-officer-wang": "officer-wang"}
MAX_SIZE = 2 * 1024 * 1024


class Filing:
    """A real, simple filing target standing in for the core's credit file."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def __call__(self, upload: Upload) -> dict[str, Any]:
        record = {
            "loan": upload.metadata.get("loan"),
            "code": upload.metadata["code"],
            "digest": upload.digest,
            "size": upload.length,
            "kind": upload.kind,
            "by": upload.owner,
        }
        self.records.append(record)
        return record


async def authorize(request: web.Request) -> str:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if token not in TOKENS:
        raise web.HTTPUnauthorized(text="log in first")
    metadata = request.get(METADATA_KEY)
    if metadata is not None and metadata.get("loan") == "L-OUT-OF-SCOPE":
        raise web.HTTPNotFound(text="no such loan")
    return TOKENS[token]


@pytest.fixture
async def uploads(aiohttp_client, store: BlobStore, tmp_path: Path):
    filing = Filing()
    app = web.Application()
    app.add_subapp(
        "/uploads/",
        create_upload_app(
            store, authorize=authorize, on_complete=filing, max_size=MAX_SIZE, staging_dir=tmp_path / "staging"
        ),
    )
    client = await aiohttp_client(app)
    return client, filing, tmp_path / "staging"


def headers(token: str = "token-officer-li", **extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Authorization": f"Bearer {token}", **extra}


async def create(client, length: int, code: str = "A01", token: str = "token-officer-li", loan: str = "L-2026-0001"):
    meta = encode_metadata({"code": code, "loan": loan, "filename": "scan.jpg"})
    resp = await client.post(
        "/uploads/", headers=headers(token, **{"Upload-Length": str(length), "Upload-Metadata": meta})
    )
    return resp


async def upload_location(client, length: int, **kwargs) -> str:
    resp = await create(client, length, **kwargs)
    assert resp.status == 201, await resp.text()
    assert resp.headers["Tus-Resumable"] == TUS_VERSION
    return resp.headers["Location"]


async def patch(client, location: str, offset: int, body: bytes, token: str = "token-officer-li"):
    return await client.patch(
        location,
        data=body,
        headers=headers(token, **{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}),
    )


async def offset_of(client, location: str) -> int:
    resp = await client.head(location, headers=headers())
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    return int(resp.headers["Upload-Offset"])


async def test_options_advertises_tus(uploads) -> None:
    client, _, _ = uploads
    resp = await client.options("/uploads/")
    assert resp.status == 204
    assert resp.headers["Tus-Version"] == TUS_VERSION
    assert resp.headers["Tus-Max-Size"] == str(MAX_SIZE)
    assert "creation" in resp.headers["Tus-Extension"]


async def test_upload_in_pieces(uploads, store: BlobStore) -> None:
    client, filing, _ = uploads
    data = samples.jpeg("A01 page 1")
    location = await upload_location(client, len(data))
    assert await offset_of(client, location) == 0
    middle = len(data) // 2
    resp = await patch(client, location, 0, data[:middle])
    assert resp.status == 204 and resp.headers["Upload-Offset"] == str(middle)
    assert filing.records == [] and await count_objects(store) == 0
    resp = await patch(client, location, middle, data[middle:])
    assert resp.status == 204
    digest = hashlib.sha256(data).hexdigest()
    assert resp.headers["Upload-Digest"] == f"sha-256={digest}"
    assert filing.records == [
        {"loan": "L-2026-0001", "code": "A01", "digest": digest, "size": len(data), "kind": "jpeg", "by": "officer-li"}
    ]
    assert await store.read(digest) == data
    status = await (await client.get(location, headers=headers())).json()
    assert status["status"] == "complete" and status["record"]["digest"] == digest


async def test_interrupted_upload_resumes_with_right_hash(uploads, store: BlobStore) -> None:
    client, filing, staging = uploads
    data = samples.pdf(6)
    location = await upload_location(client, len(data))
    sent = len(data) // 3

    # A raw connection that announces the whole body, sends a third, then drops.
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    head = (
        f"PATCH {location} HTTP/1.1\r\nHost: localhost\r\nTus-Resumable: {TUS_VERSION}\r\n"
        f"Authorization: Bearer token-officer-li\r\nUpload-Offset: 0\r\n"
        f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode()
    writer.write(head + data[:sent])
    await writer.drain()
    # The server stores what arrives as it arrives: cut the link once the third is on its disk.
    deadline = asyncio.get_running_loop().time() + PATIENCE
    while (offset := await offset_of(client, location)) != sent and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    writer.transport.abort()
    assert offset == sent
    assert await offset_of(client, location) == sent
    assert filing.records == [] and await count_objects(store) == 0

    resp = await patch(client, location, 0, data)  # a client that forgot to ask HEAD
    assert resp.status == 409 and resp.headers["Upload-Offset"] == str(sent)
    assert (await resp.json())["error"] == "offset_mismatch"

    resp = await patch(client, location, sent, data[sent:])
    assert resp.status == 204
    digest = hashlib.sha256(data).hexdigest()
    assert [r["digest"] for r in filing.records] == [digest]
    assert await store.read(digest) == data
    assert not list(staging.glob("*.part"))


def _refusal_cases():
    return {
        "renamed ELF": (samples.elf_executable(), 422, "executable"),
        "renamed PE": (samples.pe_executable(), 422, "executable"),
        "decompression bomb": (samples.png_bomb_header(), 422, "decompression_bomb"),
        "truncated PDF": (samples.truncated_pdf(), 422, "bad_pdf"),
        "truncated PNG": (samples.png()[:-300], 422, "bad_png"),
    }


@pytest.mark.parametrize("case", list(_refusal_cases()))
async def test_bad_files_are_refused_and_nothing_filed(uploads, store: BlobStore, case: str) -> None:
    client, filing, staging = uploads
    data, status, code = _refusal_cases()[case]
    location = await upload_location(client, len(data))
    resp = await patch(client, location, 0, data)
    assert resp.status == status
    body = await resp.json()
    assert body["error"] == code and body["message"]
    assert filing.records == []
    assert await count_objects(store) == 0
    assert list(staging.iterdir()) == []
    assert (await client.head(location, headers=headers())).status == 404


async def test_oversized_file_is_refused_before_a_byte(uploads, store: BlobStore) -> None:
    client, filing, staging = uploads
    resp = await create(client, MAX_SIZE + 1)
    assert resp.status == 413
    assert (await resp.json())["error"] == "too_large"
    assert list(staging.iterdir()) == [] and filing.records == []


async def test_body_past_declared_length_is_refused(uploads, store: BlobStore) -> None:
    client, filing, _ = uploads
    data = samples.jpeg()
    location = await upload_location(client, len(data))
    resp = await patch(client, location, 0, data + b"extra bytes")
    assert resp.status == 413
    assert (await resp.json())["error"] == "too_large"
    assert filing.records == [] and await count_objects(store) == 0


async def test_concurrent_uploads_of_same_file_store_it_once(uploads, store: BlobStore) -> None:
    client, filing, _ = uploads
    data = samples.pdf(4)
    locations = [await upload_location(client, len(data), code=f"B0{i}") for i in range(4)]
    responses = await asyncio.gather(*(patch(client, loc, 0, data) for loc in locations))
    assert [r.status for r in responses] == [204] * 4
    digest = hashlib.sha256(data).hexdigest()
    assert sorted(r["code"] for r in filing.records) == ["B00", "B01", "B02", "B03"]
    assert {r["digest"] for r in filing.records} == {digest}
    assert await count_objects(store) == 1


async def test_protocol_errors_are_json(uploads) -> None:
    client, _, _ = uploads
    data = samples.jpeg()
    location = await upload_location(client, len(data))

    resp = await client.patch(location, data=data, headers=headers(**{"Upload-Offset": "0", "Content-Type": "image/jpeg"}))
    assert resp.status == 415 and (await resp.json())["error"] == "unsupported_media_type"

    resp = await client.head(location, headers={"Authorization": "Bearer token-officer-li"})
    assert resp.status == 412 and resp.headers["Tus-Version"] == TUS_VERSION

    resp = await client.post("/uploads/", headers=headers(**{"Upload-Length": "10", "Upload-Metadata": "code !!!"}))
    assert resp.status == 400 and (await resp.json())["error"] == "bad_metadata"

    resp = await client.post("/uploads/", headers=headers(**{"Upload-Length": "10"}))
    assert resp.status == 400 and (await resp.json())["error"] == "metadata_missing"

    resp = await client.post("/uploads/", headers=headers(**{"Upload-Defer-Length": "1"}))
    assert resp.status == 400 and (await resp.json())["error"] == "defer_length_unsupported"


async def test_authorization_and_ownership(uploads) -> None:
    client, _, _ = uploads
    resp = await create(client, 100, token="stolen")
    assert resp.status == 401
    assert await resp.json() == {"error": "unauthorized", "message": "log in first"}

    resp = await create(client, 100, loan="L-OUT-OF-SCOPE")
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"

    location = await upload_location(client, 100)
    # Another officer cannot see, append to or cancel it.
    assert (await client.head(location, headers=headers("token-officer-wang"))).status == 404
    assert (await patch(client, location, 0, b"x", token="token-officer-wang")).status == 404
    assert (await client.delete(location, headers=headers("token-officer-wang"))).status == 404


async def test_termination(uploads) -> None:
    client, _, staging = uploads
    location = await upload_location(client, 1000)
    await patch(client, location, 0, b"\xff\xd8\xff" + b"\0" * 100)
    resp = await client.delete(location, headers=headers())
    assert resp.status == 204
    assert list(staging.iterdir()) == []
    assert (await client.head(location, headers=headers())).status == 404


async def test_upload_survives_a_server_restart(aiohttp_client, store: BlobStore, tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    data = samples.tiff("A05")

    def app_with(filing: Filing) -> web.Application:
        app = web.Application()
        app.add_subapp("/uploads/", create_upload_app(
            store, authorize=authorize, on_complete=filing, max_size=MAX_SIZE, staging_dir=staging))
        return app

    first = await aiohttp_client(app_with(Filing()))
    location = await upload_location(first, len(data))
    assert (await patch(first, location, 0, data[:1000])).status == 204
    await first.close()

    filing = Filing()
    second = await aiohttp_client(app_with(filing))
    assert await offset_of(second, location) == 1000
    assert (await patch(second, location, 1000, data[1000:])).status == 204
    assert [r["digest"] for r in filing.records] == [hashlib.sha256(data).hexdigest()]


async def test_filing_failure_can_be_retried(aiohttp_client, store: BlobStore, tmp_path: Path) -> None:
    attempts: list[str] = []

    async def flaky_filing(upload: Upload) -> dict[str, Any]:
        attempts.append(upload.digest)
        if len(attempts) == 1:
            raise web.HTTPConflict(text="the credit file is being signed; try again")
        return {"digest": upload.digest}

    app = web.Application()
    app.add_subapp("/uploads/", create_upload_app(
        store, authorize=authorize, on_complete=flaky_filing, max_size=MAX_SIZE, staging_dir=tmp_path / "staging"))
    client = await aiohttp_client(app)
    data = samples.jpeg("A07")
    location = await upload_location(client, len(data))
    resp = await patch(client, location, 0, data)
    assert resp.status == 409
    assert await resp.json() == {"error": "conflict", "message": "the credit file is being signed; try again"}
    assert await offset_of(client, location) == len(data)
    resp = await patch(client, location, len(data), b"")
    assert resp.status == 204
    assert len(attempts) == 2
    status = await (await client.get(location, headers=headers())).json()
    assert status["status"] == "complete" and status["record"] == {"digest": hashlib.sha256(data).hexdigest()}


async def test_unfinished_uploads_per_officer_are_capped(aiohttp_client, store: BlobStore, tmp_path: Path) -> None:
    app = web.Application()
    app.add_subapp("/uploads/", create_upload_app(
        store, authorize=authorize, on_complete=Filing(), max_size=MAX_SIZE, staging_dir=tmp_path / "staging",
        max_active_per_owner=2))
    client = await aiohttp_client(app)
    first = await upload_location(client, 100)
    await upload_location(client, 100)
    resp = await create(client, 100)
    assert resp.status == 429 and (await resp.json())["error"] == "too_many_uploads"
    assert (await create(client, 100, token="token-officer-wang")).status == 201  # others unaffected
    assert (await client.delete(first, headers=headers())).status == 204
    assert (await create(client, 100)).status == 201


def test_metadata_round_trip() -> None:
    from hypothesis import given, strategies as st

    from recordings.tus import parse_metadata

    keys = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=","),
                   min_size=1, max_size=12)

    @given(st.dictionaries(keys, st.text(max_size=40), max_size=6))
    def round_trip(metadata: dict[str, str]) -> None:
        assert parse_metadata(encode_metadata(metadata)) == metadata

    round_trip()


def checksum_of(data: bytes, algorithm: str = "sha256") -> str:
    import base64

    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


async def patch_checked(client, location: str, offset: int, body: bytes, checksum: str):
    return await client.patch(location, data=body, headers=headers(**{
        "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
        "Upload-Checksum": checksum}))


async def test_checksum_extension_is_offered(uploads) -> None:
    client, _, _ = uploads
    resp = await client.options("/uploads/")
    assert "checksum" in resp.headers["Tus-Extension"].split(",")
    assert "sha256" in resp.headers["Tus-Checksum-Algorithm"].split(",")


async def test_checksummed_pieces_are_kept_and_a_mismatch_is_460_with_nothing_appended(
        uploads, store: BlobStore) -> None:
    client, filing, _ = uploads
    data = samples.pdf(3)
    half = len(data) // 2
    location = await upload_location(client, len(data))
    resp = await patch_checked(client, location, 0, data[:half], checksum_of(data[:half]))
    assert resp.status == 204 and resp.headers["Upload-Offset"] == str(half)

    # The second half arrives damaged (one bit flipped on the way): refused, and none of it kept.
    damaged = bytearray(data[half:])
    damaged[10] ^= 0x04
    resp = await patch_checked(client, location, half, bytes(damaged), checksum_of(data[half:]))
    assert resp.status == 460 and resp.reason == "Checksum Mismatch"
    body = await resp.json()
    assert body["error"] == "checksum_mismatch" and body["message"]
    assert await offset_of(client, location) == half
    assert filing.records == [] and await count_objects(store) == 0

    # An algorithm the server does not offer is a 400; nothing is appended either.
    resp = await patch_checked(client, location, half, data[half:], checksum_of(data[half:], "md5"))
    assert resp.status == 400 and (await resp.json())["error"] == "checksum_algorithm"
    resp = await patch_checked(client, location, half, data[half:], "sha256 not-base64!")
    assert resp.status == 400 and (await resp.json())["error"] == "bad_checksum"
    assert await offset_of(client, location) == half

    resp = await patch_checked(client, location, half, data[half:], checksum_of(data[half:], "sha1"))
    assert resp.status == 204
    assert [r["digest"] for r in filing.records] == [hashlib.sha256(data).hexdigest()]
    assert await store.read(hashlib.sha256(data).hexdigest()) == data
