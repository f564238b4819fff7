"""The audit chain: every change recorded in its transaction; tampering found and named."""
from __future__ import annotations

import subprocess
import sys

from sqlalchemy import delete, func, select, update

from core import audit
from core.orm import AuditHead, AuditRecord


async def _verify(suite):
    async with suite.services.db.unit_of_work(write=False) as session:
        return await audit.verify(session)


async def _records(suite) -> int:
    async with suite.services.db.unit_of_work(write=False) as session:
        return (await session.execute(select(func.count()).select_from(AuditRecord))).scalar_one()


async def test_changes_are_chained_and_verify(suite):
    admin = await suite.login("admin")
    offices, _ = await suite.ids()
    before = await _records(suite)
    await admin.json("POST", "/api/offices", {"code": "CU-NEW", "name_zh": "新信用社", "kind": "credit_union",
                                               "parent_id": offices["SB-CG"]}, expect=201)
    assert await _records(suite) == before + 1
    brk, count = await _verify(suite)
    assert brk is None and count == before + 1
    latest = await admin.json("GET", "/api/audit?limit=1")
    record = latest["items"][0]
    assert (record["action"], record["actor"], record["role"], record["object_type"], record["outcome"]) == \
        ("office.create", "admin", "admin", "office", "ok")


async def test_refused_change_writes_no_success_record(suite):
    admin = await suite.login("admin")
    offices, _ = await suite.ids()
    before = await _records(suite)
    await admin.json("POST", "/api/offices", {"code": "HO", "name_zh": "重复", "kind": "credit_union",
                                               "parent_id": offices["HO"]}, expect=409)
    assert await _records(suite) == before


async def _tamper(suite, statement):
    async with suite.services.db.unit_of_work() as session:
        await session.execute(statement)


async def test_altered_record_is_named(suite):
    await _tamper(suite, update(AuditRecord).where(AuditRecord.seq == 7).values(actor="mallory"))
    brk, _ = await _verify(suite)
    assert (brk.seq, brk.kind) == (7, "altered")


async def test_deleted_record_is_named(suite):
    await _tamper(suite, delete(AuditRecord).where(AuditRecord.seq == 5))
    brk, _ = await _verify(suite)
    assert (brk.seq, brk.kind) == (5, "deleted")


async def test_deleted_tail_is_found_by_the_head(suite):
    last = (await _records(suite))
    await _tamper(suite, delete(AuditRecord).where(AuditRecord.seq == last))
    brk, _ = await _verify(suite)
    assert (brk.seq, brk.kind) == (last, "deleted")


async def test_inserted_record_is_named(suite):
    """A forged record slipped in after record 3, with everything after it renumbered."""
    async with suite.services.db.unit_of_work() as session:
        rows = (await session.execute(select(AuditRecord).order_by(AuditRecord.seq.desc()))).scalars().all()
        for row in rows:  # make room at 4, from the end so the key stays unique
            if row.seq >= 4:
                row.seq += 1
                await session.flush()
        third = (await session.execute(select(AuditRecord).where(AuditRecord.seq == 3))).scalar_one()
        fields = dict(seq=4, at=third.at, actor_id=None, actor="mallory", role="admin", office_id=None,
                      action="user.create", object_type="user", object_id="999",
                      payload_hash=audit.payload_digest({}), outcome="ok", prev_hash=third.hash)
        session.add(AuditRecord(**fields, hash=audit.link_hash(fields)))
        await session.execute(update(AuditHead).values(seq=AuditHead.seq + 1))
    brk, _ = await _verify(suite)
    assert (brk.seq, brk.kind) == (4, "inserted")


async def test_cli_verify_exit_code(suite, tmp_path):
    env_url = suite.services.db.url
    run = lambda: subprocess.run([sys.executable, "-m", "core.cli", "audit", "verify", "--data", str(tmp_path)],
                                 capture_output=True, text=True, env={"LOANCTL_DATABASE_URL": env_url, "PATH": ""})
    ok = run()
    assert ok.returncode == 0, ok.stderr
    assert "audit chain holds" in ok.stdout
    await _tamper(suite, update(AuditRecord).where(AuditRecord.seq == 2).values(outcome="denied"))
    broken = run()
    assert broken.returncode == 1
    assert "record 2 (altered)" in broken.stderr
