"""The one transition table at work: decide what an action does to a loan, or why it may not.

``plan`` is pure. The core runs it inside its transaction and then applies the returned Plan
(stage, duties, assignments, audit, outbox); nothing here touches a database or a clock.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .deadlines import due_at
from .definition import FORWARD_KINDS, Action, Definition
from .duties import check_new_duties, slot_records
from .errors import ActionNotAllowed, DomainError, UnknownAction, WrongStage
from .guards import GUARDS, GuardContext
from .payload import check_payload
from .roles import SERVICE_ACTORS
from .views import ActorView, DutyRecord, LoanView


@dataclass(frozen=True)
class Notification:
    """A message to queue in the outbox. audience: customer | user | role."""

    template: str
    audience: str
    target: str | None
    loan_id: str
    action: str
    stage: str


@dataclass(frozen=True)
class Plan:
    loan_id: str
    action: str
    kind: str
    from_stage: str
    to_stage: str
    actor_id: str
    payload: Mapping[str, Any]
    reason: str | None
    important: bool
    duties: tuple[DutyRecord, ...]
    assignments: Mapping[str, str]
    notifications: tuple[Notification, ...]
    due_at: dt.datetime | None
    definition_version: str
    ends_case: bool
    # the core stores this as the loan's last_sender_id (and resets next_stage_acted) so the
    # sender can withdraw until the next stage acts
    sender_id: str


def _rules_at(rules: Any, now: dt.datetime) -> Any:
    if rules is None:
        return None
    return rules.at(now.date()) if hasattr(rules, "at") else rules


def _check_version(definition: Definition, loan: LoanView) -> None:
    if loan.definition_version != definition.version:
        raise ValueError(
            f"loan {loan.id} runs workflow {loan.definition_version}, not {definition.version}; "
            "fetch its definition from the registry")


def _check_stage_and_role(action: Action, loan: LoanView, actor: ActorView) -> None:
    if loan.stage not in action.from_stages:
        raise WrongStage(
            f"'{action.code}' cannot be done at stage '{loan.stage}' (only at {', '.join(action.from_stages)})",
            details={"stage": loan.stage, "action": action.code})
    if not (actor.roles & action.roles):
        raise ActionNotAllowed(
            f"'{action.code}' needs one of the roles {', '.join(sorted(action.roles))}",
            details={"action": action.code, "roles": sorted(action.roles)})


def _run_guards(definition: Definition, action: Action, loan: LoanView, actor: ActorView,
                payload: Mapping[str, Any], now: dt.datetime, rules: Any, with_payload: bool) -> None:
    ctx = GuardContext(definition, action, loan, actor, payload, now, rules)
    for ref in action.guards:
        guard = GUARDS[ref.name]
        if guard.needs_payload and not with_payload:
            continue
        guard.check(ctx, ref.params)


def _duty_records(definition: Definition, action: Action, actor: ActorView,
                  payload: Mapping[str, Any]) -> list[DutyRecord]:
    if action.duty is None:
        return []
    if action.duty_holders:
        holders = payload[action.duty_holders]
        holders = (holders,) if isinstance(holders, str) else holders
    else:
        holders = (actor.user_id,)
    return [DutyRecord(h, action.duty) for h in holders]


def _next_actors(definition: Definition, stage: str, loan: LoanView,
                 assignments: Mapping[str, str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for action in definition.actions_from(stage):
        if action.kind not in FORWARD_KINDS:
            continue
        guards = {g.name: g for g in action.guards}
        if "is_assigned" in guards:
            user = assignments.get(guards["is_assigned"].params["slot"])
            if user:
                found.append(("user", user))
        elif "is_customer" in guards:
            found.append(("customer", loan.customer_user_id or ""))
        elif "is_author" in guards and loan.author_id:
            found.append(("user", loan.author_id))
        else:
            found.extend(("role", role) for role in sorted(action.roles - SERVICE_ACTORS))
    return list(dict.fromkeys(found))


def _notifications(definition: Definition, action: Action, loan: LoanView, actor: ActorView,
                   payload: Mapping[str, Any], to_stage: str,
                   assignments: Mapping[str, str]) -> tuple[Notification, ...]:
    out: list[Notification] = []

    def add(audience: str, target: str | None, template: str) -> None:
        if audience != "customer" and not target:
            return
        out.append(Notification(template, audience, target or None, loan.id, action.code, to_stage))

    choice = payload.get(action.choose_by) if action.choose_by else None
    for spec in action.notify:
        if spec.when is not None and spec.when != choice:
            continue
        kind, arg = spec.target_kind, spec.target_arg
        if kind == "customer":
            add("customer", loan.customer_user_id, spec.template)
        elif kind == "sender":
            add("user", loan.last_sender_id, spec.template)
        elif kind == "author":
            add("user", loan.author_id, spec.template)
        elif kind == "actor":
            add("user", actor.user_id, spec.template)
        elif kind == "role":
            add("role", arg, spec.template)
        elif kind == "assigned":
            add("user", assignments.get(arg or ""), spec.template)
        elif kind == "next_actor":
            for audience, target in _next_actors(definition, to_stage, loan, assignments):
                add(audience, target, spec.template)
        elif kind == "current_actor":
            for audience, target in _next_actors(definition, loan.stage, loan, loan.assignments):
                add(audience, target, spec.template)
    return tuple(dict.fromkeys(out))


def plan(definition: Definition, loan: LoanView, action_code: str, actor: ActorView,
         payload: Mapping[str, Any], now: dt.datetime, *, rules: Any = None,
         holidays: Iterable[dt.date] = (), workdays: Iterable[dt.date] = ()) -> Plan:
    """Check an action and say what it does, or raise a DomainError subclass.

    ``rules`` is a core.rules RuleBook (the version in force on ``now`` is used) or a RuleVersion;
    guards that apply the loan rules need it.
    """
    action = definition.actions.get(action_code)
    if action is None:
        raise UnknownAction(f"unknown action '{action_code}'", details={"action": action_code})
    _check_version(definition, loan)
    _check_stage_and_role(action, loan, actor)
    clean = check_payload(action.payload, payload)
    rule_version = _rules_at(rules, now)
    _run_guards(definition, action, loan, actor, clean, now, rule_version, with_payload=True)

    new_assignments = {slot: clean[name] for slot, name in action.assign.items() if name in clean}
    merged = {**loan.assignments, **new_assignments}
    duties = _duty_records(definition, action, actor, clean)
    # being assigned as officer A or B is a promise to do that duty: refuse it now, not later
    promised = slot_records(new_assignments, definition.slot_duties)
    check_new_duties(loan.history, duties + promised, definition.exclusive_duties)

    to_stage = action.target(clean)
    return Plan(
        loan_id=loan.id, action=action.code, kind=action.kind, from_stage=loan.stage,
        to_stage=to_stage, actor_id=actor.user_id, payload=clean, reason=clean.get("reason"),
        important=action.important, duties=tuple(duties), assignments=new_assignments,
        notifications=_notifications(definition, action, loan, actor, clean, to_stage, merged),
        due_at=due_at(definition.stages[to_stage], now, holidays, workdays),
        definition_version=definition.version, ends_case=definition.stages[to_stage].is_end,
        sender_id=actor.user_id,
    )


@dataclass(frozen=True)
class ActionOption:
    action: Action
    blocked: DomainError | None  # why it cannot be taken now, or None if it is open

    @property
    def open(self) -> bool:
        return self.blocked is None


def action_options(definition: Definition, loan: LoanView, actor: ActorView, now: dt.datetime,
                   *, rules: Any = None) -> list[ActionOption]:
    """The actions of the loan's stage the actor holds a role for, each open or blocked with a
    reason. Guards that depend on the payload are left to ``plan``."""
    _check_version(definition, loan)
    rule_version = _rules_at(rules, now)
    options = []
    for action in definition.actions_from(loan.stage):
        if not (actor.roles & action.roles):
            continue
        try:
            _run_guards(definition, action, loan, actor, {}, now, rule_version, with_payload=False)
            if action.duty and not action.duty_holders:
                check_new_duties(loan.history, [DutyRecord(actor.user_id, action.duty)], definition.exclusive_duties)
        except DomainError as exc:
            options.append(ActionOption(action, exc))
            continue
        options.append(ActionOption(action, None))
    return options


def open_actions(definition: Definition, loan: LoanView, actor: ActorView, now: dt.datetime,
                 *, rules: Any = None) -> list[Action]:
    """The actions whose forms the loan page should show to this actor."""
    return [o.action for o in action_options(definition, loan, actor, now, rules=rules) if o.open]
