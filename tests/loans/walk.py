"""Walking real loans through the workflow over the HTTP API, as the demo's people."""
from __future__ import annotations

import base64
import datetime as dt
import io
import itertools
import json
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import update

from core.api.workflow import COMMITTEE_AUDIENCE, COMMITTEE_SCOPE
from core.orm import Loan
from core.servicetoken import ServiceTokens
from biometrics.stepup import payload_digest
from tests.fingerprint_data import fvc_path
from tests.suite import ApiClient, Suite, file_documents

# product -> amount (fen), term (months), purpose, payment mode
PRODUCTS = {
    "personal_consumer": (20_000_000, 36, "consumption", "entrusted"),
    "personal_business": (45_000_000, 60, "business", "own"),
    "working_capital": (300_000_000, 24, "business", "own"),
    "fixed_asset": (2_000_000_000, 96, "business", "entrusted"),
    "project_finance": (5_000_000_000, 120, "business", "entrusted"),
}
MEMBERS = [f"member{n:02d}" for n in range(1, 13)]
# Every acting staff member enrolls two impressions of the same FVC finger and confirms with a
# third: reusing one real finger for all staff is fine here (each user is matched only against
# their own enrollment), and it keeps the prints the test needs to three files.
STAFF_FINGER = ("107_1", "107_2")
STAFF_PROBE = "107_3"
_captures = itertools.count(1)


@lru_cache(maxsize=None)
def _print_pixels(name: str):
    from PIL import Image

    return Image.open(fvc_path(name)).copy()


def fresh_capture(name: str) -> str:
    """A real FVC print as a new scanner file (base64 PNG): same pixels, bytes never seen before,
    as every real capture is — identical bytes would be refused as a replay."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("capture", f"{next(_captures)}-{secrets.token_hex(8)}")
    out = io.BytesIO()
    _print_pixels(name).save(out, "PNG", pnginfo=info, compress_level=1)
    return base64.b64encode(out.getvalue()).decode()


def capture_of(name: str):
    from biometrics.service import CaptureInput

    return CaptureInput(base64.b64decode(fresh_capture(name)), 500.0, "test-scanner")


async def enroll_first_admin(suite: Suite) -> int:
    """The first administrator's prints, enrolled at the server as `loanctl biometrics
    enroll-staff` does (nobody is enrolled yet to vouch for them); once per suite."""
    from biometrics.loanapi import CLIENT
    from biometrics.stepup import enroll_at_console

    enrolled = suite.__dict__.setdefault("_enrolled_staff", set())
    _, users = await suite.ids()
    if users["admin"] not in enrolled:
        for name in STAFF_FINGER:
            await enroll_at_console(suite.server.app[CLIENT], suite.services.db, users["admin"], 2, capture_of(name),
                                    operator="tests")
        enrolled.add(users["admin"])
    return users["admin"]


def witnessed(body: dict, witness: str = "admin") -> dict:
    """An enrollment body vouched for by an administrator's fresh print, in person."""
    return {**body, "witness": witness, "witness_image_base64": fresh_capture(STAFF_PROBE)}


async def enroll_staff(suite: Suite, client: ApiClient) -> None:
    """Enroll the signed-in staff member's finger once per suite (each suite is a fresh
    database): the first administrator at the server, everyone else vouched for by them."""
    enrolled = suite.__dict__.setdefault("_enrolled_staff", set())
    if client.me["user_id"] in enrolled:
        return
    await enroll_first_admin(suite)
    if client.me["user_id"] in enrolled:  # the administrator themselves
        return
    for name in STAFF_FINGER:
        await client.json("POST", "/api/me/fingerprints",
                          witnessed({"finger": 2, "image_base64": fresh_capture(name)}), expect=201)
    enrolled.add(client.me["user_id"])


async def step_up(suite: Suite, client: ApiClient, loan_id: int, action: str, payload: dict) -> str:
    """A real step-up: the operator's fresh print for exactly this command."""
    await enroll_staff(suite, client)
    granted = await client.json("POST", "/api/step-up", {
        "loan_id": loan_id, "action": action, "payload_sha256": payload_digest(payload),
        "image_base64": fresh_capture(STAFF_PROBE), "device": "test-scanner"})
    return granted["step_up"]


async def credential_step_up(suite: Suite, client: ApiClient, body: dict, user_id: int | None = None) -> dict:
    """An administrator's password or role change (or new account), confirmed with their print."""
    from core.services.organisation import CREDENTIALS_ACTION, credentials_payload

    token = await step_up(suite, client, 0, CREDENTIALS_ACTION, credentials_payload(body, user_id))
    return {**body, "step_up": token}


async def needs_step_up(suite: Suite, username: str, loan_id: int, action: str) -> bool:
    """Staff confirm important actions (as the loan's own workflow version marks them)."""
    if username == "applicant" or suite.services.config.step_up != "required":
        return False
    definition = suite.services.workflow.current
    if loan_id:
        async with suite.services.db.unit_of_work(write=False) as session:
            definition = suite.services.workflow.registry.get((await session.get(Loan, loan_id)).workflow_version)
    return action in definition.actions and definition.actions[action].important


def application(product: str, *, name: str = "张三", id_number: str = "110101199001011234") -> dict:
    amount, term, *_ = PRODUCTS[product]
    return {"product": product, "amount": amount, "term_months": term, "purpose": "扩大经营",
            "customer_name": name, "id_number": id_number, "phone": "13800000000"}


@dataclass
class Walk:
    suite: Suite
    product: str = "personal_consumer"
    loan_id: int = 0
    author: str = "applicant"
    clients: dict[str, ApiClient] = field(default_factory=dict)
    offices: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)

    async def start(self) -> "Walk":
        self.offices, self.users = await self.suite.ids()
        return self

    async def as_(self, username: str) -> ApiClient:
        if username not in self.clients:
            self.clients[username] = await self.suite.login(username)
        return self.clients[username]

    async def do(self, username: str, action: str, payload: dict | None = None, *, expect: int = 200) -> Any:
        client = await self.as_(username)
        body = {"action": action, "payload": payload or {}}
        # A command expected to be refused is refused before its step-up is looked at (scope,
        # stage, guards come first), so it needs no print.
        if expect == 200 and await needs_step_up(self.suite, username, self.loan_id, action):
            body["step_up"] = await step_up(self.suite, client, self.loan_id, action, body["payload"])
        return await client.json("POST", f"/api/loans/{self.loan_id}/commands", body, expect=expect)

    async def stage(self) -> str:
        async with self.suite.services.db.unit_of_work(write=False) as session:
            return (await session.get(Loan, self.loan_id)).stage

    async def apply(self, **kwargs) -> dict:
        client = await self.as_("applicant")
        result = await client.json("POST", "/api/applications",
                                   {"action": "apply", "payload": application(self.product, **kwargs)}, expect=201)
        self.loan_id = result["loan"]["id"]
        return result

    async def decide(self, outcome: str = "approved", *, votes_for: int | None = None, expect: int = 200,
                     members: list[str] = MEMBERS) -> Any:
        rules = self.suite.services.workflow.rules.at(dt.date.today())
        amount = PRODUCTS[self.product][0]
        committee = rules.committee_for(self.product, amount)
        members = [self.users[m] for m in members[:committee.size]]
        if votes_for is None:
            votes_for = committee.votes_needed() if outcome == "approved" else 0
        token = ServiceTokens(self.suite.services.config.secret_key).issue(
            subject="committee", audience=COMMITTEE_AUDIENCE, scope=COMMITTEE_SCOPE)
        client = await self.suite.client()
        return await client.json("POST", "/api/committee/decisions", {"loan_id": self.loan_id, "payload": {
            "outcome": outcome, "meeting_id": f"M-{self.loan_id}", "members": members, "votes_for": votes_for,
            "votes_against": len(members) - votes_for, "summary": "审议并表决"}},
            headers={"Authorization": f"Bearer {token}"}, expect=expect)

    async def flag(self, *flags: str) -> None:
        async with self.suite.services.db.unit_of_work() as session:
            loan = await session.get(Loan, self.loan_id)
            await session.execute(update(Loan).where(Loan.id == self.loan_id).values(
                flags=json.dumps(sorted(set(json.loads(loan.flags)) | set(flags)))))

    async def step(self) -> str:
        """The happy-path action of the current stage, by the right person."""
        amount, term, purpose, mode = PRODUCTS[self.product]
        stage = await self.stage()
        today = dt.date.today().isoformat()
        if stage == "draft":
            await self.do(self.author, "submit_application", {})
        elif stage == "submitted":
            await file_documents(self.suite, self.loan_id, "APP-FORM", "ID-CARD")
            await self.do("intake.head", "preliminary_pass", {"opinion": "材料齐全"})
        elif stage == "main_review":
            await self.do("intake.head", "main_review_pass", {"opinion": "符合条件", "risk_level": "low"})
        elif stage == "dispatch":
            await self.do("intake.head", "dispatch_officers", {
                "route": "sub_center", "office": self.offices["SC-E"],
                "officer_a": self.users["officer.e.a"], "officer_b": self.users["officer.e.b"]})
        elif stage == "investigation":
            await file_documents(self.suite, self.loan_id, "INCOME-PROOF", "CREDIT-REPORT", "INV-REPORT",
                                 "INV-PHOTOS", "FP-CAPTURE")
            await self.flag("prints_enrolled")  # real enrollment is tested in tests/biometrics_service
            await self.do("officer.e.a", "record_investigation", {
                "items": {"income": "稳定"}, "conclusion": "recommend", "opinion": "实地走访"})
        elif stage == "investigation_check":
            await self.do("officer.e.b", "confirm_investigation", {"opinion": "同意"})
        elif stage == "review":
            await file_documents(self.suite, self.loan_id, "REVIEW-REPORT")
            await self.do("reviewer", "review_pass", {"items": {"collateral": "充足"}, "conclusion": "recommend",
                                                      "opinion": "风险可控"})
        elif stage == "committee":
            kind = self.suite.services.workflow.rules.at(dt.date.today()).committee_for(self.product, amount).kind
            await self.do("convener", "convene_committee", {
                "meeting_id": f"M-{self.loan_id}", "committee_kind": kind,
                "meeting_at": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()})
        elif stage == "committee_meeting":
            await self.decide("approved")
        elif stage == "approval_notice":
            await file_documents(self.suite, self.loan_id, "APPROVAL-NOTICE")
            await self.do("manager.ho", "issue_approval_notice", {
                "disbursing_office": self.offices["CU-CG"], "post_loan_manager": self.users["postloan.cg"]})
        elif stage == "signing":
            await file_documents(self.suite, self.loan_id, "LOAN-CONTRACT")
            await self.do("officer.e.a", "record_signing", {"mode": "face_to_face", "contract_no": f"HT-{self.loan_id}",
                                                            "signed_on": today})
        elif stage == "payment_first_review":
            await file_documents(self.suite, self.loan_id, "PAYMENT-APPLICATION")
            await self.do("payment.first", "payment_first_approve", {
                "payment_mode": mode, "amount": amount, "purpose": purpose, "payee_known": True,
                "payee": "某某农资公司", "opinion": "资料一致"})
        elif stage == "payment_second_review":
            await self.do("payment.second", "payment_second_approve", {"opinion": "同意"})
        elif stage == "compliance_review":
            await self.do("compliance", "compliance_approve", {"opinion": "合规"})
        elif stage == "disbursement":
            await self.flag("fingerprints_matched")
            await self.do("accountant.cg", "disburse", {"amount": amount, "account": "6217000000000001",
                                                        "voucher_no": f"V-{self.loan_id}", "disbursed_on": today})
        elif stage == "active":
            await self.do("postloan.cg", "close_loan", {"settlement": "repaid", "closed_on": today})
        else:
            raise AssertionError(f"no happy-path step at {stage}")
        return await self.stage()

    async def walk_to(self, stage: str) -> None:
        for _ in range(30):
            if await self.stage() == stage:
                return
            await self.step()
        raise AssertionError(f"never reached {stage}")
