"""Fixtures: the same tests run against a local folder and a real S3-compatible server.

The S3 server is moto's standalone server (``moto[server]``), started here as a
separate process on a free port and spoken to over HTTP with SigV4, exactly as a
bank's MinIO or Ceph would be.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

from recordings.blobstore import BlobStore
from recordings.localstore import LocalBlobStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    # aiobotocore and moto[server] are the project's own (test) dependencies: an ImportError
    # here is a broken install and fails the test, it is not a reason to skip.
    import aiobotocore  # noqa: F401
    import moto.server  # noqa: F401

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "archive-test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "archive-test-secret")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("moto S3 server did not start")
            time.sleep(0.1)
    yield endpoint
    proc.terminate()
    proc.wait(timeout=10)


async def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> BlobStore:
    if kind == "local":
        return LocalBlobStore(tmp_path / "store")
    from recordings.s3store import S3BlobStore

    endpoint = request.getfixturevalue("s3_endpoint")
    # A fresh bucket per test keeps tests independent on the shared server.
    store = S3BlobStore(f"archive-{uuid.uuid4().hex[:16]}", endpoint_url=endpoint)
    await store.ensure_bucket()
    return store


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    blob_store = await make_store(request.param, tmp_path, request)
    try:
        yield blob_store
    finally:
        await blob_store.close()


@pytest.fixture
def store_kind(store: BlobStore) -> str:
    return "local" if isinstance(store, LocalBlobStore) else "s3"
