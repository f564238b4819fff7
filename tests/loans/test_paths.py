"""Withdraw, return and reject: every one in the default workflow, over the API."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.orm import OutboxMessage
from tests.loans.walk import Walk, step_up

# withdraw action -> (stage the case is in, who sent it there, stage it goes back to)
WITHDRAWALS = {
    "withdraw_submission": ("submitted", "applicant", "draft"),
    "withdraw_preliminary": ("main_review", "intake.head", "submitted"),
    "withdraw_dispatch": ("investigation", "intake.head", "dispatch"),
    "withdraw_investigation": ("investigation_check", "officer.e.a", "investigation"),
    "withdraw_confirmation": ("review", "officer.e.b", "investigation_check"),
    "withdraw_review": ("committee", "reviewer", "review"),
    "withdraw_signing": ("payment_first_review", "officer.e.a", "signing"),
    "withdraw_payment_first": ("payment_second_review", "payment.first", "payment_first_review"),
    "withdraw_payment_second": ("compliance_review", "payment.second", "payment_second_review"),
    "withdraw_compliance": ("disbursement", "compliance", "compliance_review"),
}

# return action -> (stage, who returns, choice payload, stage it lands in)
RETURNS = {
    "preliminary_return": ("submitted", "intake.head", {}, "draft"),
    "main_review_return": ("main_review", "intake.head", {"return_to": "submitted"}, "submitted"),
    "dispatch_return": ("dispatch", "intake.head", {}, "main_review"),
    "investigation_return": ("investigation", "officer.e.a", {}, "dispatch"),
    "investigation_check_return": ("investigation_check", "officer.e.b", {}, "investigation"),
    "review_return": ("review", "reviewer", {"return_to": "investigation"}, "investigation"),
    "reschedule_committee": ("committee_meeting", "convener", {}, "committee"),
    "signing_return": ("signing", "officer.e.a", {}, "approval_notice"),
    "payment_first_return": ("payment_first_review", "payment.first", {}, "signing"),
    "payment_second_return": ("payment_second_review", "payment.second", {}, "payment_first_review"),
    "compliance_return": ("compliance_review", "compliance", {"return_to": "review"}, "review"),
    "disbursement_return": ("disbursement", "accountant.cg", {"return_to": "compliance_review"}, "compliance_review"),
}

REJECTIONS = {
    "preliminary_reject": ("submitted", "intake.head"),
    "main_review_reject": ("main_review", "intake.head"),
    "review_reject": ("review", "reviewer"),
    "compliance_reject": ("compliance_review", "compliance"),
}


def test_tables_cover_the_definition(suite):
    actions = suite.services.workflow.current.actions.values()
    assert {a.code for a in actions if a.kind == "withdraw"} - {"cancel_application", "cancel_for_customer"} == set(WITHDRAWALS)
    assert {a.code for a in actions if a.kind == "return"} == set(RETURNS)
    assert {a.code for a in actions if a.kind == "reject"} == set(REJECTIONS)


async def _messages(suite, loan_id: int) -> list[OutboxMessage]:
    async with suite.services.db.unit_of_work(write=False) as session:
        return list((await session.execute(select(OutboxMessage).where(OutboxMessage.loan_id == loan_id)
                                           .order_by(OutboxMessage.id))).scalars())


@pytest.mark.parametrize("action", sorted(WITHDRAWALS))
async def test_each_withdraw(suite, action):
    stage, sender, back = WITHDRAWALS[action]
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to(stage)
    result = await walk.do(sender, action, {})
    assert result["loan"]["stage"] == back
    # Pulled back, the sender can fix and send it again.
    assert await walk.step() == stage


async def test_withdraw_refused_once_the_next_stage_acted(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("committee")
    convener = await walk.as_("convener")
    await convener.json("POST", f"/api/loans/{walk.loan_id}/notes", {"text": "已阅，准备上会"}, expect=201)
    refused = await walk.do("reviewer", "withdraw_review", {}, expect=422)
    assert refused["error"] == "guard_next_not_acted"
    assert await walk.stage() == "committee"


async def test_only_the_sender_withdraws(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("investigation_check")
    refused = await walk.do("officer.e.b", "withdraw_investigation", {}, expect=422)
    assert refused["error"].startswith("guard_")


@pytest.mark.parametrize("action", sorted(RETURNS))
async def test_each_return_needs_a_reason_and_notifies(suite, action):
    stage, who, choice, lands = RETURNS[action]
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to(stage)
    missing = await walk.do(who, action, dict(choice), expect=422)
    assert missing["error"] == "invalid_payload"
    before = len(await _messages(suite, walk.loan_id))
    result = await walk.do(who, action, {**choice, "reason": "材料需补正"})
    assert result["loan"]["stage"] == lands
    new = (await _messages(suite, walk.loan_id))[before:]
    assert new, "a return tells the people concerned"
    assert any("材料需补正" in m.text for m in new) or action == "reschedule_committee"


async def test_application_typed_by_an_officer_returns_to_that_officer(suite):
    officer = await suite.login("officer.cg")
    payload = {"channel": "counter", "product": "personal_business", "amount": 30_000_000, "term_months": 24,
               "purpose": "购买农机", "customer_name": "李四", "id_number": "110101198505050011", "phone": "13900000000"}
    created = await officer.json("POST", "/api/applications", {
        "action": "apply_on_behalf", "payload": payload,
        "step_up": await step_up(suite, officer, 0, "apply_on_behalf", payload)}, expect=201)
    loan_id = created["loan"]["id"]
    assert created["loan"]["stage"] == "draft"
    await officer.json("POST", f"/api/loans/{loan_id}/commands", {"action": "submit_application", "payload": {}})
    walk = Walk(suite, loan_id=loan_id, author="officer.cg")
    await walk.start()
    await walk.do("intake.head", "preliminary_return", {"reason": "缺少收入证明"})
    assert await walk.stage() == "draft"
    queue = await officer.json("GET", "/api/queue")
    assert loan_id in {item["id"] for item in queue["items"]}
    messages = await _messages(suite, loan_id)
    assert any(m.recipient_user_id == walk.users["officer.cg"] and "缺少收入证明" in m.text for m in messages)


@pytest.mark.parametrize("action", sorted(REJECTIONS))
async def test_each_rejection_closes_and_tells_the_applicant(suite, action):
    stage, who = REJECTIONS[action]
    walk = await Walk(suite).start()
    applied = await walk.apply()
    await walk.walk_to(stage)
    await walk.do(who, action, {"reason": "收入不足以覆盖还款"})
    assert await walk.stage() == "rejected"
    customer_sms = [m for m in await _messages(suite, walk.loan_id) if m.template == "application_rejected"]
    assert customer_sms and "收入不足以覆盖还款" in customer_sms[-1].text
    anyone = await suite.client()
    progress = await anyone.json("GET", f"/api/progress?tracking_code={applied['loan']['tracking_code']}"
                                        "&id_number=110101199001011234")
    assert progress["stage"] == "rejected" and progress["reason"] == "收入不足以覆盖还款" and progress["ended"]
    # A closed case takes no more forward actions.
    await walk.do(who, "preliminary_pass", {"opinion": "x"}, expect=409)


async def test_committee_rejection(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("committee_meeting")
    await walk.decide("rejected")
    assert await walk.stage() == "rejected"


async def test_applicant_cancels(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("investigation")
    await walk.do("applicant", "cancel_application", {"reason": "不再需要"})
    assert await walk.stage() == "withdrawn"
