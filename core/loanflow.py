"""The one command path of the loan workflow (流程): every action on a loan runs here.

A command is (loan, action, actor, payload). In the caller's unit of work it loads the loan
within the actor's scope, asks the workflow definition for a plan (stage, role, guards,
payload, separation of duties), checks the people and offices the payload names, then applies
the plan: the new stage, the command record (maker, checker, payload), duties, assignments,
the audit record and the queued notifications. Any refusal raises before anything is written,
so a command happens entirely or not at all.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit, messages, outbox
from .audit import canonical_json
from .errors import Forbidden, InvalidInput, NotFound, ServiceError
from .events import EventHandlers, LoanClosed, LoanDisbursed
from .identity import Principal, is_staff
from .inputs import parse_id
from .ports import StepUpUnavailable, StepUpVerifier
from .orm import (
    Customer, Loan, LoanDocument, LoanDuty, LoanEvent, LoanParticipant, Office, User, UserRole,
    WorkflowVersion, utcnow,
)
from .rules.rulebook import RuleBook
from .scope import Scope
from .workflow import (
    ActionNotAllowed, ActorView, Definition, DomainError, DutyConflict, DutyRecord, GuardFailed,
    InvalidPayload, LoanView, Plan, UnknownAction, WorkflowRegistry, WrongStage, action_options, plan,
)
from .workflow.definition import load_definition

# Who may be named in a payload slot: the role the named user must hold.
SLOT_ROLES = {"officer_a": "loan_officer", "officer_b": "loan_officer",
              "post_loan_manager": "post_loan_manager", "members": "committee_member"}
NEW_LOAN = "new"


class DomainRefusal(ServiceError):
    """A workflow refusal, carried to the HTTP layer with its stable code."""


_STATUS = {WrongStage: 409, UnknownAction: 404, ActionNotAllowed: 403, DutyConflict: 403,
           GuardFailed: 422, InvalidPayload: 422}


def refusal(error: DomainError) -> DomainRefusal:
    result = DomainRefusal(error.message, code=error.code, details=error.details)
    result.status = next((s for kind, s in _STATUS.items() if isinstance(error, kind)), 422)
    return result


@dataclass
class Workflow:
    """The definitions loans run on, and the rule tables they are checked against."""

    registry: WorkflowRegistry
    rules: RuleBook
    stage_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    # Wired in by the composition root (core.context.Services.build): who spends the step-up
    # tokens of important actions, and who hears the events loans raise (core.events).
    step_up: StepUpVerifier = field(default_factory=StepUpUnavailable)
    events: EventHandlers = field(default_factory=EventHandlers)

    @property
    def current(self) -> Definition:
        return self.registry.current

    @classmethod
    def load(cls, workflow_path: Path | None, rules_path: Path | None) -> "Workflow":
        from .workflow.definition import DEFAULT_PATH
        from .rules.rulebook import DEFAULT_PATH as RULES_PATH

        registry = WorkflowRegistry()
        registry.add(load_definition(workflow_path or DEFAULT_PATH), current=True)
        workflow = cls(registry, RuleBook.load(rules_path or RULES_PATH))
        workflow._index()
        return workflow

    def _index(self) -> None:
        """Stage → the roles that move a case on from it (their work queue), over all versions."""
        roles: dict[str, set[str]] = {}
        for definition in self.registry:
            for action in definition.actions.values():
                if action.kind == "withdraw":
                    continue
                for stage in action.from_stages:
                    roles.setdefault(stage, set()).update(action.roles - {"committee_service"})
        self.stage_roles = {stage: frozenset(r) for stage, r in roles.items()}

    async def remember_versions(self, session: AsyncSession) -> None:
        """Store the current definition's text; load every stored one (loans in flight)."""
        current = self.current
        if await session.get(WorkflowVersion, current.version) is None:
            session.add(WorkflowVersion(version=current.version, origin=current.origin[:400], text=current.text))
        for stored in (await session.execute(select(WorkflowVersion))).scalars():
            if stored.version not in self.registry:
                self.registry.add_text(stored.text, stored.origin)
        self._index()


    async def definition_of(self, session: AsyncSession, version: str) -> Definition:
        """The definition a loan runs on. A version this process has not loaded was stored by
        another core node started with a newer workflow file (a bank's change, rolled out node
        by node): it is read from the database once, instead of failing the request."""
        if version not in self.registry:
            stored = await session.get(WorkflowVersion, version)
            if stored is not None:
                self.registry.add_text(stored.text, stored.origin)
                self._index()
        return self.registry.get(version)


@dataclass(frozen=True)
class Caller:
    """Who issues a command: a signed-in user, the public portal, or the committee service."""

    user_id: int | None
    name: str
    roles: frozenset[str]
    office_id: int | None
    principal: Principal | None = None

    @classmethod
    def of(cls, principal: Principal) -> "Caller":
        return cls(principal.user_id, principal.username, principal.roles, principal.office_id, principal)

    @classmethod
    def portal(cls) -> "Caller":
        return cls(None, "portal", frozenset({"applicant"}), None)

    @classmethod
    def committee_service(cls, name: str = "committee-service") -> "Caller":
        return cls(None, name, frozenset({"committee_service"}), None)

    @property
    def view(self) -> ActorView:
        return ActorView(str(self.user_id) if self.user_id else self.name, self.roles,
                         str(self.office_id) if self.office_id else None)

    def actor(self, role: str) -> audit.Actor:
        return audit.Actor(self.user_id, self.name, role, self.office_id)


def _acting_role(caller: Caller, action_roles: frozenset[str]) -> str:
    return sorted(caller.roles & action_roles)[0] if caller.roles & action_roles else "none"


async def loan_view(session: AsyncSession, loan: Loan) -> LoanView:
    duties = (await session.execute(select(LoanDuty.user_id, LoanDuty.duty).where(LoanDuty.loan_id == loan.id))).all()
    codes = (await session.execute(select(LoanDocument.code).where(LoanDocument.loan_id == loan.id).distinct())).scalars()
    customer = await session.get(Customer, loan.customer_id)
    return LoanView(
        id=str(loan.id), stage=loan.stage, definition_version=loan.workflow_version, product=loan.product,
        amount=loan.amount_fen, term_months=loan.term_months,
        customer_user_id=str(customer.user_id) if customer and customer.user_id else None,
        author_id=str(loan.created_by_id) if loan.created_by_id else None,
        assignments=json.loads(loan.assignments),
        history=tuple(DutyRecord(str(user_id), duty) for user_id, duty in duties),
        last_sender_id=str(loan.sender_id) if loan.sender_id else None,
        next_stage_acted=loan.stage_acted, flags=frozenset(json.loads(loan.flags)), documents=frozenset(codes))


async def _check_named_people(session: AsyncSession, plan_: Plan, payload: Mapping[str, Any],
                              definition: Definition) -> None:
    """Users and offices named in a payload must exist, be active and hold the needed role."""
    specs = definition.actions[plan_.action].payload
    for name, spec in specs.items():
        if name not in payload:
            continue
        values = payload[name] if spec.type == "user_list" else [payload[name]]
        if spec.type in ("user", "user_list"):
            for value in values:
                user_id = parse_id(str(value))
                user = await session.get(User, user_id) if user_id else None
                role = SLOT_ROLES.get(name)
                if user is None or not user.active or (role and role not in user.role_codes):
                    raise InvalidInput(f"{name}: {value} is not an active {role or 'user'}", details={name: "user"})
        elif spec.type == "office":
            office_id = parse_id(str(values[0]))
            office = await session.get(Office, office_id) if office_id else None
            if office is None or not office.active:
                raise InvalidInput(f"{name}: no active office {values[0]}", details={name: "office"})


# The slots whose people must work at the office the same command sends the case to.
_OFFICE_BOUND_SLOTS = ("officer_a", "officer_b")


async def _check_officers_of_office(session: AsyncSession, plan_: Plan) -> None:
    """A dispatch sends the case to an investigating office and names its officers A and B: they
    must be officers of that office (the page offers only those; a crafted request is refused
    the same way), or the case would sit in an office whose staff never see it."""
    office = plan_.assignments.get("investigating_office")
    if office is None:
        return
    office_id = parse_id(str(office))
    for slot in _OFFICE_BOUND_SLOTS:
        if slot not in plan_.assignments:
            continue
        user = await session.get(User, parse_id(str(plan_.assignments[slot])))
        if user is None or user.office_id != office_id:
            raise InvalidInput(f"{slot}: {plan_.assignments[slot]} is not an officer of the investigating office "
                               f"{office}", code="officer_not_in_office",
                               details={"field": slot, "office": office_id})


def _jsonable(payload: Mapping[str, Any]) -> dict:
    return json.loads(canonical_json(payload))


async def _apply(session: AsyncSession, workflow: Workflow, loan: Loan, caller: Caller, plan_: Plan,
                 definition: Definition, now: dt.datetime) -> LoanEvent:
    role = _acting_role(caller, definition.actions[plan_.action].roles)
    assignments = {**json.loads(loan.assignments), **plan_.assignments}
    checker_of = loan.sender_id if plan_.kind in ("approve", "decide", "reject", "return", "system") else None
    loan.stage = plan_.to_stage
    loan.stage_entered_at = now
    loan.updated_at = now
    loan.due_at = plan_.due_at
    loan.assignments = json.dumps(assignments, sort_keys=True)
    if plan_.kind == "withdraw":
        # The sender pulled the step back: they are again the one it waits on, and the stage
        # before it is "untouched" once more.
        loan.sender_id, loan.stage_acted = None, False
    else:
        loan.sender_id, loan.stage_acted = caller.user_id, False
    if "officer_a" in plan_.assignments:
        loan.officer_a_id = int(plan_.assignments["officer_a"])
    if "officer_b" in plan_.assignments:
        loan.officer_b_id = int(plan_.assignments["officer_b"])
    # The case belongs to the office working it: the investigating office, then the
    # disbursing branch, whose managers and clerks then see it in their subtree.
    for slot in ("investigating_office", "disbursing_office"):
        if slot in plan_.assignments:
            loan.office_id = int(plan_.assignments[slot])
    if "disbursing_office" in plan_.assignments:
        # A borrower belongs to the branch that lends to them: the next application of an
        # existing customer is dispatched to its officers.
        customer = await session.get(Customer, loan.customer_id)
        customer.office_id = loan.office_id
    if plan_.ends_case:
        loan.closed_reason = plan_.reason or plan_.action
    payload = _jsonable(plan_.payload)
    event = LoanEvent(loan_id=loan.id, action=plan_.action, kind=plan_.kind, from_stage=plan_.from_stage,
                      to_stage=plan_.to_stage, maker_id=caller.user_id, maker_role=role, checker_of_id=checker_of,
                      payload=json.dumps(payload, ensure_ascii=False, sort_keys=True), reason=plan_.reason or "",
                      at=now, definition_version=plan_.definition_version)
    session.add(event)
    for duty in plan_.duties:
        if not await session.get(LoanDuty, (loan.id, int(duty.user_id), duty.duty)):
            session.add(LoanDuty(loan_id=loan.id, user_id=int(duty.user_id), duty=duty.duty, at=now))
    people = {parse_id(str(v)) for slot, v in plan_.assignments.items() if slot in SLOT_ROLES} - {None}
    if caller.user_id:
        people.add(caller.user_id)
    for user_id in people:
        key = (loan.id, user_id, "handled" if user_id == caller.user_id else "assigned")
        if not await session.get(LoanParticipant, key):
            session.add(LoanParticipant(loan_id=loan.id, user_id=user_id, duty=key[2], at=now))
    await session.flush()
    await _queue_notifications(session, loan, plan_, definition)
    if plan_.to_stage == "active":  # post-loan management hears it (core.context wires its handler)
        await workflow.events.publish(session, LoanDisbursed(loan.id, payload, now))
    if plan_.ends_case:
        await workflow.events.publish(session, LoanClosed(loan.id, loan.stage, loan.closed_reason, now))
    await audit.append(session, caller.actor(role), f"loan.{plan_.action}", "loan", loan.id,
                       {"from": plan_.from_stage, "to": plan_.to_stage, "payload": payload})
    return event


async def _queue_notifications(session: AsyncSession, loan: Loan, plan_: Plan, definition: Definition) -> None:
    customer = await session.get(Customer, loan.customer_id)
    stage = definition.stages[plan_.to_stage]
    values = {"bank": messages.BANK, "code": loan.tracking_code, "reason": plan_.reason or "", "stage": stage.name_zh}
    for note in plan_.notifications:
        text = messages.render(note.template, **values)
        if note.audience == "customer":
            outbox.queue(session, template=note.template, text=text, loan_id=loan.id,
                         user_id=customer.user_id, phone=customer.phone, name=customer.name)
            continue
        if note.audience == "user":
            target = parse_id(str(note.target))
            users = [await session.get(User, target)] if target else []
        else:  # a role: the people holding it who would see this case at its stage
            users = await role_holders(session, note.target, loan)
        for user in users:
            if user is not None and user.active:
                outbox.queue(session, template=note.template, text=text, loan_id=loan.id, user_id=user.id,
                             phone=user.phone, name=user.display_name)


async def role_holders(session: AsyncSession, role: str, loan: Loan) -> list[User]:
    """Holders of a role whose office is the loan's office or one of its ancestors."""
    office = await session.get(Office, loan.office_id)
    ancestors = [int(part) for part in office.path.strip("/").split("/") if part]
    query = (select(User).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role == role, User.active, User.office_id.in_(ancestors)))
    return list((await session.execute(query)).scalars())


async def _check_step_up(session: AsyncSession, workflow: Workflow, definition: Definition, caller: Caller, loan_id: int,
                         action: str, payload: Mapping[str, Any], token: str | None, now: dt.datetime) -> None:
    """An important action by staff needs a fingerprint step-up token for exactly this command."""
    if definition.actions[action].important and is_staff(caller.principal):
        await workflow.step_up.redeem(session, token, user_id=caller.user_id, loan_id=loan_id, action=action, payload=payload, now=now)


async def execute(session: AsyncSession, workflow: Workflow, scope: Scope | None, caller: Caller,
                  loan_id: int, action: str, payload: Mapping[str, Any], *, now: dt.datetime | None = None,
                  step_up: str | None = None, require_step_up: bool = False) -> dict:
    """Run one command on an existing loan in the caller's unit of work. With
    `require_step_up` (LOANCTL_STEP_UP=required on the HTTP path) an important action by staff
    must carry a step-up token (`step_up`) bound to this loan, action and payload."""
    now = now or utcnow()
    if scope is not None:
        loan = await scope.loan(session, loan_id, for_update=True)
    else:  # the committee service, authenticated by its service token
        loan = (await session.execute(select(Loan).where(Loan.id == loan_id).with_for_update())).scalar_one_or_none()
        if loan is None:
            raise NotFound(f"loan {loan_id} not found")
    definition = await workflow.definition_of(session, loan.workflow_version)
    view = await loan_view(session, loan)
    try:
        plan_ = plan(definition, view, action, caller.view, payload, now, rules=workflow.rules)
    except DomainError as error:
        raise refusal(error) from None
    await _check_named_people(session, plan_, plan_.payload, definition)
    await _check_officers_of_office(session, plan_)
    if require_step_up:
        await _check_step_up(session, workflow, definition, caller, loan.id, plan_.action, payload, step_up, now)
    event = await _apply(session, workflow, loan, caller, plan_, definition, now)
    return {"loan": {"id": loan.id, "stage": loan.stage, "version": loan.version},
            "event": {"id": event.id, "action": event.action, "from": event.from_stage, "to": event.to_stage}}


def _tracking_code() -> str:
    # 12 characters from an unambiguous alphabet: unguessable enough that, with the ID number
    # or phone as a second key, a progress query cannot be enumerated.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


async def apply(session: AsyncSession, workflow: Workflow, caller: Caller, action: str,
                payload: Mapping[str, Any], *, intake_office_id: int, now: dt.datetime | None = None,
                step_up: str | None = None, require_step_up: bool = False) -> dict:
    """A new application: online by the applicant, or typed by an officer (代申请; an important
    action, so with `require_step_up` it needs a step-up token for loan 0)."""
    now = now or utcnow()
    definition = workflow.current
    starts = {a.code for a in definition.actions_from(definition.start)}
    if action not in starts:
        raise refusal(UnknownAction(f"'{action}' does not start an application"))
    id_number = str(payload.get("id_number", "")).strip().upper()
    customer = (await session.execute(select(Customer).where(Customer.id_number == id_number))).scalar_one_or_none()
    history = await credit_history(session, customer.id) if customer else None
    flags = set()
    if customer is not None and history["loans"]:
        flags.add("existing_customer")
        if history["rejections"] or history["repaid"] or history["returned"]:
            flags.add("reapplication")
    author = str(caller.user_id) if caller.user_id else None
    view = LoanView(id=NEW_LOAN, stage=definition.start, definition_version=definition.version,
                    customer_user_id=author if "applicant" in caller.roles else None, author_id=author,
                    flags=frozenset(flags))
    try:
        plan_ = plan(definition, view, action, caller.view, payload, now, rules=workflow.rules)
    except DomainError as error:
        raise refusal(error) from None
    if require_step_up:
        await _check_step_up(session, workflow, definition, caller, 0, action, payload, step_up, now)
    clean = plan_.payload
    if customer is None:
        customer = Customer(name=clean["customer_name"], id_number=id_number, phone=clean["phone"],
                            user_id=caller.user_id if "applicant" in caller.roles else None)
        session.add(customer)
        await session.flush()
    elif customer.name != clean["customer_name"]:
        raise InvalidInput("the name does not match the ID number on file", details={"customer_name": "mismatch"})
    elif "applicant" in caller.roles and caller.user_id and customer.user_id not in (None, caller.user_id):
        raise Forbidden("this ID number belongs to another customer account")
    elif "applicant" in caller.roles and caller.user_id:
        customer.user_id = caller.user_id
    loan = Loan(tracking_code=_tracking_code(), customer_id=customer.id,
                applicant_user_id=caller.user_id if "applicant" in caller.roles else None,
                product=clean["product"], amount_fen=clean["amount"], term_months=clean["term_months"],
                purpose=clean.get("purpose", ""), channel=clean.get("channel", "web"),
                region=clean.get("region", ""), stage=definition.start,
                office_id=intake_office_id, created_by_id=caller.user_id, workflow_version=definition.version,
                flags=json.dumps(sorted(flags)), created_at=now, stage_entered_at=now)
    session.add(loan)
    await session.flush()
    plan_ = dataclasses.replace(plan_, loan_id=str(loan.id))
    await _apply(session, workflow, loan, caller, plan_, definition, now)
    return {"loan": {"id": loan.id, "tracking_code": loan.tracking_code, "stage": loan.stage},
            "flags": sorted(flags), "history": history}


async def credit_history(session: AsyncSession, customer_id: int, *, excluding: int | None = None) -> dict:
    """The customer's earlier record in the system (早期信用视图): loans, rejections, returns."""
    query = select(Loan).where(Loan.customer_id == customer_id).order_by(Loan.id)
    if excluding is not None:
        query = query.where(Loan.id != excluding)
    loans = list((await session.execute(query)).scalars())
    returned = (await session.execute(
        select(func.count()).select_from(LoanEvent).where(
            LoanEvent.loan_id.in_([l.id for l in loans] or [0]), LoanEvent.kind == "return"))).scalar_one()
    return {
        "loans": [{"id": l.id, "tracking_code": l.tracking_code, "product": l.product, "amount_fen": l.amount_fen,
                   "stage": l.stage, "created_at": l.created_at.isoformat(), "closed_reason": l.closed_reason}
                  for l in loans],
        "rejections": sum(1 for l in loans if l.stage == "rejected"),
        "repaid": sum(1 for l in loans if l.stage == "closed"),
        "active": sum(1 for l in loans if l.stage == "active"),
        "returned": returned,
        # Overdue history comes from post-loan management; counted there once it exists.
        "overdue": 0,
    }


_FORM_ORDER = {"return": 1, "reject": 2, "withdraw": 3}


async def history(session: AsyncSession, workflow: Workflow, loan: Loan) -> list[dict]:
    """The loan's command record, oldest first, with the makers' names."""
    definition = await workflow.definition_of(session, loan.workflow_version)
    rows = (await session.execute(
        select(LoanEvent, User.display_name).outerjoin(User, User.id == LoanEvent.maker_id)
        .where(LoanEvent.loan_id == loan.id).order_by(LoanEvent.id))).all()
    return [{"id": e.id, "action": e.action, "kind": e.kind, "from": e.from_stage, "to": e.to_stage,
             "action_zh": definition.actions[e.action].name_zh if e.action in definition.actions else e.action,
             "action_en": definition.actions[e.action].name_en if e.action in definition.actions else e.action,
             "maker": name or ("committee" if e.kind == "system" else "—"), "maker_role": e.maker_role,
             "reason": e.reason, "payload": json.loads(e.payload or "{}"), "at": e.at.isoformat()}
            for e, name in rows]


async def options(session: AsyncSession, workflow: Workflow, scope: Scope, loan: Loan, caller: Caller) -> list[dict]:
    """The actions of the loan's stage open to the caller, with the fields their forms need."""
    definition = await workflow.definition_of(session, loan.workflow_version)
    view = await loan_view(session, loan)
    result = []
    found = action_options(definition, view, caller.view, utcnow(), rules=workflow.rules)
    # The way forward first, then sending back, refusing, and pulling back or cancelling.
    found.sort(key=lambda option: (_FORM_ORDER.get(option.action.kind, 0), not option.open))
    for option in found:
        action = option.action
        result.append({
            "code": action.code, "name_zh": action.name_zh, "name_en": action.name_en, "kind": action.kind,
            "important": action.important, "open": option.open,
            "blocked": None if option.open else {"error": option.blocked.code, "message": option.blocked.message,
                                                 "details": dict(option.blocked.details)},
            "fields": [{"name": name, "type": spec.type, "required": spec.required,
                        "choices": list(spec.choices or ())} for name, spec in action.payload.items()],
            "choices": dict(action.to_choices) if action.choose_by else {},
        })
    return result
