"""Post-loan use cases: enrolment at disbursement, records, closing by repayment, ratings.

Each function works in the caller's unit of work, reads through the caller's scope, refuses
before writing, and leaves an audit record in the same transaction.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..events import LoanDisbursed
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..identity import Principal
from ..inputs import DATE_MAX, DATE_MIN, parse_id
from ..orm import Customer, Loan, LoanDocument, utcnow
from ..ports import ArchiveFiler, DocumentCheck, DocumentRefused
from ..scope import Scope
from .schedule import Cadence, build_calendar
from .tables import DueTask, ManagedLoan, OfficerRating, PostLoanRecord, PrintVerification

RECORD_KINDS = {
    # kind: (document code in the credit archive, Chinese name)
    "inspection": ("INSPECTION-REPORT", "贷后检查报告"),
    "interest_list": ("INTEREST-LIST", "结息清单"),
    "collection_notice": ("COLLECTION-NOTICE", "催收通知书"),
    "repayment_proof": ("REPAYMENT-PROOF", "还款凭证"),
}
MAX_PAGE_BYTES = 512 * 1024
PAGE_KINDS = frozenset({"pdf", "jpeg", "png"})
ARCHIVE_KIND = "post_loan_record"  # the archive's retention rule for these records
PRINT_VALID_FOR = dt.timedelta(hours=24)


class PrintMatchRequired(Forbidden):
    code = "print_match_required"


def _day(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(f"{name} must be a date YYYY-MM-DD, got {value!r}", details={name: "date"}) from None
    if not DATE_MIN <= day <= DATE_MAX:
        raise InvalidInput(f"{name} must lie between {DATE_MIN} and {DATE_MAX}", details={name: "range"})
    return day


async def enroll(session: AsyncSession, rules, loan: Loan, *, disbursed_on: dt.date, principal_fen: int,
                 manager_id: int | None, origin: str = "system", maturity_on: dt.date | None = None,
                 outstanding_fen: int | None = None, checked: bool = True, cadence: Cadence = Cadence()) -> ManagedLoan:
    """Put a loan under management with its calendar; each due item becomes one task row."""
    if await session.get(ManagedLoan, loan.id) is not None:
        raise Conflict(f"loan {loan.id} is already under post-loan management")
    version = rules.at(disbursed_on)
    calendar = build_calendar(disbursed_on, loan.term_months, version.post_loan_schedule(loan.product, disbursed_on),
                              cadence, maturity_on=maturity_on)
    managed = ManagedLoan(loan_id=loan.id, manager_id=manager_id, disbursed_on=disbursed_on,
                          maturity_on=calendar.maturity_on, principal_fen=principal_fen,
                          outstanding_fen=principal_fen if outstanding_fen is None else outstanding_fen,
                          rule_version=version.code, origin=origin, checked=checked)
    session.add(managed)
    for item in calendar.items:
        session.add(DueTask(loan_id=loan.id, kind=item.kind, due_on=item.due_on, run_at=item.run_at,
                            audience=item.audience, template=item.template, only_if_unpaid=item.only_if_unpaid))
    await session.flush()
    return managed


async def on_disbursed(session: AsyncSession, workflow, loan: Loan, payload: Mapping[str, Any],
                       now: dt.datetime) -> ManagedLoan:
    """The workflow's hook: a loan that reaches stage `active` enters management."""
    assignments = json.loads(loan.assignments)
    manager = assignments.get("post_loan_manager")
    disbursed_on = _day(payload.get("disbursed_on") or now.date(), "disbursed_on")
    managed = await enroll(session, workflow.rules, loan, disbursed_on=disbursed_on,
                           principal_fen=int(payload.get("amount") or loan.amount_fen),
                           manager_id=parse_id(str(manager or "")))
    await audit.append(session, audit.Actor.system("postloan"), "postloan.enroll", "loan", loan.id,
                       {"disbursed_on": disbursed_on.isoformat(), "maturity_on": managed.maturity_on.isoformat()})
    return managed


async def on_loan_disbursed(session: AsyncSession, workflow, event: LoanDisbursed) -> ManagedLoan:
    """Handler of core.events.LoanDisbursed (wired by core.context.wire_workflow)."""
    loan = await session.get(Loan, event.loan_id)
    return await on_disbursed(session, workflow, loan, event.payload, event.at)


# --- reading ---------------------------------------------------------------------------------

async def managed_loan(session: AsyncSession, scope: Scope, loan_id: int) -> tuple[Loan, ManagedLoan]:
    loan = await scope.loan(session, loan_id)
    managed = await session.get(ManagedLoan, loan.id)
    if managed is None:
        raise NotFound(f"loan {loan_id} is not under post-loan management")
    return loan, managed


def _managed_json(loan: Loan, managed: ManagedLoan, customer: Customer | None) -> dict:
    return {"loan_id": loan.id, "tracking_code": loan.tracking_code, "product": loan.product,
            "customer": customer.name if customer else "", "stage": loan.stage,
            "manager_id": managed.manager_id, "disbursed_on": managed.disbursed_on.isoformat(),
            "maturity_on": managed.maturity_on.isoformat(), "principal_fen": managed.principal_fen,
            "outstanding_fen": managed.outstanding_fen, "origin": managed.origin, "checked": managed.checked,
            "status": managed.status, "rule_version": managed.rule_version}


async def desk(session: AsyncSession, scope: Scope, *, limit: int = 200) -> list[dict]:
    """The loans under management the caller can see, soonest maturity first."""
    rows = (await session.execute(
        select(Loan, ManagedLoan, Customer).join(ManagedLoan, ManagedLoan.loan_id == Loan.id)
        .join(Customer, Customer.id == Loan.customer_id).where(scope.loans())
        .order_by(ManagedLoan.status, ManagedLoan.maturity_on, Loan.id).limit(limit))).all()
    return [_managed_json(loan, managed, customer) for loan, managed, customer in rows]


async def schedule_of(session: AsyncSession, scope: Scope, loan_id: int) -> dict:
    loan, managed = await managed_loan(session, scope, loan_id)
    customer = await session.get(Customer, loan.customer_id)
    tasks = (await session.execute(select(DueTask).where(DueTask.loan_id == loan.id)
                                   .order_by(DueTask.run_at, DueTask.id))).scalars().all()
    records = (await session.execute(select(PostLoanRecord).where(PostLoanRecord.loan_id == loan.id)
                                     .order_by(PostLoanRecord.id))).scalars().all()
    return {**_managed_json(loan, managed, customer),
            "tasks": [{"kind": t.kind, "due_on": t.due_on.isoformat(), "run_at": t.run_at.isoformat(),
                       "audience": t.audience, "status": t.status} for t in tasks],
            "records": [_record_json(r) for r in records]}


def _record_json(record: PostLoanRecord) -> dict:
    return {"id": record.id, "kind": record.kind, "on_day": record.on_day.isoformat(),
            "covers_due_on": record.covers_due_on.isoformat() if record.covers_due_on else None,
            "amount_fen": record.amount_fen, "summary": record.summary, "details": json.loads(record.details),
            "pages": json.loads(record.pages), "recorded_by_id": record.recorded_by_id}


# --- records ---------------------------------------------------------------------------------

async def biometrics_match_required(session: AsyncSession, loan: Loan, managed: ManagedLoan, *,
                                    now: dt.datetime) -> PrintVerification | None:
    """The customer's print must match at an inspection of a loan disbursed through the system.

    The fingerprint service (another module) writes `PrintVerification` rows when it matches a
    print at the desk; until it does, a new loan's inspection is refused. Imported loans were
    taken on without enrolled prints, so they are exempt. A match counts for one inspection.
    """
    if managed.origin != "system":
        return None
    match = (await session.execute(
        select(PrintVerification).where(
            PrintVerification.loan_id == loan.id, PrintVerification.customer_id == loan.customer_id,
            PrintVerification.matched, PrintVerification.used_by_record_id.is_(None),
            PrintVerification.verified_at >= now - PRINT_VALID_FOR)
        .order_by(PrintVerification.id.desc()).limit(1))).scalar_one_or_none()
    if match is None:
        raise PrintMatchRequired("the customer's fingerprint has not been matched for this inspection "
                                 "(a new loan's inspection needs a print verified within the last 24 hours)")
    return match


@dataclass(frozen=True)
class Page:
    filename: str
    media_type: str
    content: bytes

    @classmethod
    def from_json(cls, item: Mapping[str, Any], index: int, check: DocumentCheck) -> "Page":
        if not isinstance(item, Mapping):
            raise InvalidInput(f"pages[{index}] must be an object", details={"pages": "type"})
        media_type = str(item.get("media_type", ""))
        if media_type not in ("application/pdf", "image/jpeg", "image/png"):
            raise InvalidInput(f"pages[{index}]: media_type must be application/pdf, image/jpeg or image/png",
                               details={"pages": "media_type"})
        try:
            content = base64.b64decode(str(item.get("content_base64", "")), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"pages[{index}]: content_base64 is not base64", details={"pages": "base64"}) from None
        if not content or len(content) > MAX_PAGE_BYTES:
            raise InvalidInput(f"pages[{index}]: a page must have 1 to {MAX_PAGE_BYTES} bytes",
                               details={"pages": "size"})
        # The same content check as every other file the credit file takes (tus uploads):
        # the bytes must really be the declared kind of scan, fully parseable.
        try:
            mime_type = check(content, allowed=PAGE_KINDS, max_size=MAX_PAGE_BYTES)
        except DocumentRefused as error:
            raise InvalidInput(f"pages[{index}]: {error.message}", code=error.code,
                               details={"pages": error.code}) from None
        if mime_type != media_type:
            raise InvalidInput(f"pages[{index}]: the file is {mime_type}, not {media_type}",
                               code="type_mismatch", details={"pages": "media_type"})
        return cls(str(item.get("filename", ""))[:200], media_type, content)


def keep_page(pages_dir: Path, page: Page) -> dict:
    """Keep the scan content-addressed until the credit archive takes it (the digest is the reference)."""
    digest = hashlib.sha256(page.content).hexdigest()
    pages_dir.mkdir(parents=True, exist_ok=True)
    target = pages_dir / digest
    if not target.exists():
        tmp = target.with_suffix(".part")
        tmp.write_bytes(page.content)
        tmp.replace(target)
    return {"sha256": digest, "size": len(page.content), "media_type": page.media_type, "filename": page.filename,
            "archive": "pending"}


async def _keep(archive: ArchiveFiler | None, pages_dir: Path, page: Page) -> dict:
    if archive is None:
        return keep_page(pages_dir, page)
    blob = await archive.put_bytes(page.content)
    return {"sha256": blob.digest, "size": blob.size, "media_type": page.media_type, "filename": page.filename,
            "archive": "stored"}


async def record(session: AsyncSession, workflow, scope: Scope, who: Principal, loan_id: int, kind: str,
                 body: Mapping[str, Any], *, pages_dir: Path, archive: ArchiveFiler | None = None,
                 check_document: DocumentCheck | None = None, now: dt.datetime | None = None) -> dict:
    """File a post-loan record with its scanned pages. A repayment that clears what is owed
    closes the loan through the workflow (close_loan) and opens the customer's rating.

    With the credit archive (the `archive` port, core.ports.ArchiveFiler) each page goes into
    its blob store and is filed as a record; without it (a core-only service) the page is kept
    content-addressed under `pages_dir` and listed as a `LoanDocument` by its digest."""
    now = now or utcnow()
    if kind not in RECORD_KINDS:
        raise InvalidInput(f"unknown record kind {kind!r}; known: {', '.join(RECORD_KINDS)}", details={"kind": "enum"})
    if not who.has("post_loan_manager"):
        raise Forbidden("post-loan records are filed by the post-loan manager")
    loan = await scope.loan(session, loan_id, for_update=True)
    managed = await session.get(ManagedLoan, loan.id)
    if managed is None:
        raise NotFound(f"loan {loan_id} is not under post-loan management")
    if managed.manager_id != who.user_id:
        raise Forbidden("only the loan's assigned post-loan manager files its records")
    if managed.status != "active" or loan.stage != "active":
        raise Conflict(f"loan {loan_id} is closed")
    if not managed.checked:
        raise Conflict("an imported loan must be checked by a manager before records are filed")
    on_day = _day(body.get("on_day") or now.date(), "on_day")
    if on_day > now.date():
        raise InvalidInput("on_day may not be in the future", details={"on_day": "future"})
    if check_document is None:  # no scan is taken unchecked: a core without the checker refuses
        raise Conflict("scanned pages cannot be checked here: no document checker is configured",
                       code="document_check_unavailable")
    pages = [Page.from_json(item, i, check_document) for i, item in enumerate(body.get("pages") or [])]
    if not pages:
        raise InvalidInput("a record needs at least one scanned page", details={"pages": "required"})
    amount = int(body.get("amount_fen") or 0)
    covers = _day(body["covers_due_on"], "covers_due_on") if body.get("covers_due_on") else None
    if kind == "repayment_proof":
        if amount < 0 or amount > managed.outstanding_fen:
            raise InvalidInput(f"amount_fen must be 0 to the outstanding {managed.outstanding_fen}",
                               details={"amount_fen": "range"})
        if amount == 0 and covers is None:
            raise InvalidInput("a repayment repays principal (amount_fen) or settles an interest date (covers_due_on)",
                               details={"amount_fen": "required"})
    match = None
    if kind == "inspection":
        match = await biometrics_match_required(session, loan, managed, now=now)
    kept = [await _keep(archive, pages_dir, page) for page in pages]
    entry = PostLoanRecord(loan_id=loan.id, kind=kind, on_day=on_day, covers_due_on=covers, amount_fen=amount,
                           summary=str(body.get("summary", ""))[:4000],
                           details=json.dumps(body.get("details") or {}, ensure_ascii=False, sort_keys=True),
                           pages=json.dumps(kept), recorded_by_id=who.user_id, created_at=now)
    session.add(entry)
    await session.flush()
    code, name_zh = RECORD_KINDS[kind]
    if archive is not None:
        # Filed into the credit archive: an archive entry per page, a new signed index version.
        for page in kept:
            filed = await archive.file_record(session, loan.id, ARCHIVE_KIND, page["sha256"], page["size"],
                                              f"{name_zh} {on_day.isoformat()}", actor=who.actor("post_loan_manager"),
                                              media_type=page["media_type"], code=code, filed_by_id=who.user_id)
            page["archive"] = f"entry:{filed['entry_id']}"
        entry.pages = json.dumps(kept)
    else:
        first_page = 1 + len((await session.execute(select(LoanDocument.id).where(
            LoanDocument.loan_id == loan.id, LoanDocument.code == code))).all())
        for n, page in enumerate(kept):
            session.add(LoanDocument(loan_id=loan.id, code=code, page=first_page + n, digest=page["sha256"],
                                     size=page["size"], media_type=page["media_type"], filename=page["filename"],
                                     filed_by_id=who.user_id, filed_at=now))
    if match is not None:
        match.used_by_record_id = entry.id
    if kind == "inspection":
        # The earliest open inspection is the one this report answers: its reminder is not sent.
        task = (await session.execute(select(DueTask).where(
            DueTask.loan_id == loan.id, DueTask.kind == "inspection_due", DueTask.status == "pending")
            .order_by(DueTask.due_on).limit(1))).scalar_one_or_none()
        if task is not None:
            task.status, task.done_at = "done", now
    closed = None
    if kind == "repayment_proof":
        managed.outstanding_fen -= amount
        if managed.outstanding_fen == 0:
            closed = await _close_repaid(session, workflow, scope, who, loan, managed, on_day, now)
    await audit.append(session, who.actor("post_loan_manager"), f"postloan.{kind}", "loan", loan.id,
                       {"record": entry.id, "pages": [p["sha256"] for p in kept], "amount_fen": amount})
    return {"record": _record_json(entry), "outstanding_fen": managed.outstanding_fen, "closed": closed}


async def _close_repaid(session, workflow, scope, who, loan, managed, on_day, now) -> dict:
    from .. import loanflow  # loanflow imports this module's hook; import here to avoid the cycle

    result = await loanflow.execute(session, workflow, scope, loanflow.Caller.of(who), loan.id, "close_loan",
                                    {"settlement": "repaid", "closed_on": on_day.isoformat()}, now=now)
    managed.status, managed.closed_on, managed.rating_open = "closed", on_day, True
    await session.execute(update(DueTask).where(DueTask.loan_id == loan.id, DueTask.status == "pending")
                          .values(status="skipped", done_at=now))
    return result


async def check_imported(session: AsyncSession, scope: Scope, who: Principal, loan_id: int, *,
                         now: dt.datetime | None = None) -> dict:
    """A manager confirms an imported loan; from then on it counts and its reminders run."""
    now = now or utcnow()
    if not who.has("manager", "chairman"):
        raise Forbidden("imported loans are checked by a manager")
    loan, managed = await managed_loan(session, scope, loan_id)
    if managed.origin != "imported":
        raise Conflict(f"loan {loan_id} was not imported")
    if managed.checked:
        raise Conflict(f"loan {loan_id} has been checked already")
    managed.checked, managed.checked_by_id, managed.checked_at = True, who.user_id, now
    # Reminders that fell due while the import waited are not sent late in a burst.
    await session.execute(update(DueTask).where(DueTask.loan_id == loan.id, DueTask.status == "pending",
                                                DueTask.run_at < now).values(status="skipped", done_at=now))
    await audit.append(session, who.actor("manager" if who.has("manager") else "chairman"), "postloan.check_import",
                       "loan", loan.id, {})
    return {"loan_id": loan.id, "checked": True}


async def unchecked_imports(session: AsyncSession, scope: Scope, limit: int = 200) -> list[dict]:
    rows = (await session.execute(
        select(Loan, ManagedLoan, Customer).join(ManagedLoan, ManagedLoan.loan_id == Loan.id)
        .join(Customer, Customer.id == Loan.customer_id)
        .where(scope.loans(), ManagedLoan.origin == "imported", ManagedLoan.checked.is_(False))
        .order_by(Loan.id).limit(limit))).all()
    return [_managed_json(loan, managed, customer) for loan, managed, customer in rows]


# --- customer voice ----------------------------------------------------------------------

async def rate_officer(session: AsyncSession, body: Mapping[str, Any], *, now: dt.datetime | None = None) -> dict:
    """The customer rates the officer after close; tracking code plus ID number identify them."""
    loan = (await session.execute(select(Loan).where(
        Loan.tracking_code == str(body.get("tracking_code", "")).strip().upper()))).scalar_one_or_none()
    customer = await session.get(Customer, loan.customer_id) if loan else None
    if customer is None or customer.id_number != str(body.get("id_number", "")).strip().upper():
        raise NotFound("no loan matches this tracking code and ID number")
    managed = await session.get(ManagedLoan, loan.id)
    if managed is None or not managed.rating_open:
        raise Conflict("this loan is not open for rating (rating opens when the loan is repaid and closed)")
    if (await session.execute(select(OfficerRating.id).where(OfficerRating.loan_id == loan.id))).first():
        raise Conflict("this loan has been rated already")
    for name in ("attitude", "skill"):
        value = body.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            raise InvalidInput(f"{name} must be 1 to 5", details={name: "range"})
    rating = OfficerRating(loan_id=loan.id, officer_id=loan.officer_a_id, attitude=body["attitude"],
                           skill=body["skill"], suggestions=str(body.get("suggestions", ""))[:2000],
                           created_at=now or utcnow())
    session.add(rating)
    managed.rating_open = False
    await session.flush()
    await audit.append(session, audit.Actor(None, "portal", "applicant", None), "postloan.rate", "loan", loan.id,
                       {"attitude": rating.attitude, "skill": rating.skill})
    return {"id": rating.id, "received": True}
