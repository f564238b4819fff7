"""Fingerprints through a loan's life over core's API, with real prints: enrollment of the
applicant and a guarantor at investigation, the disbursement desk (genuine, impostor, swapped
guarantor, replayed file), post-loan inspection, and the duplicate-identity search."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from biometrics.tables import Capture, DuplicateIdentityHit, Verification
from core.orm import AuditRecord, Loan
from core.postloan.tables import PrintVerification
from recordings.tables import ArchiveEntry
from tests.loans.walk import Walk

from .prints import fresh

# Each FVC finger stands for one finger of one person: the applicant's right index (2) and
# left index (7) are FVC fingers 104 and 105, the guarantor's are 106 and 108.
APPLICANT = {2: "104", 7: "105"}
GUARANTOR = {2: "106", 7: "108"}


async def _flags(suite, loan_id: int) -> set[str]:
    async with suite.services.db.unit_of_work(write=False) as session:
        return set(json.loads((await session.get(Loan, loan_id)).flags))


async def _investigated_loan(suite, *, name="王五", id_number="110101198001017777",
                             guarantor=("赵六", "110101197502023333")) -> tuple[Walk, dict]:
    walk = await Walk(suite).start()
    await walk.apply(name=name, id_number=id_number)
    await walk.walk_to("investigation")
    officer = await walk.as_("officer.e.a")
    added = await officer.json("POST", f"/api/loans/{walk.loan_id}/guarantors",
                               {"name": guarantor[0], "id_number": guarantor[1]}, expect=201)
    status = await officer.json("GET", f"/api/loans/{walk.loan_id}/fingerprints")
    people = {p["role"]: p["customer_id"] for p in status["people"]}
    assert people["guarantor"] == added["customer_id"] and not status["complete"]
    return walk, people


async def _enroll(walk: Walk, customer_id: int, fingers: dict[int, str], impression: str = "1") -> dict:
    officer = await walk.as_("officer.e.a")
    result = None
    for finger, fvc in fingers.items():
        result = await officer.json("POST", f"/api/loans/{walk.loan_id}/fingerprints/enrollments", {
            "customer_id": customer_id, "finger": finger, "image_base64": fresh(f"{fvc}_{impression}"),
            "device": "U.are.U 4500"}, expect=201)
    return result


async def test_investigation_needs_the_prints_then_the_desk_matches_them(suite):
    walk, people = await _investigated_loan(suite)
    applicant, guarantor = people["applicant"], people["guarantor"]
    # The investigation cannot be submitted without the enrollments.
    from tests.suite import file_documents

    await file_documents(suite, walk.loan_id, "INCOME-PROOF", "CREDIT-REPORT", "INV-REPORT", "INV-PHOTOS",
                         "FP-CAPTURE")
    payload = {"items": {"income": "稳定"}, "conclusion": "recommend", "opinion": "实地走访"}
    refused = await walk.do("officer.e.a", "record_investigation", payload, expect=422)
    assert refused["error"] == "guard_flag_set" and "enrolled" in refused["message"]
    await _enroll(walk, applicant, APPLICANT)
    assert "prints_enrolled" not in await _flags(suite, walk.loan_id)  # the guarantor still has none
    done = await _enroll(walk, guarantor, GUARANTOR)
    assert done["complete"] and done["duplicates"] == 0
    assert "prints_enrolled" in await _flags(suite, walk.loan_id)
    await walk.do("officer.e.a", "record_investigation", payload)
    await walk.walk_to("disbursement")
    # walk_to's own disbursement step would set the flag directly; the desk does it here.
    clerk = await walk.as_("accountant.cg")
    desk = f"/api/loans/{walk.loan_id}/fingerprints/disbursement"
    amount = 20_000_000
    disburse = {"amount": amount, "account": "6217000000000001", "voucher_no": f"V-{walk.loan_id}",
                "disbursed_on": dt.date.today().isoformat()}

    # Another person's print for the applicant.
    guarantor_print = fresh("106_3")
    impostor = await clerk.json("POST", desk, {"captures": [
        {"customer_id": applicant, "image_base64": fresh("110_1")},
        {"customer_id": guarantor, "image_base64": guarantor_print}]})
    assert impostor["decision"] == "refused" and not impostor["matched"]
    assert any("applicant" in r and "below the threshold" in r for r in impostor["reasons"])
    await walk.do("accountant.cg", "disburse", disburse, expect=422)

    # Applicant and guarantor swapped at the scanner.
    swapped = await clerk.json("POST", desk, {"captures": [
        {"customer_id": applicant, "image_base64": fresh("106_4")},
        {"customer_id": guarantor, "image_base64": fresh("104_4")}]})
    assert swapped["decision"] == "refused" and len(swapped["reasons"]) == 2

    # A file sent before (the guarantor's capture above) replayed instead of a fresh capture.
    replayed = await clerk.json("POST", desk, {"captures": [
        {"customer_id": applicant, "image_base64": fresh("104_5")},
        {"customer_id": guarantor, "image_base64": guarantor_print}]})
    assert replayed["decision"] == "refused"
    assert any("guarantor" in r and "replay" in r for r in replayed["reasons"])
    assert "fingerprints_matched" not in await _flags(suite, walk.loan_id)

    # The genuine people.
    genuine = await clerk.json("POST", desk, {"captures": [
        {"customer_id": applicant, "image_base64": fresh("104_3")},
        {"customer_id": guarantor, "image_base64": fresh("106_3")}]})
    assert genuine["decision"] == "matched", genuine["reasons"]
    assert all(p["score"] >= 40 and p["capture_png"] and p["enrollment_png"] for p in genuine["people"])
    assert genuine["archive"]["kind"] == "fingerprint_record"
    assert "fingerprints_matched" in await _flags(suite, walk.loan_id)
    await walk.do("accountant.cg", "disburse", disburse)
    assert await walk.stage() == "active"

    async with suite.services.db.unit_of_work(write=False) as session:
        audits = list((await session.execute(select(AuditRecord.action, AuditRecord.outcome).where(
            AuditRecord.action.like("biometrics.disbursement%")))).all())
        records = list((await session.execute(select(Verification).where(
            Verification.loan_id == walk.loan_id, Verification.purpose == "disbursement"))).scalars())
        captures = list((await session.execute(select(Capture).where(
            Capture.loan_id == walk.loan_id, Capture.purpose == "disbursement"))).scalars())
        filed = (await session.execute(select(ArchiveEntry).where(ArchiveEntry.loan_id == walk.loan_id,
                                                                  ArchiveEntry.kind == "fingerprint_record"))).scalars().all()
    assert audits.count(("biometrics.disbursement_refused", "refused")) == 3
    assert audits.count(("biometrics.disbursement_match", "ok")) == 1
    # Every verification is on record, with who asked, the threshold and the decision.
    assert len(records) == 8 and all(r.requested_by == f"user:{walk.users['accountant.cg']}" for r in records)
    # The genuine pair, the impostor's genuine guarantor, the replay's genuine applicant.
    assert sum(r.matched for r in records) == 2 + 1 + 1
    assert {r.reason for r in records if not r.matched and r.capture_id is None} >= {
        "this capture's bytes were already submitted: refused as a replay; capture again"}
    # Both captures of the successful match stay on file (template and hash).
    matched_ids = {p["capture_id"] for p in genuine["people"]}
    assert matched_ids <= {c.id for c in captures} and len(filed) == 1

    # Post-loan inspection: the customer's print, matched the same way.
    manager = await walk.as_("postloan.cg")
    check = await manager.json("POST", f"/api/loans/{walk.loan_id}/fingerprints/post-loan",
                               {"image_base64": fresh("104_6")})
    assert check["matched"]
    wrong = await manager.json("POST", f"/api/loans/{walk.loan_id}/fingerprints/post-loan",
                               {"image_base64": fresh("108_6")})
    assert not wrong["matched"]
    async with suite.services.db.unit_of_work(write=False) as session:
        from core.postloan.service import biometrics_match_required
        from core.postloan.tables import ManagedLoan

        loan = await session.get(Loan, walk.loan_id)
        managed = await session.get(ManagedLoan, walk.loan_id)
        rows = list((await session.execute(select(PrintVerification).where(
            PrintVerification.loan_id == walk.loan_id))).scalars())
        match = await biometrics_match_required(session, loan, managed,
                                                now=dt.datetime.now(dt.timezone.utc))
    assert [r.matched for r in rows] == [True, False] and match.id == rows[0].id


async def test_the_duplicate_search_finds_a_finger_enrolled_under_another_id(suite):
    first, people = await _investigated_loan(suite, name="孙七", id_number="110101198202024444",
                                             guarantor=("周八", "110101197603035555"))
    await _enroll(first, people["applicant"], APPLICANT)
    await _enroll(first, people["guarantor"], GUARANTOR)
    # The same person applies again under another name and ID number (三名贷款).
    second, others = await _investigated_loan(suite, name="吴九", id_number="110101199003036666",
                                              guarantor=("郑十", "110101197704046666"))
    result = await _enroll(second, others["applicant"], {3: "105"}, impression="2")
    assert result["duplicates"] == 1
    assert "duplicate_identity" in await _flags(suite, second.loan_id)
    clean = await _enroll(second, others["guarantor"], {3: "109"})
    assert clean["duplicates"] == 0
    async with suite.services.db.unit_of_work(write=False) as session:
        hits = list((await session.execute(select(DuplicateIdentityHit))).scalars())
    assert [(h.loan_id, h.customer_id, h.other_customer_id) for h in hits] == [
        (second.loan_id, others["applicant"], people["applicant"])]
    assert hits[0].score >= 40
    status = await (await second.as_("officer.e.a")).json("GET", f"/api/loans/{second.loan_id}/fingerprints")
    assert status["duplicates"][0]["other"]["name"] == "孙七"
    assert status["duplicates"][0]["other"]["id_number"].startswith("1101") and "*" in status["duplicates"][0]["other"]["id_number"]
    # The first loan's own people do not flag each other.
    assert "duplicate_identity" not in await _flags(suite, first.loan_id)


async def test_the_enrollment_page_lists_the_people_and_warns_of_duplicates(suite):
    first, people = await _investigated_loan(suite, name="钱一", id_number="110101198303037777",
                                             guarantor=("陈二", "110101197805058888"))
    await _enroll(first, people["applicant"], {2: "101"})
    second, others = await _investigated_loan(suite, name="冯三", id_number="110101199104049999",
                                              guarantor=("褚四", "110101197906061111"))
    await _enroll(second, others["applicant"], {4: "101"}, impression="3")
    officer = await second.as_("officer.e.a")
    response = await officer.request("GET", f"/loans/{second.loan_id}/fingerprints/enroll")
    page = await response.text()
    assert response.status == 200
    assert "冯三" in page and "褚四" in page and 'data-testid="duplicates"' in page and "钱一" in page
    assert f'data-enroll="/api/loans/{second.loan_id}/fingerprints/enrollments"' in page
    loan_page = await (await officer.request("GET", f"/loans/{second.loan_id}")).text()
    assert 'data-fingerprint-panel' in loan_page and "/fingerprints/enroll" in loan_page
    # The desk is the clerk's; the officer is refused.
    assert (await officer.request("GET", f"/loans/{second.loan_id}/fingerprints/desk")).status == 403


async def test_after_a_switch_to_the_accurate_mode_the_enrollment_page_lists_fingers_to_enroll_again(suite):
    """The bank restarts with LOANCTL_FINGERPRINT_MODE=accurate: prints enrolled before are still
    verified through their exact templates, and the page asks for those fingers again."""
    import dataclasses

    from biometrics.loanapi import CLIENT

    walk, people = await _investigated_loan(suite, name="卫七", id_number="110101198505057777",
                                            guarantor=("蒋八", "110101197707073333"))
    await _enroll(walk, people["applicant"], {2: "104"})
    service = suite.server.app[CLIENT].runtime.running()
    service.settings = dataclasses.replace(service.settings, mode="accurate")
    officer = await walk.as_("officer.e.a")
    status = await officer.json("GET", f"/api/loans/{walk.loan_id}/fingerprints")
    applicant = next(p for p in status["people"] if p["role"] == "applicant")
    assert applicant["fingers"] == [2] and applicant["reenroll"] == [2]
    page = await (await officer.request("GET", f"/loans/{walk.loan_id}/fingerprints/enroll")).text()
    assert f'data-testid="reenroll-{people["applicant"]}"' in page and "请重新采集" in page
    await _enroll(walk, people["applicant"], {2: "104"}, impression="2")
    status = await officer.json("GET", f"/api/loans/{walk.loan_id}/fingerprints")
    applicant = next(p for p in status["people"] if p["role"] == "applicant")
    assert applicant["reenroll"] == [] and {e["mode"] for e in applicant["enrollments"]} == {"exact", "accurate"}
    page = await (await officer.request("GET", f"/loans/{walk.loan_id}/fingerprints/enroll")).text()
    assert f'data-testid="reenroll-{people["applicant"]}"' not in page
