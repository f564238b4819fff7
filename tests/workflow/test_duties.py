"""Separation of duties (审贷分离), per loan from its history."""
from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from core.workflow import DEFAULT_EXCLUSIVE, ActorView, DutyConflict, DutyRecord, GuardFailed, check_duty, check_new_duties, excluded_for

from .journey import (
    CLERK, COMMITTEE_SERVICE, INTAKE, OFFICER_A, OFFICER_B, PAY_FIRST, PAY_SECOND, REVIEWER, Journey,
    committee_payload, walk_to,
)


@pytest.mark.parametrize("earlier,later", list(itertools.permutations(sorted(DEFAULT_EXCLUSIVE), 2)))
def test_no_person_does_two_exclusive_duties(earlier, later):
    history = (DutyRecord("u1", earlier), DutyRecord("u2", later))
    with pytest.raises(DutyConflict) as err:
        check_duty(history, "u1", later)
    assert err.value.code == "duty_conflict" and err.value.details["earlier"] == [earlier]
    check_duty(history, "u3", later)  # someone fresh may
    check_duty(history, "u1", earlier)  # repeating one's own duty (after a return) is fine


def test_duties_outside_the_exclusive_set_do_not_conflict():
    check_duty((DutyRecord("u1", "review"),), "u1", "sign_notice")


def test_batch_is_checked_against_itself():
    with pytest.raises(DutyConflict):
        check_new_duties((), [DutyRecord("u1", "investigate_a"), DutyRecord("u1", "investigate_b")])


def test_excluded_for_lists_people_and_reasons():
    history = (DutyRecord("a", "investigate_a"), DutyRecord("b", "investigate_b"), DutyRecord("r", "review"),
               DutyRecord("r", "review"))
    assert excluded_for(history, "committee_vote") == {"a": ("investigate_a",), "b": ("investigate_b",), "r": ("review",)}
    assert excluded_for(history, "review") == {"a": ("investigate_a",), "b": ("investigate_b",)}


# --- the same rules enforced through the workflow --------------------------------------------

def _both(user: str, *roles: str) -> ActorView:
    return ActorView(user, frozenset(roles))


def test_officers_a_and_b_are_two_people(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "dispatch")
    payload = {"route": "sub_center", "office": "sc-1", "officer_a": "officer-a", "officer_b": "officer-a"}
    with pytest.raises(GuardFailed, match="different people"):
        journey.plan("dispatch_officers", INTAKE, payload)


def test_a_and_b_different_even_without_the_guard(definition, rules):
    # a bank that drops the distinct_values guard from its copy still gets the duty check
    text = definition.text.replace('guards = [{ name = "distinct_values", fields = ["officer_a", "officer_b"] }]\n', "")
    from core.workflow import parse_definition
    edited = parse_definition(text, "edited.toml")
    journey = walk_to(Journey.begin(edited, rules), "dispatch")
    with pytest.raises(DutyConflict):
        journey.plan("dispatch_officers", INTAKE, {"route": "sub_center", "office": "sc-1",
                                                   "officer_a": "officer-a", "officer_b": "officer-a"})


def test_investigator_may_not_review(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "review")
    journey.file("REVIEW-REPORT")
    payload = {"items": {}, "conclusion": "recommend", "opinion": "x"}
    for officer in (OFFICER_A, OFFICER_B):
        with pytest.raises(DutyConflict):
            journey.plan("review_pass", _both(officer.user_id, "loan_officer", "reviewer"), payload)


def test_reviewer_and_investigators_may_not_vote(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "committee_meeting")
    payload = committee_payload(journey)
    for insider in (OFFICER_A.user_id, OFFICER_B.user_id, REVIEWER.user_id):
        members = [insider] + payload["members"][1:]
        with pytest.raises(DutyConflict) as err:
            journey.plan("committee_decision", COMMITTEE_SERVICE, {**payload, "members": members})
        assert err.value.details["user_id"] == insider


def test_committee_member_may_not_review_payment_or_disburse(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "payment_first_review")
    member = committee_payload(journey)["members"][0]
    assert ("member-1", "committee_vote") in {(r.user_id, r.duty) for r in journey.loan.history}
    journey.file("PAYMENT-APPLICATION")
    payload = {"payment_mode": "entrusted", "amount": journey.loan.amount, "purpose": "consumption",
               "payee_known": True, "opinion": "x"}
    with pytest.raises(DutyConflict, match="committee_vote"):
        journey.plan("payment_first_approve", _both(member, "payment_reviewer"), payload)
    walk_to(journey, "disbursement")
    journey.flag("fingerprints_matched")
    with pytest.raises(DutyConflict, match="committee_vote"):
        journey.plan("disburse", _both(member, "credit_accountant"),
                     {"amount": journey.loan.amount, "account": "6217", "voucher_no": "V", "disbursed_on": "2025-03-20"})


def test_one_person_cannot_do_both_payment_reviews(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "payment_second_review")
    with pytest.raises(DutyConflict, match="payment_first_review"):
        journey.plan("payment_second_approve", PAY_FIRST, {"opinion": "self-approved"})
    assert journey.plan("payment_second_approve", PAY_SECOND, {"opinion": "ok"}).to_stage == "compliance_review"


def test_payment_reviewer_may_not_disburse(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "disbursement")
    journey.flag("fingerprints_matched")
    payload = {"amount": journey.loan.amount, "account": "6217", "voucher_no": "V", "disbursed_on": "2025-03-20"}
    for reviewer in (PAY_FIRST, PAY_SECOND, REVIEWER, OFFICER_A):
        with pytest.raises(DutyConflict, match="disburse"):
            journey.plan("disburse", _both(reviewer.user_id, "credit_accountant"), payload)
    assert journey.plan("disburse", CLERK, payload).to_stage == "active"


def test_redispatch_to_someone_with_another_duty_is_refused(definition, rules):
    journey = walk_to(Journey.begin(definition, rules), "review")
    journey.do("review_return", REVIEWER, {"reason": "wrong officers", "return_to": "dispatch"})
    with pytest.raises(DutyConflict):  # the reviewer of this loan cannot become its officer A
        journey.plan("dispatch_officers", INTAKE, {"route": "sub_center", "office": "sc-1",
                                                   "officer_a": REVIEWER.user_id, "officer_b": "officer-c"})
    with pytest.raises(DutyConflict):  # nor can the old officer B become officer A
        journey.plan("dispatch_officers", INTAKE, {"route": "sub_center", "office": "sc-1",
                                                   "officer_a": OFFICER_B.user_id, "officer_b": "officer-c"})
    swapped = journey.plan("dispatch_officers", INTAKE, {"route": "sub_center", "office": "sc-1",
                                                         "officer_a": OFFICER_A.user_id, "officer_b": "officer-c"})
    assert swapped.to_stage == "investigation"


def test_duties_are_per_loan(definition, rules):
    # officer A of one loan may review another: the history checked is the loan's own
    first = walk_to(Journey.begin(definition, rules), "review")
    second = walk_to(Journey.begin(definition, rules), "review")
    second.loan = replace(second.loan, history=())
    first.file("REVIEW-REPORT")
    second.file("REVIEW-REPORT")
    payload = {"items": {}, "conclusion": "recommend", "opinion": "x"}
    officer_reviewer = _both(OFFICER_A.user_id, "loan_officer", "reviewer")
    with pytest.raises(DutyConflict):
        first.plan("review_pass", officer_reviewer, payload)
    assert second.plan("review_pass", officer_reviewer, payload).duties == (DutyRecord(OFFICER_A.user_id, "review"),)
