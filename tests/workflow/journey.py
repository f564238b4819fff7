"""A loan's journey through a definition for the tests: plan an action, then apply the Plan
to the LoanView the way the core does (stage, duties, assignments, sender). No database."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from core.workflow import ActorView, Definition, LoanView, Plan, plan

TZ = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2025, 3, 3, 9, 0, tzinfo=TZ)  # a Monday, 2024 rules in force

APPLICANT = ActorView("cust-1", frozenset({"applicant"}))
COUNTER_OFFICER = ActorView("officer-counter", frozenset({"loan_officer"}))
INTAKE = ActorView("intake-1", frozenset({"intake_head"}))
OFFICER_A = ActorView("officer-a", frozenset({"loan_officer"}), "union-7")
OFFICER_B = ActorView("officer-b", frozenset({"loan_officer"}), "union-7")
REVIEWER = ActorView("reviewer-1", frozenset({"reviewer"}))
CONVENER = ActorView("convener-1", frozenset({"convener"}))
COMMITTEE_SERVICE = ActorView("committee-service", frozenset({"committee_service"}))
MANAGER = ActorView("manager-1", frozenset({"manager"}))
PAY_FIRST = ActorView("payrev-1", frozenset({"payment_reviewer"}))
PAY_SECOND = ActorView("payrev-2", frozenset({"payment_reviewer"}))
COMPLIANCE = ActorView("compliance-1", frozenset({"compliance_reviewer"}))
CLERK = ActorView("clerk-1", frozenset({"credit_accountant"}))
POST_LOAN = ActorView("postloan-1", frozenset({"post_loan_manager"}))
MEMBERS = tuple(f"member-{i}" for i in range(1, 10))

# product -> (amount in fen, term in months, purpose at payment, payee known, payment mode)
PRODUCTS: dict[str, tuple[int, int, str, bool, str]] = {
    "personal_consumer": (20_000_000, 36, "consumption", True, "entrusted"),   # 200k yuan
    "personal_business": (45_000_000, 60, "business", True, "own"),            # 450k: own allowed
    "working_capital": (300_000_000, 24, "business", True, "own"),             # 3M: large committee
    "fixed_asset": (2_000_000_000, 96, "business", True, "entrusted"),        # 20M
    "project_finance": (5_000_000_000, 120, "business", True, "entrusted"),   # 50M
}


@dataclass
class Journey:
    definition: Definition
    rules: Any
    loan: LoanView
    now: dt.datetime = START
    plans: list[Plan] = field(default_factory=list)
    actors: list[ActorView] = field(default_factory=list)

    @classmethod
    def begin(cls, definition: Definition, rules: Any, product: str = "personal_consumer") -> "Journey":
        amount, term, *_ = PRODUCTS[product]
        loan = LoanView(id="loan-1", stage=definition.start, definition_version=definition.version,
                        product=product, amount=amount, term_months=term, customer_user_id=APPLICANT.user_id)
        return cls(definition, rules, loan)

    @property
    def stage(self) -> str:
        return self.loan.stage

    def plan(self, action: str, actor: ActorView, payload: dict | None = None) -> Plan:
        return plan(self.definition, self.loan, action, actor, payload or {}, self.now, rules=self.rules)

    def do(self, action: str, actor: ActorView, payload: dict | None = None) -> Plan:
        result = self.plan(action, actor, payload)
        loan = self.loan
        self.loan = replace(
            loan, stage=result.to_stage,
            author_id=loan.author_id or (actor.user_id if loan.stage == self.definition.start else None),
            assignments={**loan.assignments, **result.assignments},
            history=loan.history + result.duties,
            last_sender_id=result.sender_id, next_stage_acted=False,
        )
        self.plans.append(result)
        self.actors.append(actor)
        self.now += dt.timedelta(hours=2)
        return result

    def file(self, *codes: str) -> None:
        self.loan = replace(self.loan, documents=self.loan.documents | frozenset(codes))

    def flag(self, *flags: str) -> None:
        self.loan = replace(self.loan, flags=self.loan.flags | frozenset(flags))

    def visited(self) -> list[str]:
        return [self.plans[0].from_stage] + [p.to_stage for p in self.plans]


def application_payload(product: str) -> dict:
    amount, term, *_ = PRODUCTS[product]
    return {"product": product, "amount": amount, "term_months": term, "purpose": "family and business needs",
            "customer_name": "张三", "id_number": "110101199001011234", "phone": "13800000000"}


def committee_payload(journey: Journey, outcome: str = "approved") -> dict:
    committee = journey.rules.at(journey.now.date()).committee_for(journey.loan.product, journey.loan.amount)
    members = list(MEMBERS[: committee.size])
    votes_for = committee.votes_needed() if outcome == "approved" else committee.votes_needed() - 1
    return {"meeting_id": "meeting-1", "members": members, "votes_for": votes_for,
            "votes_against": committee.size - votes_for, "summary": "discussed and voted", "outcome": outcome}


def step(journey: Journey) -> Plan:
    """Take the forward action of the loan's current stage as the right person (the happy path)."""
    product = journey.loan.product
    amount, term, purpose, payee_known, mode = PRODUCTS[product]
    stage = journey.stage
    if stage == "new":
        return journey.do("apply", APPLICANT, application_payload(product))
    if stage == "draft":
        return journey.do("submit_application", COUNTER_OFFICER if journey.loan.author_id == COUNTER_OFFICER.user_id else APPLICANT)
    if stage == "submitted":
        journey.file("APP-FORM", "ID-CARD")
        return journey.do("preliminary_pass", INTAKE, {"opinion": "complete"})
    if stage == "main_review":
        return journey.do("main_review_pass", INTAKE, {"opinion": "eligible", "risk_level": "low"})
    if stage == "dispatch":
        return journey.do("dispatch_officers", INTAKE, {"route": "sub_center", "office": "subcenter-2",
                                                         "officer_a": OFFICER_A.user_id, "officer_b": OFFICER_B.user_id})
    if stage == "investigation":
        journey.file("INCOME-PROOF", "CREDIT-REPORT", "INV-REPORT", "INV-PHOTOS", "FP-CAPTURE")
        journey.flag("prints_enrolled")
        return journey.do("record_investigation", OFFICER_A, {"items": {"income": "stable"}, "conclusion": "recommend",
                                                              "opinion": "visited the shop"})
    if stage == "investigation_check":
        return journey.do("confirm_investigation", OFFICER_B, {"opinion": "agree"})
    if stage == "review":
        journey.file("REVIEW-REPORT")
        return journey.do("review_pass", REVIEWER, {"items": {"collateral": "adequate"}, "conclusion": "recommend",
                                                    "opinion": "sound"})
    if stage == "risk_check":
        return journey.do("risk_check_pass", MANAGER, {"opinion": "acceptable risk"})
    if stage == "committee":
        kind = journey.rules.at(journey.now.date()).committee_for(product, amount).kind
        return journey.do("convene_committee", CONVENER, {"meeting_id": "meeting-1", "committee_kind": kind,
                                                          "meeting_at": (journey.now + dt.timedelta(days=1)).isoformat()})
    if stage == "committee_meeting":
        return journey.do("committee_decision", COMMITTEE_SERVICE, committee_payload(journey))
    if stage == "approval_notice":
        journey.file("APPROVAL-NOTICE")
        return journey.do("issue_approval_notice", MANAGER, {"disbursing_office": "union-7",
                                                             "post_loan_manager": POST_LOAN.user_id})
    if stage == "signing":
        journey.file("LOAN-CONTRACT")
        return journey.do("record_signing", OFFICER_A, {"mode": "video", "contract_no": "HT-2025-001",
                                                        "signed_on": journey.now.date().isoformat()})
    if stage == "payment_first_review":
        journey.file("PAYMENT-APPLICATION")
        return journey.do("payment_first_approve", PAY_FIRST, {"payment_mode": mode, "amount": amount, "purpose": purpose,
                                                               "payee_known": payee_known, "payee": "Supplier Co.",
                                                               "opinion": "documents match"})
    if stage == "payment_second_review":
        return journey.do("payment_second_approve", PAY_SECOND, {"opinion": "agree"})
    if stage == "compliance_review":
        return journey.do("compliance_approve", COMPLIANCE, {"opinion": "compliant"})
    if stage == "disbursement":
        journey.flag("fingerprints_matched")
        return journey.do("disburse", CLERK, {"amount": amount, "account": "6217000000000001", "voucher_no": "V-1",
                                              "disbursed_on": journey.now.date()})
    if stage == "active":
        return journey.do("close_loan", POST_LOAN, {"settlement": "repaid", "closed_on": journey.now.date()})
    raise AssertionError(f"no happy-path step for stage {stage}")


def walk_to(journey: Journey, stage: str, limit: int = 40) -> Journey:
    for _ in range(limit):
        if journey.stage == stage:
            return journey
        step(journey)
    raise AssertionError(f"never reached {stage}; stuck at {journey.stage}")


# who works at each stage (for returns, rejections and open-action checks)
STAGE_ACTORS = {
    "submitted": INTAKE, "main_review": INTAKE, "dispatch": INTAKE, "investigation": OFFICER_A,
    "investigation_check": OFFICER_B, "review": REVIEWER, "committee": CONVENER,
    "committee_meeting": CONVENER, "approval_notice": MANAGER, "signing": OFFICER_A,
    "payment_first_review": PAY_FIRST, "payment_second_review": PAY_SECOND,
    "compliance_review": COMPLIANCE, "disbursement": CLERK, "active": POST_LOAN, "risk_check": MANAGER,
}
