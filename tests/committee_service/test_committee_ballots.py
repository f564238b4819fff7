"""Sealed ballots: before the tally the tables hold nothing a vote can be read from; one vote
per member; after the tally only the meeting's members (and its convener) see votes and
result; the decision reaches core over HTTP and moves the loan."""
from __future__ import annotations

import json

from sqlalchemy import text

from committee import ballots
from core.orm import Loan

from .meeting import convene

OPINIONS = {"approve": "同意：经营稳定，还款来源充足", "reject": "不同意：负债偏高"}


async def raw_rows(suite, table: str) -> list[dict]:
    async with suite.services.db.unit_of_work(write=False) as session:
        result = await session.execute(text(f"SELECT * FROM {table}"))
        return [dict(row._mapping) for row in result]


async def test_sealed_ballots_vote_once_and_who_sees_the_result(suite):
    meeting = await convene(suite)
    members = meeting.members()
    await meeting.to_voting()
    # votes only by the panel, only in the voting phase
    await meeting.vote("officer.e.a", expect=403)
    await meeting.vote("convener", expect=403)
    await meeting.vote(members[0], "reject", conditions="须追加担保", expect=422)  # conditions go with approval
    choices = {name: ("reject" if i == 0 else "approve") for i, name in enumerate(members)}
    for name in members[:-1]:
        await meeting.vote(name, choices[name], opinion=OPINIONS[choices[name]],
                           conditions="按月报送流水" if choices[name] == "approve" else "")
    await meeting.vote(members[0], "approve", expect=409)  # once only

    # Before the tally: the raw tables hold no readable vote.
    sealed = await raw_rows(suite, "committee_ballots")
    assert len(sealed) == len(members) - 1
    assert len({len(row["sealed"]) for row in sealed}) == 1  # approve and reject look alike
    dump = json.dumps([sealed, await raw_rows(suite, "committee_meetings"), await raw_rows(suite, "audit_records"),
                       await raw_rows(suite, "outbox"), await raw_rows(suite, "loan_events")],
                      default=str, ensure_ascii=False)
    for word in ("approve", "reject", "同意", "负债偏高", "按月报送流水"):
        assert word not in dump, word
    row = (await raw_rows(suite, "committee_meetings"))[0]
    assert row["ballot_key"] is None and row["tally"] is None and row["votes_for"] is None
    # the salt alone (what the database holds) does not open a ballot
    guess = ballots.meeting_key(b"", meeting.code, row["ballot_salt"])
    first = sealed[0]
    try:
        ballots.open_ballot(guess, meeting.code, first["member_id"], first["sealed"], first["commitment"])
        raise AssertionError("a ballot opened without the server secret")
    except ballots.BallotError:
        pass
    view = await meeting.get(members[0])
    assert view["phase"] == "voting" and "tally" not in view and "votes_for" not in view

    # The last ballot tallies; the decision goes to core and moves the loan.
    last = await meeting.vote(members[-1], "approve", opinion=OPINIONS["approve"])
    assert last["phase"] == "tallied" and last["decision_sent"] is True, last
    assert last["votes_for"] == len(members) - 1 and last["outcome"] == "approved"
    async with suite.services.db.unit_of_work(write=False) as session:
        assert (await session.get(Loan, meeting.loan_id)).stage == "approval_notice"
    opened = {b["member"]: b for b in last["tally"]["ballots"]}
    assert {meeting.names[m]: b["choice"] for m, b in opened.items()} == choices
    assert opened[meeting.users[members[0]]]["opinion"] == OPINIONS["reject"]
    # after the tally the key is released: anyone with the database can check each ballot
    row = (await raw_rows(suite, "committee_meetings"))[0]
    for ballot in await raw_rows(suite, "committee_ballots"):
        vote = ballots.open_ballot(bytes.fromhex(row["ballot_key"]), meeting.code, ballot["member_id"],
                                   ballot["sealed"], ballot["commitment"])
        assert vote.choice == choices[meeting.names[ballot["member_id"]]]
    events = await raw_rows(suite, "loan_events")
    decision = [e for e in events if e["action"] == "committee_decision"]
    assert len(decision) == 1 and json.loads(decision[0]["payload"])["meeting_id"] == meeting.code

    # who sees what: members and the convener the votes; the officers and others only the stage
    for name in (members[1], "convener"):
        seen = await meeting.get(name)
        assert seen["outcome"] == "approved" and len(seen["tally"]["ballots"]) == len(members)
    for name in ("officer.e.a", "officer.e.b"):
        seen = await meeting.get(name)
        assert "outcome" not in seen and "tally" not in seen and "votes_for" not in seen
        assert seen["loan_stage"] == "approval_notice"
    outsider = await meeting.suite.login("manager.ho")
    response = await outsider.request("GET", f"/api/committee/meetings/{meeting.id}")
    seen = await response.json()
    assert response.status == 404 or set(seen) <= {"id", "meeting_id", "loan_id", "loan_stage", "phase"}
    assert "tally" not in json.dumps(seen)
    # the vote is over
    await meeting.vote(members[0], expect=409)


async def test_convener_closes_voting_early_non_voters_count_against(suite):
    meeting = await convene(suite)
    members = meeting.members()
    await meeting.to_voting()
    await meeting.phase("closed", expect=409)  # one step at a time
    await meeting.vote(members[0], "approve")
    result = await meeting.phase("tallied")
    assert result["outcome"] == "rejected" and result["votes_for"] == 1
    assert result["tally"]["not_voted"] == [meeting.users[m] for m in members[1:]] or \
        sorted(result["tally"]["not_voted"]) == sorted(meeting.users[m] for m in members[1:])
    async with suite.services.db.unit_of_work(write=False) as session:
        assert (await session.get(Loan, meeting.loan_id)).stage == "rejected"
    await meeting.phase("closed")
    await meeting.join_token(members[0], expect=409)
