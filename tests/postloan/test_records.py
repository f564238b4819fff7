"""Post-loan records: a new loan's inspection needs the customer's matching print; repayment
in full closes the loan through the workflow and opens the customer's rating."""
import datetime as dt

from sqlalchemy import select

from core.orm import Customer, Loan
from recordings.tables import ArchiveEntry
from core.postloan.tables import ManagedLoan, OfficerRating, PrintVerification
from tests.postloan.helpers import disbursed, page
from tests.loans.walk import PRODUCTS


async def test_inspection_of_a_new_loan_without_a_matching_print_is_refused(suite):
    walk = await disbursed(suite, dt.date.today() - dt.timedelta(days=20))
    manager = await suite.login("postloan.cg")
    body = {"kind": "inspection", "summary": "实地检查，经营正常", "pages": [page()]}
    refused = await manager.json("POST", f"/api/postloan/loans/{walk.loan_id}/records", body, expect=403)
    assert refused["error"] == "print_match_required"
    async with suite.services.db.unit_of_work() as session:
        loan = await session.get(Loan, walk.loan_id)
        # a print that did not match does not count either
        session.add(PrintVerification(loan_id=loan.id, customer_id=loan.customer_id, matched=False, score=3))
    await manager.json("POST", f"/api/postloan/loans/{walk.loan_id}/records", body, expect=403)
    async with suite.services.db.unit_of_work() as session:
        session.add(PrintVerification(loan_id=loan.id, customer_id=loan.customer_id, matched=True, score=80))
    filed = await manager.json("POST", f"/api/postloan/loans/{walk.loan_id}/records", body, expect=201)
    assert filed["record"]["pages"][0]["size"] > 0
    # the match was used up by that report
    await manager.json("POST", f"/api/postloan/loans/{walk.loan_id}/records", body, expect=403)
    # someone else's loan: another post-loan manager may not file on it
    other = await suite.login("postloan.hk")
    await other.json("POST", f"/api/postloan/loans/{walk.loan_id}/records", body, expect=404)
    # filed into the credit archive, its blob in the archive's store
    async with suite.services.db.unit_of_work(write=False) as session:
        entries = (await session.execute(select(ArchiveEntry).where(ArchiveEntry.loan_id == walk.loan_id,
                                                                    ArchiveEntry.code == "INSPECTION-REPORT"))).scalars().all()
    assert len(entries) == 1 and entries[0].kind == "post_loan_record"
    assert entries[0].digest == filed["record"]["pages"][0]["sha256"]
    assert filed["record"]["pages"][0]["archive"] == f"entry:{entries[0].id}"


async def test_repayment_in_full_closes_the_loan_and_opens_the_rating(suite):
    walk = await disbursed(suite, dt.date.today() - dt.timedelta(days=40))
    manager = await suite.login("postloan.cg")
    url = f"/api/postloan/loans/{walk.loan_id}/records"
    amount = PRODUCTS["personal_consumer"][0]
    await manager.json("POST", url, {"kind": "repayment_proof", "amount_fen": amount + 1, "pages": [page()]}, expect=422)
    part = await manager.json("POST", url, {"kind": "repayment_proof", "amount_fen": 5_000_000, "pages": [page()]},
                              expect=201)
    assert part["outstanding_fen"] == amount - 5_000_000 and part["closed"] is None
    portal = await suite.client()
    async with suite.services.db.unit_of_work(write=False) as session:
        loan = await session.get(Loan, walk.loan_id)
        customer = await session.get(Customer, loan.customer_id)
    rating = {"tracking_code": loan.tracking_code, "id_number": customer.id_number, "attitude": 5, "skill": 4,
              "suggestions": "服务热情"}
    assert (await portal.json("POST", "/api/ratings", rating, expect=409))["error"] == "conflict"
    done = await manager.json("POST", url, {"kind": "repayment_proof", "amount_fen": amount - 5_000_000,
                                            "pages": [page()]}, expect=201)
    assert done["closed"]["loan"]["stage"] == "closed" and done["outstanding_fen"] == 0
    await portal.json("POST", "/api/ratings", {**rating, "id_number": "110101199001019999"}, expect=404)
    await portal.json("POST", "/api/ratings", rating, expect=201)
    await portal.json("POST", "/api/ratings", rating, expect=409)
    async with suite.services.db.unit_of_work(write=False) as session:
        managed = await session.get(ManagedLoan, walk.loan_id)
        stored = (await session.execute(select(OfficerRating))).scalar_one()
    assert managed.status == "closed" and stored.officer_id == walk.users["officer.e.a"] and stored.skill == 4
    await manager.json("POST", url, {"kind": "interest_list", "pages": [page()]}, expect=409)
    # the rating shows in the officer's performance, seen by the chairman
    view = await (await suite.login("chairman")).json("GET", "/api/insight/dashboard")
    officer = next(o for o in view["officers"] if o["officer_id"] == walk.users["officer.e.a"])
    assert officer["ratings"] == 1 and officer["attitude"] == 5.0
    # the walk's history is folded into time in stage; the committee met once
    stages = {r["stage"]: r for r in view["stage_times"]}
    assert stages["review"]["count"] == 1 and stages["review"]["deadline"] == "2 working days"
    assert view["committee"]["decisions"] == 1


async def test_feedback_reaches_the_manager_of_the_handling_office(suite):
    walk = await disbursed(suite, dt.date.today() - dt.timedelta(days=5))
    async with suite.services.db.unit_of_work(write=False) as session:
        loan = await session.get(Loan, walk.loan_id)
        customer = await session.get(Customer, loan.customer_id)
    portal = await suite.client()
    await portal.json("POST", "/api/feedback", {"topic": "officer", "text": "希望放款更快", "tracking_code": loan.tracking_code,
                                               "id_number": customer.id_number}, expect=201)
    cg = await suite.login("manager.cg")
    hk = await suite.login("manager.hk")
    cg_page = await (await cg.request("GET", "/insight")).text()
    hk_page = await (await hk.request("GET", "/insight")).text()
    assert "希望放款更快" in cg_page and "希望放款更快" not in hk_page


async def test_rating_page_is_public_and_posts_to_the_rating_api(suite):
    portal = await suite.client()
    response = await portal.request("GET", "/rate")
    page = await response.text()
    assert response.status == 200 and 'data-api="/api/ratings"' in page and 'name="attitude"' in page


async def test_record_pages_pass_the_upload_content_check(suite):
    """An ELF binary or an HTML page with a script declared image/png, a PNG declared JPEG, a
    truncated PDF: refused (422) like an upload would be, and nothing is filed."""
    import base64

    from sqlalchemy import func

    from core.postloan.tables import PostLoanRecord
    from tests.archive.samples import elf_executable, png, truncated_pdf

    walk = await disbursed(suite, dt.date.today() - dt.timedelta(days=40))
    manager = await suite.login("postloan.cg")
    url = f"/api/postloan/loans/{walk.loan_id}/records"

    def record(data: bytes, media_type: str) -> dict:
        return {"kind": "repayment_proof", "amount_fen": 1_000, "pages": [
            {"filename": "scan", "media_type": media_type, "content_base64": base64.b64encode(data).decode()}]}

    async def filed() -> tuple[int, int]:
        async with suite.services.db.unit_of_work(write=False) as session:
            return ((await session.execute(select(func.count()).select_from(PostLoanRecord))).scalar_one(),
                    (await session.execute(select(func.count()).select_from(ArchiveEntry))).scalar_one())

    before = await filed()
    html = b"<!DOCTYPE html><html><body><script>fetch('/api/session')</script></body></html>"
    for data, media_type in ((elf_executable(), "image/png"), (html, "image/png"), (png(), "image/jpeg"),
                             (truncated_pdf(), "application/pdf")):
        refused = await manager.json("POST", url, record(data, media_type), expect=422)
        assert set(refused) >= {"error", "message"} and "pages[0]" in refused["message"], refused
    assert await filed() == before
    await manager.json("POST", url, record(png(), "image/png"), expect=201)
