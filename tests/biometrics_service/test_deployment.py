"""The fingerprint service run apart (core calls it over HTTP at LOANCTL_BIOMETRICS_URL), the
service mounted at /biometrics/ of the suite, and master-key rotation re-encrypting the data."""
from __future__ import annotations

import asyncio
import os

from aiohttp.test_utils import TestServer
from sqlalchemy import select

from biometrics.app import AUDIENCE, create_app
from biometrics.keys import MasterKey, master_key_path
from biometrics.tables import Capture, SubjectKey, Verification
from core.cli import main as loanctl
from core.servicetoken import ServiceTokens
from tests.loans.walk import Walk, enroll_staff, step_up
from tests.suite import file_documents, start_suite, suite_config

from .prints import b64, fvc_bytes


async def test_core_calls_a_separately_run_service_over_http(tmp_path, database_url):
    config = suite_config(tmp_path, database_url)
    service = TestServer(create_app(config))
    await service.start_server()
    suite = await start_suite(config.replace(biometrics_url=str(service.make_url("")).rstrip("/")))
    try:
        walk = await Walk(suite).start()
        await walk.apply()
        await walk.walk_to("submitted")
        await file_documents(suite, walk.loan_id, "APP-FORM", "ID-CARD")
        head = await walk.as_("intake.head")
        token = await step_up(suite, head, walk.loan_id, "preliminary_pass", {"opinion": "齐全"})
        await head.json("POST", f"/api/loans/{walk.loan_id}/commands",
                        {"action": "preliminary_pass", "payload": {"opinion": "齐全"}, "step_up": token})
        async with suite.services.db.unit_of_work(write=False) as session:
            # (the administrator's print that vouched for the head's enrollment names no loan)
            record = (await session.execute(select(Verification).where(
                Verification.loan_id == walk.loan_id))).scalars().one()
        # The service, not core, wrote it: the requester is core's service identity plus the user.
        assert record.requested_by == f"core/user:{walk.users['intake.head']}" and record.matched
    finally:
        await suite.close()
        await service.close()


async def test_the_suite_serves_the_service_at_biometrics_with_tokens(suite):
    client = await suite.client()
    unauthenticated = await client.request("POST", "/biometrics/identify", {"image_base64": b64(fvc_bytes("101_1"))})
    assert unauthenticated.status == 401 and (await unauthenticated.json())["error"] == "invalid_token"
    token = ServiceTokens(suite.services.config.secret_key).issue(subject="core", audience=AUDIENCE, scope="identify")
    found = await client.json("POST", "/biometrics/identify", {"image_base64": b64(fvc_bytes("101_1"))},
                              headers={"Authorization": f"Bearer {token}"})
    assert found == {"threshold": 40.0, "candidates": []}


async def test_key_rotation_re_encrypts_and_the_service_still_matches(tmp_path, monkeypatch, capsys):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'loans.sqlite3'}"
    suite = await start_suite(suite_config(tmp_path, database_url))
    try:
        head = await suite.login("intake.head")
        await enroll_staff(suite, head)
        async with suite.services.db.unit_of_work(write=False) as session:
            before = {c.id: c.template_sealed for c in (await session.execute(select(Capture))).scalars()}
            old_key_id, = set((await session.execute(select(SubjectKey.master_key_id))).scalars())
    finally:
        await suite.close()
    key_file = master_key_path(tmp_path / "data")
    old_key = MasterKey.from_hex(key_file.read_text())
    assert old_key.key_id == old_key_id and oct(key_file.stat().st_mode)[-3:] == "600"

    monkeypatch.setenv("LOANCTL_DATABASE_URL", database_url)
    monkeypatch.delenv("LOANCTL_BIOMETRIC_KEY", raising=False)
    assert await asyncio.to_thread(loanctl, ["biometrics", "rotate-key", "--data", str(tmp_path / "data")]) == 0
    # the head, and the administrator who vouched for the head's first enrollment
    assert "re-encrypted the data of 2 subjects" in capsys.readouterr().out
    new_key = MasterKey.from_hex(key_file.read_text())
    assert new_key.key_id != old_key.key_id and oct(key_file.stat().st_mode)[-3:] == "600"
    assert not key_file.with_suffix(".next").exists() and not key_file.with_suffix(".previous").exists()

    suite = await start_suite(suite_config(tmp_path, database_url), load_demo=False)
    try:
        async with suite.services.db.unit_of_work(write=False) as session:
            after = {c.id: c.template_sealed for c in (await session.execute(select(Capture))).scalars()}
            assert set((await session.execute(select(SubjectKey.master_key_id))).scalars()) == {new_key.key_id}
        assert after.keys() == before.keys() and all(after[k] != before[k] for k in after)
        walk = await Walk(suite).start()
        await walk.apply()
        await walk.walk_to("submitted")
        head = await suite.login("intake.head")
        suite.__dict__["_enrolled_staff"] = {head.me["user_id"]}  # enrolled before the rotation
        await step_up(suite, head, walk.loan_id, "preliminary_pass", {"opinion": "ok"})
    finally:
        await suite.close()

    # A key the data was not wrapped with cannot open it: the command says so and changes nothing.
    monkeypatch.setenv("LOANCTL_BIOMETRIC_KEY", MasterKey.generate().key.hex())
    wrong = tmp_path / "wrong.key"
    wrong.write_text(MasterKey.generate().key.hex())
    assert await asyncio.to_thread(loanctl, ["biometrics", "rotate-key", "--data", str(tmp_path / "data"),
                                           "--new-key-file", str(wrong)]) == 2
    assert "not configured" in capsys.readouterr().err
    assert os.environ["LOANCTL_BIOMETRIC_KEY"]
