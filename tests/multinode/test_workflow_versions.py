"""A core node meets loans on a workflow version that another node, started later with the bank's
edited workflow file, stored: it reads that version from the database instead of failing."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from core.loanflow import Workflow
from core.orm import Loan
from tests.suite import file_documents

EDITED = Path(__file__).resolve().parents[1] / "workflow" / "fixtures" / "bank_edited.toml"


async def test_a_node_serves_loans_on_a_version_another_node_stored(suite):
    newer_node = Workflow.load(EDITED, None)  # the second node's workflow, from the edited file
    async with suite.services.db.unit_of_work() as session:
        await newer_node.remember_versions(session)
    version = newer_node.current.version
    assert version not in suite.services.workflow.registry  # this node started before the change
    loan_id = await suite.add_loan(office="IC", stage="submitted", applicant="applicant")
    async with suite.services.db.unit_of_work() as session:  # applied through the newer node
        await session.execute(update(Loan).where(Loan.id == loan_id).values(workflow_version=version))
    await file_documents(suite, loan_id, "APP-FORM", "ID-CARD")

    head = await suite.login("intake.head")
    history = await head.json("GET", f"/api/loans/{loan_id}/history")
    assert history["items"] == []
    actions = await head.json("GET", f"/api/loans/{loan_id}/actions")
    assert "preliminary_pass" in [item["code"] for item in actions["items"]]
    assert version in suite.services.workflow.registry
    assert suite.services.workflow.current.version != version  # new loans still start on this node's own
