"""Damage a store behind its back, the way a disk fault or an intruder would."""

from __future__ import annotations

import os

from recordings.blobstore import BlobStore
from recordings.localstore import LocalBlobStore
from recordings.s3store import S3BlobStore


async def overwrite_raw(store: BlobStore, name: str, data: bytes) -> None:
    if isinstance(store, LocalBlobStore):
        path = store.blobs / name[:2] / name
        path.parent.mkdir(exist_ok=True)
        if path.exists():
            os.chmod(path, 0o644)
        path.write_bytes(data)
    elif isinstance(store, S3BlobStore):
        s3 = await store.client()
        await s3.put_object(Bucket=store.bucket, Key=store.prefix + name, Body=data)
    else:
        raise TypeError(type(store))


async def remove_raw(store: BlobStore, name: str) -> None:
    if isinstance(store, LocalBlobStore):
        (store.blobs / name[:2] / name).unlink()
    elif isinstance(store, S3BlobStore):
        s3 = await store.client()
        await s3.delete_object(Bucket=store.bucket, Key=store.prefix + name)
    else:
        raise TypeError(type(store))


async def count_objects(store: BlobStore) -> int:
    return len([n async for n in store.iter_digests()])
