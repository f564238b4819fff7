"""The demo organisation loaded on first start: every role filled, two intake sub-centers
with A/B officer pairs, and a committee pool of twelve."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit
from .orm import Office, User, UserRole
from .passwords import PasswordHashing

# (code, name_zh, name_en, kind, parent code, region)
OFFICES = [
    ("HO", "示范农村商业银行", "Demo Rural Commercial Bank", "head_office", None, ""),
    ("BD", "营业部", "Business Department", "business_department", "HO", "城关"),
    ("SB-CG", "城关支行", "Chengguan Sub-branch", "sub_branch", "HO", "城关"),
    ("SB-HK", "河口支行", "Hekou Sub-branch", "sub_branch", "HO", "河口"),
    ("CU-CG", "城关信用社", "Chengguan Credit Union", "credit_union", "SB-CG", "城关"),
    ("CU-HK", "河口信用社", "Hekou Credit Union", "credit_union", "SB-HK", "河口"),
    ("SO-DJ", "东街分理处", "East Street Sub-office", "sub_office", "CU-CG", "城关"),
    ("IC", "贷款受理中心", "Loan Intake Center", "intake_center", "HO", ""),
    ("SC-E", "东部分中心", "East Intake Sub-center", "sub_center", "IC", "城关"),
    ("SC-W", "西部分中心", "West Intake Sub-center", "sub_center", "IC", "河口"),
]

# (username, display name, office code, roles)
USERS = [
    ("admin", "系统管理员", "HO", ["admin"]),
    ("chairman", "董事长 王建国", "HO", ["chairman"]),
    ("manager.ho", "信贷管理部总经理 钱伟", "HO", ["manager"]),
    ("manager.cg", "城关支行行长 李明", "SB-CG", ["manager"]),
    ("manager.hk", "河口支行行长 赵强", "SB-HK", ["manager"]),
    ("intake.head", "受理中心负责人 陈静", "IC", ["intake_head"]),
    ("officer.e.a", "客户经理 周磊 (东A)", "SC-E", ["loan_officer"]),
    ("officer.e.b", "客户经理 吴芳 (东B)", "SC-E", ["loan_officer"]),
    ("officer.w.a", "客户经理 郑涛 (西A)", "SC-W", ["loan_officer"]),
    ("officer.w.b", "客户经理 孙丽 (西B)", "SC-W", ["loan_officer"]),
    ("officer.cg", "客户经理 何勇 (城关社)", "CU-CG", ["loan_officer"]),
    ("officer.cg.b", "客户经理 马兰 (城关社)", "CU-CG", ["loan_officer"]),
    ("officer.hk", "客户经理 罗斌 (河口社)", "CU-HK", ["loan_officer"]),
    ("officer.hk.b", "客户经理 梁燕 (河口社)", "CU-HK", ["loan_officer"]),
    ("reviewer", "审查岗 高峰", "HO", ["reviewer"]),
    ("convener", "贷审会召集人 林涛", "HO", ["convener"]),
    ("compliance", "合规审核 徐敏", "HO", ["compliance_reviewer"]),
    ("payment.first", "支付初审 韩冰", "HO", ["payment_reviewer"]),
    ("payment.second", "支付复审 唐宁", "HO", ["payment_reviewer"]),
    ("accountant.cg", "信贷会计 冯洁 (城关社)", "CU-CG", ["credit_accountant"]),
    ("accountant.hk", "信贷会计 董丹 (河口社)", "CU-HK", ["credit_accountant"]),
    ("postloan.cg", "贷后管理 曹军 (城关社)", "CU-CG", ["post_loan_manager"]),
    ("postloan.hk", "贷后管理 袁野 (河口社)", "CU-HK", ["post_loan_manager"]),
    ("archivist", "档案管理员 邓云", "HO", ["archivist"]),
    ("applicant", "张三 (申请人)", "IC", ["applicant"]),
] + [
    (f"member{n:02d}", f"贷审会委员 {n:02d}", "HO" if n <= 6 else ("SB-CG" if n <= 9 else "SB-HK"),
     ["committee_member"]) for n in range(1, 13)
]


@dataclass(frozen=True)
class DemoLogins:
    password: str
    usernames: list[str]


async def is_empty(session: AsyncSession) -> bool:
    return (await session.execute(select(func.count()).select_from(Office))).scalar_one() == 0


def demo_password(data_dir: Path, configured: str) -> str:
    """A random demo password kept in the data folder, unless one is configured."""
    if configured:
        return configured
    path = data_dir / "demo-password.txt"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(9) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


async def load(session: AsyncSession, hashing: PasswordHashing, password: str) -> DemoLogins:
    """Create the demo organisation in the caller's transaction."""
    actor = audit.Actor.system("demo-loader")
    offices: dict[str, Office] = {}
    for code, name_zh, name_en, kind, parent, region in OFFICES:
        office = Office(code=code, name_zh=name_zh, name_en=name_en, kind=kind,
                        parent_id=offices[parent].id if parent else None, region=region)
        session.add(office)
        await session.flush()
        office.path = (offices[parent].path if parent else "/") + f"{office.id}/"
        offices[code] = office
        await audit.append(session, actor, "office.create", "office", office.id, {"code": code})
    password_hash = hashing.hash(password)  # one hash for all: the demo loads in a blink
    for username, display, office_code, roles in USERS:
        user = User(username=username, display_name=display, office_id=offices[office_code].id,
                    password_hash=password_hash, roles=[UserRole(role=r) for r in roles])
        session.add(user)
        await session.flush()
        await audit.append(session, actor, "user.create", "user", user.id,
                           {"username": username, "roles": roles})
    return DemoLogins(password, [u[0] for u in USERS])
