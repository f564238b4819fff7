"""The client side of the cluster tests: runs inside the cluster's network namespace (so Ray
reaches 127.0.0.1), drives a sharded gallery on the cluster and the same store in-process,
and prints what it saw as one JSON object for the test to judge.

    python -m tests.biometrics_cluster.scenario ADDRESS FOLDER
"""
from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time

from biometrics.identifybench import moved
from biometrics.keys import MasterKey
from biometrics.shards import IncompleteSearch, ShardedGallery, ShardStore
from biometrics.sourceafis.template import Template
from tests.fingerprint_data import GOLDEN
from tests.waiting import PATIENCE

GALLERY = 6000
FINGERS = [str(n) for n in range(101, 111)]


def templates() -> tuple[list[bytes], list[bytes]]:
    """Gallery members (impressions 1-7 of ten fingers, then rotated and shifted copies) and probes
    (impression 8 of each finger), from the SourceAFIS templates the repository keeps."""
    folder = GOLDEN / "templates"
    real = [Template.from_cbor((folder / f"{f}_{i}.tif.cbor").read_bytes()) for f in FINGERS for i in range(1, 8)]
    probes = [(folder / f"{f}_8.tif.cbor").read_bytes() for f in FINGERS]
    rng = random.Random(16)
    members = [t.to_cbor() for t in real] + [moved(real[i % len(real)], rng).to_cbor()
                                             for i in range(GALLERY - len(real))]
    return members, probes


def wait_for(condition, what: str):
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.005)
    raise TimeoutError(f"waited {PATIENCE:g} s for {what}")


def search_in_thread(gallery: ShardedGallery, probe: bytes) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = gallery.search(probe, 0.0, 10)
        except IncompleteSearch as error:
            outcome["error"] = str(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def search_caught(gallery: ShardedGallery, probe: bytes, shard: int | None = None) -> tuple[threading.Thread, dict]:
    """A search in a thread, returned once the shard (any, if None) is seen searching; a search
    that ends before it is seen is started again."""
    for _ in range(50):
        thread, outcome = search_in_thread(gallery, probe)

        def seen() -> bool | str:
            infos = gallery.info()
            if any(i["searching"] for i in infos if shard is None or i["shard"] == shard):
                return True
            return "done" if not thread.is_alive() else False

        if wait_for(seen, "a shard to be searching") is True:
            return thread, outcome
        thread.join()
    raise TimeoutError("no search was seen under way in 50 tries")


def hits(result) -> list:
    return [[member, score, shard] for member, score, shard in result.hits]


def main(address: str, folder: str) -> dict:
    import ray

    members, probes = templates()
    master = MasterKey.generate()
    report: dict = {"probes": len(probes)}
    gallery = ShardedGallery.create(folder, 2, master, ray_address=address)
    for first in range(0, len(members), 1000):
        gallery.enroll([(m, members[m]) for m in range(first, min(first + 1000, len(members)))])
    node2 = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and "node2" in n["Resources"])
    infos = gallery.info()
    report["nodes"] = sorted({i["node"] for i in infos})
    report["cluster_nodes"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
    report["versions"] = gallery.versions
    on_node2 = next(i["shard"] for i in infos if i["node"] == node2)
    other = 1 - on_node2

    # 1. The cluster's answers against the same store searched in this process.
    local = ShardedGallery(ShardStore(folder), master, ray_address="")
    report["cluster_hits"] = [hits(gallery.search(p, 0.0, 10)) for p in probes[:3]]
    report["local_hits"] = [hits(local.search(p, 0.0, 10)) for p in probes[:3]]

    # 2. An enrollment lands in one shard while a search runs.
    newcomer = (len(members) + 100, probes[3])  # the probe itself: it must come first afterwards
    before = hits(local.search(probes[3], 0.0, 10))
    thread, outcome = search_caught(gallery, probes[3], on_node2)
    target = gallery.enroll([newcomer], shard=on_node2)
    thread.join()
    after_local = ShardedGallery(ShardStore(folder), master, ray_address="")
    report["enroll"] = {
        "target": target, "on_node2": on_node2,
        "during": hits(outcome["result"]), "during_versions": outcome["result"].versions,
        "before": before, "after_local": hits(after_local.search(probes[3], 0.0, 10)),
        "next": hits(gallery.search(probes[3], 0.0, 10)),
        "versions": gallery.versions, "newcomer": newcomer[0],
        "other_pid_same": gallery.info()[other]["pid"] == infos[other]["pid"],
    }

    # 3. The node2 actor killed while it searches: the answer is complete after a retry.
    expected = hits(after_local.search(probes[4], 0.0, 10))
    pid = gallery.info()[on_node2]["pid"]
    thread, outcome = search_caught(gallery, probes[4], on_node2)
    os.kill(pid, signal.SIGKILL)
    thread.join()
    restarted = gallery.info()[on_node2]
    report["kill"] = {
        "hits": hits(outcome["result"]) if "result" in outcome else None, "error": outcome.get("error"),
        "retries": outcome["result"].retries if "result" in outcome else None, "expected": expected,
        "new_pid": restarted["pid"] != pid, "restarted_version": restarted["version"],
        "restarted_node": restarted["node"] == node2,
        "newcomer_after_restart": hits(gallery.search(probes[3], 0.0, 1)),
    }
    gallery.close()

    # 4. With no restarts allowed, the same kill is a clear error, never a partial ranking.
    fragile = ShardedGallery(ShardStore(folder), master, ray_address=address, max_restarts=0, attempts=2)
    infos = fragile.info()
    victim = next(i for i in infos if i["node"] == node2)
    thread, outcome = search_caught(fragile, probes[5], victim["shard"])
    os.kill(victim["pid"], signal.SIGKILL)
    thread.join()
    report["fragile"] = {"error": outcome.get("error"), "hits": hits(outcome["result"]) if "result" in outcome else None}
    fragile.close()
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
