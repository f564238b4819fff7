"""The command path: races, idempotent retries, rule tables at their thresholds, atomicity."""
from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from core.orm import AuditRecord, LoanEvent, OutboxMessage
from tests.loans.walk import Walk, application, step_up


async def _events(suite, loan_id: int) -> int:
    async with suite.services.db.unit_of_work(write=False) as session:
        return (await session.execute(select(func.count()).select_from(LoanEvent)
                                      .where(LoanEvent.loan_id == loan_id))).scalar_one()


async def test_concurrent_conflicting_commands_one_wins(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("submitted")
    from tests.suite import file_documents
    await file_documents(suite, walk.loan_id, "APP-FORM", "ID-CARD")
    first, second = await suite.login("intake.head"), await suite.login("intake.head")
    path = f"/api/loans/{walk.loan_id}/commands"
    passing = {"action": "preliminary_pass", "payload": {"opinion": "通过"}}
    rejecting = {"action": "preliminary_reject", "payload": {"reason": "不符合"}}
    for client, body in ((first, passing), (second, rejecting)):
        body["step_up"] = await step_up(suite, client, walk.loan_id, body["action"], body["payload"])
    before = await _events(suite, walk.loan_id)
    responses = await asyncio.gather(first.request("POST", path, passing), second.request("POST", path, rejecting))
    statuses = sorted(r.status for r in responses)
    assert statuses == [200, 409], statuses
    loser = next(r for r in responses if r.status == 409)
    assert (await loser.json())["error"] in ("wrong_stage", "conflict")
    assert await _events(suite, walk.loan_id) == before + 1


async def test_many_concurrent_identical_commands(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("main_review")
    clients = [await suite.login("intake.head") for _ in range(4)]
    path = f"/api/loans/{walk.loan_id}/commands"
    body = {"action": "main_review_pass", "payload": {"opinion": "符合", "risk_level": "low"}}
    bodies = [{**body, "step_up": await step_up(suite, c, walk.loan_id, body["action"], body["payload"])}
              for c in clients]
    responses = await asyncio.gather(*(c.request("POST", path, b) for c, b in zip(clients, bodies)))
    assert sorted(r.status for r in responses) == [200, 409, 409, 409]
    assert await walk.stage() == "dispatch"


async def test_idempotent_retry_returns_the_first_answer(suite):
    applicant = await suite.login("applicant")
    body = {"action": "apply", "payload": application("personal_consumer")}
    headers = {"Idempotency-Key": "apply-2026-11-28-0001"}
    first = await applicant.request("POST", "/api/applications", body, headers=headers)
    again = await applicant.request("POST", "/api/applications", body, headers=headers)
    assert first.status == again.status == 201
    assert await first.json() == await again.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    loans = await applicant.json("GET", "/api/loans")
    assert len(loans["items"]) == 1
    changed = dict(body, payload={**body["payload"], "amount": 1_000_000})
    reused = await applicant.request("POST", "/api/applications", changed, headers=headers)
    assert reused.status == 422 and (await reused.json())["error"] == "idempotency_key_reused"


async def test_concurrent_retries_with_one_key_act_once(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("main_review")
    clients = [await suite.login("intake.head") for _ in range(3)]
    path = f"/api/loans/{walk.loan_id}/commands"
    body = {"action": "main_review_pass", "payload": {"opinion": "符合", "risk_level": "low"}}
    body["step_up"] = await step_up(suite, clients[0], walk.loan_id, body["action"], body["payload"])
    before = await _events(suite, walk.loan_id)
    # One person's retries (same owner, same key) from three connections at once.
    same_person = [clients[0]] * 3
    responses = await asyncio.gather(*(c.request("POST", path, body, headers={"Idempotency-Key": "k-1"})
                                       for c in same_person))
    assert all(r.status in (200, 409) for r in responses)
    assert any(r.status == 200 for r in responses)
    assert await _events(suite, walk.loan_id) == before + 1


async def test_a_refused_command_writes_nothing(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    for username in ("intake.head", "reviewer", "officer.w.a"):
        await walk.as_(username)  # sign-ins are audited: do them before counting
    async with suite.services.db.unit_of_work(write=False) as session:
        counts = [(await session.execute(select(func.count()).select_from(t))).scalar_one()
                  for t in (LoanEvent, AuditRecord, OutboxMessage)]
    await walk.do("intake.head", "preliminary_pass", {"opinion": "x"}, expect=422)  # documents missing
    await walk.do("intake.head", "preliminary_pass", {"opinion": "x", "bogus": 1}, expect=422)
    await walk.do("intake.head", "main_review_pass", {"opinion": "x", "risk_level": "low"}, expect=409)
    await walk.do("reviewer", "review_pass", {}, expect=404)  # the reviewer does not see it yet
    await walk.do("officer.w.a", "preliminary_pass", {"opinion": "x"}, expect=404)  # not in scope
    async with suite.services.db.unit_of_work(write=False) as session:
        after = [(await session.execute(select(func.count()).select_from(t))).scalar_one()
                 for t in (LoanEvent, AuditRecord, OutboxMessage)]
    assert after == counts


async def test_term_limits_by_product(suite):
    applicant = await suite.login("applicant")
    too_long = application("personal_consumer")
    too_long["term_months"] = 61  # personal consumer loans: at most 5 years
    refused = await applicant.json("POST", "/api/applications", {"action": "apply", "payload": too_long}, expect=422)
    assert refused["error"] == "guard_term_within_limit"
    at_limit = dict(too_long, term_months=60)
    await applicant.json("POST", "/api/applications", {"action": "apply", "payload": at_limit}, expect=201)
    unknown = dict(at_limit, product="crypto_loan")
    refused = await applicant.json("POST", "/api/applications", {"action": "apply", "payload": unknown}, expect=422)
    assert refused["error"] == "guard_product_known"


async def test_committee_size_follows_the_amount(suite):
    walk = await Walk(suite, "working_capital").start()  # 3M yuan: the large committee
    await walk.apply()
    await walk.walk_to("committee")
    refused = await walk.do("convener", "convene_committee", {
        "meeting_id": "M-x", "committee_kind": "small", "meeting_at": "2026-12-01T09:00:00+08:00"}, expect=422)
    assert refused["error"] == "guard_committee_kind_matches"
    await walk.step()
    # A large committee has nine members: a five-member decision is refused.
    refused = await _five_member_decision(walk)
    assert refused["error"] == "guard_committee_tally"
    assert await walk.stage() == "committee_meeting"


async def _five_member_decision(walk: Walk) -> dict:
    from core.api.workflow import COMMITTEE_AUDIENCE, COMMITTEE_SCOPE
    from core.servicetoken import ServiceTokens

    token = ServiceTokens(walk.suite.services.config.secret_key).issue(
        subject="committee", audience=COMMITTEE_AUDIENCE, scope=COMMITTEE_SCOPE)
    members = [walk.users[f"member{n:02d}"] for n in range(1, 6)]
    client = await walk.suite.client()
    return await client.json("POST", "/api/committee/decisions", {"loan_id": walk.loan_id, "payload": {
        "outcome": "approved", "meeting_id": "M-5", "members": members, "votes_for": 5, "votes_against": 0,
        "summary": "五人表决"}}, headers={"Authorization": f"Bearer {token}"}, expect=422)


async def test_committee_decision_needs_the_service_token(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("committee_meeting")
    client = await suite.client()
    body = {"loan_id": walk.loan_id, "payload": {"outcome": "approved"}}
    for headers in ({}, {"Authorization": "Bearer forged.token"}):
        response = await client.request("POST", "/api/committee/decisions", body, headers=headers)
        assert response.status == 401
    # A signed-in convener cannot send it either: only the committee service decides.
    convener = await walk.as_("convener")
    response = await convener.request("POST", "/api/committee/decisions", body)
    assert response.status == 401
    assert await walk.stage() == "committee_meeting"


async def test_own_payment_above_threshold_is_refused(suite):
    walk = await Walk(suite, "personal_consumer").start()
    await walk.apply()
    await walk.walk_to("payment_first_review")
    from tests.suite import file_documents
    await file_documents(suite, walk.loan_id, "PAYMENT-APPLICATION")
    refused = await walk.do("payment.first", "payment_first_approve", {
        "payment_mode": "own", "amount": 20_000_000, "purpose": "consumption", "payee_known": True,
        "opinion": "客户自主支付"}, expect=422)
    assert refused["error"] == "guard_payment_mode_allowed"


async def test_progress_query_needs_both_keys(suite):
    applicant = await suite.login("applicant")
    created = await applicant.json("POST", "/api/applications",
                                   {"action": "apply", "payload": application("personal_consumer")}, expect=201)
    code = created["loan"]["tracking_code"]
    anyone = await suite.client()
    ok = await anyone.json("GET", f"/api/progress?tracking_code={code}&phone=13800000000")
    assert ok["stage"] == "submitted" and ok["steps"][0]["stage"] == "submitted"
    wrong = await anyone.request("GET", f"/api/progress?tracking_code={code}&id_number=110101199001019999")
    missing = await anyone.request("GET", "/api/progress?tracking_code=NOSUCHCODE00&id_number=110101199001011234")
    assert wrong.status == missing.status == 404
    assert (await wrong.json()) == (await missing.json())


async def test_reapplication_is_flagged_with_history(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.do("intake.head", "preliminary_reject", {"reason": "资料不实"})
    again = await walk.apply()
    assert "reapplication" in again["flags"] and "existing_customer" in again["flags"]
    assert again["history"]["rejections"] == 1
    intake = await walk.as_("intake.head")
    view = await intake.json("GET", f"/api/loans/{again['loan']['id']}/credit-history")
    assert view["rejections"] == 1 and len(view["loans"]) == 1
