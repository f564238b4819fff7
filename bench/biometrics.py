"""Fingerprint service benchmark: verify latency through the HTTP API, and 1:N identification
throughput over galleries of synthetic templates, with the memory they take.

    .venv/bin/python bench/biometrics.py [--verifies 120] [--galleries 1000,10000,100000] [--probes 5]

Verify: the service runs alone, as `loanctl serve biometrics` in a process of its own (as a bank
runs it; the clients are this process), on a real socket with a fresh SQLite database; ten
FVC 2002 DB1-B fingers are enrolled (two impressions each) and each request is a fresh capture
of impressions 3-8 (new bytes, so no replay), sent with a service token; the latency covers
decoding, extraction, decryption, matching and the writes. `--in-process` runs the service in
this process instead (server and clients then share one event loop). The template mode is
LOANCTL_FINGERPRINT_MODE (default exact), passed on to the service; `--modes exact,accurate`
measures each mode in turn in one run and gives the latency ratios to the first.

1:N: galleries are made from the 80 real FVC templates by rotating (uniform angle) and
shifting (up to ±60 px) their minutiae and dropping those that leave the image, so every
template is distinct but has real structure. Probes are real impressions. Throughput is
candidates scored per second in one process (one core); memory is the resident-set growth
while the gallery is built and its arrays' size.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web  # noqa: E402

from biometrics.app import create_app  # noqa: E402
from biometrics.client import HttpClient  # noqa: E402
from biometrics.engine import analyse  # noqa: E402
from biometrics.service import CaptureInput, Subject  # noqa: E402
from biometrics.identifybench import moved  # noqa: E402
from biometrics.sourceafis.compact import CompactGallery  # noqa: E402
from biometrics.sourceafis.matcher import Matcher  # noqa: E402
from biometrics.sourceafis.template import Template  # noqa: E402
from core.config import Config  # noqa: E402

# The FVC2002 DB1_B prints the repository keeps for its tests (tests/data/fingerprints/README.md).
PRINTS = Path(__file__).resolve().parents[1] / "tests" / "data" / "fingerprints" / "fvc2002-db1b"
FINGERS = [str(n) for n in range(101, 111)]


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def fresh_png(path: Path, tag: int) -> bytes:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("capture", str(tag))
    out = io.BytesIO()
    Image.open(path).save(out, "PNG", pnginfo=info, compress_level=1)
    return out.getvalue()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def serve_apart(config: Config) -> tuple[int, subprocess.Popen]:
    """`loanctl serve biometrics` on the benchmark's data folder, in a process of its own; returns
    once it answers HTTP (or raises with the server's output if it exits first)."""
    import aiohttp

    port = free_port()
    env = {**os.environ, "LOANCTL_DATABASE_URL": config.database_url,
           "LOANCTL_FINGERPRINT_MODE": config.fingerprint_mode}
    with open(config.data_dir / "server.log", "wb") as log:  # the server keeps its own descriptor
        server = subprocess.Popen([sys.executable, "-m", "core.cli", "serve", "biometrics", "--data",
                                   str(config.data_dir), "--port", str(port), "--no-demo"], stdout=log,
                                  stderr=subprocess.STDOUT, env=env, cwd=Path(__file__).resolve().parents[1])
    async with aiohttp.ClientSession() as session:
        while server.poll() is None:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz"):
                    return port, server  # any answer (401 without a token): it listens
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)  # a process start, not a test: polled until it listens
    raise RuntimeError(f"the fingerprint service exited ({server.returncode}): "
                       f"{(config.data_dir / 'server.log').read_text(errors='replace')[-2000:]}")


async def bench_verify(count: int, concurrency: int = 8, per_client: int = 12, profile: bool = False,
                       in_process: bool = False, mode: str = "exact") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(data_dir=Path(tmp), database_url=f"sqlite+aiosqlite:///{tmp}/bio.sqlite3",
                        fingerprint_mode=mode).with_secrets()
        if in_process:
            runner = web.AppRunner(create_app(config), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port, server = site._server.sockets[0].getsockname()[1], None
        else:
            runner, (port, server) = None, await serve_apart(config)
        client = HttpClient(f"http://127.0.0.1:{port}", config.secret_key, subject="bench")
        try:
            for n, finger in enumerate(FINGERS, start=1):
                for impression in (1, 2):
                    await client.enroll(Subject("customer", n), 2, CaptureInput(
                        (PRINTS / f"{finger}_{impression}.png").read_bytes()), requested_by="bench")
            captures = [(n % len(FINGERS) + 1, fresh_png(PRINTS / f"{FINGERS[n % len(FINGERS)]}_{3 + n % 6}.png", n))
                        for n in range(count + 5)]
            for subject, image in captures[:5]:  # warm the pool's workers
                await client.verify(Subject("customer", subject), CaptureInput(image), requested_by="bench",
                                    purpose="verification")
            profiler = None
            if profile and in_process:
                from pyinstrument import Profiler

                profiler = Profiler(async_mode="enabled")
                profiler.start()
            latencies, extraction, matched = [], [], 0
            for subject, image in captures[5:count + 5]:
                # Extraction alone (decode + extract, in this process), interleaved with the
                # requests so both see the same machine load.
                start = time.perf_counter()
                analyse(image, 500.0, mode)
                extraction.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                result = await client.verify(Subject("customer", subject), CaptureInput(image), requested_by="bench",
                                             purpose="verification")
                latencies.append((time.perf_counter() - start) * 1000)
                matched += result["matched"]
            if profiler is not None:
                profiler.stop()
                print(profiler.output_text(unicode=False, color=False, show_all=False), file=sys.stderr)
            rates = {}
            for clients in (1, concurrency):
                # Fresh captures (not seen before) split among the clients, all sent at once.
                batch = [(n % len(FINGERS) + 1, fresh_png(PRINTS / f"{FINGERS[n % len(FINGERS)]}_{3 + n % 6}.png",
                                                          10_000 * clients + n)) for n in range(per_client * clients)]

                async def one_client(work):
                    for subject, image in work:
                        await client.verify(Subject("customer", subject), CaptureInput(image), requested_by="bench",
                                            purpose="verification")

                start = time.perf_counter()
                await asyncio.gather(*(one_client(batch[c::clients]) for c in range(clients)))
                rates[clients] = len(batch) / (time.perf_counter() - start)
        finally:
            if runner is not None:
                await runner.cleanup()
            if server is not None:
                server.terminate()
                server.wait(timeout=60)
    return {"mode": mode, "requests": count, "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "mean_ms": statistics.fmean(latencies), "genuine_matched": matched,
            "extraction_p50_ms": percentile(extraction, 50), "extraction_p95_ms": percentile(extraction, 95),
            "p95_over_extraction_p95": percentile(latencies, 95) / percentile(extraction, 95),
            "p50_over_extraction_p50": percentile(latencies, 50) / percentile(extraction, 50),
            "per_second_1_client": rates[1], f"per_second_{concurrency}_clients": rates[concurrency],
            "concurrency": concurrency, "concurrency_ratio": rates[concurrency] / rates[1], "cores": os.cpu_count()}


def real_templates() -> dict[str, Template]:
    return {path.stem: Template.from_cbor(analyse(path.read_bytes(), 500.0).template)
            for path in sorted(PRINTS.glob("*.png"))}


def bench_identify(sizes: list[int], probes: int) -> list[dict]:
    rng = random.Random(2026)
    real = real_templates()
    bases = list(real.values())
    probe_names = [f"{f}_8" for f in FINGERS][:probes]
    rows = []
    for size in sizes:
        templates = [moved(bases[i % len(bases)], rng) for i in range(size)]
        before = rss_bytes()
        start = time.perf_counter()
        gallery = CompactGallery.from_templates(templates)
        build_s = time.perf_counter() - start
        grown = rss_bytes() - before
        array_bytes = gallery.nbytes
        del templates
        Matcher(real[probe_names[0]]).match_compact(gallery, 0, min(size, 50))  # compiled before timing
        start = time.perf_counter()
        best = []
        for name in probe_names:
            scores = Matcher(real[name]).match_compact(gallery)
            best.append(float(scores.max()))
        elapsed = time.perf_counter() - start
        rows.append({"gallery": size, "probes": len(probe_names), "seconds_per_probe": elapsed / len(probe_names),
                     "candidates_per_second": size * len(probe_names) / elapsed, "build_s": build_s,
                     "rss_growth_mb": grown / 2**20, "arrays_mb": array_bytes / 2**20,
                     "bytes_per_template": array_bytes / size, "best_score": max(best)})
        del gallery
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verifies", type=int, default=120)
    parser.add_argument("--galleries", default="1000,10000,100000", help="gallery sizes ('' for none)")
    parser.add_argument("--probes", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for the throughput figure")
    parser.add_argument("--profile", action="store_true",
                        help="profile the server side of the requests (pyinstrument; with --in-process)")
    parser.add_argument("--modes", default=os.environ.get("LOANCTL_FINGERPRINT_MODE", "exact"),
                        help="template modes to measure in turn, e.g. exact,accurate (default: LOANCTL_FINGERPRINT_MODE or exact)")
    parser.add_argument("--in-process", action="store_true",
                        help="run the service in this process (it shares the event loop with the clients)")
    args = parser.parse_args()
    if not PRINTS.is_dir():
        print(f"the FVC prints are missing: {PRINTS}", file=sys.stderr)
        return 2
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    load_before = os.getloadavg()[0]
    results = [asyncio.run(bench_verify(args.verifies, args.clients, profile=args.profile, in_process=args.in_process,
                                        mode=mode)) for mode in modes]
    for verify in results:
        report_verify(verify, args.in_process)
    if len(results) > 1:
        base = results[0]
        for verify in results[1:]:
            print(f"{verify['mode']} / {base['mode']}: p50 {verify['p50_ms'] / base['p50_ms']:.2f}x, "
                  f"p95 {verify['p95_ms'] / base['p95_ms']:.2f}x (service verify); extraction alone in this process "
                  f"p50 {verify['extraction_p50_ms'] / base['extraction_p50_ms']:.2f}x; load average "
                  f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    if not args.galleries:
        return 0
    print("gallery  probes  s/probe  candidates/s  build s  RSS growth MB  arrays MB  bytes/template")
    for row in bench_identify([int(s) for s in args.galleries.split(",") if s], args.probes):
        print(f"{row['gallery']:>7}  {row['probes']:>6}  {row['seconds_per_probe']:>7.3f}  "
              f"{row['candidates_per_second']:>12,.0f}  {row['build_s']:>7.1f}  {row['rss_growth_mb']:>13.1f}  "
              f"{row['arrays_mb']:>9.1f}  {row['bytes_per_template']:>14,.0f}")
    return 0


def report_verify(verify: dict, in_process: bool) -> None:
    where = "in this process" if in_process else "in a process of its own"
    print(f"[{verify['mode']} mode] verify over HTTP, the service {where} ({verify['requests']} requests, one at a time): p50 {verify['p50_ms']:.1f} ms, "
          f"p95 {verify['p95_ms']:.1f} ms, mean {verify['mean_ms']:.1f} ms; "
          f"{verify['genuine_matched']}/{verify['requests']} genuine captures matched")
    print(f"extraction alone (decode + extract, same captures, same run): p50 {verify['extraction_p50_ms']:.1f} ms, "
          f"p95 {verify['extraction_p95_ms']:.1f} ms; verify / extraction: p50 {verify['p50_over_extraction_p50']:.2f}x, "
          f"p95 {verify['p95_over_extraction_p95']:.2f}x")
    print(f"verifications per second: 1 client {verify['per_second_1_client']:.1f}, {verify['concurrency']} clients "
          f"{verify['per_second_%d_clients' % verify['concurrency']]:.1f} ({verify['concurrency_ratio']:.2f}x; "
          f"{verify['cores']} cores, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    sys.exit(main())
