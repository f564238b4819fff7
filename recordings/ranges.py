"""Serve a blob over HTTP with single byte ranges, so a browser's video element can seek.

The blob's digest is its strong ETag: content-addressed bytes never change, so a
cached copy or a resumed download can be validated without reading anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

from .blobstore import BlobNotFound, BlobStore, check_digest

# ASCII digits only (int() also reads "١"), at most 18 of them (int() refuses over 4,300).
_RANGE_RE = re.compile(r"^bytes=([0-9]{0,18})-([0-9]{0,18})$")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int
    """Exclusive."""

    @property
    def length(self) -> int:
        return self.end - self.start


class Unsatisfiable(ValueError):
    pass


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range asked for by a ``Range`` header, clamped to ``size``.

    Returns None when the whole representation should be sent: no header, a
    syntax we do not serve (several ranges, another unit) — RFC 9110 lets a server
    ignore Range. Raises Unsatisfiable for a valid range entirely past the end.
    """
    if not header:
        return None
    match = _RANGE_RE.match(header.strip().replace(" ", ""))
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(0, size - suffix), size)
    start = int(first)
    end = size if not last else int(last) + 1
    if last and end <= start:
        return None  # last < first is a syntax error: ignore the header
    if start >= size:
        raise Unsatisfiable(header)
    return ByteRange(start, min(end, size))


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [c.strip() for c in header.split(",")]
    return "*" in candidates or etag in candidates or f"W/{etag}" in candidates


async def serve_blob(
    request: web.Request,
    store: BlobStore,
    digest: str,
    *,
    content_type: str = "application/octet-stream",
    filename: str | None = None,
    attachment: bool = False,
    verify: bool = False,
) -> web.StreamResponse:
    """Answer GET/HEAD for one blob: 200, 206, 304 or 416, always with Accept-Ranges.

    With ``verify`` the whole blob is rehashed before any byte is sent, and BlobAltered
    (or BlobNotFound) is raised instead of serving bytes that no longer match the digest
    named in the ETag: the caller answers that as an integrity error."""
    check_digest(digest)
    try:
        size = await store.size(digest)
    except BlobNotFound:
        if verify:
            raise  # a file the caller vouches for has gone: its integrity error, not a 404
        raise web.HTTPNotFound(text="no such file") from None
    etag = f'"{digest}"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Content-Type": content_type,
        # Archive records are personal data: cache in this browser only, and never
        # let the browser guess a more dangerous type than the one we checked.
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    if filename:
        disposition = "attachment" if attachment else "inline"
        ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
        from urllib.parse import quote

        headers["Content-Disposition"] = f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"

    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and _etag_matches(if_none_match, etag):
        return web.Response(status=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})

    byte_range = None
    if_range = request.headers.get("If-Range")
    # If-Range with another validator (or a date) means "the whole thing if it changed":
    # only our own strong ETag allows a partial answer.
    if not if_range or if_range.strip() == etag:
        try:
            byte_range = parse_range(request.headers.get("Range"), size)
        except Unsatisfiable:
            return web.Response(
                status=416, headers={**headers, "Content-Range": f"bytes */{size}", "Content-Type": "text/plain"},
                text="range not satisfiable",
            )

    if byte_range is None:
        status, start, end = 200, 0, size
    else:
        status, start, end = 206, byte_range.start, byte_range.end
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    if verify:
        await store.check_intact(digest)
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = end - start
    await response.prepare(request)
    if request.method != "HEAD" and end > start:
        async for chunk in store.open_range(digest, start, end):
            await response.write(chunk)
    await response.write_eof()
    return response
