"""Archive storage throughput: upload and download MB/s, and time to verify N files.

    python bench/archive.py                   # local and S3 (moto server), 10,000 files
    python bench/archive.py --backends local --files 2000 --mib 64

The S3 backend runs against moto's standalone server started here on localhost,
so its figures measure our client plus moto, not a production object store.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recordings.blobstore import BlobStore  # noqa: E402
from recordings.localstore import LocalBlobStore  # noqa: E402

CHUNK = 1024 * 1024


def start_moto() -> tuple[subprocess.Popen, str]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench-secret")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
            return proc, endpoint
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto server did not start")
            time.sleep(0.1)


async def chunks_of(data: bytes):
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]


async def throughput(store: BlobStore, mib: int, blobs: int) -> tuple[float, float]:
    payloads = [os.urandom(mib * CHUNK // blobs) for _ in range(blobs)]
    total = sum(len(p) for p in payloads)
    started = time.perf_counter()
    digests = [(await store.put_stream(chunks_of(p))).digest for p in payloads]
    upload = total / (time.perf_counter() - started) / CHUNK
    started = time.perf_counter()
    read = 0
    for digest in digests:
        async for chunk in store.open_range(digest):
            read += len(chunk)
    download = read / (time.perf_counter() - started) / CHUNK
    assert read == total
    return upload, download


async def verify_time(store: BlobStore, files: int, size: int) -> tuple[float, float]:
    gate = asyncio.Semaphore(16)

    async def put(i: int) -> None:
        async with gate:
            await store.put_bytes(i.to_bytes(8, "big") + os.urandom(size - 8))

    started = time.perf_counter()
    await asyncio.gather(*(put(i) for i in range(files)))
    fill = time.perf_counter() - started
    started = time.perf_counter()
    report = await store.verify()
    elapsed = time.perf_counter() - started
    assert report.intact and report.checked >= files, report
    return fill, elapsed


async def bench_backend(name: str, store: BlobStore, args: argparse.Namespace) -> None:
    try:
        up, down = await throughput(store, args.mib, args.blobs)
        print(f"{name:5s} upload   {up:8.1f} MB/s   ({args.mib} MiB in {args.blobs} blobs)")
        print(f"{name:5s} download {down:8.1f} MB/s")
        fill, elapsed = await verify_time(store, args.files, args.file_size)
        print(f"{name:5s} verify   {args.files} files of {args.file_size} B: {elapsed:.2f} s "
              f"({args.files / elapsed:,.0f} files/s; filling took {fill:.1f} s)")
    finally:
        await store.close()


async def main(args: argparse.Namespace) -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="archive-bench-", dir=args.dir) as tmp:
        if "local" in args.backends:
            await bench_backend("local", LocalBlobStore(Path(tmp) / "store"), args)
        if "s3" in args.backends:
            from recordings.s3store import S3BlobStore

            proc, endpoint = start_moto()
            try:
                store = S3BlobStore(f"bench-{uuid.uuid4().hex[:12]}", endpoint_url=endpoint, spool_dir=tmp)
                await store.ensure_bucket()
                await bench_backend("s3", store, args)
            finally:
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="local,s3", type=lambda v: v.split(","))
    parser.add_argument("--mib", type=int, default=128, help="MiB uploaded and downloaded per backend")
    parser.add_argument("--blobs", type=int, default=4, help="number of blobs the MiB are split into")
    parser.add_argument("--files", type=int, default=10_000, help="files to verify")
    parser.add_argument("--file-size", type=int, default=4096, help="bytes per verified file")
    parser.add_argument("--dir", default=None, help="where the local store lives (default: system temp)")
    asyncio.run(main(parser.parse_args()))
