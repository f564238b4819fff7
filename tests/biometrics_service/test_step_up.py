"""Operator step-up on important actions: a fresh print of the operator buys a single-use,
short-lived token bound to user, loan, action and payload hash."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from biometrics.stepup import payload_digest
from biometrics.tables import StepUpToken
from tests.loans.walk import Walk, enroll_staff, step_up
from tests.suite import file_documents, start_suite, suite_config

from .prints import fresh

PASS = {"action": "preliminary_pass", "payload": {"opinion": "材料齐全"}}


async def _submitted(suite) -> Walk:
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("submitted")
    await file_documents(suite, walk.loan_id, "APP-FORM", "ID-CARD")
    return walk


async def test_important_actions_need_a_fresh_token_for_exactly_that_command(suite):
    walk = await _submitted(suite)
    head = await walk.as_("intake.head")
    path = f"/api/loans/{walk.loan_id}/commands"
    missing = await head.json("POST", path, PASS, expect=403)
    assert missing["error"] == "step_up_required"

    # Payload changed after the print confirmed the command.
    token = await step_up(suite, head, walk.loan_id, PASS["action"], PASS["payload"])
    changed = await head.json("POST", path, {**PASS, "payload": {"opinion": "改过的意见"}, "step_up": token},
                              expect=403)
    assert changed["error"] == "step_up_invalid" and "payload" in changed["message"]

    # Nor can it serve another action.
    wrong_action = await head.json("POST", path, {"action": "preliminary_return", "payload": {"reason": "缺"},
                                                  "step_up": token}, expect=403)
    assert wrong_action["error"] == "step_up_invalid" and "another user, loan or action" in wrong_action["message"]

    # Expired.
    async with suite.services.db.unit_of_work() as session:
        await session.execute(update(StepUpToken).values(
            expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    expired = await head.json("POST", path, {**PASS, "step_up": token}, expect=403)
    assert expired["error"] == "step_up_invalid" and "expired" in expired["message"]

    # A good one works once. The sender withdraws the step (no print needed) and the same
    # command with the same token is refused: the token is spent.
    token = await step_up(suite, head, walk.loan_id, PASS["action"], PASS["payload"])
    await head.json("POST", path, {**PASS, "step_up": token})
    assert await walk.stage() == "main_review"
    await head.json("POST", path, {"action": "withdraw_preliminary", "payload": {}})
    assert await walk.stage() == "submitted"
    reused = await head.json("POST", path, {**PASS, "step_up": token}, expect=403)
    assert reused["error"] == "step_up_invalid" and "already used" in reused["message"]
    # Someone who cannot see the loan gets no token for it.
    outsider = await walk.as_("officer.w.a")
    await enroll_staff(suite, outsider)
    hidden = await outsider.json("POST", "/api/step-up", {
        "loan_id": walk.loan_id, "action": PASS["action"], "payload_sha256": payload_digest(PASS["payload"]),
        "image_base64": fresh("107_4")}, expect=404)
    assert hidden["error"] == "not_found"
    await head.json("POST", path, {**PASS, "step_up": await step_up(suite, head, walk.loan_id, PASS["action"],
                                                                      PASS["payload"])})


async def test_another_persons_print_gets_no_token(suite):
    walk = await _submitted(suite)
    head = await walk.as_("intake.head")
    await enroll_staff(suite, head)
    refused = await head.json("POST", "/api/step-up", {
        "loan_id": walk.loan_id, "action": PASS["action"], "payload_sha256": payload_digest(PASS["payload"]),
        "image_base64": fresh("102_1")}, expect=403)
    assert refused["error"] == "step_up_refused" and refused["details"]["score"] < 40
    # The applicant's own actions need no step-up.
    assert (await walk.stage()) == "submitted"


async def test_step_up_off_for_a_bank_without_scanners(tmp_path, database_url):
    suite = await start_suite(suite_config(tmp_path, database_url, step_up="off"))
    try:
        walk = await _submitted(suite)
        head = await walk.as_("intake.head")
        await head.json("POST", f"/api/loans/{walk.loan_id}/commands", PASS)
        assert await walk.stage() == "main_review"
    finally:
        await suite.close()
