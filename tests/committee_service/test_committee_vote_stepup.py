"""A vote needs the member's fresh fingerprint: a step-up for committee_vote bound to the
loan and the exact ballot (choice, opinion, conditions, nonce)."""
from __future__ import annotations

import secrets

import pytest

from tests.loans.walk import step_up as real_step_up

from .meeting import convene

# The fingerprint service's step-up needs the loan in the caller's scope, which panel members
# lack: a vote's step-up names no loan and is tied to the meeting by the ballot payload.
VOTE_LOAN = 0


@pytest.fixture
async def strict_suite(tmp_path):
    from tests.suite import start_suite, suite_config

    running = await start_suite(suite_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'loans.sqlite3'}"))
    assert running.services.config.step_up == "required"
    yield running
    await running.close()


async def test_vote_needs_the_members_own_fresh_print(strict_suite):
    suite = strict_suite

    async def step_up(client, loan_id, action, payload):
        return await real_step_up(suite, client, loan_id, action, payload)

    meeting = await convene(suite, step_up=step_up)
    await meeting.to_voting()
    member = meeting.members()[0]
    client = await meeting.as_(member)
    ballot = {"choice": "approve", "opinion": "同意", "conditions": "", "nonce": secrets.token_urlsafe(18)}
    path = f"/api/committee/meetings/{meeting.id}/ballots"
    missing = await client.json("POST", path, ballot, expect=403)
    assert missing["error"] == "step_up_required"
    payload = {"meeting_id": meeting.code, **ballot}
    # a print confirming another ballot does not cast this one
    other = await step_up(client, VOTE_LOAN, "committee_vote", {**payload, "choice": "reject"})
    wrong = await client.json("POST", path, {**ballot, "step_up": other}, expect=403)
    assert wrong["error"] == "step_up_invalid"
    token = await step_up(client, VOTE_LOAN, "committee_vote", payload)
    # another member cannot use it
    await (await meeting.as_(meeting.members()[1])).json(
        "POST", path, {**ballot, "step_up": token}, expect=403)
    cast = await client.json("POST", path, {**ballot, "step_up": token}, expect=201)
    assert cast["i_voted"] is True
