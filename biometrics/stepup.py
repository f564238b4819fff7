"""Operator step-up: an important action needs the operator's fresh print.

The operator's capture, matched against their own enrollment, buys a token bound to the
user, the loan, the action and the SHA-256 of the canonical payload. The token is random;
only its hash is stored. It is redeemed inside the command's own transaction, so it is
spent exactly when the command happens (a refused command leaves it unspent).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any, Mapping

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.audit import canonical_json
from core.db import Database
from core.errors import Forbidden, InvalidInput
from core.identity import Principal
from core.orm import utcnow

from .client import BiometricsClient
from .service import CaptureInput, Subject
from .tables import StepUpToken

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
NEW_LOAN = 0  # a step-up for a new application (apply_on_behalf) names no loan yet


class StepUpRequired(Forbidden):
    code = "step_up_required"


class StepUpInvalid(Forbidden):
    code = "step_up_invalid"


def payload_digest(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a command payload (sorted keys, no spaces, UTF-8) —
    what the page computes before asking for a token."""
    return hashlib.sha256(canonical_json(dict(payload))).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_staff(principal: Principal | None) -> bool:
    return principal is not None and not principal.roles <= {"applicant"}


async def enroll_self(client: BiometricsClient, db: Database, who: Principal, finger: int,
                      capture: CaptureInput) -> dict:
    """A staff member enrolls one of their own fingers."""
    if not is_staff(who):
        raise Forbidden("only staff enroll their fingers for step-up")
    result = await client.enroll(Subject("user", who.user_id), finger, capture, requested_by=f"user:{who.user_id}")
    async with db.unit_of_work() as session:
        await audit.append(session, who.actor(), "biometrics.staff_enroll", "user", who.user_id,
                           {"finger": result["finger"], "capture_sha256": result["sha256"],
                            "minutiae": result["minutiae"]})
    return result


async def issue(client: BiometricsClient, db: Database, who: Principal, *, loan_id: int, action: str,
                payload_sha256: str, capture: CaptureInput, lifetime_seconds: int) -> dict:
    """Match the operator's fresh print against their own enrollment; on a match, a token."""
    if not is_staff(who):
        raise Forbidden("step-up is for staff")
    if not _DIGEST.match(payload_sha256):
        raise InvalidInput("payload_sha256 must be 64 lowercase hex characters", details={"payload_sha256": "pattern"})
    if not re.match(r"^[a-z_]{1,64}$", action):
        raise InvalidInput("action must be an action code", details={"action": "pattern"})
    result = await client.verify(Subject("user", who.user_id), capture, requested_by=f"user:{who.user_id}",
                                 purpose="step_up", loan_id=loan_id or None)
    now = utcnow()
    async with db.unit_of_work() as session:
        await audit.append(session, who.actor(), "biometrics.step_up", "loan" if loan_id else "user",
                           loan_id or who.user_id,
                           {"action": action, "matched": result["matched"], "score": result["score"],
                            "threshold": result["threshold"], "verification_id": result["verification_id"]})
        if not result["matched"]:
            refusal = Forbidden(f"the print did not match your enrollment ({result['reason']})",
                                code="step_up_refused", details={"score": result["score"],
                                                                 "threshold": result["threshold"]})
        else:
            token = secrets.token_urlsafe(32)
            expires = now + dt.timedelta(seconds=lifetime_seconds)
            session.add(StepUpToken(token_sha256=_token_hash(token), user_id=who.user_id, loan_id=loan_id or NEW_LOAN,
                                    action=action, payload_sha256=payload_sha256,
                                    verification_id=result["verification_id"], issued_at=now, expires_at=expires))
            refusal = None
    if refusal is not None:
        raise refusal
    return {"step_up": token, "expires_at": expires.isoformat(), "score": result["score"],
            "threshold": result["threshold"]}


async def redeem(session: AsyncSession, token: str | None, *, user_id: int, loan_id: int, action: str,
                 payload: Mapping[str, Any], now: dt.datetime | None = None) -> None:
    """Spend the token for this exact command, or refuse (403) saying why."""
    if not token:
        raise StepUpRequired(f"'{action}' is an important action: confirm it with your fingerprint (step-up)",
                             details={"action": action})
    now = now or utcnow()
    row = await session.get(StepUpToken, _token_hash(token))
    problem = None
    if row is None:
        problem = "unknown step-up token"
    elif row.used_at is not None:
        problem = "this step-up token was already used"
    elif row.expires_at < now:
        problem = "this step-up token has expired; confirm with your fingerprint again"
    elif (row.user_id, row.loan_id, row.action) != (user_id, loan_id, action):
        problem = "this step-up token was issued for another user, loan or action"
    elif row.payload_sha256 != payload_digest(payload):
        problem = "the command differs from the one confirmed by fingerprint (payload changed)"
    if problem:
        raise StepUpInvalid(problem, details={"action": action})
    spent = await session.execute(update(StepUpToken).where(
        StepUpToken.token_sha256 == row.token_sha256, StepUpToken.used_at.is_(None)).values(used_at=now))
    if spent.rowcount != 1:
        raise StepUpInvalid("this step-up token was already used", details={"action": action})
