"""The fingerprint service's 1:N search as the service runs it: the sharded index (in-process
shards, the embedded default) against the chunked search it replaced (compact chunks of 4,096
in the process pool), over one SQLite database of N enrolled prints (rotated and shifted copies
of the repository's FVC prints, sealed as the service seals them), in one run.

Prints one JSON object: for each road the first search (cold: decrypt every template from the
database and build; the sharded road also seals them into its store) and the mean of the next
ones (warm), their ratio, and whether every ranking was the same.

    python bench/identify_service.py --gallery 20000 --probes 5 --shards 1,2
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from biometrics import modes  # noqa: E402
from biometrics.engine import CHUNK_SIZE, MatchingPool  # noqa: E402
from biometrics.identifybench import enroll_moved_copies  # noqa: E402
from biometrics.identifyindex import IdentifyIndex  # noqa: E402
from biometrics.keyring import Keyring  # noqa: E402
from biometrics.service import BiometricService, Settings  # noqa: E402
from biometrics.tables import Capture  # noqa: E402
from core.db import Database  # noqa: E402

PRINTS = Path(__file__).resolve().parents[1] / "tests" / "data" / "fingerprints" / "fvc2002-db1b"
THRESHOLD = 10.0  # a few impostors pass too: rankings are compared beyond the mates


async def chunked(service: BiometricService, probe: bytes, cache: dict) -> list[tuple[int, float]]:
    """The replaced road: ids read, chunks decrypted and built in the pool once (then reused by
    digest, as the service cached them), the search on a pool worker."""
    version = modes.template_version(probe)
    async with service.db.unit_of_work(write=False) as session:
        ids = list((await session.execute(select(Capture.id).where(
            Capture.subject_kind == "customer", Capture.enrolled, Capture.template_version == version)
            .order_by(Capture.id))).scalars())
        if cache.get("ids") != ids:
            captures = (await session.execute(select(Capture).where(Capture.id.in_(ids)))).scalars()
            templates = await service.templates_of(session, captures)
            cache["ids"] = ids
            cache["chunks"] = [await service.pool.compact_chunk([templates[i] for i in ids[s:s + CHUNK_SIZE]])
                               for s in range(0, len(ids), CHUNK_SIZE)]
    ranked = await service.pool.identify_compact(probe, cache["chunks"], service.settings.threshold)
    return [(ids[i], round(s, 3)) for i, s in ranked]


async def sharded(service: BiometricService, probe: bytes) -> list[tuple[int, float]]:
    return [(c["capture_id"], c["score"]) for c in await service.identify_template(probe)]


async def run(size: int, probes: int, shard_counts: list[int]) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-identify-") as folder:
        data = Path(folder)
        db = Database(f"sqlite+aiosqlite:///{data / 'bio.sqlite3'}")
        await db.migrate()
        keyring = Keyring.load("", data)
        pool = MatchingPool(workers=1)
        pool.start()
        settings = Settings(threshold=THRESHOLD)
        base = BiometricService(db, keyring, pool, settings)
        try:
            real = [(await pool.analyse(path.read_bytes(), 500.0)).template
                    for path in sorted(PRINTS.glob("*_[1-7].png"))]
            probe_templates = [(await pool.analyse(path.read_bytes(), 500.0)).template
                               for path in sorted(PRINTS.glob("*_8.png"))][:probes + 1]
            start = time.perf_counter()
            await enroll_moved_copies(base, real, size, first_subject=1, seed=2026, tag=b"bench")
            result: dict = {"gallery": size, "probes": len(probe_templates), "threshold": THRESHOLD,
                            "enroll_rows_s": time.perf_counter() - start}
            await chunked(base, probe_templates[0], {})  # the pool's workers compiled before timing
            cache: dict = {}
            roads = {"chunked": lambda p: chunked(base, p, cache)}
            services = []
            for count in shard_counts:
                index = IdentifyIndex(data / f"identify-{count}", keyring.current, shards=count)
                services.append(BiometricService(db, keyring, pool, settings, index))
                roads[f"shards_{count}"] = lambda p, service=services[-1]: sharded(service, p)
            rankings: dict[str, list] = {name: [] for name in roads}
            cold: dict[str, float] = {}
            warm: dict[str, float] = {name: 0.0 for name in roads}
            for number, probe in enumerate(probe_templates):
                # Road after road on each probe, so a change in the machine's load falls on all.
                for name, search in roads.items():
                    start = time.perf_counter()
                    rankings[name].append(await search(probe))
                    elapsed = time.perf_counter() - start
                    if number == 0:
                        cold[name] = elapsed
                    else:
                        warm[name] += elapsed / (len(probe_templates) - 1)
            for service in services:
                await service.close()
            for name in roads:
                result[name] = {"cold_s": cold[name], "warm_s_per_probe": warm[name],
                                "warm_over_chunked": warm[name] / warm["chunked"],
                                "same_rankings": rankings[name] == rankings["chunked"]}
            result["same_rankings"] = all(rankings[name] == rankings["chunked"] for name in roads)
            result["candidates"] = sum(len(r) for r in rankings["chunked"])
            result["load_average"] = os.getloadavg()[0]
        finally:
            await base.close()
            await pool.close()
            await db.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gallery", type=int, default=20000)
    parser.add_argument("--probes", type=int, default=5)
    parser.add_argument("--shards", default="1,2")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.gallery, args.probes, [int(s) for s in args.shards.split(",") if s]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
