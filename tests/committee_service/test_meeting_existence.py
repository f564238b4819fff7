"""A meeting's existence does not leak: to someone who neither takes part nor has its loan in
scope, a real meeting answers exactly as a missing one, on every meeting operation."""
from __future__ import annotations

from .meeting import convene

OPERATIONS = [("GET", "", None), ("POST", "/join", None), ("POST", "/decision", None),
              ("POST", "/phase", {"phase": "open"}), ("POST", "/absent", {"member_id": 1, "reason": "病假"}),
              ("POST", "/ballots", {"choice": "approve", "opinion": "同意", "nonce": "n" * 20})]


async def test_a_real_meeting_answers_a_stranger_like_a_missing_one(suite):
    meeting = await convene(suite)
    missing = meeting.id + 99_999
    for stranger in ("officer.hk", "postloan.cg", "officer.w.a"):
        client = await meeting.as_(stranger)
        for method, tail, body in OPERATIONS:
            real = await client.request(method, f"/api/committee/meetings/{meeting.id}{tail}", body)
            absent = await client.request(method, f"/api/committee/meetings/{missing}{tail}", body)
            assert (real.status, await real.json()) == (absent.status, await absent.json()) == (
                404, {"error": "not_found", "message": "committee meeting not found"}), (stranger, tail)
    # The web page the same way.
    page = await meeting.as_("officer.hk")
    real = await page.client.get(f"/committee/meetings/{meeting.id}")
    absent = await page.client.get(f"/committee/meetings/{missing}")
    assert real.status == absent.status == 404
    # Whoever takes part still sees it, and the chairman (whole bank) sees where the loan went.
    assert (await meeting.get("convener"))["id"] == meeting.id
    assert set(await meeting.get("chairman")) >= {"id", "loan_stage", "phase"}
