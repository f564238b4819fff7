"""Blob store on an S3-compatible object store (aiobotocore).

Objects are keyed ``<prefix><digest>``. S3 makes an object visible only once its
upload is complete, so atomicity comes from the protocol; "never overwrite" comes
from the conditional write ``If-None-Match: *`` (AWS S3 since 2024, MinIO, Ceph RGW,
moto), which makes the second of two racing puts fail with 412 instead of replacing.

The digest names the key, so it must be known before the upload starts: a put first
spools the stream to a local temporary file while hashing it (bounded memory),
then uploads the file in one request or in parts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import tempfile
from typing import Any, AsyncIterable, AsyncIterator

from .blobstore import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobStore,
    StoredBlob,
    check_digest,
    check_name,
    normalise_range,
)

PART_SIZE = 16 * 1024 * 1024  # S3 parts must be >= 5 MiB except the last


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(exc: Exception) -> int:
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


class S3BlobStore(BlobStore):
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        prefix: str = "blobs/",
        spool_dir: str | None = None,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.prefix = prefix
        self.spool_dir = spool_dir
        self.client_kwargs = dict(client_kwargs or {})
        query = f"?endpoint={endpoint_url}&region={region}&prefix={prefix}" if endpoint_url else ""
        self.url = f"s3://{bucket}{query}"
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Any:
        async with self._lock:
            if self._client is None:
                from aiobotocore.config import AioConfig
                from aiobotocore.session import get_session

                stack = contextlib.AsyncExitStack()
                config = AioConfig(
                    max_pool_connections=32,
                    retries={"max_attempts": 3, "mode": "standard"},
                    s3={"addressing_style": "path"},
                )
                self._client = await stack.enter_async_context(
                    get_session().create_client(
                        "s3",
                        endpoint_url=self.endpoint_url,
                        region_name=self.region,
                        config=config,
                        **self.client_kwargs,
                    )
                )
                self._stack = stack
            return self._client

    async def close(self) -> None:
        async with self._lock:
            if self._stack is not None:
                await self._stack.aclose()
            self._stack = None
            self._client = None

    async def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (installation and tests)."""
        s3 = await self.client()
        try:
            await s3.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            if _status(exc) != 404 and _error_code(exc) not in ("404", "NoSuchBucket"):
                raise
            await s3.create_bucket(Bucket=self.bucket)

    def key_of(self, digest: str) -> str:
        return self.prefix + check_digest(digest)

    def named_key(self, name: str) -> str:
        # Beside the blobs' prefix, never under it: verify lists that prefix.
        return f"{self.prefix.rstrip('/')}-named/{check_name(name)}" if self.prefix else f"named/{check_name(name)}"

    async def put_named(self, name: str, data: bytes) -> None:
        s3 = await self.client()
        await s3.put_object(Bucket=self.bucket, Key=self.named_key(name), Body=data)

    async def get_named(self, name: str) -> bytes | None:
        s3 = await self.client()
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=self.named_key(name))
        except Exception as exc:
            if _status(exc) == 404 or _error_code(exc) in ("404", "NoSuchKey"):
                return None
            raise
        async with response["Body"] as body:
            return await body.read()

    async def put_stream(self, chunks: AsyncIterable[bytes]) -> StoredBlob:
        spool = tempfile.TemporaryFile(dir=self.spool_dir, prefix="s3put-")
        try:
            hasher = hashlib.sha256()
            size = 0

            def write(chunk: bytes) -> None:
                hasher.update(chunk)
                spool.write(chunk)

            async for chunk in chunks:
                if chunk:
                    await asyncio.to_thread(write, chunk)
                    size += len(chunk)
            digest = hasher.hexdigest()
            if await self.exists(digest):
                return StoredBlob(digest, size, False)
            created = await self._upload(spool, digest, size)
            return StoredBlob(digest, size, created)
        finally:
            spool.close()

    async def _upload(self, spool: Any, digest: str, size: int) -> bool:
        s3 = await self.client()
        key = self.key_of(digest)
        checksum = base64.b64encode(bytes.fromhex(digest)).decode()
        try:
            if size <= PART_SIZE:
                spool.seek(0)
                body = await asyncio.to_thread(spool.read)
                await s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    IfNoneMatch="*",
                    ChecksumSHA256=checksum,
                    ContentType="application/octet-stream",
                )
            else:
                await self._upload_parts(s3, spool, key, size)
        except Exception as exc:
            code = _error_code(exc)
            if code == "PreconditionFailed" or _status(exc) == 412:
                return False
            if code == "ConditionalRequestConflict" or _status(exc) == 409:
                # Two conditional writes overlapped; whichever finished holds the same bytes.
                if await self.exists(digest):
                    return False
            raise
        return True

    async def _upload_parts(self, s3: Any, spool: Any, key: str, size: int) -> None:
        upload = await s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType="application/octet-stream"
        )
        upload_id = upload["UploadId"]
        try:
            parts = []
            for number, offset in enumerate(range(0, size, PART_SIZE), 1):

                def read_part(offset: int = offset) -> bytes:
                    spool.seek(offset)
                    return spool.read(PART_SIZE)

                body = await asyncio.to_thread(read_part)
                part = await s3.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
                )
                parts.append({"ETag": part["ETag"], "PartNumber": number})
            await s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    async def exists(self, digest: str) -> bool:
        try:
            await self.size(digest)
        except BlobNotFound:
            return False
        return True

    async def size(self, digest: str) -> int:
        s3 = await self.client()
        try:
            head = await s3.head_object(Bucket=self.bucket, Key=self.key_of(digest))
        except Exception as exc:
            if _status(exc) == 404 or _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise BlobNotFound(digest) from None
            raise
        return int(head["ContentLength"])

    async def _get(self, name: str, byte_range: str | None = None) -> Any:
        s3 = await self.client()
        kwargs = {"Range": byte_range} if byte_range else {}
        try:
            return await s3.get_object(Bucket=self.bucket, Key=self.prefix + name, **kwargs)
        except Exception as exc:
            if _status(exc) == 404 or _error_code(exc) in ("NoSuchKey", "404"):
                raise BlobNotFound(name) from None
            raise

    async def open_range(
        self, digest: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        check_digest(digest)
        start, end = normalise_range(await self.size(digest), start, end)
        if start == end:
            return
        response = await self._get(digest, f"bytes={start}-{end - 1}")
        body = response["Body"]
        try:
            while chunk := await body.read(CHUNK_SIZE):
                yield chunk
        finally:
            body.close()

    async def iter_digests(self) -> AsyncIterator[str]:
        s3 = await self.client()
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix):]

    async def hash_blob(self, name: str) -> tuple[str, int]:
        check_digest(name)
        response = await self._get(name)
        body = response["Body"]
        hasher = hashlib.sha256()
        size = 0
        try:
            while chunk := await body.read(CHUNK_SIZE):
                hasher.update(chunk)
                size += len(chunk)
        finally:
            body.close()
        return hasher.hexdigest(), size

