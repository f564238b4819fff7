"""Core nodes benchmark: workflow commands (and work-queue reads) per second over HTTP with 1 and 2
`loanctl serve core` nodes on the same PostgreSQL database, as a ratio (the baseline is the 1-node run, measured in
the same process, alternating with the 2-node runs so that both see the same machine load).
With --committee: committee rooms (default 2 rooms of 9) on 1 and on 2 `loanctl serve committee` nodes on
PostgreSQL + Redis (below).

    .venv/bin/python bench/multinode.py [--commands 200] [--rounds 3] [--clients 8]
    .venv/bin/python bench/multinode.py --committee [--rooms 2] [--size 9] [--seconds 10]

Each command is `main_review_pass` by the intake head through POST /api/loans/{id}/commands:
session lookup, CSRF check, the command's unit of work (loan row lock, audit record, duties,
outbox rows); step-up off (measured under biometrics). Each read is the intake head's work
queue, GET /api/queue (session lookup and one page of the scoped queue). `--clients` requests are in flight at
once; with 2 nodes they alternate between the nodes, as behind a round-robin load balancer.
PostgreSQL is reached through LOANCTL_TEST_POSTGRES_URL (a fresh database, dropped after).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.context import Services  # noqa: E402
from tests.multinode.nodes import Rotating, cluster_config, prepare_database, start_nodes  # noqa: E402
from tests.suite import DEMO_PASSWORD  # noqa: E402


def _workflow_bench():
    """bench/workflow.py, by path (bench/ is no package, and its file names are package names)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_workflow", Path(__file__).with_name("workflow.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

WARM_UP = 30  # commands per node before measuring


async def signed_in(bases: list[str]) -> tuple[Rotating, str]:
    client = Rotating(bases)
    async with client.request("POST", "/api/session", json={"username": "intake.head", "password": DEMO_PASSWORD}) as r:
        assert r.status == 200, await r.text()
        return client, (await r.json())["csrf_token"]


COMMAND = {"action": "main_review_pass", "payload": {"opinion": "符合", "risk_level": "low"}}


def commands_on(loan_ids: list[int]) -> list[tuple[str, str, dict | None]]:
    return [("POST", f"/api/loans/{loan_id}/commands", COMMAND) for loan_id in loan_ids]


def queue_reads(count: int) -> list[tuple[str, str, dict | None]]:
    return [("GET", "/api/queue", None)] * count


async def run_round(bases: list[str], jobs: list[tuple[str, str, dict | None]], clients: int) -> float:
    """Requests per second for `jobs`, `clients` at once, spread over `bases`."""
    sessions = [await signed_in(bases) for _ in range(clients)]
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker(client: Rotating, csrf: str) -> None:
        while not queue.empty():
            method, path, body = queue.get_nowait()
            async with client.request(method, path, json=body, headers={"X-CSRF-Token": csrf}) as response:
                if response.status != 200:
                    raise SystemExit(f"{method} {path} failed: {response.status} {await response.text()}")
                await response.read()
    try:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client, csrf) for client, csrf in sessions))
        return len(jobs) / (time.perf_counter() - start)
    finally:
        for client, _ in sessions:
            await client.close()


async def run(commands: int, rounds: int, clients: int) -> dict:
    from tests.conftest import _create_postgres_database, _drop_postgres_database  # the tests' helper

    folder = Path(tempfile.mkdtemp(prefix="bench-multinode-"))
    url, name = await _create_postgres_database()
    config = cluster_config(folder, url, step_up="off")
    nodes = []
    try:
        await prepare_database(config)
        services = Services.build(config)
        try:
            # bench/workflow.py's bulk load: loans at main_review with their documents filed.
            total = commands * rounds * 2 + WARM_UP * 2
            await _workflow_bench().fill(services, total, main_review=total)
        finally:
            await services.db.close()
        # No background rounds: the nodes spend their time on the commands measured.
        nodes = await asyncio.to_thread(start_nodes, config, folder, 2, LOANCTL_SCHEDULER_INTERVAL="0")
        bases = [node.base for node in nodes]
        results: dict[int, list[float]] = {1: [], 2: []}
        reads: dict[int, list[float]] = {1: [], 2: []}
        next_id = 1
        for base in bases:  # unmeasured: each node's first requests (pool, compiled statements)
            await run_round([base], commands_on(list(range(next_id, next_id + WARM_UP))), clients)
            next_id += WARM_UP
        loads = []
        for n in range(rounds):
            for count in (1, 2):
                ids = list(range(next_id, next_id + commands))
                next_id += commands
                results[count].append(await run_round(bases[:count], commands_on(ids), clients))
                reads[count].append(await run_round(bases[:count], queue_reads(commands), clients))
                loads.append(os.getloadavg()[0])
                print(f"  round {n + 1}: {count} node(s) {results[count][-1]:.0f} commands/s, "
                      f"{reads[count][-1]:.0f} queue reads/s", file=sys.stderr)
        return {"results": results, "reads": reads, "loads": loads}
    finally:
        for node in nodes:
            node.stop()
        await _drop_postgres_database(name)


def table(measured: dict, commands: int, clients: int) -> str:
    lines = [f"{commands} commands and {commands} work-queue reads per round, {clients} requests in flight, "
             f"{len(measured['results'][1])} rounds each, median; load average during the runs "
             f"{min(measured['loads']):.1f}–{max(measured['loads']):.1f}.", "",
             "| core nodes | requests | per second (median) | each round | ratio to 1 node |", "|---|---|---|---|---|"]
    for label, results in (("commands (main_review_pass)", measured["results"]),
                           ("work-queue reads (GET /api/queue)", measured["reads"])):
        one = statistics.median(results[1])
        for count, samples in results.items():
            median = statistics.median(samples)
            lines.append(f"| {count} | {label} | {median:.0f} | {', '.join(f'{s:.0f}' for s in samples)} | "
                         f"{median / one:.2f}× |")
    return "\n".join(lines)


# -- committee nodes ---------------------------------------------------------------------------
# Each room is a convened meeting (core's API in this process issues the join tokens); its
# participants are aiortc peers in this process sending pre-encoded 640x480 VP8 at 15 fps and Opus
# (bench/committee.py's looped clips, so this process encodes nothing) and receiving without
# decoding. With 1 node every participant connects to it; with 2, room k's participants connect
# to node k % 2 first, so the first joiner's node takes the room's lease (its media node) and the
# rooms spread over the nodes. Measured over the window: each node's CPU (core-seconds per
# second), video frames delivered per subscription per second (15 is all), and UDP datagrams the
# kernel dropped machine-wide (not 0: the machine was starved, not the nodes).


def _committee_bench():
    import importlib.util

    if "bench_committee" in sys.modules:
        return sys.modules["bench_committee"]
    spec = importlib.util.spec_from_file_location("bench_committee", Path(__file__).with_name("committee.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def committee_rooms(config, nodes, bases: list[str], rooms: int, size: int, seconds: float, clips) -> dict:
    from tests.committee_service.meeting import convene
    from tests.multinode.committee_nodes import RoamingParticipant
    from tests.suite import start_suite
    from core.app import create_app as create_core_app

    bench = _committee_bench()
    go = asyncio.Event()
    suite = await start_suite(config, load_demo=False, app=create_core_app(config))
    suite._codes = iter(range(10_000 * (len(bases) + rooms * 10), 10**6))  # customers of their own
    people: list[RoamingParticipant] = []
    try:
        for room in range(rooms):
            meeting = await convene(suite)
            await meeting.phase("open")
            names = [meeting.names[p["user_id"]] for p in meeting.view["participants"] if p["active"]][:size]
            for i, name in enumerate(names):
                async def token(meeting=meeting, name=name) -> str:
                    return (await meeting.join_token(name))["token"]

                def media():
                    return (bench.LoopedClipTrack("video", clips[0], bench.FPS, go),
                            bench.LoopedClipTrack("audio", clips[1], 50, go))
                person = RoamingParticipant(str(meeting.users[name]), token, bases, first=bases[room % len(bases)],
                                            seed=i, media=media)
                people.append(person)
                await person.join()
        actual = len(people) // rooms

        def subscribed() -> bool:
            return all(len(p.session.peer.receptions) == actual - 1 and all(
                r.connection.connectionState == "connected" for r in p.session.peer.receptions.values())
                for p in people)
        deadline = time.monotonic() + 300
        while not subscribed():
            if time.monotonic() > deadline:
                raise SystemExit("the rooms' connections did not all come up")
            await asyncio.sleep(0.1)
        go.set()
        await asyncio.sleep(3)  # warm-up: key frames and the first bursts, not measured

        def delivered() -> list[int]:
            return [r.packets["video"] for p in people for r in p.session.peer.receptions.values()]
        before, cpu_before = delivered(), [_cpu_seconds(n.process.pid) for n in nodes]
        drops_before, load_before, started = bench.udp_receive_buffer_errors(), os.getloadavg()[0], time.monotonic()
        await asyncio.sleep(seconds)  # the measurement window
        elapsed = time.monotonic() - started
        after, cpu_after = delivered(), [_cpu_seconds(n.process.pid) for n in nodes]
        rates = sorted((b - a) / elapsed for a, b in zip(before, after))
        return {"nodes": len(bases), "rooms": rooms, "size": actual, "subscriptions": len(rates),
                "media_nodes": len({p.session.node for p in people}),
                "fps_median": statistics.median(rates), "fps_min": rates[0],
                "cores": [(b - a) / elapsed for a, b in zip(cpu_before, cpu_after)],
                "udp_drops": bench.udp_receive_buffer_errors() - drops_before,
                "load": (load_before + os.getloadavg()[0]) / 2}
    finally:
        for person in people:
            await person.close()
        await suite.close()


async def run_committee(rooms: int, size: int, seconds: float) -> list[dict]:
    from tests.conftest import _create_postgres_database, _drop_postgres_database
    from tests.multinode.committee_nodes import start_committee_node
    from tests.multinode.redis_server import start_redis

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "committee"))
    from committee_loopback import use_loopback_host_candidates

    use_loopback_host_candidates()  # every peer on 127.0.0.1 (as the committee tests)
    bench = _committee_bench()
    clips = (bench.encode_video_clip(), bench.encode_audio_clip())
    folder = Path(tempfile.mkdtemp(prefix="bench-committee-"))
    redis_server = start_redis(folder)
    url, name = await _create_postgres_database()
    config = cluster_config(folder, url, step_up="off")
    results = []
    try:
        await prepare_database(config)
        for count in (1, 2):
            nodes = [start_committee_node(f"{count}{n}", config, folder, redis_server.url, lease_seconds=6)
                     for n in range(count)]
            try:
                for node in nodes:
                    await asyncio.to_thread(node.wait_healthy)
                results.append(await committee_rooms(config, nodes, [n.base for n in nodes], rooms, size,
                                                     seconds, clips))
                print(f"  {count} node(s): {results[-1]}", file=sys.stderr)
            finally:
                for node in nodes:
                    node.stop()
    finally:
        redis_server.stop()
        await _drop_postgres_database(name)
    return results


def committee_table(results: list[dict], seconds: float) -> str:
    lines = [f"{results[0]['rooms']} rooms of {results[0]['size']}, 640x480 VP8 15 fps + Opus per participant, "
             f"{seconds:.0f} s window after a 3 s warm-up.", "",
             "| committee nodes | nodes holding rooms | subscriptions | video fps delivered per subscription "
             "(median / lowest) | each node's CPU (cores) | UDP drops | load average |", "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['nodes']} | {r['media_nodes']} | {r['subscriptions']} | {r['fps_median']:.1f} / {r['fps_min']:.1f} | "
                     f"{', '.join(f'{c:.2f}' for c in r['cores'])} | {r['udp_drops']} | {r['load']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--committee", action="store_true", help="committee rooms on 1 and 2 committee nodes")
    parser.add_argument("--rooms", type=int, default=2, help="committee rooms at once (--committee)")
    parser.add_argument("--size", type=int, default=9, help="participants per room (--committee)")
    parser.add_argument("--seconds", type=float, default=10, help="measurement window (--committee)")
    parser.add_argument("--commands", type=int, default=200, help="commands per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds with 1 and with 2 nodes, alternating")
    parser.add_argument("--clients", type=int, default=8, help="requests in flight at once")
    args = parser.parse_args()
    if args.committee:
        print(committee_table(asyncio.run(run_committee(args.rooms, args.size, args.seconds)), args.seconds))
        return
    measured = asyncio.run(run(args.commands, args.rounds, args.clients))
    print(table(measured, args.commands, args.clients))


if __name__ == "__main__":
    main()
