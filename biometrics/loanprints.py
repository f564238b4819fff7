"""Fingerprints in a loan's life: guarantors, enrollment at investigation (with the 1:N
duplicate-identity search), matching at the disbursement desk and at post-loan inspection.

These use cases live on the core side: they check the loan, the stage and the person through
the caller's scope, call the fingerprint service (in-process or over HTTP) for the biometric
work, then record the outcome on the loan — flags the workflow's guards read, the audit
trail, the archive. The service itself only ever sees opaque subjects (customer:<id>).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy import select

from core import audit
from core.config import Config
from core.db import Database
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from core.identity import Principal
from core.orm import Customer, Loan, utcnow
from core.scope import Scope

from .client import BiometricsClient
from .service import CaptureInput, Subject
from .tables import DuplicateIdentityHit, LoanGuarantor

ENROLLED_FLAG = "prints_enrolled"
MATCHED_FLAG = "fingerprints_matched"
DUPLICATE_FLAG = "duplicate_identity"


@dataclass(frozen=True)
class Person:
    customer_id: int
    role: str  # applicant | guarantor
    name: str
    id_number: str

    def json(self) -> dict:
        masked = self.id_number[:4] + "*" * max(len(self.id_number) - 8, 0) + self.id_number[-4:]
        return {"customer_id": self.customer_id, "role": self.role, "name": self.name, "id_number": masked,
                "subject": str(Subject("customer", self.customer_id))}


def _set_flag(loan: Loan, flag: str, on: bool) -> None:
    flags = set(json.loads(loan.flags))
    changed = (flag in flags) != on
    if changed:
        flags.symmetric_difference_update({flag})
        loan.flags = json.dumps(sorted(flags))


async def people_of(session, loan: Loan) -> list[Person]:
    """The applicant, then the guarantors in the order they were added."""
    applicant = await session.get(Customer, loan.customer_id)
    people = [Person(applicant.id, "applicant", applicant.name, applicant.id_number)]
    rows = (await session.execute(select(Customer).join(LoanGuarantor, LoanGuarantor.customer_id == Customer.id)
                                  .where(LoanGuarantor.loan_id == loan.id).order_by(LoanGuarantor.id))).scalars()
    people += [Person(c.id, "guarantor", c.name, c.id_number) for c in rows]
    return people


def _investigating(loan: Loan, who: Principal) -> None:
    if loan.stage != "investigation":
        raise Conflict(f"prints are enrolled at the investigation; the loan is at {loan.stage}", code="wrong_stage")
    if who.user_id not in (loan.officer_a_id, loan.officer_b_id):
        raise Forbidden("only the loan's investigating officers enroll prints")


class LoanPrints:
    """The loan-level fingerprint use cases, over core's database and a fingerprint client."""

    def __init__(self, config: Config, db: Database, client: BiometricsClient, archive=None) -> None:
        self.config = config
        self.db = db
        self.client = client
        self.archive = archive

    # --- guarantors ----------------------------------------------------------------------

    async def add_guarantor(self, scope: Scope, loan_id: int, *, name: str, id_number: str,
                            phone: str = "") -> dict:
        """Officer A adds a guarantor (担保人) at the investigation; an existing customer with
        the ID number is reused (the name must agree)."""
        who = scope.principal
        id_number = id_number.strip().upper()
        if not name.strip() or not 15 <= len(id_number) <= 18:
            raise InvalidInput("a guarantor needs a name and an ID number (15-18 characters)",
                               details={"id_number": "format"})
        async with self.db.unit_of_work() as session:
            loan = await scope.loan(session, loan_id, for_update=True)
            if loan.stage != "investigation" or loan.officer_a_id != who.user_id:
                raise Forbidden("guarantors are added by officer A during the investigation")
            customer = (await session.execute(select(Customer).where(Customer.id_number == id_number))
                        ).scalar_one_or_none()
            if customer is None:
                customer = Customer(name=name.strip(), id_number=id_number, phone=phone, office_id=loan.office_id)
                session.add(customer)
                await session.flush()
            elif customer.name != name.strip():
                raise InvalidInput("the name does not match the ID number on file", details={"name": "mismatch"})
            if customer.id == loan.customer_id:
                raise InvalidInput("the applicant cannot guarantee their own loan", details={"id_number": "applicant"})
            if (await session.execute(select(LoanGuarantor.id).where(
                    LoanGuarantor.loan_id == loan.id, LoanGuarantor.customer_id == customer.id))).first():
                raise Conflict("this person is already a guarantor of the loan", code="guarantor_exists")
            session.add(LoanGuarantor(loan_id=loan.id, customer_id=customer.id, added_by_id=who.user_id))
            # A new person has no prints yet: the investigation is no longer complete.
            _set_flag(loan, ENROLLED_FLAG, False)
            await audit.append(session, who.actor(), "loan.add_guarantor", "loan", loan.id,
                               {"customer_id": customer.id})
            return {"loan_id": loan.id, "customer_id": customer.id}

    # --- enrollment at investigation ----------------------------------------------------------

    async def enroll(self, scope: Scope, loan_id: int, customer_id: int, finger: int,
                     capture: CaptureInput) -> dict:
        """Enroll one finger of the applicant or a guarantor; search every enrolled customer
        print for the same finger under another ID number; mark the loan when complete."""
        who = scope.principal
        async with self.db.unit_of_work(write=False) as session:
            loan = await scope.loan(session, loan_id)
            _investigating(loan, who)
            people = await people_of(session, loan)
        person = next((p for p in people if p.customer_id == customer_id), None)
        if person is None:
            raise InvalidInput(f"customer {customer_id} is neither the applicant nor a guarantor of loan {loan_id}",
                               details={"customer_id": "not_on_loan"})
        result = await self.client.enroll(Subject("customer", customer_id), finger, capture,
                                          requested_by=f"user:{who.user_id}", loan_id=loan_id, search_duplicates=True)
        duplicates = result.get("duplicates", [])
        status = await self._completeness(people, loan_id)
        async with self.db.unit_of_work() as session:
            loan = await scope.loan(session, loan_id, for_update=True)
            for hit in duplicates:
                session.add(DuplicateIdentityHit(
                    loan_id=loan.id, customer_id=customer_id, other_customer_id=Subject.parse(hit["subject"]).id,
                    capture_id=result["capture_id"], other_capture_id=hit["capture_id"], score=hit["score"]))
            if duplicates:
                _set_flag(loan, DUPLICATE_FLAG, True)
            _set_flag(loan, ENROLLED_FLAG, status["complete"])
            await audit.append(session, who.actor(), "biometrics.enroll", "loan", loan.id, {
                "customer_id": customer_id, "role": person.role, "finger": result["finger"],
                "capture_sha256": result["sha256"], "minutiae": result["minutiae"],
                "duplicates": [{"other_customer_id": Subject.parse(h["subject"]).id, "score": h["score"]}
                               for h in duplicates]})
        return {**{k: result[k] for k in ("capture_id", "finger", "sha256", "minutiae", "area_mm2")},
                "customer_id": customer_id, "duplicates": len(duplicates), "complete": status["complete"]}

    async def _completeness(self, people: list[Person], loan_id: int) -> dict:
        need = self.config.fingerprint_min_fingers
        rows = []
        for person in people:
            enrolled = await self.client.enrolled(Subject("customer", person.customer_id), loan_id=loan_id)
            rows.append({**person.json(), "fingers": sorted({e["finger"] for e in enrolled}),
                         # Fingers enrolled only in a template mode the deployment has left: still
                         # verified through those, but to be captured again (docs/fingerprint-accuracy.md).
                         "reenroll": sorted({e["finger"] for e in enrolled if e.get("reenroll")}),
                         "enrollments": enrolled})
        complete = all(len(r["fingers"]) >= need for r in rows)
        return {"people": rows, "min_fingers": need, "complete": complete}

    async def status(self, scope: Scope, loan_id: int) -> dict:
        """Who must give prints for the loan, what is enrolled, and duplicate-identity hits."""
        if scope.principal.roles <= {"applicant"}:
            raise Forbidden("fingerprint records are for staff")
        async with self.db.unit_of_work(write=False) as session:
            loan = await scope.loan(session, loan_id)
            people = await people_of(session, loan)
            hits = (await session.execute(select(DuplicateIdentityHit, Customer)
                                          .join(Customer, Customer.id == DuplicateIdentityHit.other_customer_id)
                                          .where(DuplicateIdentityHit.loan_id == loan.id)
                                          .order_by(DuplicateIdentityHit.id))).all()
            flags = json.loads(loan.flags)
            stage = loan.stage
        status = await self._completeness(people, loan_id)
        names = {p.customer_id: p.name for p in people}
        status["duplicates"] = [{
            "customer_id": hit.customer_id, "name": names.get(hit.customer_id, ""),
            "other_customer_id": hit.other_customer_id,
            "other": Person(other.id, "other", other.name, other.id_number).json(),
            "score": hit.score, "found_at": hit.found_at.isoformat()} for hit, other in hits]
        status.update(loan_id=loan_id, stage=stage, flags=flags, threshold=self.config.fingerprint_threshold)
        return status

    # --- disbursement desk ------------------------------------------------------------------

    async def disbursement_check(self, scope: Scope, loan_id: int,
                                 captures: Mapping[int, CaptureInput]) -> dict:
        """Every person's fresh print must match their investigation enrollment; on success
        the loan is marked `fingerprints_matched` (the disburse action requires it)."""
        who = scope.principal
        if not who.has("credit_accountant"):
            raise Forbidden("prints are matched at the desk by the disbursement clerk")
        async with self.db.unit_of_work(write=False) as session:
            loan = await scope.loan(session, loan_id)
            if loan.stage != "disbursement":
                raise Conflict(f"the loan is at {loan.stage}, not at disbursement", code="wrong_stage")
            people = await people_of(session, loan)
        missing = [p for p in people if p.customer_id not in captures]
        extra = set(captures) - {p.customer_id for p in people}
        if extra:
            raise InvalidInput(f"customers {sorted(extra)} are not on loan {loan_id}", details={"captures": "not_on_loan"})
        results, reasons = [], []
        for person in people:
            if person in missing:
                reasons.append(f"{person.role} {person.name}: no print captured")
                results.append({**person.json(), "matched": False, "reason": "no print captured"})
                continue
            try:
                outcome = await self.client.verify(
                    Subject("customer", person.customer_id), captures[person.customer_id],
                    requested_by=f"user:{who.user_id}", purpose="disbursement", loan_id=loan_id,
                    enrollment_loan_id=loan_id, render=True)
            except ServiceError as error:
                outcome = {"matched": False, "reason": error.message, "error": error.code}
            if not outcome["matched"]:
                reasons.append(f"{person.role} {person.name}: {outcome['reason']}")
            results.append({**person.json(), **outcome})
        matched = not reasons
        record = {"people": [{k: r.get(k) for k in ("customer_id", "role", "matched", "score", "threshold", "finger",
                                                     "verification_id", "sha256", "reason", "error")}
                             for r in results], "decision": "matched" if matched else "refused"}
        filed = None
        async with self.db.unit_of_work() as session:
            loan = await scope.loan(session, loan_id, for_update=True)
            _set_flag(loan, MATCHED_FLAG, matched)
            await audit.append(session, who.actor("credit_accountant"),
                               "biometrics.disbursement_match" if matched else "biometrics.disbursement_refused",
                               "loan", loan.id, {**record, "reasons": reasons},
                               outcome="ok" if matched else "refused")
        if matched:
            filed = await self._file(loan_id, who, record)
        return {"loan_id": loan_id, "decision": record["decision"], "matched": matched, "reasons": reasons,
                "threshold": self.config.fingerprint_threshold, "people": results, "archive": filed}

    async def _file(self, loan_id: int, who: Principal, record: dict) -> dict | None:
        """The match record (verification ids, capture hashes, scores; no template) goes into
        the credit archive; the captures themselves stay encrypted in the fingerprint tables."""
        if self.archive is None:
            return None
        from recordings import service as archive_service

        blob = json.dumps({"loan_id": loan_id, "kind": "fingerprint_record", **record,
                           "at": utcnow().isoformat()}, ensure_ascii=False, sort_keys=True).encode()
        stored = await self.archive.store.put_bytes(blob)
        async with self.db.unit_of_work() as session:
            return await archive_service.file_record(
                session, self.archive, loan_id, "fingerprint_record", stored.digest, stored.size,
                "放款指纹核验记录 / disbursement fingerprint match", actor=who.actor("credit_accountant"),
                media_type="application/json", code="FP-DISBURSE", filed_by_id=who.user_id)

    # --- post-loan inspection ---------------------------------------------------------------

    async def post_loan_check(self, scope: Scope, loan_id: int, capture: CaptureInput) -> dict:
        """The customer's print at an inspection, matched against the investigation enrollment;
        the outcome is what post-loan's `biometrics_match_required` reads."""
        from core.postloan.tables import ManagedLoan, PrintVerification

        who = scope.principal
        if not who.has("post_loan_manager"):
            raise Forbidden("inspection prints are taken by the post-loan manager")
        async with self.db.unit_of_work(write=False) as session:
            loan = await scope.loan(session, loan_id)
            managed = await session.get(ManagedLoan, loan.id)
            if managed is None or loan.stage != "active":
                raise NotFound(f"loan {loan_id} is not under post-loan management")
            customer_id = loan.customer_id
        outcome = await self.client.verify(Subject("customer", customer_id), capture,
                                           requested_by=f"user:{who.user_id}", purpose="post_loan",
                                           loan_id=loan_id, enrollment_loan_id=loan_id)
        async with self.db.unit_of_work() as session:
            session.add(PrintVerification(loan_id=loan_id, customer_id=customer_id, matched=outcome["matched"],
                                          score=int(outcome["score"]), verified_at=utcnow(),
                                          reference=f"bio-verification:{outcome['verification_id']}"))
            await audit.append(session, who.actor("post_loan_manager"), "biometrics.post_loan_match", "loan", loan_id,
                               {k: outcome[k] for k in ("matched", "score", "threshold", "verification_id", "sha256")},
                               outcome="ok" if outcome["matched"] else "refused")
        return {k: outcome[k] for k in ("matched", "score", "threshold", "reason", "verification_id", "finger")}


def capture_from(body: Mapping[str, Any]) -> CaptureInput:
    return CaptureInput.from_json(dict(body))
