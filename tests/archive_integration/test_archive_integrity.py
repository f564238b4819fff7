"""Archive integrity through crashes and behind the archive's back (issue 13, items 12-14):
a completion retried after a crash files nothing twice, deleted or altered blobs are found by
`loanctl archive verify` and the credit-file view, and no export or page download ever
serves bytes that no longer match their digest."""
from __future__ import annotations

from sqlalchemy import func, select

from core.orm import LoanDocument
from recordings.tus import UploadStaging
from tests.archive.samples import jpeg
from tests.archive_integration.helpers import audit_count, create_upload, patch, server_offset

TUS = {"Tus-Resumable": "1.0.0"}


async def investigation_loan(suite) -> int:
    return await suite.add_loan(office="SC-E", stage="investigation", customer="赵六",
                                officer_a="officer.e.a", officer_b="officer.e.b")


async def pages_of(suite, loan_id: int) -> int:
    async with suite.services.db.unit_of_work(write=False) as session:
        return (await session.execute(select(func.count()).select_from(LoanDocument).where(
            LoanDocument.loan_id == loan_id))).scalar_one()


async def test_completion_retried_after_a_crash_files_the_page_once(suite, monkeypatch):
    loan_id = await investigation_loan(suite)
    officer = await suite.login("officer.e.a")
    data = jpeg("ID card, front")
    location = await create_upload(officer, loan_id, "ID-CARD", len(data), "card.jpg")

    # The crash point: the filing has committed, the staging state is not yet "complete".
    # The process dies there; what it leaves on disk is the state file still "receiving"
    # and the whole part file, exactly as here.
    real_save = UploadStaging.save
    crashed = []

    def save(self, upload):
        if upload.status == "complete" and not crashed:
            crashed.append(upload.id)
            raise SystemError("power cut between the filing and the staging state")
        real_save(self, upload)

    monkeypatch.setattr(UploadStaging, "save", save)
    response = await patch(officer, location, 0, data, expect=500)
    assert crashed and await pages_of(suite, loan_id) == 1
    assert await server_offset(officer, location) == len(data)

    # upload.js's retry: an empty PATCH at the final offset. It answers the earlier filing.
    response = await patch(officer, location, len(data), b"")
    assert response.headers["Upload-Offset"] == str(len(data))
    status = await officer.json("GET", location, headers=TUS)
    assert status["status"] == "complete"
    assert (status["record"]["code"], status["record"]["page"], status["record"]["index_version"]) == \
        ("ID-CARD", 1, 1)
    assert await pages_of(suite, loan_id) == 1
    assert await audit_count(suite, "archive.file") == 1
    view = await officer.json("GET", f"/api/archive/loans/{loan_id}")
    assert view["index"]["version"] == 1 and view["verification"]["status"] == "intact"
    # And a further retry is told the upload is complete.
    refused = await patch(officer, location, len(data), b"", expect=409)
    assert (await refused.json())["error"] == "already_complete"


async def filed_loan(suite) -> tuple[int, list[dict]]:
    from tests.archive_integration.helpers import upload

    loan_id = await investigation_loan(suite)
    officer = await suite.login("officer.e.a")
    pages = [await upload(officer, loan_id, "INV-REPORT", jpeg(f"report {n}")) for n in (1, 2)]
    return loan_id, pages


def store_of(suite):
    from recordings.api import ARCHIVE

    return suite.server.app[ARCHIVE].store


async def test_export_zip_is_refused_before_a_byte_when_a_blob_was_altered(suite):
    from tests.archive.backdoor import overwrite_raw

    loan_id, pages = await filed_loan(suite)
    archivist = await suite.login("archivist")
    original = await store_of(suite).read(pages[1]["digest"])
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    await overwrite_raw(store_of(suite), pages[1]["digest"], bytes(flipped))

    response = await archivist.request("GET", f"/api/archive/loans/{loan_id}/export.zip")
    body = await response.json()  # a whole JSON answer, not a started ZIP
    assert response.status == 409 and response.headers["Content-Type"].startswith("application/json")
    assert body["error"] == "integrity_error" and pages[1]["digest"] in body["message"]
    pdf = await archivist.json("GET", f"/api/archive/loans/{loan_id}/export.pdf", expect=409)
    assert (await archivist.request("GET", f"/archive/loans/{loan_id}/file.pdf")).status == 409
    assert pdf["error"] == "export_failed"

    # The page itself: refused, never served with its original digest as ETag.
    url = f"/api/archive/loans/{loan_id}/pages/{pages[1]['document_id']}"
    for headers in ({}, {"Range": "bytes=0-9"}):
        refused = await archivist.request("GET", url, headers=headers)
        assert refused.status == 409 and "ETag" not in refused.headers
        assert (await refused.json())["error"] == "integrity_error"
    # The intact page is still served.
    intact = await archivist.request("GET", f"/api/archive/loans/{loan_id}/pages/{pages[0]['document_id']}")
    assert intact.status == 200 and intact.headers["ETag"] == f'"{pages[0]["digest"]}"'

    # Restored from a copy, everything answers again.
    await overwrite_raw(store_of(suite), pages[1]["digest"], original)
    assert (await archivist.request("GET", f"/api/archive/loans/{loan_id}/export.zip")).status == 200
    assert (await archivist.request("GET", url)).status == 200


async def test_export_and_page_of_a_deleted_blob_are_refused(suite):
    from tests.archive.backdoor import remove_raw

    loan_id, pages = await filed_loan(suite)
    archivist = await suite.login("archivist")
    await remove_raw(store_of(suite), pages[0]["digest"])
    body = await archivist.json("GET", f"/api/archive/loans/{loan_id}/export.zip", expect=409)
    assert body["error"] == "integrity_error" and "missing" in body["message"]
    assert (await archivist.json("GET", f"/api/archive/loans/{loan_id}/export.pdf", expect=409))["error"] == \
        "export_failed"
    page = await archivist.json("GET", f"/api/archive/loans/{loan_id}/pages/{pages[0]['document_id']}", expect=409)
    assert page["error"] == "integrity_error"
    # The printable credit file of the archive page builds the same PDF: refused too, never a 500.
    assert (await archivist.request("GET", f"/archive/loans/{loan_id}/file.pdf")).status == 409


async def loanctl(*argv: str) -> int:
    import asyncio

    from core.cli import main

    return await asyncio.to_thread(main, list(argv))


async def test_loanctl_archive_verify_reports_a_deleted_blob_the_database_references(
        suite, database_url, monkeypatch, capfd):
    from tests.archive.backdoor import remove_raw

    loan_id, pages = await filed_loan(suite)
    data_dir = str(suite.services.config.data_dir)
    for name in ("LOANCTL_ARCHIVE", "LOANCTL_ARCHIVE_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOANCTL_DATABASE_URL", database_url)
    capfd.readouterr()
    assert await loanctl("archive", "verify", "--data", data_dir, "--quiet") == 0
    out = capfd.readouterr().out
    assert "2 digests referenced by the database" in out and "0 missing" in out and ": intact" in out

    await remove_raw(store_of(suite), pages[0]["digest"])
    assert await loanctl("archive", "verify", "--data", data_dir, "--quiet") == 1
    out = capfd.readouterr().out
    assert f"MISSING  {pages[0]['digest']}" in out and "1 missing" in out and "NOT INTACT" in out

    # The credit-file view checks the store too, not only the signed index against the rows.
    view = await (await suite.login("archivist")).json("GET", f"/api/archive/loans/{loan_id}")
    assert view["verification"]["status"] == "store_damaged"
    assert [e["digest"] for e in view["verification"]["missing"]] == [pages[0]["digest"]]
    assert {e["digest"]: e["state"] for e in view["entries"]} == {pages[0]["digest"]: "missing",
                                                                  pages[1]["digest"]: "intact"}


async def test_credit_file_view_reports_an_altered_blob(suite):
    from tests.archive.backdoor import overwrite_raw

    loan_id, pages = await filed_loan(suite)
    await overwrite_raw(store_of(suite), pages[1]["digest"], b"not the scan that was filed")
    archivist = await suite.login("archivist")
    view = await archivist.json("GET", f"/api/archive/loans/{loan_id}")
    assert view["verification"]["status"] == "store_damaged"
    assert [e["digest"] for e in view["verification"]["altered"]] == [pages[1]["digest"]]
    page = await archivist.request("GET", f"/archive/loans/{loan_id}")
    html = await page.text()
    assert page.status == 200 and 'data-status="store_damaged"' in html and 'data-state="altered"' in html
