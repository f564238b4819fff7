from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp import web

from recordings.blobstore import BlobStore
from recordings.ranges import ByteRange, Unsatisfiable, parse_range, serve_blob

from . import samples


def test_parse_range() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == ByteRange(0, 10)
    assert parse_range("bytes=90-", 100) == ByteRange(90, 100)
    assert parse_range("bytes=90-500", 100) == ByteRange(90, 100)
    assert parse_range("bytes=-10", 100) == ByteRange(90, 100)
    assert parse_range("bytes=-500", 100) == ByteRange(0, 100)
    assert parse_range("bytes=0-1,5-6", 100) is None  # several ranges: whole file
    assert parse_range("items=0-1", 100) is None
    assert parse_range("bytes=9-3", 100) is None
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=100-", 100)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=-0", 100)
    # Not ASCII digits, or more digits than any file has bytes: ignored (the whole file), not a 500.
    for header in ("bytes=١٠-", "bytes=０-９", "bytes=²-", "bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 19):
        assert parse_range(header, 100) is None, header


@pytest.fixture
async def player(aiohttp_client, store: BlobStore, tmp_path: Path):
    video = samples.webm_recording(tmp_path / "meeting.webm", seconds=3).read_bytes()
    digest = (await store.put_bytes(video)).digest

    async def play(request: web.Request) -> web.StreamResponse:
        return await serve_blob(request, store, request.match_info["digest"], content_type="video/webm",
                                filename="委员会 meeting.webm")

    app = web.Application()
    app.router.add_get("/recordings/{digest}", play)
    client = await aiohttp_client(app)
    return client, video, digest


async def test_whole_file(player) -> None:
    client, video, digest = player
    resp = await client.get(f"/recordings/{digest}")
    assert resp.status == 200
    assert await resp.read() == video
    assert resp.headers["Accept-Ranges"] == "bytes"
    assert resp.headers["ETag"] == f'"{digest}"'
    assert resp.headers["Content-Type"] == "video/webm"
    assert "filename*=UTF-8''%E5%A7%94" in resp.headers["Content-Disposition"]


@pytest.mark.parametrize("spec", ["bytes=0-99", "bytes=1000-1999", "bytes=-500", "bytes=3000-"])
async def test_range_returns_the_right_bytes(player, spec: str) -> None:
    client, video, digest = player
    resp = await client.get(f"/recordings/{digest}", headers={"Range": spec})
    assert resp.status == 206
    expected = parse_range(spec, len(video))
    body = await resp.read()
    assert body == video[expected.start : expected.end]
    assert resp.headers["Content-Range"] == f"bytes {expected.start}-{expected.end - 1}/{len(video)}"
    assert int(resp.headers["Content-Length"]) == len(body)


async def test_unsatisfiable_range(player) -> None:
    client, video, digest = player
    resp = await client.get(f"/recordings/{digest}", headers={"Range": f"bytes={len(video)}-"})
    assert resp.status == 416
    assert resp.headers["Content-Range"] == f"bytes */{len(video)}"


async def test_conditional_requests(player) -> None:
    client, video, digest = player
    resp = await client.get(f"/recordings/{digest}", headers={"If-None-Match": f'"{digest}"'})
    assert resp.status == 304
    resp = await client.get(f"/recordings/{digest}", headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert resp.status == 200 and await resp.read() == video
    resp = await client.get(f"/recordings/{digest}", headers={"Range": "bytes=0-9", "If-Range": f'"{digest}"'})
    assert resp.status == 206 and await resp.read() == video[:10]


async def test_head_and_missing(player) -> None:
    client, video, digest = player
    resp = await client.head(f"/recordings/{digest}", headers={"Range": "bytes=10-19"})
    assert resp.status == 206 and resp.headers["Content-Length"] == "10"
    resp = await client.get(f"/recordings/{os.urandom(32).hex()}")
    assert resp.status == 404


def test_parse_range_matches_slicing() -> None:
    from hypothesis import given, strategies as st

    @given(st.integers(1, 5000), st.integers(0, 6000), st.one_of(st.none(), st.integers(0, 6000)))
    def check(size: int, first: int, last: int | None) -> None:
        data = bytes(range(256)) * (size // 256 + 1)
        data = data[:size]
        header = f"bytes={first}-{'' if last is None else last}"
        try:
            result = parse_range(header, size)
        except Unsatisfiable:
            assert first >= size
            return
        if result is None:
            assert last is not None and last < first
            return
        stop = size if last is None else min(last + 1, size)
        assert data[result.start : result.end] == data[first:stop]
        assert 0 < result.length <= size

    check()
