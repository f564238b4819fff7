"""Named guards an action may require, with their parameters.

A guard is a pure check on the loan, the actor, the payload and (for the regulatory ones) the
rule tables in force. The definition names guards; the loader refuses unknown names and bad
parameters, so a typo in a bank's file is caught at start-up, not at the first loan.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .errors import GuardFailed
from .views import ActorView, LoanView

if TYPE_CHECKING:
    from .definition import Action, Definition


@dataclass(frozen=True)
class GuardContext:
    definition: "Definition"
    action: "Action"
    loan: LoanView
    actor: ActorView
    payload: Mapping[str, Any]
    now: dt.datetime
    rules: Any  # a core.rules RuleVersion, or None when the caller gave no rule book


@dataclass(frozen=True)
class Guard:
    name: str
    check: Callable[[GuardContext, Mapping[str, Any]], None]
    # parameter name -> (kind, required); kinds: "str", "str_list"
    params: Mapping[str, tuple[str, bool]]
    needs_payload: bool = False
    needs_rules: bool = False
    description: str = ""


def _fail(name: str, message: str, **details: Any) -> GuardFailed:
    return GuardFailed(message, code=f"guard_{name}", details={"guard": name, **details})


def _rules(ctx: GuardContext, name: str) -> Any:
    if ctx.rules is None:
        raise ValueError(f"guard '{name}' needs the rule tables: pass rules= to plan()")
    return ctx.rules


def _value(ctx: GuardContext, field: str, loan_attr: str | None = None) -> Any:
    if field in ctx.payload:
        return ctx.payload[field]
    return getattr(ctx.loan, loan_attr or field, None)


def _is_customer(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    if ctx.loan.customer_user_id is None or ctx.actor.user_id != ctx.loan.customer_user_id:
        raise _fail("is_customer", "only the applicant of this loan may do this")


def _is_author(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    if ctx.actor.user_id != ctx.loan.author_id:
        raise _fail("is_author", "only the person who prepared this application may do this")


def _is_sender(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    if ctx.actor.user_id != ctx.loan.last_sender_id:
        raise _fail("is_sender", "only the person who sent the case to this step may pull it back")


def _next_not_acted(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    if ctx.loan.next_stage_acted:
        raise _fail("next_not_acted", "the next step has already started work on this case")


def _is_assigned(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    slot = params["slot"]
    if ctx.loan.assignments.get(slot) != ctx.actor.user_id:
        raise _fail("is_assigned", f"only the person assigned as {slot} may do this", slot=slot)


def _flag_set(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    if params["flag"] not in ctx.loan.flags:
        raise _fail("flag_set", params.get("message") or f"the loan is not marked '{params['flag']}'", flag=params["flag"])


def _flag_not_set(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    if params["flag"] in ctx.loan.flags:
        raise _fail("flag_not_set", params.get("message") or f"the loan is marked '{params['flag']}'", flag=params["flag"])


def _documents_present(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    codes = params.get("codes")
    if codes is None:
        codes = ctx.definition.stages[ctx.loan.stage].documents
    missing = [code for code in codes if code not in ctx.loan.documents]
    if missing:
        raise _fail("documents_present", f"documents missing: {', '.join(missing)}", missing=missing)


def _distinct_values(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    values = [ctx.payload.get(f) for f in params["fields"] if ctx.payload.get(f) is not None]
    if len(set(values)) != len(values):
        raise _fail("distinct_values", f"{' and '.join(params['fields'])} must be different people", fields=list(params["fields"]))


def _amount_within_approved(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    amount = ctx.payload.get(params.get("field", "amount"))
    if amount is not None and ctx.loan.amount is not None and amount > ctx.loan.amount:
        raise _fail("amount_within_approved", f"amount {amount} fen exceeds the approved {ctx.loan.amount} fen")


def _product_known(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    rules = _rules(ctx, "product_known")
    product = _value(ctx, params.get("field", "product"), "product")
    if product not in rules.products:
        raise _fail("product_known", f"unknown product '{product}'; known: {', '.join(sorted(rules.products))}")


def _amount_within_limit(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    rules = _rules(ctx, "amount_within_limit")
    product = _value(ctx, params.get("product_field", "product"), "product")
    amount = _value(ctx, params.get("amount_field", "amount"), "amount")
    if product not in rules.products:
        raise _fail("amount_within_limit", f"unknown product '{product}'")
    problem = rules.amount_problem(product, amount)
    if problem:
        raise _fail("amount_within_limit", problem, product=product, amount=amount)


def _term_within_limit(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    rules = _rules(ctx, "term_within_limit")
    product = _value(ctx, params.get("product_field", "product"), "product")
    months = _value(ctx, params.get("term_field", "term_months"), "term_months")
    if product not in rules.products:
        raise _fail("term_within_limit", f"unknown product '{product}'")
    check = rules.check_term(product, months)
    if not check.allowed:
        raise _fail("term_within_limit", check.message, product=product, months=months)
    if check.needs_justification:
        justification_field = params.get("justification_field")
        if justification_field and not ctx.payload.get(justification_field):
            raise _fail("term_within_limit", f"{check.message}; a justification is required", product=product, months=months)


def _signing_mode_allowed(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    rules = _rules(ctx, "signing_mode_allowed")
    mode = ctx.payload.get(params.get("field", "mode"))
    if mode not in rules.signing_modes:
        raise _fail("signing_mode_allowed", f"signing by '{mode}' is not allowed by the rules of {rules.code}; allowed: {', '.join(rules.signing_modes)}")


def _payment_mode_allowed(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    rules = _rules(ctx, "payment_mode_allowed")
    mode = ctx.payload.get(params.get("mode_field", "payment_mode"))
    amount = ctx.payload.get(params.get("amount_field", "amount"))
    purpose = ctx.payload.get(params.get("purpose_field", "purpose"), "")
    payee_known = ctx.payload.get(params.get("payee_known_field", "payee_known"), True)
    if amount is None:
        amount = ctx.loan.amount
    decision = rules.payment_mode(ctx.loan.product, amount, purpose, payee_known)
    if mode == "own" and decision.mode == "entrusted":
        raise _fail("payment_mode_allowed", f"entrusted payment (受托支付) is required: {decision.reason}")


def _committee_tally(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    rules = _rules(ctx, "committee_tally")
    outcome = ctx.payload.get(params.get("outcome_field", "outcome"))
    members = ctx.payload.get(params.get("members_field", "members"), ())
    votes_for = ctx.payload.get(params.get("for_field", "votes_for"))
    committee = rules.committee_for(ctx.loan.product, ctx.loan.amount)
    if len(members) != committee.size:
        raise _fail("committee_tally", f"the {committee.kind} committee has {committee.size} members, the decision names {len(members)}")
    if votes_for is None or not 0 <= votes_for <= len(members):
        raise _fail("committee_tally", "votes in favour must be between 0 and the number of members")
    passed = Fraction(votes_for, len(members)) >= committee.pass_ratio
    if outcome == "approved" and not passed:
        raise _fail("committee_tally", f"{votes_for} of {len(members)} in favour does not reach {committee.pass_ratio}")
    if outcome == "rejected" and passed:
        raise _fail("committee_tally", f"{votes_for} of {len(members)} in favour reaches {committee.pass_ratio}: that is an approval")


def _committee_kind_matches(ctx: GuardContext, params: Mapping[str, Any]) -> None:
    rules = _rules(ctx, "committee_kind_matches")
    kind = ctx.payload.get(params.get("field", "committee_kind"))
    committee = rules.committee_for(ctx.loan.product, ctx.loan.amount)
    if kind != committee.kind:
        raise _fail("committee_kind_matches",
                    f"an amount of {ctx.loan.amount} fen goes to the {committee.kind} committee, not the {kind} one")


_ALL = (
    Guard("is_customer", _is_customer, {}, description="the actor is the loan's applicant"),
    Guard("is_author", _is_author, {}, description="the actor created the application (self or on behalf)"),
    Guard("is_sender", _is_sender, {}, description="the actor made the step into the current stage"),
    Guard("next_not_acted", _next_not_acted, {}, description="nobody at the current stage has acted yet"),
    Guard("is_assigned", _is_assigned, {"slot": ("str", True)}, description="the actor holds an assignment slot"),
    Guard("flag_set", _flag_set, {"flag": ("str", True), "message": ("str", False)}),
    Guard("flag_not_set", _flag_not_set, {"flag": ("str", True), "message": ("str", False)}),
    Guard("documents_present", _documents_present, {"codes": ("str_list", False)},
          description="the stage's required documents (or the listed codes) are filed"),
    Guard("distinct_values", _distinct_values, {"fields": ("str_list", True)}, needs_payload=True),
    Guard("amount_within_approved", _amount_within_approved, {"field": ("str", False)}, needs_payload=True),
    Guard("product_known", _product_known, {"field": ("str", False)}, needs_payload=True, needs_rules=True),
    Guard("amount_within_limit", _amount_within_limit, {"product_field": ("str", False), "amount_field": ("str", False)},
          needs_payload=True, needs_rules=True, description="the amount is within the product's limit in the rule table"),
    Guard("term_within_limit", _term_within_limit,
          {"product_field": ("str", False), "term_field": ("str", False), "justification_field": ("str", False)},
          needs_payload=True, needs_rules=True),
    Guard("signing_mode_allowed", _signing_mode_allowed, {"field": ("str", False)}, needs_payload=True, needs_rules=True),
    Guard("payment_mode_allowed", _payment_mode_allowed,
          {"mode_field": ("str", False), "amount_field": ("str", False), "purpose_field": ("str", False),
           "payee_known_field": ("str", False)},
          needs_payload=True, needs_rules=True),
    Guard("committee_kind_matches", _committee_kind_matches, {"field": ("str", False)},
          needs_payload=True, needs_rules=True),
    Guard("committee_tally", _committee_tally,
          {"outcome_field": ("str", False), "members_field": ("str", False), "for_field": ("str", False)},
          needs_payload=True, needs_rules=True),
)

GUARDS: dict[str, Guard] = {g.name: g for g in _ALL}
# parameters naming payload fields: the loader checks they exist in the action's payload
FIELD_PARAMS = frozenset({
    "field", "fields", "product_field", "term_field", "justification_field", "mode_field",
    "amount_field", "purpose_field", "payee_known_field", "outcome_field", "members_field", "for_field",
})
