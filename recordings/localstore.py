"""Blob store in a local folder: the embedded default.

Layout: ``<root>/blobs/<first two hex digits>/<digest>`` for blobs and
``<root>/tmp/`` for puts in progress (same file system, so publishing is a link).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import tempfile
from pathlib import Path
from typing import AsyncIterable, AsyncIterator

from .blobstore import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobStore,
    StoreConfigError,
    StoredBlob,
    check_digest,
    check_name,
    normalise_range,
)


class LocalBlobStore(BlobStore):
    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.tmp = self.root / "tmp"
        if not create and not self.blobs.is_dir():
            # Checking a mistyped path must not "succeed" on a fresh empty store.
            raise StoreConfigError(f"no archive store at {self.root}")
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.url = f"local:{self.root}"

    def path_of(self, digest: str) -> Path:
        check_digest(digest)
        return self.blobs / digest[:2] / digest

    async def put_stream(self, chunks: AsyncIterable[bytes]) -> StoredBlob:
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="put-")
        tmp_path = Path(tmp_name)
        hasher = hashlib.sha256()
        size = 0

        def write(chunk: bytes) -> None:
            hasher.update(chunk)
            view = memoryview(chunk)
            while view:
                written = os.write(fd, view)
                view = view[written:]

        try:
            async for chunk in chunks:
                if chunk:
                    await asyncio.to_thread(write, chunk)
                    size += len(chunk)
            await asyncio.to_thread(os.fsync, fd)
        except BaseException:
            os.close(fd)
            tmp_path.unlink(missing_ok=True)
            raise
        os.close(fd)
        digest = hasher.hexdigest()
        try:
            created = await asyncio.to_thread(self._publish, tmp_path, digest)
        finally:
            tmp_path.unlink(missing_ok=True)
        return StoredBlob(digest, size, created)

    def _publish(self, tmp_path: Path, digest: str) -> bool:
        final = self.path_of(digest)
        final.parent.mkdir(exist_ok=True)
        os.chmod(tmp_path, 0o444)
        try:
            # link(2), unlike rename(2), fails when the target exists: the first of
            # several concurrent puts wins and nothing is ever overwritten.
            os.link(tmp_path, final)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            # File systems without hard links: rename is still atomic; the check
            # narrows (not closes) the window, and a racing writer has the same bytes.
            if final.exists():
                return False
            os.rename(tmp_path, final)
        _fsync_dir(final.parent)
        return True

    async def exists(self, digest: str) -> bool:
        return self.path_of(digest).is_file()

    async def size(self, digest: str) -> int:
        try:
            return self.path_of(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    async def open_range(
        self, digest: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self.path_of(digest)
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        with f:
            start, end = normalise_range(os.fstat(f.fileno()).st_size, start, end)
            f.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = await asyncio.to_thread(f.read, min(CHUNK_SIZE, remaining))
                if not chunk:
                    return  # truncated underneath us; verify will report it
                remaining -= len(chunk)
                yield chunk

    async def iter_digests(self) -> AsyncIterator[str]:
        entries = await asyncio.to_thread(self._list)
        for name in entries:
            yield name

    def _list(self) -> list[str]:
        names = []
        for dirpath, _dirs, files in os.walk(self.blobs):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), self.blobs)
                # A digest lives in the folder named by its first two digits; anything
                # else is reported by its relative path as foreign.
                names.append(name if rel == f"{name[:2]}/{name}" else rel)
        return names

    async def hash_blob(self, name: str) -> tuple[str, int]:
        path = self.path_of(name)

        def rehash() -> tuple[str, int]:
            hasher = hashlib.sha256()
            size = 0
            try:
                with open(path, "rb") as f:
                    while chunk := f.read(CHUNK_SIZE):
                        hasher.update(chunk)
                        size += len(chunk)
            except FileNotFoundError:
                raise BlobNotFound(name) from None
            return hasher.hexdigest(), size

        return await asyncio.to_thread(rehash)


    async def put_named(self, name: str, data: bytes) -> None:
        folder = self.root / "named"

        def write() -> None:
            folder.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.tmp, prefix="named-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, folder / check_name(name))
            finally:
                Path(tmp).unlink(missing_ok=True)
            _fsync_dir(folder)

        await asyncio.to_thread(write)

    async def get_named(self, name: str) -> bytes | None:
        path = self.root / "named" / check_name(name)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
