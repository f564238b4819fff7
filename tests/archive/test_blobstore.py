from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from recordings.blobstore import (
    BlobNotFound,
    BlobStore,
    InvalidDigest,
    RangeNotSatisfiable,
    StoreConfigError,
    open_store,
)
from recordings.localstore import LocalBlobStore
from recordings.s3store import PART_SIZE, S3BlobStore

from .backdoor import count_objects, overwrite_raw, remove_raw


async def slow_chunks(data: bytes, size: int = 7000):
    for i in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[i : i + size]


async def test_put_returns_digest_and_size(store: BlobStore) -> None:
    data = os.urandom(100_000)
    stored = await store.put_stream(slow_chunks(data))
    assert stored.digest == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert stored.created
    assert await store.exists(stored.digest)
    assert await store.size(stored.digest) == len(data)
    assert await store.read(stored.digest) == data


async def test_put_file_and_empty_blob(store: BlobStore, tmp_path: Path) -> None:
    path = tmp_path / "scan.bin"
    path.write_bytes(b"x" * 3000)
    stored = await store.put_file(path)
    assert stored.digest == hashlib.sha256(b"x" * 3000).hexdigest()
    empty = await store.put_bytes(b"")
    assert empty.size == 0 and await store.read(empty.digest) == b""


async def test_existing_blob_is_not_rewritten(store: BlobStore) -> None:
    first = await store.put_bytes(b"credit file page 1")
    second = await store.put_bytes(b"credit file page 1")
    assert first.created and not second.created
    assert await count_objects(store) == 1


async def test_concurrent_puts_of_same_content_store_once(store: BlobStore) -> None:
    data = os.urandom(300_000)
    results = await asyncio.gather(*(store.put_stream(slow_chunks(data)) for _ in range(6)))
    assert {r.digest for r in results} == {hashlib.sha256(data).hexdigest()}
    assert sum(r.created for r in results) == 1
    assert await count_objects(store) == 1
    assert await store.read(results[0].digest) == data


async def test_failed_stream_leaves_nothing(store: BlobStore, tmp_path: Path) -> None:
    async def broken():
        yield b"half a page"
        raise ConnectionResetError("link dropped")

    with pytest.raises(ConnectionResetError):
        await store.put_stream(broken())
    assert await count_objects(store) == 0
    if isinstance(store, LocalBlobStore):
        assert list(store.tmp.iterdir()) == []


async def test_read_ranges(store: BlobStore) -> None:
    data = bytes(range(256)) * 40
    digest = (await store.put_bytes(data)).digest
    assert await store.read(digest, 10, 20) == data[10:20]
    assert await store.read(digest, 10_000) == data[10_000:]
    assert await store.read(digest, 0, 1) == data[:1]
    with pytest.raises(RangeNotSatisfiable):
        await store.read(digest, len(data) + 5)


async def test_missing_and_invalid_names(store: BlobStore) -> None:
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not await store.exists(absent)
    with pytest.raises(BlobNotFound):
        await store.size(absent)
    with pytest.raises(BlobNotFound):
        await store.read(absent)
    for bad in ("../../etc/passwd", "ABC", absent.upper(), absent + "0"):
        with pytest.raises(InvalidDigest):
            await store.exists(bad)


async def test_verify_finds_altered_and_missing(store: BlobStore) -> None:
    digests = [(await store.put_bytes(f"page {i}".encode())).digest for i in range(5)]
    report = await store.verify(expected=digests)
    assert report.intact and report.checked == 5

    await overwrite_raw(store, digests[1], b"page 1, edited later")
    await remove_raw(store, digests[3])
    never_filed = hashlib.sha256(b"listed in the index but never stored").hexdigest()
    progress: list[tuple[int, int]] = []
    report = await store.verify(expected=digests + [never_filed], progress=lambda d, t: progress.append((d, t)))
    assert not report.intact
    assert report.altered == [digests[1]]
    assert report.missing == sorted([digests[3], never_filed])
    assert report.checked == 4
    assert progress[-1] == (4, 4)


async def test_verify_reports_foreign_objects(store: BlobStore) -> None:
    await store.put_bytes(b"fine")
    await overwrite_raw(store, "zz-not-a-digest", b"dropped here by hand")
    report = await store.verify()
    assert not report.intact
    assert len(report.foreign) == 1 and "zz-not-a-digest" in report.foreign[0]


async def test_iter_lists_every_blob(store: BlobStore) -> None:
    digests = {(await store.put_bytes(os.urandom(50))).digest for _ in range(12)}
    assert {d async for d in store.iter_digests()} == digests


async def test_s3_multipart_put(s3_endpoint: str) -> None:
    store = S3BlobStore("archive-multipart", endpoint_url=s3_endpoint)
    try:
        await store.ensure_bucket()
        data = os.urandom(PART_SIZE + 123_456)
        stored = await store.put_stream(slow_chunks(data, 1 << 20))
        assert stored.created and stored.size == len(data)
        assert await store.read(stored.digest, PART_SIZE - 10, PART_SIZE + 10) == data[PART_SIZE - 10 : PART_SIZE + 10]
        assert (await store.verify([stored.digest])).intact
    finally:
        await store.close()


def test_open_store_from_configuration(tmp_path: Path) -> None:
    local = open_store(f"local:{tmp_path}/a")
    assert isinstance(local, LocalBlobStore) and local.root == tmp_path / "a"
    s3 = open_store("s3://loan-archive?endpoint=http://127.0.0.1:9000&region=eu-west-1")
    assert isinstance(s3, S3BlobStore)
    assert (s3.bucket, s3.endpoint_url, s3.region) == ("loan-archive", "http://127.0.0.1:9000", "eu-west-1")
    for bad in ("ftp://x", "s3://", "s3://b?secret=1", "local:"):
        with pytest.raises(StoreConfigError):
            open_store(bad)


async def test_named_documents_live_beside_the_blobs(store: BlobStore) -> None:
    from recordings.blobstore import InvalidDigest

    assert await store.get_named("audit-head.json") is None
    await store.put_named("audit-head.json", b'{"seq": 1}')
    await store.put_named("audit-head.json", b'{"seq": 2}')  # the newest replaces
    assert await store.get_named("audit-head.json") == b'{"seq": 2}'
    report = await store.verify()
    assert report.intact and report.checked == 0 and report.foreign == []
    with pytest.raises(InvalidDigest):
        await store.put_named("../escape", b"x")
