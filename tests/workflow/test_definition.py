"""Loading definitions: the default, a bank's edited copy, versions in flight, broken files."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.workflow import (
    DEFAULT_PATH, ENV_VAR, UnknownDefinitionVersion, WorkflowDefinitionError, WorkflowRegistry,
    configured_path, load_configured, load_definition, parse_definition,
)

from .conftest import FIXTURES
from .journey import APPLICANT, PRODUCTS, Journey, application_payload, step, walk_to


def test_default_definition_follows_product_md(definition):
    assert definition.start == "new"
    assert set(definition.end_stages()) == {"rejected", "withdrawn", "closed"}
    assert definition.version.startswith("2026.1@") and len(definition.sha256) == 64
    assert definition.actions["committee_decision"].roles == {"committee_service"}
    important = {code for code, a in definition.actions.items() if a.important}
    assert {"record_investigation", "review_pass", "disburse", "payment_first_approve", "record_signing"} <= important
    assert not definition.actions["apply"].important  # the applicant gives prints elsewhere, not a staff step-up
    stage = definition.stages["investigation"]
    assert stage.name_zh == "调查（A角）" and stage.deadline_working_days == 3 and "FP-CAPTURE" in stage.documents


def test_configured_path_follows_loanctl_workflow(tmp_path):
    assert configured_path({}) == DEFAULT_PATH
    copy = tmp_path / "bank.toml"
    copy.write_text((FIXTURES / "bank_edited.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert configured_path({ENV_VAR: str(copy)}) == copy
    assert load_configured({ENV_VAR: str(copy)}).name == "example-rural-bank"


def test_banks_edited_copy_loads_and_walks(bank_definition, rules, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(FIXTURES / "bank_edited.toml"))
    loaded = load_configured()
    assert loaded.version == bank_definition.version
    assert "compliance_review" not in loaded.stages and "risk_check" in loaded.stages
    for product in PRODUCTS:
        journey = walk_to(Journey.begin(loaded, rules, product), "active")
        assert journey.visited() == [
            "new", "submitted", "main_review", "dispatch", "investigation", "investigation_check", "review",
            "risk_check", "committee", "committee_meeting", "approval_notice", "signing",
            "payment_first_review", "payment_second_review", "disbursement", "active"]
    journey = walk_to(Journey.begin(loaded, rules), "risk_check")
    back = journey.plan("risk_check_return", journey.actors[-1].__class__("manager-1", frozenset({"manager"})),
                        {"reason": "collateral valuation is stale"})
    assert back.to_stage == "review"


def test_loans_in_flight_keep_their_version(definition, bank_definition, rules):
    registry = WorkflowRegistry()
    registry.add(definition, current=True)
    old_loan = walk_to(Journey.begin(definition, rules), "compliance_review")
    registry.add_file(FIXTURES / "bank_edited.toml", current=True)  # the bank switches files
    assert registry.current.version == bank_definition.version and len(registry) == 2
    # the old loan is planned against the version stored on it, still with compliance review
    old = registry.get(old_loan.loan.definition_version)
    assert old.version == definition.version
    assert step(old_loan).to_stage == "disbursement"
    # new loans start on the bank's version
    new_loan = Journey.begin(registry.current, rules)
    assert new_loan.loan.definition_version.startswith("bank-2026.3@")
    # lookups by hash prefix, re-adding the same text is a no-op, unknown versions fail clearly
    assert registry.get(definition.sha256[:20]) is old
    assert registry.add_text(definition.text) is old and len(registry) == 2
    with pytest.raises(UnknownDefinitionVersion):
        registry.get("2019.1@ffffffffffffffff")


def test_version_changes_with_content(definition):
    edited = parse_definition(definition.text.replace('deadline_hours = 8', 'deadline_hours = 6'), "x.toml")
    assert edited.declared_version == definition.declared_version and edited.version != definition.version


# --- broken definitions: each error names the file and the line -------------------------------

def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in text")


ORPHAN = '''
[[stage]]
code = "orphan_stage"
name_zh = "孤立"
name_en = "Orphan"
kind = "work"
'''

DUPLICATE_STAGE = '''
[[stage]]
code = "review"
name_zh = "重复"
name_en = "Duplicate"
kind = "work"
'''

# (name, old text, new text, text near the line the error must name, its occurrence, offset from
# that line, message fragment)
BREAKAGES = [
    ("unknown key in a stage", 'code = "review"\n', 'code = "review"\ncolour = "red"\n', 'colour = "red"', 1, 0, "unknown key 'colour'"),
    ("missing key in a stage", 'code = "signing"\nname_zh = "面签"\n', 'code = "signing"\n', 'code = "signing"', 1, -1, "missing key 'name_zh'"),
    ("wrong type", "deadline_hours = 8", 'deadline_hours = "eight"', 'deadline_hours = "eight"', 1, 0, "must be integer"),
    ("unknown target stage", 'to = "committee_meeting"', 'to = "committee_meating"', 'to = "committee_meating"', 1, 0, "unknown stage 'committee_meating'"),
    ("unknown from stage", 'from = "payment_second_review"\nto = "compliance_review"', 'from = "payment_2nd_review"\nto = "compliance_review"', 'from = "payment_2nd_review"', 1, 0, "unknown stage 'payment_2nd_review'"),
    ("unknown role", 'roles = ["reviewer"]\nimportant = true\nduty = "review"\nguards', 'roles = ["reveiwer"]\nimportant = true\nduty = "review"\nguards', 'roles = ["reveiwer"]', 1, 0, "unknown role 'reveiwer'"),
    ("unknown guard", '{ name = "signing_mode_allowed" }', '{ name = "signing_mode_alowed" }', "signing_mode_alowed", 1, 0, "unknown guard"),
    ("guard missing a parameter", '{ name = "is_assigned", slot = "post_loan_manager" }', '{ name = "is_assigned" }', 'guards = [{ name = "is_assigned" }]', 1, 0, "needs parameter 'slot'"),
    ("unknown payload type", 'voucher_no = { type = "string" }', 'voucher_no = { type = "varchar" }', 'voucher_no = { type = "varchar" }', 1, 0, "unknown type 'varchar'"),
    ("unknown document", 'documents = ["LOAN-CONTRACT"]', 'documents = ["LOAN-CONTRACTS"]', 'documents = ["LOAN-CONTRACTS"]', 1, 0, "unknown document code"),
    ("reject without a reason", 'kind = "reject"\nroles = ["compliance_reviewer"]\nimportant = true\nreason_required = true',
     'kind = "reject"\nroles = ["compliance_reviewer"]\nimportant = true', 'kind = "reject"', 4, 0, "reason_required"),
    ("duty not exclusive", 'duty = "disburse"', 'duty = "disbursing"', 'duty = "disbursing"', 1, 0, "not listed in [separation] exclusive"),
    ("unreachable stage", "# --- actions", ORPHAN + "\n# --- actions", 'code = "orphan_stage"', 1, -1, "cannot be reached"),
    ("duplicate stage", "# --- actions", DUPLICATE_STAGE + "\n# --- actions", 'code = "review"', 2, 0, "duplicate stage code 'review'"),
    ("duplicate action", 'code = "withdraw_compliance"', 'code = "compliance_approve"', 'code = "compliance_approve"', 2, 0, "duplicate action code"),
    ("stage nobody leaves", 'from = "active"\nto = "closed"', 'from = "signing"\nto = "closed"', "Active loan", 1, -3, "no action leaves it"),
    ("not TOML at all", 'name = "default"', 'name = "default', 'name = "default', 1, 0, "not valid TOML"),
    ("notify unknown role", '{ to = "role:reviewer", template = "case_returned", when = "returned" }',
     '{ to = "role:reviewers", template = "case_returned", when = "returned" }', "role:reviewers", 1, 0, "unknown role 'reviewers'"),
    ("unknown top-level table", "[separation]", "[sepparation]", "[sepparation]", 1, 0, "unknown key 'sepparation'"),
]


@pytest.mark.parametrize("name,old,new,needle,occurrence,offset,message", BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_broken_definition_names_file_and_line(definition, name, old, new, needle, occurrence, offset, message):
    assert old in definition.text, f"the default changed: {old!r}"
    text = definition.text.replace(old, new, 1)
    with pytest.raises(WorkflowDefinitionError) as err:
        parse_definition(text, "bank/workflow.toml")
    # whole-entry problems are reported at the entry's [[stage]] / [[action]] header
    expected = _line_of(text, needle, occurrence) + offset
    assert text.splitlines()[expected - 1].strip() != ""
    lines = {line for line, _ in err.value.problems}
    assert expected in lines, f"{err.value} should name line {expected}"
    if len(err.value.problems) == 1:
        assert err.value.line == expected
    assert f"bank/workflow.toml:{expected}:" in str(err.value)
    assert message in str(err.value)


def test_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(WorkflowDefinitionError, match="cannot read"):
        load_definition(tmp_path / "missing.toml")


def test_choice_notify_must_name_a_target(definition):
    text = definition.text.replace('when = "returned" }]', 'when = "postponed" }]', 1)
    with pytest.raises(WorkflowDefinitionError, match="'postponed' is not one of the targets"):
        parse_definition(text, "w.toml")


def test_a_definition_built_from_scratch(rules):
    text = (Path(__file__).parent / "fixtures" / "minimal.toml").read_text(encoding="utf-8")
    minimal = parse_definition(text, "minimal.toml")
    journey = Journey.begin(minimal, rules)
    done = journey.do("apply", APPLICANT, application_payload("personal_consumer"))
    assert done.to_stage == "decided" and done.ends_case
