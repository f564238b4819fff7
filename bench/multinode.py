"""Core nodes benchmark: workflow commands (and work-queue reads) per second over HTTP with 1 and 2
`loanctl serve core` nodes on the same PostgreSQL database, as a ratio (the baseline is the 1-node run, measured in
the same process, alternating with the 2-node runs so that both see the same machine load).

    .venv/bin/python bench/multinode.py [--commands 200] [--rounds 3] [--clients 8]

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200, help="commands per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds with 1 and with 2 nodes, alternating")
    parser.add_argument("--clients", type=int, default=8, help="requests in flight at once")
    args = parser.parse_args()
    measured = asyncio.run(run(args.commands, args.rounds, args.clients))
    print(table(measured, args.commands, args.clients))


if __name__ == "__main__":
    main()
