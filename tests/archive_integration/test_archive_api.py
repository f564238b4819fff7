"""The archive through the running suite: tus uploads filed into credit files, scope, audit,
the signed index, exports and range requests."""
from __future__ import annotations

import hashlib
import io

from sqlalchemy import select, update

from core.orm import Loan, LoanDocument
from recordings.creditfile import IndexVerifier
from recordings.tables import CreditFileIndexVersion
from recordings.zipexport import check_exported_zip
from tests.archive.samples import elf_executable, jpeg, pdf, png, truncated_pdf
from tests.archive_integration.helpers import (
    audit_count, create_upload, file_over_api, patch, server_offset, upload,
)
from tests.loans.walk import credential_step_up
from tests.suite import DEMO_PASSWORD


async def investigation_loan(suite) -> int:
    return await suite.add_loan(office="SC-E", stage="investigation", customer="王五",
                                officer_a="officer.e.a", officer_b="officer.e.b")


async def test_officer_uploads_pages_that_file_in_code_order(suite):
    loan_id = await investigation_loan(suite)
    officer = await suite.login("officer.e.a")
    report_p1, form, report_p2, card = jpeg("report 1"), pdf(2, "application"), png("report 2"), jpeg("id card")
    # Uploaded out of order: the credit file puts them in document-code order, pages in upload order.
    first = await upload(officer, loan_id, "INV-REPORT", report_p1, filename="report-1.jpg")
    # One upload loses its link half way: the client asks where it stands and resumes.
    location = await create_upload(officer, loan_id, "APP-FORM", len(form), "form.pdf")
    await patch(officer, location, 0, form[:len(form) // 2])
    resume_at = await server_offset(officer, location)
    assert resume_at == len(form) // 2
    await patch(officer, location, resume_at, form[resume_at:])
    second = (await officer.json("GET", location, headers={"Tus-Resumable": "1.0.0"}))["record"]
    third = await upload(officer, loan_id, "INV-REPORT", report_p2, filename="report-2.png")
    fourth = await upload(officer, loan_id, "ID-CARD", card)
    assert [(r["code"], r["page"]) for r in (first, second, third, fourth)] == [
        ("INV-REPORT", 1), ("APP-FORM", 1), ("INV-REPORT", 2), ("ID-CARD", 1)]
    assert second["digest"] == hashlib.sha256(form).hexdigest()
    assert fourth["index_version"] == 4

    credit_file = await officer.json("GET", f"/api/archive/loans/{loan_id}")
    pages = [(e["code"], e["order"], e["digest"]) for e in credit_file["entries"] if e["kind"] == "document_page"]
    assert pages == [("APP-FORM", 1, hashlib.sha256(form).hexdigest()),
                     ("ID-CARD", 1, hashlib.sha256(card).hexdigest()),
                     ("INV-REPORT", 1, hashlib.sha256(report_p1).hexdigest()),
                     ("INV-REPORT", 2, hashlib.sha256(report_p2).hexdigest())]
    assert credit_file["verification"]["status"] == "intact"
    assert credit_file["index"]["version"] == 4
    async with suite.services.db.unit_of_work(write=False) as session:
        loan = await session.get(Loan, loan_id)
        # Someone other than the sender worked the stage: its previous step can't be withdrawn now.
        assert loan.stage_acted is True
        filed = (await session.execute(select(LoanDocument.filed_by_id).where(LoanDocument.loan_id == loan_id))).scalars()
        assert set(filed) == {officer.me["user_id"]}


async def test_bad_uploads_are_refused_and_nothing_filed(suite):
    loan_id = await investigation_loan(suite)
    officer = await suite.login("officer.e.a")
    for data, code in ((elf_executable(), "executable"), (truncated_pdf(), "bad_pdf")):
        location = await create_upload(officer, loan_id, "INV-REPORT", len(data))
        response = await patch(officer, location, 0, data, expect=422)
        assert (await response.json())["error"] == code
    refused = await create_upload(officer, loan_id, "NO-SUCH-CODE", 10, expect=422)
    assert refused["error"] == "invalid_input" and "unknown document code" in refused["message"]
    too_big = await create_upload(officer, loan_id, "INV-REPORT", suite.services.config.archive_upload_max_bytes + 1,
                                  expect=413)
    assert too_big["error"] == "too_large"
    # Someone who cannot see the loan learns nothing about it.
    stranger = await suite.login("officer.hk")
    assert (await create_upload(stranger, loan_id, "INV-REPORT", 10, expect=404))["error"] == "not_found"
    applicant = await suite.login("applicant")
    await create_upload(applicant, loan_id, "INV-REPORT", 10, expect=404)
    anonymous = await suite.client()
    await create_upload(anonymous, loan_id, "INV-REPORT", 10, expect=403)  # no session: refused by CSRF rules
    async with suite.services.db.unit_of_work(write=False) as session:
        assert (await session.execute(select(LoanDocument).where(LoanDocument.loan_id == loan_id))).first() is None
        assert (await session.execute(select(CreditFileIndexVersion).where(
            CreditFileIndexVersion.loan_id == loan_id))).first() is None


async def test_applicant_files_only_their_own_application(suite):
    own = await suite.add_loan(office="IC", stage="submitted", applicant="applicant")
    other = await suite.add_loan(office="IC", stage="submitted")
    applicant = await suite.login("applicant")
    record = await upload(applicant, own, "ID-CARD", jpeg("my id"))
    assert record["page"] == 1
    await create_upload(applicant, other, "ID-CARD", 10, expect=404)
    # The archive itself is read by staff.
    await applicant.json("GET", f"/api/archive/loans/{own}", expect=403)


async def test_archivist_outside_the_loans_scope_gets_404(suite):
    offices, _ = await suite.ids()
    loan_id = await investigation_loan(suite)  # east intake sub-center
    officer = await suite.login("officer.e.a")
    page = await upload(officer, loan_id, "INV-REPORT", jpeg("report"))
    admin = await suite.login("admin")
    await admin.json("POST", "/api/users", await credential_step_up(suite, admin, {
        "username": "archivist.hk", "display_name": "河口支行档案员", "office_id": offices["SB-HK"],
        "roles": ["archivist"], "password": DEMO_PASSWORD}), expect=201)
    branch = await suite.login("archivist.hk")
    base = f"/api/archive/loans/{loan_id}"
    for path in (base, f"{base}/pages/{page['document_id']}", f"{base}/export.zip", f"{base}/export.pdf"):
        assert (await branch.json("GET", path, expect=404))["error"] == "not_found"
    assert (await branch.json("GET", "/api/archive/search?name=王五"))["items"] == []
    head_office = await suite.login("archivist")
    found = await head_office.json("GET", "/api/archive/search?name=王五")
    assert [item["id"] for item in found["items"]] == [loan_id]
    assert (await head_office.json("GET", base))["loan"]["id"] == loan_id


async def test_every_access_is_audited(suite):
    loan_id = await investigation_loan(suite)
    officer = await suite.login("officer.e.a")
    page = await upload(officer, loan_id, "INV-REPORT", jpeg("report"))
    archivist = await suite.login("archivist")
    before = {a: await audit_count(suite, a) for a in ("archive.read", "archive.search", "archive.export")}
    await archivist.json("GET", f"/api/archive/loans/{loan_id}")
    for headers in ({}, {"Range": "bytes=0-99"}, {"Range": "bytes=100-"}):
        response = await archivist.request("GET", f"/api/archive/loans/{loan_id}/pages/{page['document_id']}",
                                           headers=headers)
        assert response.status in (200, 206)
        await response.read()
    await archivist.json("GET", "/api/archive/search?tracking_code=nothing-like-this")
    response = await archivist.request("GET", f"/api/archive/loans/{loan_id}/export.zip")
    await response.read()
    assert await audit_count(suite, "archive.read") == before["archive.read"] + 4
    assert await audit_count(suite, "archive.search") == before["archive.search"] + 1
    assert await audit_count(suite, "archive.export") == before["archive.export"] + 1
    assert await audit_count(suite, "archive.file") >= 1


async def test_signed_index_detects_a_changed_entry_in_the_database(suite):
    loan_id = await investigation_loan(suite)
    officer = await suite.login("officer.e.a")
    first = await upload(officer, loan_id, "INV-REPORT", jpeg("report"))
    await upload(officer, loan_id, "INV-PHOTOS", jpeg("photo"))
    archivist = await suite.login("archivist")
    assert (await archivist.json("GET", f"/api/archive/loans/{loan_id}"))["verification"]["status"] == "intact"
    forged = hashlib.sha256(b"another page").hexdigest()
    async with suite.services.db.unit_of_work() as session:
        await session.execute(update(LoanDocument).where(LoanDocument.id == first["document_id"]).values(digest=forged))
    view = await archivist.json("GET", f"/api/archive/loans/{loan_id}")
    assert view["verification"]["status"] == "changed"
    [change] = view["verification"]["changed"]
    assert (change["signed"]["digest"], change["current"]["digest"]) == (first["digest"], forged)
    assert [e["state"] for e in view["entries"] if e["code"] == "INV-REPORT"] == ["changed"]
    # A row slipped in without the archive is "added"; the signed index never heard of it.
    async with suite.services.db.unit_of_work() as session:
        session.add(LoanDocument(loan_id=loan_id, code="CREDIT-REPORT", page=1, digest=forged, size=12,
                                 media_type="image/jpeg"))
    view = await archivist.json("GET", f"/api/archive/loans/{loan_id}")
    assert [e["code"] for e in view["verification"]["added"]] == ["CREDIT-REPORT"]
    # Rewriting the signed index itself breaks its signature.
    async with suite.services.db.unit_of_work() as session:
        row = (await session.execute(select(CreditFileIndexVersion).where(
            CreditFileIndexVersion.loan_id == loan_id).order_by(CreditFileIndexVersion.version.desc()))).scalars().first()
        row.canonical = row.canonical.replace(first["digest"], forged)
    view = await archivist.json("GET", f"/api/archive/loans/{loan_id}")
    assert view["verification"]["status"] == "signature_invalid"
    # Nothing more is filed on top of a broken index, and it is not exported.
    location = await create_upload(officer, loan_id, "INV-REPORT", len(jpeg("more")))
    refused = await patch(officer, location, 0, jpeg("more"), expect=409)
    assert (await refused.json())["error"] == "index_tampered"
    assert (await archivist.json("GET", f"/api/archive/loans/{loan_id}/export.zip", expect=409))["error"] == \
        "index_tampered"


async def test_export_zip_verifies_and_pdf_prints_in_code_order(suite, tmp_path):
    from pypdf import PdfReader

    loan_id = await investigation_loan(suite)
    officer = await suite.login("officer.e.a")
    await upload(officer, loan_id, "INV-REPORT", jpeg("report"))
    await upload(officer, loan_id, "APP-FORM", pdf(2, "form"))
    await file_over_api(suite, loan_id, "fingerprint_record", b'{"capture": 1}', "指纹采集记录",
                        media_type="application/json")
    archivist = await suite.login("archivist")
    view = await archivist.json("GET", f"/api/archive/loans/{loan_id}")
    response = await archivist.request("GET", f"/api/archive/loans/{loan_id}/export.zip")
    assert response.status == 200 and response.headers["Content-Type"] == "application/zip"
    path = tmp_path / "export.zip"
    path.write_bytes(await response.read())
    index = check_exported_zip(path, IndexVerifier.from_pem(view["public_key"]))
    assert [(e.kind, e.code) for e in index.entries] == [
        ("document_page", "APP-FORM"), ("document_page", "INV-REPORT"), ("fingerprint_record", "fingerprint_record")]
    response = await archivist.request("GET", f"/api/archive/loans/{loan_id}/export.pdf")
    assert response.status == 200
    reader = PdfReader(io.BytesIO(await response.read()))
    assert len(reader.pages) == 3
    assert [item.title.split()[0] for item in reader.outline] == ["APP-FORM", "INV-REPORT"]


async def test_range_requests_return_the_right_bytes(suite):
    loan_id = await investigation_loan(suite)
    officer = await suite.login("officer.e.a")
    data = jpeg("a page worth seeking in")
    page = await upload(officer, loan_id, "INV-REPORT", data)
    url = f"/api/archive/loans/{loan_id}/pages/{page['document_id']}"
    archivist = await suite.login("archivist")
    response = await archivist.request("GET", url, headers={"Range": "bytes=10-19"})
    assert response.status == 206 and await response.read() == data[10:20]
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    response = await archivist.request("GET", url, headers={"Range": "bytes=-7"})
    assert response.status == 206 and await response.read() == data[-7:]
    response = await archivist.request("GET", url, headers={"Range": f"bytes={len(data)}-"})
    assert response.status == 416
    response = await archivist.request("GET", url)
    assert response.status == 200 and await response.read() == data
    assert response.headers["ETag"] == f'"{page["digest"]}"' and response.headers["Content-Type"] == "image/jpeg"
    response = await archivist.request("GET", url, headers={"If-None-Match": f'"{page["digest"]}"'})
    assert response.status == 304


async def test_records_cannot_be_deleted_before_retention_ends(suite):
    loan_id = await investigation_loan(suite)
    record = await file_over_api(suite, loan_id, "recording_manifest", b'{"version": 1}', "纪要",
                                 media_type="application/json", meeting_id="M-77")
    archivist = await suite.login("archivist")
    refused = await archivist.json("DELETE", f"/api/archive/loans/{loan_id}/entries/{record['entry_id']}", expect=409)
    assert refused["error"] == "retention" and "not closed" in refused["message"]
    found = await archivist.json("GET", "/api/archive/search?meeting_id=M-77")
    assert [item["id"] for item in found["items"]] == [loan_id] and found["items"][0]["meetings"] == ["M-77"]
    # A service token is the only way in for other services.
    stranger = await suite.client()
    await stranger.json("POST", "/api/archive/records", {
        "loan_id": loan_id, "kind": "recording", "digest": "0" * 64, "size": 1, "title": "x"}, expect=401)


async def test_concurrent_uploads_to_one_loan_get_distinct_pages_and_one_index_chain(suite):
    import asyncio

    loan_id = await investigation_loan(suite)
    officer = await suite.login("officer.e.a")
    colleague = await suite.login("officer.e.b")
    records = await asyncio.gather(*(upload(who, loan_id, "INV-PHOTOS", jpeg(f"photo {n}"))
                                     for n, who in enumerate((officer, colleague, officer, colleague))))
    assert sorted(r["page"] for r in records) == [1, 2, 3, 4]
    assert sorted(r["index_version"] for r in records) == [1, 2, 3, 4]
    view = await (await suite.login("archivist")).json("GET", f"/api/archive/loans/{loan_id}")
    assert view["verification"]["status"] == "intact" and len(view["entries"]) == 4
