"""Role codes the workflow may name. Fixed: the core service grants exactly these."""
from __future__ import annotations

STAFF_ROLES = frozenset({
    "intake_head", "loan_officer", "reviewer", "convener", "committee_member",
    "compliance_reviewer", "payment_reviewer", "credit_accountant", "post_loan_manager",
    "manager", "chairman", "archivist", "admin",
})
CUSTOMER_ROLES = frozenset({"applicant"})
# Not a person: the committee server's service token, the only sender of committee_decision.
SERVICE_ACTORS = frozenset({"committee_service"})

ROLE_CODES = STAFF_ROLES | CUSTOMER_ROLES | SERVICE_ACTORS
