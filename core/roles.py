"""The people of the product (product.md, "People") and the offices they sit in."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    code: str
    name_zh: str
    name_en: str
    staff: bool = True


ROLES: dict[str, Role] = {r.code: r for r in (
    Role("applicant", "借款人", "Applicant", staff=False),
    Role("intake_head", "受理中心负责人", "Intake-center head"),
    Role("loan_officer", "客户经理", "Loan officer"),
    Role("reviewer", "业务发展部审查岗", "Reviewer"),
    Role("convener", "贷审会召集人", "Committee convener"),
    Role("committee_member", "贷审会委员", "Committee member"),
    Role("compliance_reviewer", "合规审核", "Compliance reviewer"),
    Role("payment_reviewer", "支付审核", "Payment reviewer"),
    Role("credit_accountant", "信贷会计", "Disbursement clerk"),
    Role("post_loan_manager", "贷后管理人", "Post-loan manager"),
    Role("manager", "经营层负责人", "Manager"),
    Role("chairman", "董事长/理事长", "Chairman"),
    Role("archivist", "档案管理员", "Archivist"),
    Role("admin", "系统管理员", "Administrator"),
)}


@dataclass(frozen=True)
class OfficeKind:
    code: str
    name_zh: str
    name_en: str
    parents: tuple[str, ...]


OFFICE_KINDS: dict[str, OfficeKind] = {k.code: k for k in (
    OfficeKind("head_office", "总行/联社", "Head office", ()),
    OfficeKind("business_department", "营业部", "Business department", ("head_office",)),
    OfficeKind("sub_branch", "支行", "Sub-branch", ("head_office",)),
    OfficeKind("credit_union", "信用社", "Credit union", ("head_office", "sub_branch")),
    OfficeKind("sub_office", "分理处", "Sub-office", ("sub_branch", "credit_union", "business_department")),
    OfficeKind("intake_center", "受理中心", "Intake center", ("head_office",)),
    OfficeKind("sub_center", "分中心", "Intake sub-center", ("intake_center",)),
)}
