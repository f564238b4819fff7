"""Content-addressed blob storage: the interface every backend implements.

A blob is named by the lowercase hex SHA-256 of its bytes. Backends guarantee:
- a put is atomic: a reader sees either nothing or the whole blob;
- an existing blob is never overwritten (same name means same bytes anyway, and
  never rewriting a filed record is what makes later tampering visible);
- concurrent puts of the same content end with exactly one stored copy.
"""

from __future__ import annotations

import abc
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterable, AsyncIterator, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK_SIZE = 1024 * 1024

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while verifying."""


class BlobStoreError(Exception):
    """Base class of storage errors."""


class BlobNotFound(BlobStoreError, KeyError):
    def __init__(self, digest: str) -> None:
        super().__init__(f"no blob {digest}")
        self.digest = digest

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return f"no blob {self.digest}"


class BlobAltered(BlobStoreError):
    """A stored blob's bytes no longer hash to its name (a disk fault, or tampering)."""

    def __init__(self, digest: str) -> None:
        super().__init__(f"blob {digest} no longer matches its digest")
        self.digest = digest


class InvalidDigest(BlobStoreError, ValueError):
    pass


class RangeNotSatisfiable(BlobStoreError, ValueError):
    pass


class StoreConfigError(BlobStoreError, ValueError):
    pass


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is a lowercase hex SHA-256, else raise.

    Every backend maps the digest to a path or key, so this is also what keeps
    a caller-supplied name from walking out of the store.
    """
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        raise InvalidDigest(f"not a SHA-256 hex digest: {digest!r}")
    return digest


NAMED_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,99}$")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAMED_RE.match(name) or ".." in name:
        raise InvalidDigest(f"not a document name: {name!r}")
    return name


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoredBlob:
    digest: str
    size: int
    created: bool
    """False when the blob already existed and nothing new was written."""


@dataclass
class VerifyReport:
    checked: int = 0
    bytes_checked: int = 0
    missing: list[str] = field(default_factory=list)
    """Expected by the caller but absent from the store."""
    altered: list[str] = field(default_factory=list)
    """Present but the bytes no longer hash to the name."""
    foreign: list[str] = field(default_factory=list)
    """Objects in the store whose name is not a digest at all."""

    @property
    def intact(self) -> bool:
        return not (self.missing or self.altered or self.foreign)


def normalise_range(size: int, start: int = 0, end: int | None = None) -> tuple[int, int]:
    """Clamp ``[start, end)`` to a blob of ``size`` bytes; raise if it is empty or outside."""
    if end is None or end > size:
        end = size
    if start < 0 or end < start or (start >= size and size > 0) or (size == 0 and start > 0):
        raise RangeNotSatisfiable(f"range {start}-{end} outside a blob of {size} bytes")
    return start, end


class BlobStore(abc.ABC):
    """Async content-addressed store."""

    url: str

    @abc.abstractmethod
    async def put_stream(self, chunks: AsyncIterable[bytes]) -> StoredBlob:
        """Store the concatenation of ``chunks``; return its digest and size."""

    async def put_bytes(self, data: bytes) -> StoredBlob:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.put_stream(one())

    async def put_file(self, path: str | Path) -> StoredBlob:
        return await self.put_stream(read_file_chunks(Path(path)))

    @abc.abstractmethod
    async def exists(self, digest: str) -> bool: ...

    @abc.abstractmethod
    async def size(self, digest: str) -> int:
        """Size in bytes; raise BlobNotFound when absent."""

    @abc.abstractmethod
    def open_range(self, digest: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Yield the bytes ``[start, end)`` of a blob in chunks (end None = to the end)."""

    async def read(self, digest: str, start: int = 0, end: int | None = None) -> bytes:
        parts = [chunk async for chunk in self.open_range(digest, start, end)]
        return b"".join(parts)

    @abc.abstractmethod
    def iter_digests(self) -> AsyncIterator[str]:
        """Yield the name of every stored object, digests and anything foreign alike."""

    @abc.abstractmethod
    async def hash_blob(self, name: str) -> tuple[str, int]:
        """Rehash a stored object by its raw name: (SHA-256 hex of its bytes, size)."""

    async def check_intact(self, digest: str) -> int:
        """Rehash one blob before its bytes go anywhere: its size when intact; BlobNotFound or
        BlobAltered otherwise. Once an answer has started it cannot turn into a refusal, so
        whoever serves a blob checks it first."""
        actual, size = await self.hash_blob(check_digest(digest))
        if actual != digest:
            raise BlobAltered(digest)
        return size

    async def damaged(self, digests: Iterable[str], concurrency: int = 4) -> dict[str, str]:
        """Rehash the named blobs: ``{digest: "missing" | "altered"}`` for those not intact."""
        import asyncio

        gate = asyncio.Semaphore(concurrency)

        async def state(digest: str) -> str | None:
            async with gate:
                try:
                    await self.check_intact(digest)
                except (BlobNotFound, InvalidDigest):  # a row naming no possible blob
                    return "missing"
                except BlobAltered:
                    return "altered"
                return None

        unique = sorted(set(digests))
        states = await asyncio.gather(*(state(d) for d in unique))
        return {digest: st for digest, st in zip(unique, states) if st is not None}

    async def verify(
        self,
        expected: Iterable[str] = (),
        progress: ProgressCallback | None = None,
        concurrency: int = 8,
    ) -> VerifyReport:
        """Rehash every stored blob and compare with its name and with ``expected``.

        Several blobs are rehashed at once: on S3 each one is a round trip, and on a
        local disk the hashing runs in threads (hashlib releases the GIL).
        """
        import asyncio

        names = sorted([name async for name in self.iter_digests()])
        report = VerifyReport()
        report.missing = sorted({check_digest(d) for d in expected} - set(names))
        total = len(names)
        done = 0
        gate = asyncio.Semaphore(concurrency)

        async def check(name: str) -> None:
            nonlocal done
            if not DIGEST_RE.match(name):
                report.foreign.append(name)
            else:
                async with gate:
                    try:
                        actual, size = await self.hash_blob(name)
                    except BlobNotFound:
                        # Deleted between listing and reading.
                        report.missing.append(name)
                    else:
                        report.checked += 1
                        report.bytes_checked += size
                        if actual != name:
                            report.altered.append(name)
            done += 1
            if progress is not None:
                progress(done, total)

        await asyncio.gather(*(check(name) for name in names))
        report.missing.sort()
        report.altered.sort()
        report.foreign.sort()
        return report

    # Small named documents kept beside the blobs, outside their namespace (so `verify` never
    # sees them): the signed audit-chain anchors. Names are [a-z0-9.-]; a put replaces.
    @abc.abstractmethod
    async def put_named(self, name: str, data: bytes) -> None: ...

    @abc.abstractmethod
    async def get_named(self, name: str) -> bytes | None: ...

    async def close(self) -> None:
        """Release connections; the store must not be used afterwards."""

    async def __aenter__(self) -> "BlobStore":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def read_file_chunks(path: Path, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
    import asyncio

    with open(path, "rb") as f:
        while True:
            chunk = await asyncio.to_thread(f.read, chunk_size)
            if not chunk:
                return
            yield chunk


def open_store(url: str, *, create: bool = True) -> BlobStore:
    """Build a store from configuration.

    ``local:/srv/archive`` (or a plain path) — a folder on this machine.
    ``s3://bucket?endpoint=http://host:9000&region=us-east-1&prefix=blobs/`` — an
    S3-compatible store; credentials come from the usual AWS environment variables
    or files, never from the URL, so the URL can be logged.
    """
    if url.startswith("s3://"):
        from .s3store import S3BlobStore

        parts = urlsplit(url)
        if not parts.netloc:
            raise StoreConfigError(f"no bucket in store URL {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint", "region", "prefix"}
        if unknown:
            raise StoreConfigError(f"unknown store URL options {sorted(unknown)} in {url!r}")
        return S3BlobStore(
            bucket=parts.netloc,
            endpoint_url=query.get("endpoint"),
            region=query.get("region", "us-east-1"),
            prefix=query.get("prefix", "blobs/"),
        )
    if url.startswith("local:"):
        path = url[len("local:"):]
    elif "://" in url:
        raise StoreConfigError(f"unsupported store URL {url!r}: use local:/path or s3://bucket?endpoint=...")
    else:
        path = url
    if not path:
        raise StoreConfigError("empty path in store URL")
    from .localstore import LocalBlobStore

    return LocalBlobStore(Path(path), create=create)


__all__ = [
    "BlobAltered",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreError",
    "InvalidDigest",
    "RangeNotSatisfiable",
    "StoreConfigError",
    "StoredBlob",
    "VerifyReport",
    "check_digest",
    "open_store",
    "normalise_range",
]
