"""Dashboard query times at 100,000 loans and a million history records.

    python bench/insight.py                       # SQLite and PostgreSQL
    python bench/insight.py --backends sqlite --loans 20000

Fills a fresh database (the real schema, migrated; the demo organisation) with synthetic
loans and their command records, then times every dashboard figure through the same code the
API runs, for the chairman (whole bank) and a branch manager (one subtree). A plain
`SELECT count(*) FROM loans` is timed in the same run as the baseline for ratios.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text  # noqa: E402

from core import demo  # noqa: E402
from core.db import Database  # noqa: E402
from core.identity import Principal  # noqa: E402
from core.insight import figures  # noqa: E402
from core.insight.cache import FiguresCache  # noqa: E402
from core.orm import Office, User, UserRole  # noqa: E402
from core.passwords import PasswordHashing  # noqa: E402
from core.scope import Scope  # noqa: E402

PATH = ["submitted", "main_review", "dispatch", "investigation", "investigation_check", "review", "committee",
        "committee_meeting", "approval_notice", "signing", "payment_first_review", "payment_second_review",
        "compliance_review", "disbursement", "active", "closed"]
ACTION_INTO = {"committee_meeting": "convene_committee", "approval_notice": "committee_decision"}
PRODUCTS = ["personal_consumer", "personal_business", "working_capital", "fixed_asset", "project_finance"]
POSTGRES = os.environ.get("LOANCTL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres")


def synthesize(n_loans: int, events_per_loan: int, offices: list[int], officers: list[int], now: dt.datetime, seed=7):
    rng = random.Random(seed)
    loans, customers, events = [], [], []
    event_id = 0
    for i in range(1, n_loans + 1):
        created = now - dt.timedelta(days=rng.random() * 365)
        reach = min(len(PATH) - 1, max(0, int(rng.gauss(events_per_loan - 1, 3))))
        rejected = rng.random() < 0.08
        stage = "rejected" if rejected else PATH[reach]
        at = created
        previous = "new"
        for step in range(reach + 1):
            at = at + dt.timedelta(hours=rng.uniform(1, 72))
            to = PATH[step] if not (rejected and step == reach) else "rejected"
            event_id += 1
            events.append((event_id, i, ACTION_INTO.get(to, f"to_{to}"), "submit", previous, to, "x", "{}", at))
            previous = to
        open_stage = stage not in ("closed", "rejected", "active")
        due = at + dt.timedelta(hours=rng.uniform(-96, 48)) if open_stage else None
        customers.append((i, f"客户{i}", f"B{i:017d}"))
        loans.append((i, f"B{i:011d}", i, rng.choice(PRODUCTS), rng.randrange(1_000_000, 500_000_000), 36, stage,
                      rng.choice(offices), rng.choice(officers), created, at, due))
    return customers, loans, events


async def fill(url: str, n_loans: int, events_per_loan: int) -> Database:
    db = Database(url)
    await db.migrate()
    async with db.unit_of_work() as session:
        await demo.load(session, PasswordHashing(8 * 1024, 1, 1), "Bench-Passw0rd!2026")
    async with db.unit_of_work(write=False) as session:
        offices = list((await session.execute(select(Office.id))).scalars())
        officers = list((await session.execute(select(User.id).join(UserRole, UserRole.user_id == User.id)
                                                .where(UserRole.role == "loan_officer"))).scalars())
    now = dt.datetime.now(dt.timezone.utc)
    customers, loans, events = synthesize(n_loans, events_per_loan, offices, officers, now)
    started = time.perf_counter()
    if db.is_sqlite:
        import sqlite3
        raw = sqlite3.connect(url.split("///", 1)[1])
        naive = lambda d: d.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(" ") if d else None  # noqa: E731
        with raw:
            raw.executemany("INSERT INTO customers (id, name, id_number, phone, created_at) VALUES (?, ?, ?, '', ?)",
                            [(c[0], c[1], c[2], naive(now)) for c in customers])
            raw.executemany(
                "INSERT INTO loans (id, tracking_code, customer_id, product, amount_fen, term_months, purpose, channel, "
                "region, stage, office_id, officer_a_id, workflow_version, stage_acted, assignments, flags, closed_reason,"
                " version, created_at, updated_at, stage_entered_at, due_at) VALUES "
                "(?, ?, ?, ?, ?, ?, '', 'web', '', ?, ?, ?, '', 0, '{}', '[]', '', 1, ?, ?, ?, ?)",
                [(l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], naive(l[9]), naive(l[10]), naive(l[10]),
                  naive(l[11])) for l in loans])
            raw.executemany(
                "INSERT INTO loan_events (id, loan_id, action, kind, from_stage, to_stage, maker_role, payload, reason, "
                "at, definition_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, 'bench')",
                [e[:8] + (naive(e[8]),) for e in events])
            raw.execute("ANALYZE")
        raw.close()
    else:
        import asyncpg
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        strip = lambda d: d.astimezone(dt.timezone.utc).replace(tzinfo=None) if d else None  # noqa: E731
        await conn.copy_records_to_table("customers", records=[(c[0], c[1], c[2], "", strip(now)) for c in customers],
                                         columns=["id", "name", "id_number", "phone", "created_at"])
        await conn.copy_records_to_table("loans", records=[
            (l[0], l[1], l[2], l[3], l[4], l[5], "", "web", "", l[6], l[7], l[8], "", False, "{}", "[]", "", 1,
             strip(l[9]), strip(l[10]), strip(l[10]), strip(l[11])) for l in loans],
            columns=["id", "tracking_code", "customer_id", "product", "amount_fen", "term_months", "purpose", "channel",
                     "region", "stage", "office_id", "officer_a_id", "workflow_version", "stage_acted", "assignments",
                     "flags", "closed_reason", "version", "created_at", "updated_at", "stage_entered_at", "due_at"])
        await conn.copy_records_to_table("loan_events", records=[
            e[:6] + ("x", e[7], "", strip(e[8]), "bench") for e in events],
            columns=["id", "loan_id", "action", "kind", "from_stage", "to_stage", "maker_role", "payload", "reason",
                     "at", "definition_version"])
        await conn.execute("VACUUM ANALYZE")
        await conn.close()
    print(f"  filled {len(loans):,} loans and {len(events):,} history records in {time.perf_counter() - started:.1f} s",
          flush=True)
    return db


async def principal(db: Database, username: str) -> Principal:
    async with db.unit_of_work(write=False) as session:
        user = (await session.execute(select(User).where(User.username == username))).scalar_one()
        office = await session.get(Office, user.office_id)
    return Principal(user.id, user.username, user.display_name, office.id, office.path, user.role_codes)


async def timed(db: Database, work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        async with db.unit_of_work(write=False) as session:
            started = time.perf_counter()
            await work(session)
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def measure(db: Database, repeats: int) -> dict[str, float]:
    from core.insight import spans
    from core.workflow.definition import DEFAULT_PATH, load_definition

    definition = load_definition(DEFAULT_PATH)
    started = time.perf_counter()
    folded = await spans.refresh_all(db, definition)
    print(f"  folded {folded:,} history records into insight_stage_days in {time.perf_counter() - started:.1f} s "
          "(once; afterwards only new records)", flush=True)
    now = dt.datetime.now(dt.timezone.utc)
    period = figures.Period.last_days(365, now)
    results = {"baseline: SELECT count(*) FROM loans": await timed(
        db, lambda s: s.execute(text("SELECT count(*) FROM loans")), repeats)}
    for who in ("chairman", "manager.cg"):
        scope = Scope(await principal(db, who))
        cases = {
            "by stage, product, office, month (one pass)": lambda s: figures.loan_figures(s, scope, period),
            "open cases by stage, office, officer": lambda s: figures.open_cases(s, scope, now),
            "overdue (with open cases)": lambda s: figures.overdue(s, scope, now),
            "time in stage": lambda s: figures.stage_times(s, scope, period, definition),
            "incremental history fold (nothing new)": lambda s: spans.refresh(s, definition),
            "committee turnaround": lambda s: figures.committee_turnaround(s, scope, period),
            "officer performance": lambda s: figures.officer_performance(s, scope, period),
            "supervision (with open cases)": lambda s: figures.supervision(s, scope, now),
            "whole dashboard": lambda s: figures.dashboard(s, scope, now, 365, definition),
        }
        for name, work in cases.items():
            results[f"{who}: {name}"] = await timed(db, work, repeats)
        # what the API serves on a second read at the same data version (core/insight/cache.py):
        # the version read plus a copy of the kept figures; the first read above filled nothing
        kept = FiguresCache()

        def cached(s, scope=scope):
            return kept.get(s, scope, now, ("dashboard", 365),
                            lambda: figures.dashboard(s, scope, now, 365, definition))
        async with db.unit_of_work(write=False) as session:
            await cached(session)  # computed once
        results[f"{who}: whole dashboard, kept (same data version)"] = await timed(db, cached, repeats)
        assert kept.hits == repeats and kept.misses == 1
        # the page draws its charts (SVG) from the figures: timed on top of the whole dashboard
        from web.i18n import Catalogue
        from web.postloan_pages import dashboard_charts

        async with db.unit_of_work(write=False) as session:
            data = await figures.dashboard(session, scope, now, 365, definition)
        names = Catalogue("zh", definition)
        started = time.perf_counter()
        for _ in range(repeats):
            dashboard_charts(data, names)
        results[f"{who}: the page's charts (SVG)"] = (time.perf_counter() - started) / repeats * 1000
    return results


async def run_backend(backend: str, loans: int, events_per_loan: int, repeats: int) -> dict[str, float]:
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="bench-insight-")
        url = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
        db = await fill(url, loans, events_per_loan)
        try:
            return await measure(db, repeats)
        finally:
            await db.close()
    import asyncpg
    admin = POSTGRES.replace("postgresql+asyncpg://", "postgresql://")
    name = f"loanctl_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    db = await fill(f"{POSTGRES.rsplit('/', 1)[0]}/{name}", loans, events_per_loan)
    try:
        return await measure(db, repeats)
    finally:
        await db.close()
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--events-per-loan", type=int, default=10, help="average history records per loan")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    report = {}
    for backend in args.backends.split(","):
        print(f"{backend}:", flush=True)
        results = asyncio.run(run_backend(backend, args.loans, args.events_per_loan, args.repeats))
        base = results["baseline: SELECT count(*) FROM loans"]
        for name, ms in results.items():
            print(f"  {name:<45} {ms:9.1f} ms   x{ms / base:8.1f} baseline", flush=True)
        report[backend] = results
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
