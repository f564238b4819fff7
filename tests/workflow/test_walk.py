"""Loans walk the default definition: every product to post-loan, every withdraw, return and
rejection, with the checks of plan() refusing what product.md forbids."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from core.workflow import (
    ActionNotAllowed, ActorView, GuardFailed, InvalidPayload, UnknownAction, WrongStage,
    action_options, open_actions,
)

from .journey import (
    APPLICANT, CLERK, COMMITTEE_SERVICE, COUNTER_OFFICER, INTAKE, MANAGER, OFFICER_A, OFFICER_B,
    PAY_FIRST, POST_LOAN, PRODUCTS, REVIEWER, STAGE_ACTORS, Journey, application_payload,
    committee_payload, step, walk_to,
)

HAPPY_PATH = [
    "new", "submitted", "main_review", "dispatch", "investigation", "investigation_check", "review",
    "committee", "committee_meeting", "approval_notice", "signing", "payment_first_review",
    "payment_second_review", "compliance_review", "disbursement", "active",
]


@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_each_product_walks_every_stage_to_post_loan(definition, rules, product):
    journey = walk_to(Journey.begin(definition, rules, product), "active")
    assert journey.visited() == HAPPY_PATH
    history = {(r.user_id, r.duty) for r in journey.loan.history}
    assert ("officer-a", "investigate_a") in history and ("officer-b", "investigate_b") in history
    assert ("reviewer-1", "review") in history and ("clerk-1", "disburse") in history
    assert ("payrev-1", "payment_first_review") in history and ("payrev-2", "payment_second_review") in history
    size = rules.at(journey.now.date()).committee_for(product, PRODUCTS[product][0]).size
    assert sum(1 for _, duty in history if duty == "committee_vote") == size
    assert journey.loan.assignments["post_loan_manager"] == POST_LOAN.user_id
    customer_messages = [n.template for p in journey.plans for n in p.notifications if n.audience == "customer"]
    assert customer_messages == ["application_received", "application_accepted", "investigation_scheduled",
                                 "loan_approved", "approval_notice_issued", "loan_disbursed"]
    # each working stage got a deadline; post-loan has its own schedule instead
    assert all(p.due_at is not None for p in journey.plans[:-1]) and journey.plans[-1].due_at is None
    assert all(p.definition_version == definition.version for p in journey.plans)
    closed = step(journey)
    assert closed.to_stage == "closed" and closed.ends_case


def test_large_amounts_go_to_the_large_committee(definition, rules):
    small = walk_to(Journey.begin(definition, rules, "personal_consumer"), "committee_meeting")
    large = walk_to(Journey.begin(definition, rules, "working_capital"), "committee_meeting")
    assert small.plans[-1].payload["committee_kind"] == "small"
    assert large.plans[-1].payload["committee_kind"] == "large"
    wrong = walk_to(Journey.begin(definition, rules, "working_capital"), "committee")
    with pytest.raises(GuardFailed) as err:
        wrong.plan("convene_committee", STAGE_ACTORS["committee"], {
            "meeting_id": "m", "committee_kind": "small", "meeting_at": "2025-03-10T09:00:00+08:00"})
    assert err.value.code == "guard_committee_kind_matches"


def test_application_typed_by_an_officer_starts_as_draft_and_returns_to_that_officer(definition, rules):
    journey = Journey.begin(definition, rules)
    created = journey.do("apply_on_behalf", COUNTER_OFFICER, {**application_payload("personal_consumer"), "channel": "counter"})
    assert created.to_stage == "draft" and created.important
    with pytest.raises(GuardFailed):  # the customer did not type it; the officer submits it
        journey.plan("submit_application", APPLICANT)
    journey.do("submit_application", COUNTER_OFFICER)
    returned = journey.do("preliminary_return", INTAKE, {"reason": "ID copy unreadable"})
    assert returned.to_stage == "draft" and returned.reason == "ID copy unreadable"
    assert [(n.audience, n.target, n.template) for n in returned.notifications] == [
        ("user", COUNTER_OFFICER.user_id, "case_returned")]
    assert journey.plan("submit_application", COUNTER_OFFICER).to_stage == "submitted"


# --- withdraw: the sender pulls a submission back until the next stage acts --------------

WITHDRAWALS = {
    # action: stage to walk to (the stage the sender sent the case into)
    "withdraw_submission": "submitted",
    "withdraw_preliminary": "main_review",
    "withdraw_dispatch": "investigation",
    "withdraw_investigation": "investigation_check",
    "withdraw_confirmation": "review",
    "withdraw_review": "committee",
    "withdraw_signing": "payment_first_review",
    "withdraw_payment_first": "payment_second_review",
    "withdraw_payment_second": "compliance_review",
    "withdraw_compliance": "disbursement",
}


def test_every_withdraw_of_the_definition_is_tested(definition):
    pullbacks = {a.code for a in definition.actions.values() if a.kind == "withdraw" and not definition.stages[a.targets[0]].is_end}
    assert pullbacks == set(WITHDRAWALS)


@pytest.mark.parametrize("action", sorted(WITHDRAWALS))
def test_withdraw(definition, rules, action):
    journey = walk_to(Journey.begin(definition, rules), WITHDRAWALS[action])
    sender = journey.actors[-1]
    previous = journey.plans[-1].from_stage
    result = journey.plan(action, sender, {})
    # a self-service application pulled back lands in draft for fixing; the rest go one step back
    assert result.to_stage == ("draft" if previous == "new" else previous) and result.kind == "withdraw"
    assert result.notifications, "the people of the stage pulled back from are told"
    # someone else cannot pull it back ...
    other = ActorView("someone-else", sender.roles)
    with pytest.raises(GuardFailed):
        journey.plan(action, other, {})
    # ... and nobody can once the next stage has started work
    journey.loan = replace(journey.loan, next_stage_acted=True)
    with pytest.raises(GuardFailed) as err:
        journey.plan(action, sender, {})
    assert err.value.code == "guard_next_not_acted"


def test_withdraw_then_fix_and_resubmit(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "investigation_check")
    journey.do("withdraw_investigation", OFFICER_A)
    assert journey.stage == "investigation"
    again = journey.do("record_investigation", OFFICER_A, {"items": {"income": "corrected"}, "conclusion": "recommend",
                                                          "opinion": "fixed the income figure"})
    assert again.to_stage == "investigation_check"


CANCEL_STAGES = ["draft", "submitted", "main_review", "dispatch", "investigation", "investigation_check",
                 "review", "committee", "approval_notice", "signing"]


@pytest.mark.parametrize("stage", CANCEL_STAGES)
def test_applicant_cancels_the_application(definition, rules, stage):
    journey = Journey.begin(definition, rules)
    if stage == "draft":
        journey.do("apply", APPLICANT, application_payload("personal_consumer"))
        journey.do("withdraw_submission", APPLICANT)
    walk_to(journey, stage)
    result = journey.plan("cancel_application", APPLICANT, {"reason": "found another lender"})
    assert result.to_stage == "withdrawn" and result.ends_case
    assert ("customer", "application_cancelled_customer") in {(n.audience, n.template) for n in result.notifications}
    with pytest.raises(GuardFailed):  # another applicant cannot cancel this loan
        journey.plan("cancel_application", ActorView("cust-2", {"applicant"}), {"reason": "x"})
    by_officer = journey.plan("cancel_for_customer", INTAKE, {"reason": "customer phoned to cancel"})
    assert by_officer.to_stage == "withdrawn"


def test_cannot_cancel_after_disbursement_review_started(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "payment_first_review")
    with pytest.raises(WrongStage):
        journey.plan("cancel_application", APPLICANT, {"reason": "too late"})


# --- return: a decision stage sends the case back with a reason ---------------------------

RETURNS = [
    ("preliminary_return", None, "draft"),
    ("main_review_return", "submitted", "submitted"),
    ("main_review_return", "draft", "draft"),
    ("dispatch_return", None, "main_review"),
    ("investigation_return", None, "dispatch"),
    ("investigation_check_return", None, "investigation"),
    ("review_return", "investigation", "investigation"),
    ("review_return", "dispatch", "dispatch"),
    ("reschedule_committee", None, "committee"),
    ("signing_return", None, "approval_notice"),
    ("payment_first_return", None, "signing"),
    ("payment_second_return", None, "payment_first_review"),
    ("compliance_return", "review", "review"),
    ("compliance_return", "signing", "signing"),
    ("compliance_return", "payment_first_review", "payment_first_review"),
    ("disbursement_return", "compliance_review", "compliance_review"),
    ("disbursement_return", "payment_first_review", "payment_first_review"),
]


def test_every_return_of_the_definition_is_tested(definition):
    wanted = {(a.code, choice) for a in definition.actions.values() if a.kind == "return"
              for choice in (a.to_choices or {None: None})}
    assert wanted == {(code, choice) for code, choice, _ in RETURNS}


@pytest.mark.parametrize("action,choice,target", RETURNS)
def test_return(definition, rules, action, choice, target):
    stage = definition.actions[action].from_stages[0]
    journey = walk_to(Journey.begin(definition, rules), stage)
    payload = {"reason": "please correct the figures"}
    if choice:
        payload["return_to"] = choice
    with pytest.raises(InvalidPayload):
        journey.plan(action, STAGE_ACTORS[stage], {k: v for k, v in payload.items() if k != "reason"})
    result = journey.plan(action, STAGE_ACTORS[stage], payload)
    assert result.to_stage == target and result.reason == "please correct the figures"
    assert result.notifications, f"{action} tells someone the case came back"


def test_returned_case_can_be_redone_by_the_same_people(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "review")
    journey.do("review_return", REVIEWER, {"reason": "missing photos", "return_to": "investigation"})
    walk_to(journey, "committee")  # A, B and the reviewer each repeat their own duty: allowed
    assert [r.duty for r in journey.loan.history].count("review") == 2  # the return and the pass


# --- rejection closes the case and tells the applicant why ----------------------------------

REJECTIONS = ["preliminary_reject", "main_review_reject", "review_reject", "compliance_reject"]


def test_every_rejection_of_the_definition_is_tested(definition):
    assert {a.code for a in definition.actions.values() if a.kind == "reject"} == set(REJECTIONS)
    assert "rejected" in definition.actions["committee_decision"].to_choices


@pytest.mark.parametrize("action", REJECTIONS)
def test_rejection(definition, rules, action):
    stage = definition.actions[action].from_stages[0]
    journey = walk_to(Journey.begin(definition, rules), stage)
    with pytest.raises(InvalidPayload):
        journey.plan(action, STAGE_ACTORS[stage], {})
    result = journey.do(action, STAGE_ACTORS[stage], {"reason": "income does not cover the repayments"})
    assert result.to_stage == "rejected" and result.ends_case
    told = [n for n in result.notifications if n.audience == "customer"]
    assert [n.template for n in told] == ["application_rejected"] and told[0].target == APPLICANT.user_id
    assert result.reason == "income does not cover the repayments"
    assert action_options(definition, journey.loan, STAGE_ACTORS[stage], journey.now, rules=rules) == []


def test_committee_rejects_and_returns(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "committee_meeting")
    rejected = journey.plan("committee_decision", COMMITTEE_SERVICE, committee_payload(journey, "rejected"))
    assert rejected.to_stage == "rejected"
    assert {(n.audience, n.template) for n in rejected.notifications} == {
        ("customer", "application_rejected"), ("user", "case_rejected")}
    returned = journey.plan("committee_decision", COMMITTEE_SERVICE,
                            {**committee_payload(journey, "rejected"), "outcome": "returned"})
    assert returned.to_stage == "review"


def test_committee_decision_only_from_the_committee_service_and_matching_the_tally(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "committee_meeting")
    payload = committee_payload(journey)
    convener_and_member = ActorView("member-1", {"committee_member", "convener"})
    with pytest.raises(ActionNotAllowed):
        journey.plan("committee_decision", convener_and_member, payload)
    with pytest.raises(GuardFailed) as err:  # 3 of 5 is below two thirds: cannot be an approval
        journey.plan("committee_decision", COMMITTEE_SERVICE, {**payload, "votes_for": 3, "votes_against": 2})
    assert err.value.code == "guard_committee_tally"
    with pytest.raises(GuardFailed):  # a panel of the wrong size
        journey.plan("committee_decision", COMMITTEE_SERVICE, {**payload, "members": payload["members"][:3]})
    assert journey.plan("committee_decision", COMMITTEE_SERVICE, {**payload, "votes_for": 4}).to_stage == "approval_notice"


# --- refusals -------------------------------------------------------------------------------

def test_wrong_stage_wrong_role_unknown_action(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "review")
    with pytest.raises(WrongStage) as err:
        journey.plan("disburse", CLERK, {})
    assert err.value.code == "wrong_stage"
    with pytest.raises(ActionNotAllowed) as err:
        journey.plan("review_pass", OFFICER_A, {})
    assert err.value.code == "action_not_allowed"
    with pytest.raises(UnknownAction):
        journey.plan("approve_everything", REVIEWER, {})


@pytest.mark.parametrize("change,message", [
    ({"surprise": 1}, "unknown field"),
    ({"opinion": None}, "'opinion' is required"),
    ({"conclusion": "maybe"}, "must be one of"),
    ({"items": "not an object"}, "must be an object"),
])
def test_invalid_payload(definition, rules, change, message):
    journey = walk_to(Journey.begin(definition, rules), "review")
    journey.file("REVIEW-REPORT")
    payload = {"items": {}, "conclusion": "recommend", "opinion": "ok", **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    with pytest.raises(InvalidPayload, match=message) as err:
        journey.plan("review_pass", REVIEWER, payload)
    assert err.value.code == "invalid_payload"


def test_money_is_never_a_float(definition, rules):
    journey = Journey.begin(definition, rules)
    with pytest.raises(InvalidPayload, match="not a float"):
        journey.plan("apply", APPLICANT, {**application_payload("personal_consumer"), "amount": 200000.5})
    with pytest.raises(InvalidPayload, match="integer"):
        journey.plan("apply", APPLICANT, {**application_payload("personal_consumer"), "term_months": True})


def test_required_documents_must_be_filed(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "investigation")
    journey.file("INV-REPORT")
    with pytest.raises(GuardFailed, match="CREDIT-REPORT") as err:
        journey.plan("record_investigation", OFFICER_A, {"items": {}, "conclusion": "recommend", "opinion": "x"})
    assert set(err.value.details["missing"]) == {"INCOME-PROOF", "CREDIT-REPORT", "INV-PHOTOS", "FP-CAPTURE"}


def test_only_the_assigned_officers_investigate(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "investigation")
    journey.file("INCOME-PROOF", "CREDIT-REPORT", "INV-REPORT", "INV-PHOTOS", "FP-CAPTURE")
    journey.flag("prints_enrolled")
    payload = {"items": {}, "conclusion": "recommend", "opinion": "x"}
    with pytest.raises(GuardFailed, match="officer_a"):
        journey.plan("record_investigation", OFFICER_B, payload)
    journey.do("record_investigation", OFFICER_A, payload)
    with pytest.raises(GuardFailed, match="officer_b"):
        journey.plan("confirm_investigation", OFFICER_A, {"opinion": "self-confirmed"})


def test_disbursement_needs_matched_fingerprints_and_the_approved_amount(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "disbursement")
    payload = {"amount": journey.loan.amount, "account": "6217", "voucher_no": "V", "disbursed_on": "2025-03-10"}
    with pytest.raises(GuardFailed, match="prints") as err:
        journey.plan("disburse", CLERK, payload)
    assert err.value.code == "guard_flag_set"
    journey.flag("fingerprints_matched")
    with pytest.raises(GuardFailed, match="exceeds the approved"):
        journey.plan("disburse", CLERK, {**payload, "amount": journey.loan.amount + 1})
    assert journey.plan("disburse", CLERK, payload).to_stage == "active"


def test_video_signing_only_under_the_2024_rules(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "signing")
    journey.file("LOAN-CONTRACT")
    payload = {"mode": "video", "contract_no": "HT-1", "signed_on": "2024-06-30"}
    journey.now = dt.datetime(2024, 6, 30, 10, tzinfo=journey.now.tzinfo)
    with pytest.raises(GuardFailed, match="video") as err:
        journey.plan("record_signing", OFFICER_A, payload)
    assert err.value.code == "guard_signing_mode_allowed"
    assert journey.plan("record_signing", OFFICER_A, {**payload, "mode": "face_to_face"}).to_stage == "payment_first_review"
    journey.now = dt.datetime(2024, 7, 1, 10, tzinfo=journey.now.tzinfo)
    assert journey.plan("record_signing", OFFICER_A, payload).to_stage == "payment_first_review"


def test_own_payment_refused_where_entrusted_payment_is_required(definition, rules):
    journey = walk_to(Journey.begin(definition, rules, "personal_consumer"), "payment_first_review")
    journey.file("PAYMENT-APPLICATION")
    payload = {"payment_mode": "own", "amount": 20_000_000, "purpose": "consumption", "payee_known": True,
               "opinion": "x"}
    with pytest.raises(GuardFailed, match="entrusted") as err:
        journey.plan("payment_first_approve", PAY_FIRST, payload)
    assert err.value.code == "guard_payment_mode_allowed"
    # payee unknown and at most 300,000 yuan: the borrower may pay
    assert journey.plan("payment_first_approve", PAY_FIRST, {**payload, "payee_known": False}).to_stage == "payment_second_review"


def test_terms_beyond_the_limit_are_refused_at_application(definition, rules):
    journey = Journey.begin(definition, rules, "personal_consumer")
    with pytest.raises(GuardFailed, match="exceeds the limit of 60") as err:
        journey.plan("apply", APPLICANT, {**application_payload("personal_consumer"), "term_months": 61})
    assert err.value.code == "guard_term_within_limit"
    business = {**application_payload("personal_business"), "term_months": 84}
    with pytest.raises(GuardFailed, match="justification"):
        journey.plan("apply", APPLICANT, business)
    assert journey.plan("apply", APPLICANT, {**business, "justification": "orchard needs 7 years"}).to_stage == "submitted"
    with pytest.raises(GuardFailed, match="unknown product"):
        journey.plan("apply", APPLICANT, {**business, "product": "crypto"})


def test_deadlines_count_working_days(definition, rules):
    journey = Journey.begin(definition, rules)
    journey.now = dt.datetime(2025, 3, 7, 16, tzinfo=journey.now.tzinfo)  # a Friday
    submitted = journey.plan("apply", APPLICANT, application_payload("personal_consumer"))
    assert submitted.due_at == dt.datetime(2025, 3, 10, 16, tzinfo=journey.now.tzinfo)  # Monday


# --- what the loan page offers ------------------------------------------------------------

def test_open_actions_per_actor(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "investigation")
    codes = lambda actor: sorted(a.code for a in open_actions(definition, journey.loan, actor, journey.now, rules=rules))
    assert codes(OFFICER_A) == ["cancel_for_customer", "investigation_return"]  # documents not filed yet
    journey.file("INCOME-PROOF", "CREDIT-REPORT", "INV-REPORT", "INV-PHOTOS", "FP-CAPTURE")
    assert codes(OFFICER_A) == ["cancel_for_customer", "investigation_return"]  # prints not enrolled yet
    journey.flag("prints_enrolled")
    assert codes(OFFICER_A) == ["cancel_for_customer", "investigation_return", "record_investigation"]
    assert codes(OFFICER_B) == ["cancel_for_customer"]
    assert codes(INTAKE) == ["cancel_for_customer", "withdraw_dispatch"]
    assert codes(APPLICANT) == ["cancel_application"]
    assert codes(REVIEWER) == []
    blocked = {o.action.code: o.blocked.code for o in action_options(definition, journey.loan, OFFICER_B, journey.now)
               if o.blocked}
    assert blocked == {"investigation_return": "guard_is_assigned", "record_investigation": "guard_is_assigned"}
    journey.loan = replace(journey.loan, next_stage_acted=True)
    assert codes(INTAKE) == ["cancel_for_customer"]


def test_version_mismatch_is_a_programming_error(definition, rules):
    journey = Journey.begin(definition, rules)
    journey.loan = replace(journey.loan, definition_version="2025.9@0000000000000000")
    with pytest.raises(ValueError, match="registry"):
        journey.plan("apply", APPLICANT, application_payload("personal_consumer"))


def test_notifications_reach_the_next_actor(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "dispatch")
    dispatched = journey.do("dispatch_officers", INTAKE, {"route": "credit_union", "office": "union-7",
                                                          "officer_a": OFFICER_A.user_id, "officer_b": OFFICER_B.user_id})
    targets = {(n.audience, n.target, n.template) for n in dispatched.notifications}
    assert targets == {("user", "officer-a", "case_assigned"), ("user", "officer-b", "case_assigned"),
                       ("customer", "cust-1", "investigation_scheduled")}
    assert dispatched.assignments == {"investigating_office": "union-7", "officer_a": "officer-a", "officer_b": "officer-b"}
    recorded = step(journey)
    assert [(n.audience, n.target) for n in recorded.notifications] == [("user", "officer-b")]
    confirmed = step(journey)
    assert [(n.audience, n.target) for n in confirmed.notifications] == [("role", "reviewer")]
    _ = MANAGER
