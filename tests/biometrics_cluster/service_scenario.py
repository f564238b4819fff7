"""The fingerprint service's 1:N search on the cluster: runs inside the cluster's network
namespace, drives BiometricService with its index made from settings naming the cluster
(LOANCTL_RAY_ADDRESS, LOANCTL_IDENTIFY_SHARDS=2) and the same database searched with in-process
shards, and prints what it saw as one JSON object for the test to judge.

    python -m tests.biometrics_cluster.service_scenario ADDRESS FOLDER
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from biometrics.engine import MatchingPool
from biometrics.identifybench import enroll_moved_copies
from biometrics.identifyindex import IdentifyIndex
from biometrics.keyring import Keyring
from biometrics.service import BiometricService, CaptureInput, IdentifyUnavailable, Settings, Subject
from biometrics.tables import Capture
from core.config import Config
from core.db import Database
from tests.fingerprint_data import fvc_path
from tests.waiting import PATIENCE

FINGERS = range(101, 111)
DISTRACTORS = 4000  # enough that a search lasts long enough to be caught under way
THRESHOLD = 0.01  # nearly every print a candidate: rankings are compared in full


def capture(name: str) -> CaptureInput:
    return CaptureInput(fvc_path(name).read_bytes())


def ranking(found: dict) -> list:
    return [[c["capture_id"], c["score"], c["subject"]] for c in found["candidates"]]


async def add_distractors(service: BiometricService) -> int:
    """Enrolled rows of rotated and shifted copies of the enrolled prints, under customers of
    their own (the database stays the truth: the index takes them from there)."""
    from sqlalchemy import select

    async with service.db.unit_of_work(write=False) as session:
        rows = list((await session.execute(select(Capture).where(Capture.enrolled).order_by(Capture.id))).scalars())
        templates = await service.templates_of(session, rows)
    await enroll_moved_copies(service, [templates[row.id] for row in rows], DISTRACTORS, first_subject=1000,
                              seed=16, tag=b"distractor")
    return DISTRACTORS


async def wait_for(condition, what: str):
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(condition)
        if value:
            return value
        await asyncio.sleep(0.005)
    raise TimeoutError(f"waited {PATIENCE:g} s for {what}")


async def identify_caught(service: BiometricService, name: str, shard: int | None = None):
    """An identify as a task, returned once a shard of the gallery (the given one, or any) is
    seen searching; an identify that ends before it is seen is started again."""
    gallery = service.index.gallery("customer", service.settings.version)
    for _ in range(50):
        task = asyncio.create_task(service.identify(capture(name)))

        def seen() -> bool | str:
            if any(i["searching"] for i in gallery.info() if shard is None or i["shard"] == shard):
                return True
            return "done" if task.done() else False

        if await wait_for(seen, "a shard to be searching") is True:
            return task
        await asyncio.gather(task, return_exceptions=True)
    raise TimeoutError("no search was seen under way in 50 tries")


async def main(address: str, folder: str) -> dict:
    import ray

    data = Path(folder)
    data.mkdir(parents=True, exist_ok=True)
    config = Config.from_env({"LOANCTL_DATA": str(data), "LOANCTL_RAY_ADDRESS": address,
                              "LOANCTL_IDENTIFY_SHARDS": "2"})
    db = Database(f"sqlite+aiosqlite:///{data / 'bio.sqlite3'}")
    await db.migrate()
    keyring = Keyring.load("", data)
    pool = MatchingPool(workers=1)
    pool.start()
    settings = Settings(threshold=THRESHOLD)
    cluster = BiometricService(db, keyring, pool, settings, IdentifyIndex.from_config(config, keyring.current))
    local = BiometricService(db, keyring, pool, settings,
                             IdentifyIndex(data / "local-identify", keyring.current, shards=2))
    report: dict = {"ray_address": cluster.index.ray_address, "shards": cluster.index.shards}
    try:
        for impression in (1, 2, 3):
            for number, finger in enumerate(FINGERS, start=1):
                await cluster.enroll(Subject("customer", number), 1, capture(f"{finger}_{impression}"),
                                     requested_by="scenario")
        report["distractors"] = await add_distractors(cluster)

        # 1. The same rankings as the in-process shards of the same database.
        probes = ["101_5", "104_6", "108_7"]
        report["cluster"] = [ranking(await cluster.identify(capture(p))) for p in probes]
        report["local"] = [ranking(await local.identify(capture(p))) for p in probes]
        gallery = cluster.index.gallery("customer", settings.version)
        infos = gallery.info()
        report["shard_nodes"] = sorted({i["node"] for i in infos})
        report["cluster_nodes"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        report["store"] = str(gallery.store.folder.relative_to(data))
        report["versions"] = gallery.versions

        # 2. An enrollment, with its duplicate search, while an identify runs.
        before = ranking(await local.identify(capture("102_8")))
        searching = await identify_caught(cluster, "102_8")
        enrolled = await cluster.enroll(Subject("customer", 900), 3, capture("102_7"), requested_by="scenario",
                                        search_duplicates=True)
        during = ranking(await searching)
        after = ranking(await cluster.identify(capture("102_8")))
        report["enroll"] = {"before": before, "during": during, "after": after,
                            "after_local": ranking(await local.identify(capture("102_8"))),
                            "newcomer": enrolled["capture_id"],
                            "duplicate_mate": any(d["subject"] == "customer:2" and d["score"] >= 40
                                                  for d in enrolled["duplicates"]),
                            "duplicate_self": any(d["subject"] == "customer:900" for d in enrolled["duplicates"])}

        # 3. A shard's actor killed between searches, then one killed while it searches: each
        # next answer complete (Ray restarts the actor, which reloads its shard from the store).
        expected = ranking(await local.identify(capture("105_7")))
        victim = gallery.info()[1]
        os.kill(victim["pid"], signal.SIGKILL)
        between = ranking(await cluster.identify(capture("105_7")))
        restarted = gallery.info()[1]
        expected_mid = ranking(await local.identify(capture("106_8")))
        victim_mid = gallery.info()[0]
        task = await identify_caught(cluster, "106_8", shard=0)
        os.kill(victim_mid["pid"], signal.SIGKILL)
        try:
            mid, error = ranking(await task), None
        except IdentifyUnavailable as refused:
            mid, error = None, refused.message
        report["kill"] = {"expected": expected, "between": between, "new_pid": restarted["pid"] != victim["pid"],
                          "restarted_version": restarted["version"], "versions": gallery.versions,
                          "expected_mid": expected_mid, "mid": mid, "mid_error": error,
                          "mid_new_pid": gallery.info()[0]["pid"] != victim_mid["pid"]}
        # No key or template in what the service logs or shows of its index.
        report["reprs"] = [repr(cluster.index), repr(gallery)]
    finally:
        await cluster.close()
        await local.close()
        await pool.close()
        await db.close()
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
