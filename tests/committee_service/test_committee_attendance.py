"""Attendance and quorum as rules, on SQLite and PostgreSQL: the room writes every seat taken,
left and retaken on the meeting's record (audited); deliberation waits for the meeting's time
and a quorum of the panel in the room (the rule tables' quorum, default every seat); only
members in the room for the presentation vote; refusals are 409 with the catalogue's words;
the minutes filed in the archive list attendance with times."""
from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import select, update

from committee.tables import Attendance, Meeting
from core.orm import AuditRecord
from core.rules.rulebook import RuleBook, RuleTableError
from recordings.tables import ArchiveEntry
from tests.suite import start_suite, suite_config
from web.i18n import message

from .meeting import convene

DEFAULT_RULES = Path(__file__).parents[2] / "core" / "rules" / "default.toml"


def rules_with_quorum(tmp_path: Path, quorum: str) -> Path:
    text = DEFAULT_RULES.read_text(encoding="utf-8").replace('quorum = "1"', f'quorum = "{quorum}"')
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
async def any_db_suite(tmp_path, database_url, request):
    overrides = getattr(request, "param", {}) or {}
    if "quorum" in overrides:
        overrides = {"rules_path": rules_with_quorum(tmp_path, overrides["quorum"])}
    running = await start_suite(suite_config(tmp_path, database_url, step_up="off", **overrides))
    yield running
    await running.close()


async def refusal(meeting, phase: str, code: str, language: str = "zh") -> dict:
    convener = await meeting.as_("convener")
    reply = await convener.request("POST", f"/api/committee/meetings/{meeting.id}/phase", {"phase": phase},
                                   headers={"Accept-Language": language})
    body = await reply.json()
    assert reply.status == 409 and body["error"] == code, (reply.status, body)
    return body


def test_quorum_in_the_rule_tables(tmp_path):
    book = RuleBook.load(DEFAULT_RULES)
    rule = book.at(dt.date.today()).small_committee
    assert rule.quorum == 1 and rule.quorum_seats() == rule.size  # default: every seat
    custom = RuleBook.load(rules_with_quorum(tmp_path, "3/5")).at(dt.date.today()).small_committee
    assert custom.quorum == Fraction(3, 5) and custom.quorum_seats() == 3
    for bad in ("0", "6/5", "half"):
        with pytest.raises(RuleTableError, match="quorum"):
            RuleBook.load(rules_with_quorum(tmp_path, bad))


async def test_attendance_recorded_and_quorum_before_deliberation(any_db_suite):
    suite = any_db_suite
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    meeting = await convene(suite, meeting_at=soon)
    members = meeting.members()
    assert len(members) == meeting.view["panel_size"]
    try:
        await meeting.phase("open")
        await meeting.seat("convener", "officer.e.a", *members)

        # before the meeting's time: refused, whoever is there, in the caller's language
        body = await refusal(meeting, "deliberation", "before_scheduled_time", "en")
        assert body["message"] == message("before_scheduled_time", "en", at=body["details"]["at"])
        body = await refusal(meeting, "deliberation", "before_scheduled_time", "zh")
        assert body["message"].startswith("会议时间")
        async with suite.services.db.unit_of_work() as session:  # the meeting's time comes
            await session.execute(update(Meeting).where(Meeting.id == meeting.id).values(
                scheduled_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))

        # a member drops out: no quorum (default: every seat), the absent named
        await meeting.unseat(members[0])
        await meeting.wait_present(members[0], present=False)
        body = await refusal(meeting, "deliberation", "no_quorum")
        details = body["details"]
        assert details["needed"] == len(members) and details["present"] == len(members) - 1
        assert details["absent_members"] == [meeting.users[members[0]]]
        absent_name = next(p["name"] for p in meeting.view["participants"] if p["user_id"] == meeting.users[members[0]])
        assert absent_name in body["message"] and "法定人数" in body["message"]
        assert (await meeting.get())["phase"] == "open"  # nothing changed

        # back in the room (a reconnect): deliberation starts
        await meeting.seat(members[0])
        view = await meeting.phase("deliberation")
        assert view["quorum"] == {"ratio": "1", "needed": len(members), "present": len(members)}
    finally:
        await meeting.leave_all()

    # the record: join, leave, reconnect of that member, with times and phases, audited
    await meeting.wait_present(members[0], present=False)
    view = await meeting.get()
    mine = [(a["event"], a["phase"]) for a in view["attendance"] if a["user_id"] == meeting.users[members[0]]]
    assert mine[:3] == [("join", "open"), ("leave", "open"), ("reconnect", "open")]
    assert mine[3] == ("leave", "deliberation")
    times = [a["at"] for a in view["attendance"]]
    assert times == sorted(times)
    async with suite.services.db.unit_of_work(write=False) as session:
        rows = (await session.execute(select(Attendance).where(Attendance.meeting_id == meeting.id))).scalars().all()
        audited = (await session.execute(select(AuditRecord).where(
            AuditRecord.action == "committee.attendance", AuditRecord.object_id == meeting.code))).scalars().all()
    assert len(rows) == len(audited) == len(view["attendance"])
    page = await (await meeting.as_("convener")).request("GET", f"/committee/meetings/{meeting.id}")
    html = await page.text()
    assert 'data-testid="attendance"' in html and "重新进入" in html and "出席汇报答询" in html
    officer = [a["event"] for a in view["attendance"] if a["user_id"] == meeting.users["officer.e.a"]]
    assert officer == ["join", "leave"]  # cut off at deliberation: recorded as leaving


@pytest.mark.parametrize("any_db_suite", [{"quorum": "3/5"}], indirect=True)
async def test_quorum_from_rules_only_present_members_vote_minutes_filed(any_db_suite):
    suite = any_db_suite
    meeting = await convene(suite)
    members = meeting.members()
    assert len(members) == 5
    early, late, never = members[:3], members[3], members[4]
    try:
        await meeting.phase("open")
        await meeting.seat("convener", *early[:2])
        body = await refusal(meeting, "deliberation", "no_quorum")
        assert body["details"]["needed"] == 3
        await meeting.seat(early[2])
        await meeting.phase("deliberation")  # 3 of 5 seats: the rule tables' quorum
        await meeting.seat(late)  # arrives after the presentation
        view = await meeting.phase("voting")
        attended = {meeting.names[p["user_id"]] for p in view["participants"] if p["attended_presentation"]}
        assert attended == {"convener", *early}

        # missed the presentation: no vote, whether late or never there
        for name in (late, never):
            refused = await meeting.vote(name, expect=409)
            assert refused["error"] == "not_present_for_presentation"
            assert refused["message"] == message("not_present_for_presentation", "zh")
        for name in early[:2]:
            await meeting.vote(name, "approve")
        result = await meeting.vote(early[2], "approve")
        # everyone who may vote has voted: tallied; the two who could not count as not in favour
        assert result["phase"] == "tallied" and result["votes_for"] == 3 and result["votes_against"] == 2
        await meeting.phase("closed")
    finally:
        await meeting.leave_all()

    # the minutes are in the archive: attendance with times, who attended the presentation
    async with suite.services.db.unit_of_work(write=False) as session:
        entry = (await session.execute(select(ArchiveEntry).where(
            ArchiveEntry.meeting_id == meeting.code, ArchiveEntry.kind == "committee_minutes"))).scalar_one()
    archive_client = await meeting.as_("convener")
    credit_file = await archive_client.json("GET", f"/api/archive/loans/{meeting.loan_id}")
    listed = next(e for e in credit_file["entries"] if e["kind"] == "committee_minutes")
    reply = await archive_client.request("GET", listed["url"])
    assert reply.status == 200
    minutes = json.loads(await reply.read())
    assert minutes["meeting_id"] == meeting.code and entry.digest == listed["digest"]
    assert minutes["opened_at"] < minutes["deliberation_at"] < minutes["closed_at"]
    by_name = {meeting.names[p["user_id"]]: p for p in minutes["participants"]}
    assert by_name[early[0]]["attended_presentation"] and not by_name[late]["attended_presentation"]
    assert by_name[late]["in_room"] and by_name[late]["in_room"][0][0] > minutes["deliberation_at"]
    assert by_name[never]["in_room"] == []
    joins = [(meeting.names[a["user_id"]], a["event"], a["phase"]) for a in minutes["attendance"]]
    assert (late, "join", "deliberation") in joins and all(a["at"] for a in minutes["attendance"])
    page = await archive_client.request("GET", f"/archive/loans/{meeting.loan_id}")
    assert "贷审会纪要" in await page.text()
