"""Anchoring the audit chain outside the database (issue 13, item 16): a rewound tail or a
wiped table passes the chain check alone, but not `loanctl audit verify --expect-head`."""
from __future__ import annotations

import asyncio
import json

from sqlalchemy import delete, select

from recordings.anchors import LATEST, Anchor
from recordings.api import ARCHIVE
from core.cli import main
from core.orm import AuditHead, AuditRecord


async def loanctl(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def make_history(suite, n: int = 3) -> None:
    for _ in range(n):
        await suite.login("chairman")  # each sign-in is an audit record


async def rewind(suite, keep: int) -> None:
    """What someone with write access to the database does: drop the newest records and move
    the head row back, so the shorter chain is consistent."""
    async with suite.services.db.unit_of_work() as session:
        await session.execute(delete(AuditRecord).where(AuditRecord.seq > keep))
        last = (await session.execute(select(AuditRecord).where(AuditRecord.seq == keep))).scalar_one()
        head = await session.get(AuditHead, 1)
        head.seq, head.hash = last.seq, last.hash


async def test_an_anchor_in_the_store_catches_a_rewound_tail_and_a_wiped_table(
        suite, database_url, monkeypatch, capfd, tmp_path):
    await make_history(suite)
    data = str(suite.services.config.data_dir)
    monkeypatch.setenv("LOANCTL_DATABASE_URL", database_url)
    for name in ("LOANCTL_ARCHIVE", "LOANCTL_ARCHIVE_STORE"):
        monkeypatch.delenv(name, raising=False)

    assert await loanctl("audit", "anchor", "--data", data) == 0
    out = capfd.readouterr().out
    assert out.startswith("anchored record ")
    anchored_seq = int(out.split()[2])
    store = suite.server.app[ARCHIVE].store
    document = json.loads(await store.get_named(LATEST))
    assert document["anchor"]["seq"] == anchored_seq and document["signature"]["algorithm"]
    assert await store.get_named(Anchor.history_name(anchored_seq)) is not None
    assert await loanctl("audit", "anchor", "--data", data) == 0  # head unchanged: nothing new
    assert "anchored already" in capfd.readouterr().out

    await make_history(suite, 2)  # the chain goes on past the anchor
    assert await loanctl("audit", "verify", "--data", data, "--expect-head", "store") == 0
    assert f"holds anchored record {anchored_seq}" in capfd.readouterr().out
    copy = tmp_path / "anchor.json"  # the operator's copy, kept off the server
    copy.write_bytes(await store.get_named(LATEST))

    await rewind(suite, anchored_seq - 2)
    assert await loanctl("audit", "verify", "--data", data) == 0  # the chain alone cannot see it
    capfd.readouterr()
    for expected in ("store", str(copy), f"{anchored_seq}:{document['anchor']['hash']}"):
        assert await loanctl("audit", "verify", "--data", data, "--expect-head", expected) == 1
        err = capfd.readouterr().err
        assert "BROKEN" in err and "(rewound)" in err and f"record {anchored_seq}" in err

    # A forged anchor (signature no longer holds) is refused, not trusted.
    forged = json.loads(copy.read_text())
    forged["anchor"]["seq"] = 1
    copy.write_text(json.dumps(forged))
    assert await loanctl("audit", "verify", "--data", data, "--expect-head", str(copy)) == 2
    assert "signature" in capfd.readouterr().err

    # The table wiped with its head row: an empty chain "holds", but not against the anchor.
    async with suite.services.db.unit_of_work() as session:
        await session.execute(delete(AuditRecord))
        await session.execute(delete(AuditHead))
    assert await loanctl("audit", "verify", "--data", data) == 0
    assert await loanctl("audit", "verify", "--data", data, "--expect-head", "store") == 1
    assert "(rewound)" in capfd.readouterr().err


async def test_a_rewritten_anchored_record_breaks_the_check(suite, database_url, monkeypatch, capfd):
    await make_history(suite)
    data = str(suite.services.config.data_dir)
    monkeypatch.setenv("LOANCTL_DATABASE_URL", database_url)
    async with suite.services.db.unit_of_work(write=False) as session:
        head = await session.get(AuditHead, 1)
        seq = head.seq
    # An anchor naming another hash for that record: the chain since was rewritten.
    assert await loanctl("audit", "verify", "--data", data, "--expect-head", f"{seq}:{'ab' * 32}") == 1
    assert "(anchor)" in capfd.readouterr().err


async def test_the_service_anchors_periodically(tmp_path, database_url):
    from tests.suite import start_suite, suite_config

    suite = await start_suite(suite_config(tmp_path, database_url, audit_anchor_interval=0.05))
    try:
        await suite.login("chairman")
        store = suite.server.app[ARCHIVE].store
        async with suite.services.db.unit_of_work(write=False) as session:
            head = await session.get(AuditHead, 1)
            expected = (head.seq, head.hash)
        # Wait for the event (the anchor of this head appearing), bounded.
        for _ in range(400):
            data = await store.get_named(LATEST)
            if data and (json.loads(data)["anchor"]["seq"], json.loads(data)["anchor"]["hash"]) == expected:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("no anchor of the current head was written")
    finally:
        await suite.close()
