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

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, messages, outbox
from core.audit import canonical_json
from core.db import Database
from core.errors import Forbidden, InvalidInput
from core.identity import Principal, is_staff
from core.orm import Office, User, utcnow

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


ENROLL_ACTION = "enroll_fingerprint"
# Who may vouch, in person, for a colleague's first prints: an administrator or a supervisor
# (a manager, the chairman) whose office subtree holds the colleague.
WITNESS_ROLES = frozenset({"admin", "manager", "chairman"})


@dataclass(frozen=True)
class Witness:
    """An administrator or supervisor standing at the scanner: their name and fresh print."""

    username: str
    capture: CaptureInput


def enrollment_payload(finger: int) -> dict:
    """What a step-up for changing one's own prints is bound to (with the user and the action)."""
    return {"finger": finger}


async def _vouch(client: BiometricsClient, db: Database, who: Principal, witness: Witness) -> dict:
    """The witness's fresh print, matched against their own enrollment; their rank over `who`."""
    async with db.unit_of_work(write=False) as session:
        row = (await session.execute(select(User).where(func.lower(User.username) == witness.username.lower(),
                                                        User.active.is_(True)))).scalar_one_or_none()
        office = await session.get(Office, row.office_id) if row is not None else None
        roles = set(row.role_codes) if row is not None else set()
    over = office is not None and ("chairman" in roles or who.office_path.startswith(office.path))
    if row is None or row.id == who.user_id or not roles & WITNESS_ROLES or not over:
        # One answer for an unknown name and a colleague without the rank: names do not leak.
        raise Forbidden("the witness must be an administrator or supervisor over you, in person",
                        code="witness_refused")
    result = await client.verify(Subject("user", row.id), witness.capture, requested_by=f"user:{who.user_id}",
                                 purpose="step_up")
    async with db.unit_of_work() as session:
        await audit.append(session, who.actor(), "biometrics.enroll_witness", "user", who.user_id,
                           {"witness_id": row.id, "matched": result["matched"], "score": result["score"],
                            "verification_id": result["verification_id"]})
    if not result["matched"]:
        raise Forbidden(f"the witness's print did not match their enrollment ({result['reason']})",
                        code="step_up_refused", details={"score": result["score"], "threshold": result["threshold"]})
    return {"by": "witness", "witness_id": row.id, "verification_id": result["verification_id"]}


async def enroll_self(client: BiometricsClient, db: Database, who: Principal, finger: int,
                      capture: CaptureInput, *, step_up: str | None = None, witness: Witness | None = None) -> dict:
    """A staff member adds or re-enrolls one of their own fingers.

    Prints are what every step-up trusts, so changing them is the most important action
    there is: with prints enrolled it needs a step-up token (action enroll_fingerprint, the
    finger) bought with an enrolled finger, or a witness; the first enrollment needs a
    witness, an administrator or supervisor with their own print on the scanner. Audited; the
    person gets an SMS, so a change they did not make does not go unnoticed."""
    if not is_staff(who):
        raise Forbidden("only staff enroll their fingers for step-up")
    has_prints = bool(await client.enrolled(Subject("user", who.user_id)))
    if witness is not None:
        authorized = await _vouch(client, db, who, witness)
    elif step_up and has_prints:
        # Spent before the capture is sent: a token buys one enrollment, even a refused one.
        async with db.unit_of_work() as session:
            await redeem(session, step_up, user_id=who.user_id, loan_id=NEW_LOAN, action=ENROLL_ACTION,
                         payload=enrollment_payload(finger))
        authorized = {"by": "step_up"}
    elif has_prints:
        raise StepUpRequired("changing your fingerprints needs a step-up with a finger you have already enrolled",
                             details={"action": ENROLL_ACTION})
    else:
        raise StepUpRequired("a first enrollment needs an administrator or supervisor in person (witness)",
                             code="witness_required", details={"action": ENROLL_ACTION})
    result = await client.enroll(Subject("user", who.user_id), finger, capture, requested_by=f"user:{who.user_id}")
    await record_enrollment(db, who.actor(), who.user_id, result, authorized)
    return result


async def enroll_at_console(service, db: Database, user_id: int, finger: int, capture: CaptureInput, *,
                            operator: str) -> dict:
    """Prints enrolled by the operator at the server (`loanctl biometrics enroll-staff`): how the
    first administrator gets prints, when nobody is enrolled yet to vouch for them."""
    result = await service.enroll(Subject("user", user_id), finger, capture, requested_by=f"console:{operator}"[:64])
    await record_enrollment(db, audit.Actor.system("console"), user_id, result, {"by": "console", "operator": operator})
    return result


async def record_enrollment(db: Database, actor: audit.Actor, user_id: int, result: dict, authorized: dict) -> None:
    """Audit a staff enrollment and tell the person by SMS, in one transaction."""
    async with db.unit_of_work() as session:
        await audit.append(session, actor, "biometrics.staff_enroll", "user", user_id,
                           {"finger": result["finger"], "capture_sha256": result["sha256"],
                            "minutiae": result["minutiae"], **authorized})
        user = await session.get(User, user_id)
        outbox.queue(session, template="fingerprint_enrolled", user_id=user_id, phone=user.phone,
                     name=user.display_name,
                     text=messages.render("fingerprint_enrolled", bank=messages.BANK, finger=str(result["finger"]),
                                          time=utcnow().astimezone(messages.LOCAL_TIME).strftime("%Y-%m-%d %H:%M")))


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
