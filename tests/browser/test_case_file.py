"""The case file reads like one: every later role sees what each earlier step found and decided
(items, conclusions, opinions), in order, with who and when; returns and rejections carry their
reason in the history; the printed credit file holds the same."""
from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from tests.committee_service.meeting import convene
from tests.loans.walk import Walk
from tests.suite import file_documents, start_suite, suite_config

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def suite(tmp_path, database_url):
    running = await start_suite(suite_config(tmp_path, database_url, step_up="off"))
    yield running
    await running.close()


async def page_of(suite, username: str, path: str, language: str = "zh") -> str:
    client = await suite.login(username)
    client.client.session.cookie_jar.update_cookies({"lang": language})
    response = await client.request("GET", path, headers={"Accept": "text/html"})
    assert response.status == 200, path
    return await response.text()


def section(html: str, testid: str) -> str:
    found = re.search(rf'<section[^>]*data-testid="{testid}".*?</section>', html, re.S)
    return found.group(0) if found else ""


async def test_later_roles_read_the_findings_in_order_with_who_and_when(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("review")
    # the reviewer sends it back once; the officer records again with new findings
    await walk.do("reviewer", "review_return", {"return_to": "investigation", "reason": "补充近六个月银行流水"})
    await walk.do("officer.e.a", "record_investigation", {
        "items": {"收入": "稳定", "流水": "已补充"}, "conclusion": "recommend", "opinion": "流水已补充，经营正常"})
    await walk.do("officer.e.b", "confirm_investigation", {"opinion": "复核无误"})

    html = await page_of(suite, "reviewer", f"/loans/{walk.loan_id}")
    findings = section(html, "case-file")
    expected = ["材料齐全", "符合条件", "建议通过", "实地走访", "同意", "补充近六个月银行流水",
                "流水已补充，经营正常", "复核无误"]
    positions = [findings.find(text) for text in expected]
    assert all(p >= 0 for p in positions), dict(zip(expected, positions))
    assert positions == sorted(positions), "the findings are in the order they were made"
    assert re.search(r'data-field="risk_level"\s*>低</dd>', findings)
    assert "收入：稳定" in findings and "流水：已补充" in findings  # the investigation's items
    assert findings.count('data-action="record_investigation"') == 2
    for who in ("吴芳", "周磊"):  # officer B and A of the demo's east sub-center, by name
        assert who in findings or who in html
    assert re.search(r"<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}</time>", findings)
    assert "调查（A角）" in findings and "客户经理" in findings  # the stage and the writer's role
    # the return's reason in the history
    history = section(html, "history") or html[html.find('data-testid="history"'):]
    assert "补充近六个月银行流水" in history

    # in English the same entries, with the labels in English (what people wrote stays as written)
    english = section(await page_of(suite, "reviewer", f"/loans/{walk.loan_id}", "en"), "case-file")
    assert "Recommend" in english and "Opinion" in english and "流水已补充，经营正常" in english

    # the applicant reads their case's progress, not the bank's internal opinions
    assert section(await page_of(suite, "applicant", f"/loans/{walk.loan_id}"), "case-file") == ""


async def test_the_committee_reads_the_findings_and_the_rejection_reason_is_kept(suite):
    meeting = await convene(suite)
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("review")
    await file_documents(suite, walk.loan_id, "REVIEW-REPORT")
    await walk.do("reviewer", "review_pass", {"items": {"抵押": "充足"}, "conclusion": "recommend", "opinion": "风险可控"})
    # the meeting's loan has no history (placed at the stage); this loan's members read its file
    await walk.walk_to("committee")
    member_page = await page_of(suite, "convener", f"/committee/loans/{walk.loan_id}")
    findings = section(member_page, "case-file")
    assert "风险可控" in findings and "实地走访" in findings and "抵押：充足" in findings
    room = await page_of(suite, "convener", f"/committee/meetings/{meeting.id}")
    assert 'data-testid="phase"' in room

    rejected = await Walk(suite).start()
    await rejected.apply(name="孙七", id_number="110101197707071234")
    await rejected.walk_to("main_review")
    await rejected.do("intake.head", "main_review_reject", {"reason": "多头借贷，负债过高"})
    html = await page_of(suite, "intake.head", f"/loans/{rejected.loan_id}")
    row = re.search(r'<tr data-action="main_review_reject">.*?</tr>', html, re.S).group(0)
    assert "多头借贷，负债过高" in row and "主审拒绝" in row


async def test_the_printed_credit_file_holds_the_findings_then_the_scans(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("committee")
    reviewer = await suite.login("reviewer")
    reviewer.client.session.cookie_jar.update_cookies({"lang": "zh"})
    response = await reviewer.request("GET", f"/archive/loans/{walk.loan_id}/file.pdf")
    assert response.status == 200 and response.content_type == "application/pdf"
    pdf = PdfReader(io.BytesIO(await response.read()))
    summary = "\n".join(page.extract_text() for page in pdf.pages[:3])
    for text in ("信贷档案", "材料齐全", "实地走访", "建议通过", "风险可控", "审查通过", "income: 稳定"):
        assert text in summary, text
    assert summary.find("材料齐全") < summary.find("实地走访") < summary.find("风险可控")
    scans = await reviewer.json("GET", f"/api/archive/loans/{walk.loan_id}/documents")
    assert len(pdf.pages) >= 1 + len(scans["filed"])  # the summary, then every scanned page
    assert pdf.outline[0].title.startswith("信贷档案")
