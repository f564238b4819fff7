"""Resumable uploads: the tus 1.0 core protocol plus creation, termination and checksum.

A client creates an upload (POST, ``Upload-Length`` and ``Upload-Metadata``), then
appends bytes with PATCH at the offset the server reports (HEAD). A dropped link
loses nothing already received: the client asks HEAD for the offset and carries on.
With ``Upload-Checksum: sha256 <base64>`` on a PATCH the client proves what it sent: a body
that does not hash to it is refused (460) and nothing of it is kept.

Partial uploads live in a staging folder, never in the blob store. Only when the
last byte has arrived is the file checked (contentcheck), stored, and handed to
``on_complete``, which files it (the core's credit file) and returns the record.
Every error is a JSON body ``{"error": code, "message": text}``.

The staging folder is the whole state (one ``.part`` and one ``.json`` per
upload), so uploads survive a server restart and several workers can share it;
``flock`` on the part file keeps two PATCHes from appending at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Collection, Mapping

from aiohttp import web

from .blobstore import BlobStore
from .contentcheck import DOCUMENT_KINDS, ContentRejected, check_file

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,checksum"
# The tus checksum extension requires sha1; sha256 is the one to use.
CHECKSUM_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
CHECKSUM_MISMATCH = 460
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
READ_CHUNK = 256 * 1024
LOCK_WAIT = 3.0
UPLOAD_ID_RE = re.compile(r"^[A-Za-z0-9_-]{24}$")

UPLOADS_KEY = web.AppKey("tus.uploads", object)
METADATA_KEY: Any = getattr(web, "RequestKey", lambda name, _t: name)("tus.metadata", dict)
"""``request[METADATA_KEY]`` holds the decoded Upload-Metadata while authorize runs on POST."""


@dataclass
class Upload:
    id: str
    length: int
    metadata: dict[str, str]
    owner: str
    created_at: float
    offset: int = 0
    status: str = "receiving"  # receiving | complete
    digest: str | None = None
    kind: str | None = None
    mime_type: str | None = None
    pages: int | None = None
    record: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "offset": self.offset,
            "length": self.length,
            "status": self.status,
            "metadata": self.metadata,
            "digest": self.digest,
            "kind": self.kind,
            "mime_type": self.mime_type,
            "pages": self.pages,
            "record": self.record,
        }


Authorize = Callable[[web.Request], Awaitable[str]]
"""Returns the principal (user id) making the request, or raises an HTTP error.

For POST, ``request[METADATA_KEY]`` holds the decoded metadata (document code,
loan...), so scope can be checked before a byte is accepted."""

OnComplete = Callable[[Upload], Awaitable[Any]]
"""Files a checked, stored upload; returns a JSON-serialisable record.

Must be idempotent per ``upload.id``: the filing and the staging state are not one
transaction, so after a crash between the two the client's retry (an empty PATCH at the
final offset) calls it again, and it must answer the earlier record without filing twice."""


class UploadError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def json_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"error": code, "message": message}, status=status, headers={"Tus-Resumable": TUS_VERSION, **(headers or {})},
        reason="Checksum Mismatch" if status == CHECKSUM_MISMATCH else None,
    )


_STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    429: "too_many_requests",
}


@web.middleware
async def _errors_as_json(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    try:
        response = await handler(request)
    except UploadError as exc:
        return json_error(exc.status, exc.code, exc.message, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        text = exc.text or ""
        message = exc.reason if not text or text.startswith(f"{exc.status}: ") else text
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None  # 405s say what is allowed
        return json_error(exc.status, _STATUS_CODES.get(exc.status, "error"), message, allow)
    except ContentRejected as exc:
        return json_error(422, exc.code, exc.message)
    except Exception:
        log.exception("upload request failed")
        return json_error(500, "internal", "the upload could not be processed; try again later")
    response.headers.setdefault("Tus-Resumable", TUS_VERSION)
    return response


class UploadStaging:
    """The staging folder: one part file and one state file per upload."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def part(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.part"

    def state(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.json"

    def create(self, length: int, metadata: dict[str, str], owner: str) -> Upload:
        upload = Upload(secrets.token_urlsafe(18), length, metadata, owner, time.time())
        self.part(upload.id).touch(exist_ok=False)
        self.save(upload)
        return upload

    def load(self, upload_id: str) -> Upload | None:
        if not UPLOAD_ID_RE.match(upload_id):
            return None
        try:
            data = json.loads(self.state(upload_id).read_text())
        except FileNotFoundError:
            return None
        upload = Upload(**data)
        if upload.status == "receiving":
            # The part file is the truth: bytes appended before a crash count.
            try:
                upload.offset = min(self.part(upload_id).stat().st_size, upload.length)
            except FileNotFoundError:
                return None
        return upload

    def save(self, upload: Upload) -> None:
        tmp = self.root / f".{upload.id}.json.tmp"
        tmp.write_text(json.dumps(asdict(upload), default=str))
        os.replace(tmp, self.state(upload.id))

    def remove(self, upload_id: str) -> None:
        self.part(upload_id).unlink(missing_ok=True)
        self.state(upload_id).unlink(missing_ok=True)

    def active_count(self, owner: str) -> int:
        """Unfinished uploads of one principal (each may claim up to max_size of disk)."""
        count = 0
        for state in self.root.glob("*.json"):
            upload = self.load(state.stem)
            if upload is not None and upload.owner == owner and upload.status == "receiving":
                count += 1
        return count

    def purge_older_than(self, seconds: float, now: float | None = None) -> int:
        """Drop uploads (finished or not) created more than ``seconds`` ago."""
        now = time.time() if now is None else now
        removed = 0
        for state in self.root.glob("*.json"):
            upload = self.load(state.stem)
            if upload is not None and now - upload.created_at > seconds:
                self.remove(upload.id)
                removed += 1
        return removed


def parse_metadata(header: str) -> dict[str, str]:
    """Decode ``Upload-Metadata``: comma-separated ``key base64value`` pairs."""
    metadata: dict[str, str] = {}
    if not header.strip():
        return metadata
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        if len(parts) not in (1, 2) or not parts[0] or not re.match(r"^[\x21-\x7e]+$", parts[0]):
            raise UploadError(400, "bad_metadata", f"malformed Upload-Metadata pair {pair.strip()!r}")
        key = parts[0]
        if key in metadata:
            raise UploadError(400, "bad_metadata", f"Upload-Metadata key {key!r} given twice")
        try:
            value = base64.b64decode(parts[1], validate=True).decode("utf-8") if len(parts) == 2 else ""
        except (binascii.Error, UnicodeDecodeError):
            raise UploadError(400, "bad_metadata", f"Upload-Metadata value of {key!r} is not base64 UTF-8") from None
        metadata[key] = value
    return metadata


def encode_metadata(metadata: Mapping[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items())


@dataclass(frozen=True)
class Checksum:
    """An ``Upload-Checksum`` header: the algorithm and the digest the body must have."""

    algorithm: str
    digest: bytes

    @classmethod
    def of(cls, request: web.Request) -> "Checksum | None":
        raw = request.headers.get("Upload-Checksum")
        if raw is None:
            return None
        parts = raw.strip().split(" ")
        if len(parts) != 2:
            raise UploadError(400, "bad_checksum", "Upload-Checksum must be '<algorithm> <base64 digest>'")
        algorithm, encoded = parts
        if algorithm not in CHECKSUM_ALGORITHMS:
            raise UploadError(400, "checksum_algorithm",
                              f"unsupported checksum algorithm {algorithm[:20]!r}; use one of "
                              f"{', '.join(CHECKSUM_ALGORITHMS)}",
                              {"Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS)})
        try:
            digest = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise UploadError(400, "bad_checksum", "the Upload-Checksum digest is not base64") from None
        if len(digest) != CHECKSUM_ALGORITHMS[algorithm]().digest_size:
            raise UploadError(400, "bad_checksum", f"a {algorithm} digest has "
                              f"{CHECKSUM_ALGORITHMS[algorithm]().digest_size} bytes")
        return cls(algorithm, digest)

    def hasher(self) -> Any:
        return CHECKSUM_ALGORITHMS[self.algorithm]()


def _int_header(request: web.Request, name: str) -> int:
    raw = request.headers.get(name)
    if raw is None:
        raise UploadError(400, "header_missing", f"the {name} header is required")
    if not raw.isdigit():
        raise UploadError(400, "bad_header", f"the {name} header must be a non-negative integer")
    return int(raw)


class UploadHandlers:
    def __init__(
        self,
        store: BlobStore,
        staging: UploadStaging,
        authorize: Authorize,
        on_complete: OnComplete,
        max_size: int,
        allowed_kinds: Collection[str],
        required_metadata: Collection[str],
        max_active_per_owner: int,
    ) -> None:
        self.store = store
        self.staging = staging
        self.authorize = authorize
        self.on_complete = on_complete
        self.max_size = max_size
        self.allowed_kinds = frozenset(allowed_kinds)
        self.required_metadata = tuple(required_metadata)
        self.max_active_per_owner = max_active_per_owner

    def _base_headers(self) -> dict[str, str]:
        return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}

    def _check_version(self, request: web.Request) -> None:
        if request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise UploadError(
                412, "tus_version", f"this server speaks tus {TUS_VERSION}; send Tus-Resumable: {TUS_VERSION}",
                {"Tus-Version": TUS_VERSION},
            )

    async def _own_upload(self, request: web.Request) -> tuple[str, Upload]:
        self._check_version(request)
        principal = await self.authorize(request)
        upload = self.staging.load(request.match_info["upload_id"])
        # Someone else's upload is reported exactly like a missing one.
        if upload is None or upload.owner != principal:
            raise UploadError(404, "not_found", "no such upload")
        return principal, upload

    async def options(self, request: web.Request) -> web.Response:
        return web.Response(
            status=204,
            headers={
                "Tus-Resumable": TUS_VERSION,
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": TUS_EXTENSIONS,
                "Tus-Max-Size": str(self.max_size),
                "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
            },
        )

    async def create(self, request: web.Request) -> web.Response:
        self._check_version(request)
        if "Upload-Defer-Length" in request.headers:
            raise UploadError(400, "defer_length_unsupported", "Upload-Defer-Length is not supported; send Upload-Length")
        length = _int_header(request, "Upload-Length")
        metadata = parse_metadata(request.headers.get("Upload-Metadata", ""))
        request[METADATA_KEY] = metadata
        principal = await self.authorize(request)
        if length > self.max_size:
            raise UploadError(
                413, "too_large", f"the file is {length} bytes; the limit is {self.max_size} bytes",
                {"Tus-Max-Size": str(self.max_size)},
            )
        if length == 0:
            raise UploadError(400, "empty", "an empty file cannot be filed")
        missing = [k for k in self.required_metadata if not metadata.get(k)]
        if missing:
            raise UploadError(400, "metadata_missing", f"Upload-Metadata must include {', '.join(missing)}")
        if await asyncio.to_thread(self.staging.active_count, principal) >= self.max_active_per_owner:
            raise UploadError(429, "too_many_uploads",
                              "finish or cancel your unfinished uploads before starting another")
        upload = await asyncio.to_thread(self.staging.create, length, metadata, principal)
        location = request.app.router["upload"].url_for(upload_id=upload.id)
        return web.Response(status=201, headers={**self._base_headers(), "Location": str(location)})

    async def head(self, request: web.Request) -> web.Response:
        _, upload = await self._own_upload(request)
        headers = {
            **self._base_headers(),
            "Upload-Offset": str(upload.offset),
            "Upload-Length": str(upload.length),
        }
        if upload.metadata:
            headers["Upload-Metadata"] = encode_metadata(upload.metadata)
        return web.Response(status=200, headers=headers)

    async def status(self, request: web.Request) -> web.Response:
        """Not part of tus: the upload's state and, once filed, its record."""
        _, upload = await self._own_upload(request)
        return web.json_response(upload.public(), headers=self._base_headers())

    async def delete(self, request: web.Request) -> web.Response:
        _, upload = await self._own_upload(request)
        with _LockedPart(self.staging.part(upload.id)):
            self.staging.remove(upload.id)
        return web.Response(status=204, headers=self._base_headers())

    async def patch(self, request: web.Request) -> web.Response:
        _, upload = await self._own_upload(request)
        if request.content_type != OFFSET_CONTENT_TYPE:
            raise UploadError(415, "unsupported_media_type", f"PATCH bodies must be {OFFSET_CONTENT_TYPE}")
        offset = _int_header(request, "Upload-Offset")
        checksum = Checksum.of(request)
        if upload.status == "complete":
            raise UploadError(409, "already_complete", "this upload is already complete",
                              {"Upload-Offset": str(upload.offset)})
        lock = await self._lock_part(upload.id)
        try:
            # Re-read under the lock: the offset may have moved since _own_upload.
            current = self.staging.load(upload.id)
            if current is None:
                raise UploadError(404, "not_found", "no such upload")
            upload = current
            if offset != upload.offset:
                raise UploadError(409, "offset_mismatch",
                                  f"Upload-Offset is {offset} but the server has {upload.offset} bytes",
                                  {"Upload-Offset": str(upload.offset)})
            declared = request.content_length
            if declared is not None and upload.offset + declared > upload.length:
                raise UploadError(413, "too_large", "the body goes past the declared Upload-Length")
            upload.offset = await self._append(request, lock.fd, upload, checksum)
            if upload.offset == upload.length:
                await self._finish(upload)
        finally:
            lock.__exit__()
        headers = {**self._base_headers(), "Upload-Offset": str(upload.offset)}
        if upload.digest:
            headers["Upload-Digest"] = f"sha-256={upload.digest}"
        return web.Response(status=204, headers=headers)

    async def _lock_part(self, upload_id: str) -> "_LockedPart":
        # A client that reconnects after a dropped link often beats the server to
        # noticing the drop; give the old request a moment to let go of the lock.
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            lock = _LockedPart(self.staging.part(upload_id))
            try:
                return lock.__enter__()
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UploadError(409, "upload_busy", "another request is appending to this upload") from None
                await asyncio.sleep(0.05)
            except FileNotFoundError:
                raise UploadError(404, "not_found", "no such upload") from None

    async def _append(self, request: web.Request, fd: int, upload: Upload, checksum: Checksum | None) -> int:
        start = offset = upload.offset
        hasher = checksum.hasher() if checksum else None
        received_all = False
        try:
            async for chunk in request.content.iter_chunked(READ_CHUNK):
                if offset + len(chunk) > upload.length:
                    raise UploadError(413, "too_large", "the body goes past the declared Upload-Length",
                                      {"Upload-Offset": str(start if checksum else offset)})
                if hasher is not None:
                    hasher.update(chunk)
                await asyncio.to_thread(_write_all, fd, chunk)
                offset += len(chunk)
            received_all = True
        finally:
            if checksum is not None and not (received_all and hasher.digest() == checksum.digest):
                # A body that cannot be proven (cut short, or hashing to something else) is not
                # kept: the upload stays where it was before this PATCH.
                await asyncio.to_thread(os.ftruncate, fd, start)
                offset = start
            # Whatever arrived before a dropped link is kept (without a checksum): that is
            # what resuming relies on.
            await asyncio.to_thread(os.fsync, fd)
        if checksum is not None and hasher.digest() != checksum.digest:
            raise UploadError(CHECKSUM_MISMATCH, "checksum_mismatch",
                              f"the body does not match its Upload-Checksum ({checksum.algorithm}); nothing of it "
                              "was kept: send it again", {"Upload-Offset": str(start)})
        return offset

    async def _finish(self, upload: Upload) -> None:
        part = self.staging.part(upload.id)
        try:
            verdict = await asyncio.to_thread(
                check_file, part, allowed=self.allowed_kinds, max_size=self.max_size
            )
        except ContentRejected:
            self.staging.remove(upload.id)
            raise
        stored = await self.store.put_file(part)
        upload.digest = stored.digest
        upload.kind = verdict.kind
        upload.mime_type = verdict.mime_type
        upload.pages = verdict.pages
        # If filing fails the part stays: the client may PATCH again at the final
        # offset with an empty body to retry; storing the blob again is harmless, and
        # on_complete, keyed by the upload id, answers the earlier filing if it committed
        # before a crash (the state below was then never saved).
        upload.record = await self.on_complete(upload)
        upload.status = "complete"
        self.staging.save(upload)
        part.unlink(missing_ok=True)


class _LockedPart:
    """An exclusive, non-blocking flock on an upload's part file, opened for append."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> "_LockedPart":
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(self.fd)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing releases the lock
            self.fd = -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def create_upload_app(
    store: BlobStore,
    *,
    authorize: Authorize,
    on_complete: OnComplete,
    max_size: int,
    staging_dir: str | Path,
    allowed_kinds: Collection[str] = DOCUMENT_KINDS,
    required_metadata: Collection[str] = ("code",),
    max_active_per_owner: int = 50,
) -> web.Application:
    """An aiohttp application to mount with ``parent.add_subapp("/uploads/", app)``.

    ``authorize(request) -> principal`` runs on every request except OPTIONS;
    ``on_complete(upload) -> record`` runs once per upload, after the content check
    passed and the blob is stored; its record is returned by ``GET <upload url>``.
    """
    handlers = UploadHandlers(
        store, UploadStaging(Path(staging_dir)), authorize, on_complete, max_size,
        allowed_kinds, required_metadata, max_active_per_owner,
    )
    # PATCH bodies are streamed from request.content, never read whole, so aiohttp's
    # client_max_size does not apply; max_size and Upload-Length bound them instead.
    app = web.Application(middlewares=[_errors_as_json])
    app[UPLOADS_KEY] = handlers
    app.router.add_route("OPTIONS", "/", handlers.options)
    app.router.add_route("POST", "/", handlers.create)
    resource = app.router.add_resource("/{upload_id}", name="upload")
    resource.add_route("HEAD", handlers.head)
    resource.add_route("GET", handlers.status)
    resource.add_route("PATCH", handlers.patch)
    resource.add_route("DELETE", handlers.delete)
    resource.add_route("OPTIONS", handlers.options)
    return app
