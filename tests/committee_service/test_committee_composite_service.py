"""The composite of a closed meeting in the suite: a child process that runs out of its memory
limit or crashes is reported failed (job, room page, archive page, audit), after its retries,
while the server goes on serving."""
from __future__ import annotations

import asyncio
import html as html_module
import json
import os
import re
import signal

from sqlalchemy import select, update

from committee.app import MEDIA
from committee.compositejob import CompositeRunner
from committee.synthetic import people, write_recording
from committee.tables import Meeting
from core.orm import AuditRecord

from tests.waiting import limit
from committee_peers import wait_for  # tests/committee, on sys.path (conftest)

from .meeting import convene


async def test_composite_failures_reported_while_the_server_keeps_serving(suite, tmp_path):
    meeting = await convene(suite)
    media = suite.server.app[MEDIA]
    convener = await meeting.as_("convener")
    async with suite.services.db.unit_of_work() as session:
        await session.execute(update(Meeting).where(Meeting.id == meeting.id).values(
            phase="closed", outcome="rejected", votes_for=0, votes_against=0,
            tally='{"ballots": [], "closed_early": true, "members": [], "not_voted": []}'))

    # 1. over its memory limit, twice: failed, with the reason, after two attempts
    recording = tmp_path / "rec"
    write_recording(recording, meeting.code, people(2, 2.0))
    media.compositor = CompositeRunner(memory_mb=400, attempts=2, retry_delay=0, options={"tile": [4000, 4000]})
    job = media.compose(meeting.code, recording, meeting.loan_id)
    await asyncio.wait_for(job.finished.wait(), limit(120))
    state = await convener.json("GET", f"/committee/composites/{meeting.code}")
    assert state["state"] == "failed" and state["attempt"] == state["attempts"] == 2, state
    assert "memory limit of 400 MB" in state["message"]
    assert (await convener.request("GET", "/healthz")).status == 200
    assert (await convener.json("GET", f"/api/committee/meetings/{meeting.id}"))["phase"] == "closed"

    # the room and the archive pages follow the composite, labelled from the catalogue
    for page in (f"/committee/meetings/{meeting.id}", f"/archive/loans/{meeting.loan_id}"):
        reply = await convener.request("GET", page)
        html = await reply.text()
        assert reply.status == 200 and f'data-composite="{meeting.code}"' in html, page
        labels = json.loads(html_module.unescape(re.search(r"data-composite-labels='([^']*)'", html).group(1)))
        assert labels["failed"].startswith("合成失败")  # the failed state's label, for the script

    # 2. a crash (the child killed) with one attempt: failed, the server untouched
    media.compositor = CompositeRunner(attempts=1)
    write_recording(tmp_path / "long", meeting.code, people(3, 30.0))
    job = media.compose(meeting.code, tmp_path / "long", meeting.loan_id)
    await wait_for(lambda: job.pid is not None and job.progress > 0, 60, "the composite to be under way")
    os.kill(job.pid, signal.SIGKILL)
    await asyncio.wait_for(job.finished.wait(), limit(60))
    state = await convener.json("GET", f"/committee/composites/{meeting.code}")
    assert state["state"] == "failed" and "SIGKILL" in state["message"], state
    assert (await convener.request("GET", "/healthz")).status == 200

    async with suite.services.db.unit_of_work(write=False) as session:
        failures = (await session.execute(select(AuditRecord).where(
            AuditRecord.action == "committee.composite_failed", AuditRecord.object_id == meeting.code))).scalars().all()
    assert len(failures) == 2

    # 3. and a composite that works is filed
    media.compositor = CompositeRunner(attempts=1)
    job = media.compose(meeting.code, recording, meeting.loan_id)
    await asyncio.wait_for(job.finished.wait(), limit(120))
    assert (await convener.json("GET", f"/committee/composites/{meeting.code}"))["state"] == "done"


async def test_composite_left_unfinished_by_a_stopped_server_is_made_at_the_next_start(suite, tmp_path):
    """A server stopped mid-composite (its child killed with it) leaves the recording filed and
    no composite: the next start composes it; a composite that failed every attempt is not
    retried at each start."""
    meeting = await convene(suite)
    media = suite.server.app[MEDIA]
    async with suite.services.db.unit_of_work() as session:
        await session.execute(update(Meeting).where(Meeting.id == meeting.id).values(
            phase="closed", outcome="rejected", votes_for=0, votes_against=0,
            tally='{"ballots": [], "closed_early": true, "members": [], "not_voted": []}'))
    folder = media.recordings_dir / meeting.code / "20260101T090000"
    write_recording(folder, meeting.code, people(2, 2.0))
    (folder / ".filed").write_text("filed\n")

    assert await media.resume_composites() == [meeting.code]
    job = media.jobs[meeting.code]
    await asyncio.wait_for(job.finished.wait(), limit(120))
    assert job.state == "done" and (folder / ".composed").exists()
    assert await media.resume_composites() == []  # done once

    (folder / ".composed").unlink()
    (folder / ".composite-failed").write_text("failed\n")
    del media.jobs[meeting.code]
    assert await media.resume_composites() == []  # failed for good: the room shows why
