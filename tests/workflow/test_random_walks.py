"""Random walks: whoever acts, whatever they send, what plan() accepts never breaks the
separation of duties or leaves the transition table."""
from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings, strategies as st

from core.workflow import ActorView, DomainError, FieldSpec, open_actions
from core.workflow.definition import FORWARD_KINDS

from .journey import APPLICANT, COMMITTEE_SERVICE, PRODUCTS, Journey

STAFF = frozenset({"intake_head", "loan_officer", "reviewer", "convener", "compliance_reviewer", "payment_reviewer",
                   "credit_accountant", "post_loan_manager", "manager"})
# few people holding every staff role: the worst case for separation of duties
PEOPLE = [ActorView(f"p{i}", STAFF) for i in range(12)]
ACTORS = PEOPLE + [APPLICANT, COMMITTEE_SERVICE]


def _value(data, spec: FieldSpec, journey: Journey):
    rules = journey.rules.at(journey.now.date())
    product, amount = journey.loan.product, journey.loan.amount
    if spec.name == "committee_kind":
        return rules.committee_for(product, amount).kind
    if spec.name == "members":
        size = rules.committee_for(product, amount).size
        return [p.user_id for p in data.draw(st.permutations(PEOPLE))[:size]]
    if spec.name == "votes_for":
        return data.draw(st.integers(0, rules.committee_for(product, amount).size))
    if spec.name in ("amount",):
        return amount
    if spec.name == "product":
        return product
    if spec.name == "term_months":
        return PRODUCTS[product][1]
    if spec.type == "enum":
        return data.draw(st.sampled_from(spec.choices))
    if spec.type == "user":
        return data.draw(st.sampled_from(PEOPLE)).user_id
    if spec.type == "office":
        return "office-1"
    if spec.type in ("string", "text"):
        return "text"
    if spec.type in ("integer", "money"):
        return data.draw(st.integers(0, 10))
    if spec.type == "boolean":
        return data.draw(st.booleans())
    if spec.type == "date":
        return journey.now.date()
    if spec.type == "datetime":
        return journey.now + dt.timedelta(days=1)
    if spec.type == "object":
        return {}
    return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), product=st.sampled_from(sorted(PRODUCTS)))
def test_random_walks_keep_the_invariants(definition, rules, data, product):
    journey = Journey.begin(definition, rules, product)
    journey.file(*definition.documents)
    journey.flag("fingerprints_matched")
    for _ in range(120):
        choices = [(actor, action) for actor in ACTORS
                   for action in open_actions(definition, journey.loan, actor, journey.now, rules=rules)]
        if not choices:
            break
        forward = [c for c in choices if c[1].kind in FORWARD_KINDS]
        # mostly forward, sometimes a withdraw, return, rejection or cancellation
        if forward and data.draw(st.integers(0, 19)) < 18:
            choices = forward
        actor, action = data.draw(st.sampled_from(choices))
        payload = {name: _value(data, spec, journey) for name, spec in action.payload.items()}
        try:
            result = journey.do(action.code, actor, payload)
        except DomainError:
            continue
        assert result.to_stage in action.targets and result.from_stage in action.from_stages
        exclusive: dict[str, set[str]] = {}
        for record in journey.loan.history:
            exclusive.setdefault(record.user_id, set()).add(record.duty)
        assert all(len(duties) == 1 for duties in exclusive.values()), exclusive
        a, b = journey.loan.assignments.get("officer_a"), journey.loan.assignments.get("officer_b")
        assert a is None or a != b
        if result.ends_case:
            for anyone in ACTORS:
                assert open_actions(definition, journey.loan, anyone, journey.now, rules=rules) == []
            break
