"""Convening draws the panel from the frozen pool with logged exclusions, tells the members by
SMS, replaces an absent member by a logged re-draw; `loanctl committee verify-draw` re-derives
the panel and catches a tampered record."""
from __future__ import annotations

import asyncio
import json

from sqlalchemy import select, update

from committee.tables import Meeting as MeetingRow
from core.cli import main as loanctl
from core.orm import AuditRecord, Loan, OutboxMessage

from .meeting import CONFLICTED, convene


async def test_convene_draws_a_verifiable_panel(suite, monkeypatch, capsys):
    meeting = await convene(suite)
    view = meeting.view
    users = meeting.users
    rule = suite.services.workflow.rules.at(__import__("datetime").date.today()).committee_for(
        "personal_consumer", 10_000_000)
    assert view["kind"] == rule.kind and view["panel_size"] == rule.size
    draw = view["draw"]
    assert len(draw["panel"]) == rule.size and view["draw_verified"] is True
    # the whole pool: the twelve demo members, frozen in canonical order after the commitment
    assert sorted(draw["pool"]) == draw["pool"] and len(draw["pool"]) == 12
    assert draw["committed_at"] <= draw["frozen_at"] and draw["seed_commitment"] == view["seed_commitment"]
    excluded = {e["member_id"] if isinstance(e, dict) else e[0]: e for e in draw["exclusions"]}
    assert str(users[CONFLICTED]) in excluded and "review" in json.dumps(excluded[str(users[CONFLICTED])])
    assert str(users[CONFLICTED]) not in draw["panel"]
    roles = {meeting.names[p["user_id"]]: p["role"] for p in view["participants"]}
    assert roles["convener"] == "convener" and roles["officer.e.a"] == roles["officer.e.b"] == "officer"
    async with suite.services.db.unit_of_work(write=False) as session:
        loan = await session.get(Loan, meeting.loan_id)
        assert loan.stage == "committee_meeting"
        sms = (await session.execute(select(OutboxMessage).where(
            OutboxMessage.template == "committee_member_drawn"))).scalars().all()
        assert sorted(m.recipient_user_id for m in sms) == sorted(int(m) for m in draw["panel"])
        assert all(meeting.code in m.text for m in sms)
        actions = [a for (a,) in await session.execute(select(AuditRecord.action).where(
            AuditRecord.object_id == meeting.code))]
        assert actions[:2] == ["committee.seed_committed", "committee.drawn"]

    # an absent member is replaced by the first reserve, logged, and the draw still verifies
    absent = int(draw["panel"][0])
    convener = await meeting.as_("convener")
    after = await convener.json("POST", f"/api/committee/meetings/{meeting.id}/absent",
                                {"member_id": absent, "reason": "出差"})
    replacement = after["draw"]["replacements"][0]
    assert replacement["absent"] == str(absent) and replacement["replacement"] == draw["reserves"][0]
    active = {p["user_id"] for p in after["participants"] if p["role"] == "member" and p["active"]}
    assert absent not in active and int(draw["reserves"][0]) in active and len(active) == rule.size
    # only the convener replaces members
    member = await meeting.as_(meeting.members()[0])
    await member.json("POST", f"/api/committee/meetings/{meeting.id}/absent",
                      {"member_id": int(draw["panel"][1]), "reason": "x"}, expect=403)

    monkeypatch.setenv("LOANCTL_DATABASE_URL", suite.services.config.database_url)
    data = ["--data", str(suite.services.config.data_dir)]
    capsys.readouterr()
    assert await asyncio.to_thread(loanctl, ["committee", "verify-draw", meeting.code, *data]) == 0
    out = capsys.readouterr().out
    assert "matches" in out and f"replaced {absent}" in out

    # tamper: put the excluded reviewer on the panel instead of the first drawn member
    tampered = dict(after["draw"])
    tampered["panel"] = [str(users[CONFLICTED])] + list(tampered["panel"][1:])
    async with suite.services.db.unit_of_work() as session:
        await session.execute(update(MeetingRow).where(MeetingRow.id == meeting.id).values(
            draw_record=json.dumps(tampered)))
    assert await asyncio.to_thread(loanctl, ["committee", "verify-draw", meeting.code, *data]) == 1
    err = capsys.readouterr().err
    assert "does NOT match" in err and "panel" in err
    assert await asyncio.to_thread(loanctl, ["committee", "verify-draw", "CM999-1", *data]) == 2


async def test_only_the_convener_convenes_and_only_at_the_committee_stage(suite):
    early = await suite.add_loan(office="SC-E", stage="review", officer_a="officer.e.a", officer_b="officer.e.b")
    ready = await suite.add_loan(office="SC-E", stage="committee", officer_a="officer.e.a", officer_b="officer.e.b")
    convener, reviewer = await suite.login("convener"), await suite.login("reviewer")
    when = "2030-01-01T09:00:00+08:00"
    # a loan still at review is not the convener's to call (outside their work: not found)
    await convener.json("POST", "/api/committee/meetings", {"loan_id": early, "meeting_at": when}, expect=404)
    denied = await reviewer.request("POST", "/api/committee/meetings", {"loan_id": ready, "meeting_at": when})
    assert denied.status in (403, 404)
    await convener.json("POST", "/api/committee/meetings", {"loan_id": ready, "meeting_at": "2030-01-01T09:00"},
                        expect=422)
    async with suite.services.db.unit_of_work(write=False) as session:
        assert (await session.execute(select(MeetingRow))).first() is None
        assert (await session.get(Loan, ready)).stage == "committee"


async def test_meeting_called_by_the_workflow_command_is_drawn_afterwards(suite):
    """The convener may call the meeting with the loan page's generic command; the panel is then
    drawn from the committee page (the hook after core's convene_committee)."""
    loan_id = await suite.add_loan(office="SC-E", stage="committee", officer_a="officer.e.a", officer_b="officer.e.b")
    convener = await suite.login("convener")
    await convener.json("POST", f"/api/loans/{loan_id}/commands", {"action": "convene_committee", "payload": {
        "meeting_id": f"M-{loan_id}", "meeting_at": "2030-01-02T09:30:00+08:00", "committee_kind": "small"}})
    listing = await convener.json("GET", f"/api/committee/loans/{loan_id}/meetings")
    assert listing["items"] == [] and listing["awaiting_draw"]["meeting_id"] == f"M-{loan_id}"
    reviewer = await suite.login("reviewer")
    denied = await reviewer.request("POST", f"/api/committee/loans/{loan_id}/draw")
    assert denied.status in (403, 404)
    drawn = await convener.json("POST", f"/api/committee/loans/{loan_id}/draw", expect=201)
    assert drawn["meeting_id"] == f"M-{loan_id}" and drawn["draw_verified"] and drawn["phase"] == "scheduled"
    assert drawn["scheduled_at"].startswith("2030-01-02T01:30")
    await convener.json("POST", f"/api/committee/loans/{loan_id}/draw", expect=409)
    listing = await convener.json("GET", f"/api/committee/loans/{loan_id}/meetings")
    assert listing["awaiting_draw"] is None and len(listing["items"]) == 1
