"""Workflow benchmark: commands per second and the p95 latency of the work-queue and
loan-list queries with many loans in the database, on SQLite and PostgreSQL.

    .venv/bin/python bench/workflow.py [--loans 100000] [--commands 300] [--db sqlite,postgres]

Figures are also given as ratios to a baseline run in the same process: fetching one loan by
its primary key. PostgreSQL is reached through LOANCTL_TEST_POSTGRES_URL (a fresh database is
created and dropped).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select  # noqa: E402

from core import demo, loanflow  # noqa: E402
from core.config import Config  # noqa: E402
from core.context import Services  # noqa: E402
from core.identity import Principal  # noqa: E402
from core.orm import Customer, Loan, LoanDocument, LoanEvent, Office, User  # noqa: E402
from core.services import loans as loan_queries  # noqa: E402

STAGES = ["submitted", "main_review", "dispatch", "investigation", "investigation_check", "review", "committee",
          "committee_meeting", "approval_notice", "signing", "payment_first_review", "payment_second_review",
          "compliance_review", "disbursement", "active", "closed", "rejected"]
PROFILES = ["officer.e.a", "intake.head", "reviewer", "manager.cg", "chairman"]


def progress(done: int, total: int, label: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    print(f"\r  {label:<24} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr)
    if done >= total:
        print(file=sys.stderr)


async def fill(services: Services, count: int, main_review: int) -> None:
    """Bulk-load `count` loans spread over stages and offices, with a few events each."""
    async with services.db.unit_of_work() as session:
        offices = dict((await session.execute(select(Office.code, Office.id))).all())
        users = dict((await session.execute(select(User.username, User.id))).all())
    version = services.workflow.current.version
    rng = random.Random(7)
    officer_pairs = [("officer.e.a", "officer.e.b", "SC-E"), ("officer.w.a", "officer.w.b", "SC-W"),
                     ("officer.cg", "officer.cg.b", "CU-CG"), ("officer.hk", "officer.hk.b", "CU-HK")]
    now = dt.datetime.now(dt.timezone.utc)
    batch = 5000
    for start in range(0, count, batch):
        customers, loans, events = [], [], []
        for n in range(start, min(count, start + batch)):
            customers.append({"id": n + 1, "name": f"客户{n}", "id_number": f"B{n:017d}", "phone": "13800000000",
                              "office_id": offices["CU-CG" if n % 2 else "CU-HK"], "created_at": now})
            stage = "main_review" if n < main_review else rng.choice(STAGES)
            a, b, office = rng.choice(officer_pairs)
            dispatched = STAGES.index(stage) >= STAGES.index("investigation")
            created = now - dt.timedelta(days=rng.randint(0, 700))
            loans.append({"id": n + 1, "tracking_code": f"B{n:011d}", "customer_id": n + 1, "product": "personal_business",
                          "amount_fen": rng.randint(1, 500) * 1_000_000, "term_months": 24, "purpose": "经营",
                          "channel": "web", "region": "", "stage": stage,
                          "office_id": offices[office] if dispatched else offices["IC"],
                          "officer_a_id": users[a] if dispatched else None,
                          "officer_b_id": users[b] if dispatched else None,
                          "workflow_version": version, "version": 1, "created_at": created, "updated_at": created,
                          "stage_entered_at": created, "sender_id": users["intake.head"], "stage_acted": False,
                          "assignments": "{}", "flags": "[]", "closed_reason": ""})
            for k in range(5):
                events.append({"loan_id": n + 1, "action": "preliminary_pass", "kind": "approve", "from_stage": "submitted",
                               "to_stage": "main_review", "maker_id": users["intake.head"], "maker_role": "intake_head",
                               "payload": "{}", "reason": "", "at": created + dt.timedelta(hours=k),
                               "definition_version": version})
        async with services.db.unit_of_work() as session:
            await session.execute(insert(Customer), customers)
            await session.execute(insert(Loan), loans)
            await session.execute(insert(LoanEvent), events)
            if start < main_review:
                await session.execute(insert(LoanDocument), [
                    {"loan_id": l["id"], "code": code, "page": 1, "digest": "0" * 64, "size": 0,
                     "media_type": "application/pdf", "filed_at": now}
                    for l in loans if l["stage"] == "main_review" for code in ("APP-FORM", "ID-CARD")])
        progress(min(count, start + batch), count, "loading loans")
    if not services.db.is_sqlite:
        async with services.db.engine.begin() as connection:
            await connection.exec_driver_sql("SELECT setval('customers_id_seq', (SELECT max(id) FROM customers))")
            await connection.exec_driver_sql("SELECT setval('loans_id_seq', (SELECT max(id) FROM loans))")
            await connection.exec_driver_sql("ANALYZE")


async def principal(services: Services, username: str) -> Principal:
    async with services.db.unit_of_work(write=False) as session:
        user = (await session.execute(select(User).where(User.username == username))).scalar_one()
        path = (await session.execute(select(Office.path).where(Office.id == user.office_id))).scalar_one()
    return Principal(user.id, user.username, user.display_name, user.office_id, path, user.role_codes)


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def timed(make, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        await make()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def measure(services: Services, commands: int, repeat: int) -> dict:
    results: dict = {"queries": {}}
    baseline_ids = list(range(1, 1001, 5))

    async def by_key():
        async with services.db.unit_of_work(write=False) as session:
            await session.get(Loan, random.choice(baseline_ids))
    base = await timed(by_key, 200)
    results["baseline_ms"] = statistics.median(base)
    for name in PROFILES:
        who = await principal(services, name)
        scope = services.scope(who)
        for kind in ("queue", "list"):
            async def query():
                async with services.db.unit_of_work(write=False) as session:
                    await loan_queries.list_loans(session, scope, queue=kind == "queue", limit=50)
            samples = await timed(query, repeat)
            results["queries"][f"{name}:{kind}"] = {"p50": statistics.median(samples), "p95": p(samples, 0.95)}
        progress(PROFILES.index(name) + 1, len(PROFILES), "timing queries")
    intake = await principal(services, "intake.head")
    caller, scope = loanflow.Caller.of(intake), services.scope(intake)
    start = time.perf_counter()
    for n in range(commands):
        async with services.db.unit_of_work() as session:
            await loanflow.execute(session, services.workflow, scope, caller, n + 1, "main_review_pass",
                                   {"opinion": "符合", "risk_level": "low"})
        if n % 25 == 24:
            progress(n + 1, commands, "running commands")
    elapsed = time.perf_counter() - start
    results["commands_per_second"] = commands / elapsed
    results["command_ms"] = elapsed / commands * 1000
    return results


async def run(db: str, loans: int, commands: int, repeat: int) -> dict:
    from tests.conftest import _create_postgres_database, _drop_postgres_database  # the tests' helper

    folder = Path(tempfile.mkdtemp(prefix="bench-workflow-"))
    name = None
    if db == "postgres":
        url, name = await _create_postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
    config = Config(data_dir=folder, database_url=url, argon2_memory_kib=1024, argon2_time_cost=1).with_secrets()
    services = Services.build(config)
    try:
        await services.start()
        async with services.db.unit_of_work() as session:
            await demo.load(session, services.hashing, "bench-password-1")
        print(f"{db}: {loans} loans", file=sys.stderr)
        await fill(services, loans, main_review=commands)
        return await measure(services, commands, repeat)
    finally:
        await services.db.close()
        if name:
            await _drop_postgres_database(name)


def table(results: dict[str, dict], loans: int) -> str:
    lines = [f"Loans in the database: {loans:,} (5 command records each). Baseline: one loan by primary key, "
             "median, same process.", "",
             "| query | " + " | ".join(f"{db} p50 ms | {db} p95 ms | {db} p95 / baseline" for db in results) + " |",
             "|---|" + "---|---|---|" * len(results)]
    keys = next(iter(results.values()))["queries"].keys()
    for key in keys:
        cells = []
        for db, r in results.items():
            q = r["queries"][key]
            cells += [f"{q['p50']:.1f}", f"{q['p95']:.1f}", f"{q['p95'] / r['baseline_ms']:.1f}×"]
        lines.append(f"| {key.replace(':', ' ')} | " + " | ".join(cells) + " |")
    lines.append("| baseline: loan by key | " + " | ".join(f"{r['baseline_ms']:.2f} | — | 1×" for r in results.values()) + " |")
    lines.append("")
    lines.append("| commands | " + " | ".join(f"{db}" for db in results) + " |")
    lines.append("|---|" + "---|" * len(results))
    lines.append("| main_review_pass per second (one unit of work each) | " +
                 " | ".join(f"{r['commands_per_second']:.0f}" for r in results.values()) + " |")
    lines.append("| ms per command / baseline | " +
                 " | ".join(f"{r['command_ms']:.1f} ms / {r['command_ms'] / r['baseline_ms']:.0f}×" for r in results.values()) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args()
    results = {db: asyncio.run(run(db, args.loans, args.commands, args.repeat)) for db in args.db.split(",")}
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "workflow.json").write_text(json.dumps(results, indent=2))
    print(table(results, args.loans))


if __name__ == "__main__":
    main()
