"""Changing one's own prints cannot be done with a stolen session: the first enrollment needs
an administrator or supervisor present with their print, every later change a step-up with a
finger already enrolled; each is audited and SMS-notified to the person."""
from __future__ import annotations

from sqlalchemy import func, select

from biometrics.stepup import payload_digest
from core.orm import AuditRecord, OutboxMessage
from tests.loans.walk import STAFF_FINGER, STAFF_PROBE, enroll_first_admin, fresh_capture, witnessed


async def _counts(suite, user_id: int) -> tuple[int, int]:
    async with suite.services.db.unit_of_work(write=False) as session:
        audits = (await session.execute(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "biometrics.staff_enroll", AuditRecord.object_id == str(user_id)))).scalar_one()
        sms = (await session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.recipient_user_id == user_id, OutboxMessage.template == "fingerprint_enrolled"))).scalar_one()
    return audits, sms


async def _mine(client) -> list[dict]:
    return (await client.json("GET", "/api/me/fingerprints"))["items"]


async def test_first_enrollment_needs_a_supervisor_in_person(suite):
    await enroll_first_admin(suite)
    clerk = await suite.login("accountant.cg")
    uid = clerk.me["user_id"]
    body = {"finger": 2, "image_base64": fresh_capture(STAFF_FINGER[0])}

    alone = await clerk.json("POST", "/api/me/fingerprints", body, expect=403)
    assert alone["error"] == "witness_required"
    # A colleague without the rank, or a name that does not exist, cannot vouch (same answer).
    for name in ("officer.cg", "nobody.here"):
        refused = await clerk.json("POST", "/api/me/fingerprints", witnessed(body, name), expect=403)
        assert refused["error"] == "witness_refused"
    # The administrator's name with someone else's print (a different finger) is refused.
    foreign = {**body, "witness": "admin", "witness_image_base64": fresh_capture("110_1")}
    mismatch = await clerk.json("POST", "/api/me/fingerprints", foreign, expect=403)
    assert mismatch["error"] == "step_up_refused"
    # Only a witness name without their print: malformed.
    await clerk.json("POST", "/api/me/fingerprints", {**body, "witness": "admin"}, expect=422)
    assert await _mine(clerk) == [] and await _counts(suite, uid) == (0, 0)

    enrolled = await clerk.json("POST", "/api/me/fingerprints", witnessed(body), expect=201)
    assert enrolled["finger"] == 2 and len(await _mine(clerk)) == 1
    assert await _counts(suite, uid) == (1, 1)
    async with suite.services.db.unit_of_work(write=False) as session:
        text = (await session.execute(select(OutboxMessage.text).where(
            OutboxMessage.recipient_user_id == uid, OutboxMessage.template == "fingerprint_enrolled"))).scalar_one()
    assert "指纹" in text and "第2指" in text


async def test_a_stolen_session_cannot_add_or_replace_a_finger(suite):
    """The probe's attack: with prints enrolled, add finger 7 (someone else's print) twice, or
    re-enroll finger 2, without a step-up: all refused; with a step-up for that finger, once."""
    await enroll_first_admin(suite)
    clerk = await suite.login("accountant.cg")
    uid = clerk.me["user_id"]
    await clerk.json("POST", "/api/me/fingerprints",
                     witnessed({"finger": 2, "image_base64": fresh_capture(STAFF_FINGER[0])}), expect=201)
    before = await _counts(suite, uid)

    foreign = {"finger": 7, "image_base64": fresh_capture("110_1")}
    for _ in range(2):
        refused = await clerk.json("POST", "/api/me/fingerprints", foreign, expect=403)
        assert refused["error"] == "step_up_required"
    again = await clerk.json("POST", "/api/me/fingerprints",
                             {"finger": 2, "image_base64": fresh_capture("110_2")}, expect=403)
    assert again["error"] == "step_up_required"
    forged = await clerk.json("POST", "/api/me/fingerprints", {**foreign, "step_up": "not-a-token"}, expect=403)
    assert forged["error"] == "step_up_invalid"
    assert len(await _mine(clerk)) == 1 and await _counts(suite, uid) == before

    async def token(finger: int) -> str:
        granted = await clerk.json("POST", "/api/step-up", {
            "loan_id": 0, "action": "enroll_fingerprint", "payload_sha256": payload_digest({"finger": finger}),
            "image_base64": fresh_capture(STAFF_PROBE)})
        return granted["step_up"]

    # A token for finger 2 does not add finger 7.
    wrong = await clerk.json("POST", "/api/me/fingerprints", {**foreign, "step_up": await token(2)}, expect=403)
    assert wrong["error"] == "step_up_invalid"
    good = await token(2)
    await clerk.json("POST", "/api/me/fingerprints",
                     {"finger": 2, "image_base64": fresh_capture(STAFF_FINGER[1]), "step_up": good}, expect=201)
    reused = await clerk.json("POST", "/api/me/fingerprints",
                              {"finger": 2, "image_base64": fresh_capture(STAFF_FINGER[1]), "step_up": good}, expect=403)
    assert reused["error"] == "step_up_invalid"
    assert len(await _mine(clerk)) == 2
    assert await _counts(suite, uid) == (before[0] + 1, before[1] + 1)


def test_the_first_administrator_is_enrolled_at_the_server(tmp_path, monkeypatch, capsys):
    """`loanctl biometrics enroll-staff`: nobody is enrolled yet to vouch; the operator at the
    server enrolls the first administrator, audited and SMS-notified like any enrollment."""
    import argparse
    import asyncio
    import base64

    from biometrics.servicecli import register
    from core.cli import CommandError
    from core.db import Database
    from core.demo import load
    from core.orm import User
    from core.passwords import PasswordHashing

    url = f"sqlite+aiosqlite:///{tmp_path / 'loans.sqlite3'}"
    monkeypatch.setenv("LOANCTL_DATABASE_URL", url)
    monkeypatch.setenv("LOANCTL_DATA", str(tmp_path / "data"))
    scans = []
    for name in STAFF_FINGER:
        scans.append(tmp_path / f"{name}.png")
        scans[-1].write_bytes(base64.b64decode(fresh_capture(name)))

    async def seed() -> None:
        db = Database(url)
        await db.migrate()
        async with db.unit_of_work() as session:
            await load(session, PasswordHashing(memory_kib=8 * 1024, time_cost=1), "Demo passphrase 2026")
        await db.close()

    async def state() -> tuple[int, int]:
        db = Database(url)
        async with db.unit_of_work(write=False) as session:
            admin = (await session.execute(select(User.id).where(User.username == "admin"))).scalar_one()
            audits = (await session.execute(select(func.count()).select_from(AuditRecord).where(
                AuditRecord.action == "biometrics.staff_enroll", AuditRecord.object_id == str(admin)))).scalar_one()
            sms = (await session.execute(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.recipient_user_id == admin))).scalar_one()
        await db.close()
        return audits, sms

    asyncio.run(seed())
    parser = argparse.ArgumentParser(prog="loanctl")
    register(parser.add_subparsers(dest="command"))

    def loanctl(*argv) -> int:
        args = parser.parse_args([str(a) for a in argv])
        return args.run(args)

    assert loanctl("biometrics", "enroll-staff", "admin", "--finger", "2", *scans) == 0
    assert capsys.readouterr().out.count("enrolled finger 2 of admin") == 2
    assert asyncio.run(state()) == (2, 2)
    try:
        loanctl("biometrics", "enroll-staff", "nobody", "--finger", "2", scans[0])
    except CommandError as error:
        assert "no user named nobody" in str(error)
    else:
        raise AssertionError("an unknown user was enrolled")
