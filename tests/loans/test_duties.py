"""Separation of duties (审贷分离), checked per loan and per person, through the API."""
from __future__ import annotations

import pytest

from tests.loans.walk import MEMBERS, Walk, credential_step_up
from tests.suite import file_documents

PASSWORD = "Separate duties 2026!"


async def _person(suite, username: str, roles: list[str], office: str = "HO") -> int:
    admin = await suite.login("admin")
    offices, _ = await suite.ids()
    body = {"username": username, "display_name": username, "office_id": offices[office], "roles": roles,
            "password": PASSWORD}
    created = await admin.json("POST", "/api/users", await credential_step_up(suite, admin, body), expect=201)
    return created["id"]


async def _walk_with(suite, officer_a: str, officer_b: str) -> Walk:
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("dispatch")
    _, users = await suite.ids()
    walk.users = users
    await walk.do("intake.head", "dispatch_officers", {"route": "sub_center", "office": walk.offices["SC-E"],
                                                       "officer_a": users[officer_a], "officer_b": users[officer_b]})
    return walk


async def test_officers_a_and_b_are_two_people(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("dispatch")
    refused = await walk.do("intake.head", "dispatch_officers", {
        "route": "sub_center", "office": walk.offices["SC-E"], "officer_a": walk.users["officer.e.a"],
        "officer_b": walk.users["officer.e.a"]}, expect=422)
    assert refused["error"] == "guard_distinct_values"
    assert await walk.stage() == "dispatch"


async def test_dispatch_names_only_loan_officers(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("dispatch")
    refused = await walk.do("intake.head", "dispatch_officers", {
        "route": "sub_center", "office": walk.offices["SC-E"], "officer_a": walk.users["officer.e.a"],
        "officer_b": walk.users["reviewer"]}, expect=422)
    assert "officer_b" in refused["message"]


async def test_dispatch_names_officers_of_the_office_it_sends_the_case_to(suite):
    """Officers of another office are refused (the page's picker offers only the chosen office's
    officers; a crafted request gets a worded 422): nothing is written, not even to the audit."""
    from sqlalchemy import func, select

    from core.orm import AuditRecord, LoanEvent

    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("dispatch")

    async def written() -> tuple[int, int]:
        async with suite.services.db.unit_of_work(write=False) as session:
            return ((await session.execute(select(func.count()).select_from(AuditRecord))).scalar_one(),
                    (await session.execute(select(func.count()).select_from(LoanEvent))).scalar_one())

    readers = {}
    for language in ("zh", "en"):  # signed in first: a sign-in is audited, a refusal is not
        readers[language] = await suite.login("intake.head")
        readers[language].client.session.cookie_jar.update_cookies({"lang": language})
    await walk.as_("intake.head")
    before = await written()
    wrong = {"route": "sub_center", "office": walk.offices["SC-E"], "officer_a": walk.users["officer.w.a"],
             "officer_b": walk.users["officer.e.b"]}
    refused = await walk.do("intake.head", "dispatch_officers", wrong, expect=422)
    assert refused["error"] == "officer_not_in_office"
    assert refused["details"] == {"field": "officer_a", "office": walk.offices["SC-E"]}
    assert await walk.stage() == "dispatch" and await written() == before
    # the page's toast says it in the reader's language
    for language, text in (("zh", "客户经理B角须是所选调查机构的客户经理"),
                           ("en", "Officer B must be an officer of the chosen investigating office")):
        body = await readers[language].json("POST", f"/api/loans/{walk.loan_id}/commands", {"action": "dispatch_officers", "payload": {
            **wrong, "officer_a": walk.users["officer.e.a"], "officer_b": walk.users["officer.cg"]}}, expect=422)
        assert body["error"] == "officer_not_in_office" and body["message"] == text, body
    assert await walk.stage() == "dispatch" and await written() == before
    # the office's own officers are taken, and the case is then the office's
    await walk.do("intake.head", "dispatch_officers", {**wrong, "officer_a": walk.users["officer.e.a"]})
    assert await walk.stage() == "investigation"


async def test_investigator_cannot_review(suite):
    await _person(suite, "dual.inv.rev", ["loan_officer", "reviewer"], "SC-E")
    walk = await _walk_with(suite, "dual.inv.rev", "officer.e.b")
    walk.clients["officer.e.a"] = await suite.login("dual.inv.rev", PASSWORD)  # acts as officer A
    await walk.walk_to("review")
    await file_documents(suite, walk.loan_id, "REVIEW-REPORT")
    refused = await walk.do("officer.e.a", "review_pass", {"items": {}, "conclusion": "recommend", "opinion": "ok"},
                            expect=403)
    assert refused["error"] == "duty_conflict"
    assert await walk.stage() == "review"


async def test_reviewer_cannot_sit_on_the_committee_for_the_case(suite):
    await _person(suite, "dual.rev.member", ["reviewer", "committee_member"])
    walk = await Walk(suite).start()
    await walk.apply()
    walk.clients["reviewer"] = await suite.login("dual.rev.member", PASSWORD)
    await walk.walk_to("committee_meeting")
    _, walk.users = await suite.ids()
    refused = await walk.decide("approved", members=["dual.rev.member"] + MEMBERS, expect=403)
    assert refused["error"] == "duty_conflict"
    assert await walk.stage() == "committee_meeting"
    await walk.decide("approved")  # a panel without them decides


async def test_first_and_second_payment_review_are_different_people(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("payment_second_review")
    walk.clients["payment.second"] = walk.clients["payment.first"]
    refused = await walk.do("payment.second", "payment_second_approve", {"opinion": "同意"}, expect=403)
    assert refused["error"] == "duty_conflict"


async def test_payment_reviewer_cannot_disburse(suite):
    await _person(suite, "dual.pay.disb", ["payment_reviewer", "credit_accountant"], "CU-CG")
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("payment_first_review")
    walk.clients["payment.first"] = await suite.login("dual.pay.disb", PASSWORD)
    await walk.walk_to("disbursement")
    walk.clients["accountant.cg"] = walk.clients["payment.first"]
    with pytest.raises(AssertionError, match="403"):
        await walk.step()
    assert await walk.stage() == "disbursement"
