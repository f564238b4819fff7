"""Core's ports and events (core/ports.py, core/events.py): the composition root wires the other
services' implementations in; a core without them fails closed; events reach their handlers
inside the command's transaction."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.errors import Forbidden, InvalidInput
from core.events import EventHandlers, LoanClosed, LoanDisbursed
from core.orm import Loan
from core.ports import DocumentRefused, Ports, StepUpUnavailable
from core.postloan.service import Page
from core.postloan.tables import ManagedLoan
from tests.archive.samples import pdf
from tests.postloan.helpers import disbursed, page


async def test_a_core_without_the_fingerprint_service_refuses_step_up():
    with pytest.raises(Forbidden) as refused:
        await Ports().step_up.redeem(None, "any-token", user_id=1, loan_id=2, action="disburse", payload={})
    assert refused.value.code == "step_up_unavailable" and refused.value.details == {"action": "disburse"}
    assert Ports().archive is None and Ports().check_document is None and Ports().wording is None


async def test_the_composition_root_wires_every_port(suite):
    from biometrics.wiring import StepUpTokens
    from recordings.filing import ArchiveFiling, check_document
    from web.wording import CatalogueWording

    ports = suite.services.ports
    assert isinstance(ports.step_up, StepUpTokens) and not isinstance(ports.step_up, StepUpUnavailable)
    assert isinstance(ports.archive, ArchiveFiling) and ports.check_document is check_document
    assert isinstance(ports.wording, CatalogueWording)
    assert suite.services.workflow.step_up is ports.step_up
    # the wording is the catalogue's: a refusal it knows in both languages, None for others
    assert "法定人数" in ports.wording.refusal("no_quorum", "zh", {"needed": 5, "present": 3, "absent": "甲"})
    assert ports.wording.refusal("not_present_for_presentation", "en", {}).startswith("You were not in the room")
    assert ports.wording.refusal("no_such_code", "en", {}) is None
    assert ports.wording.language(None, "en-GB,en;q=0.8") == "en" and ports.wording.language("zh", "en") == "zh"


def test_scanned_pages_pass_the_archive_content_check():
    from recordings.filing import check_document

    good = page()
    assert Page.from_json(good, 0, check_document).media_type == "application/pdf"
    with pytest.raises(InvalidInput) as refused:  # PDF bytes declared as a PNG
        Page.from_json({**good, "media_type": "image/png"}, 0, check_document)
    assert refused.value.code == "type_mismatch"
    with pytest.raises(DocumentRefused):
        check_document(b"%PDF-1.4 not really", allowed={"pdf"}, max_size=1 << 20)
    with pytest.raises(DocumentRefused) as too_large:
        check_document(pdf(1, "x"), allowed={"pdf"}, max_size=10)
    assert too_large.value.code == "too_large"


async def test_event_handlers_in_order_and_by_type():
    heard = []
    handlers = EventHandlers()

    async def first(session, event):
        heard.append(("first", event))

    async def second(session, event):
        heard.append(("second", event))

    handlers.subscribe(LoanDisbursed, first)
    handlers.subscribe(LoanDisbursed, second)
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    disbursed_event, closed_event = LoanDisbursed(7, {"amount": 1}, at), LoanClosed(7, "closed", "repaid", at)
    await handlers.publish(None, disbursed_event)
    await handlers.publish(None, closed_event)  # nobody subscribed: nothing heard
    assert heard == [("first", disbursed_event), ("second", disbursed_event)]


async def test_a_loan_raises_its_events_inside_the_command(suite):
    events = suite.services.workflow.events
    heard = []

    async def record(session, event):
        # in the command's transaction: the loan is already in its new stage here
        heard.append((event, (await session.get(Loan, event.loan_id)).stage))

    events.subscribe(LoanDisbursed, record)
    events.subscribe(LoanClosed, record)
    try:
        walk = await disbursed(suite, dt.date.today() - dt.timedelta(days=3))
    finally:
        events.handlers[LoanDisbursed].remove(record)
        events.handlers[LoanClosed].remove(record)
    [(event, stage)] = heard
    assert isinstance(event, LoanDisbursed) and event.loan_id == walk.loan_id and stage == "active"
    assert event.payload["voucher_no"] == f"V-{walk.loan_id}"
    async with suite.services.db.unit_of_work(write=False) as session:  # core's own subscriber ran too
        assert await session.get(ManagedLoan, walk.loan_id) is not None


async def test_a_failing_handler_rolls_the_command_back(suite):
    from tests.loans.walk import Walk, needs_step_up, step_up

    events = suite.services.workflow.events

    async def refuse(session, event):
        raise Forbidden("a subscriber refused", code="subscriber_refused")

    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("submitted")
    client = await walk.as_("intake.head")
    body = {"action": "preliminary_reject", "payload": {"reason": "收入不足"}}
    if await needs_step_up(suite, "intake.head", walk.loan_id, body["action"]):
        body["step_up"] = await step_up(suite, client, walk.loan_id, body["action"], body["payload"])
    events.subscribe(LoanClosed, refuse)
    try:
        refused = await client.json("POST", f"/api/loans/{walk.loan_id}/commands", body, expect=403)
    finally:
        events.handlers[LoanClosed].remove(refuse)
    assert refused["error"] == "subscriber_refused"
    assert await walk.stage() == "submitted"  # the rejection was rolled back with the event
    async with suite.services.db.unit_of_work(write=False) as session:
        loan = (await session.execute(select(Loan).where(Loan.id == walk.loan_id))).scalar_one()
    assert loan.closed_reason == ""
    await walk.do("intake.head", "preliminary_reject", {"reason": "收入不足"})
    assert await walk.stage() == "rejected"
