"""Every page reachable from the navigation, as every role, in Chinese and in English: no bare
code, no English in a Chinese page, no Chinese in an English page.

The crawl reads the server-rendered HTML through the app's own client (what a browser gets
before its scripts run). Allowed exceptions are marked in the page itself, not listed here:
- `translate="no"`: names of people, customers and offices, tracking codes, hashes, and what a
  person wrote (opinions, notes) — the page shows them as they are;
- `lang="…"` on an element in the other language (the language switch, an office's English
  name column).
Besides those, only the few tokens in TECHNICAL (file formats, SHA-256, dpi) and document codes
such as APP-FORM (always printed next to their name) may be Latin in a Chinese page.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from sqlalchemy import select

from core.orm import Loan
from core.roles import ROLES
from tests.committee_service.meeting import convene
from tests.loans.walk import Walk
from tests.suite import DEMO_PASSWORD, start_suite, suite_config

# One database is enough for most of what pages show; the crawl of every page runs on both
# (SQLite and PostgreSQL, the `database_url` fixture), since it reads every page's queries.
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TECHNICAL = {"SHA", "PDF", "ZIP", "CSV", "Excel", "dpi", "PNG", "BMP", "TIFF", "WSQ",
             "A", "B"}  # A角/B角: the bank's own Chinese names of the two officers
DOCUMENT_CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$")
LATIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
CHECKED_ATTRIBUTES = ("title", "placeholder", "alt", "aria-label")
SKIPPED_TAGS = {"script", "style", "template", "code"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
PEOPLE = ["admin", "chairman", "manager.ho", "intake.head", "officer.e.a", "officer.e.b", "officer.cg", "reviewer",
          "convener", "compliance", "payment.first", "payment.second", "accountant.cg", "postloan.cg", "archivist",
          "applicant", "member01"]
PER_PATTERN = 2  # pages of one shape (/loans/<n>) read per person and language
SKIP_PREFIXES = ("/api/", "/static/", "/lang/", "/socket.io", "/logout", "/committee/composites/")


class Page(HTMLParser):
    """The visible text of a page in (text, where) pieces, minus the marked exceptions; and its links."""

    def __init__(self, language: str) -> None:
        super().__init__(convert_charrefs=True)
        self.language = language
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self.pieces: list[tuple[str, str]] = []
        self.links: list[str] = []

    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        other_language = "lang" in attrs and tag != "html" and not (attrs["lang"] or "").startswith(self.language)
        skipped = self.skipping() or tag in SKIPPED_TAGS or attrs.get("translate") == "no" or other_language
        if not skipped:
            for name in CHECKED_ATTRIBUTES:
                if attrs.get(name):
                    self.pieces.append((attrs[name], f"<{tag} {name}>"))
        if tag not in VOID:
            self.stack.append((tag, skipped))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if data.strip() and not self.skipping():
            where = self.stack[-1][0] if self.stack else "?"
            self.pieces.append((data.strip(), f"<{where}>"))


def problems(html: str, language: str, codes: set[str], names: frozenset[str] = frozenset()) -> list[str]:
    page = Page(language)
    page.feed(html)
    found = []
    for text, where in page.pieces:
        for code in SNAKE.findall(text):
            found.append(f"bare code {code!r} in {where}: {text[:80]!r}")
        if language == "zh":
            for word in LATIN.findall(text):
                if word in TECHNICAL or word in names or DOCUMENT_CODE.match(word) or not re.search("[A-Za-z]", word):
                    continue
                found.append(f"English {word!r} in {where}: {text[:80]!r}")
        else:
            if CJK.search(text):
                found.append(f"Chinese in {where}: {text[:80]!r}")
            for word in re.findall(r"[a-z_]+", text):
                if word in codes and "_" in word:
                    found.append(f"bare code {word!r} in {where}: {text[:80]!r}")
    return found


def links(html: str) -> list[str]:
    page = Page("zh")
    page.feed(html)
    return page.links


def shape(path: str) -> str:
    return re.sub(r"\d+", "N", path)


async def crawl(client, language: str, start: list[str], codes: set[str],
                names: frozenset[str] = frozenset()) -> tuple[dict[str, list[str]], set[str]]:
    """Breadth-first over the site's own links from ``start``; the problems of each page read."""
    queue, seen, shapes, bad = deque(start), set(start), {}, {}
    while queue:
        path = queue.popleft()
        response = await client.request("GET", path, headers={"Accept": "text/html"})
        if response.content_type != "text/html":
            continue
        html = await response.text()
        found = problems(html, language, codes, names)
        if found:
            bad[path] = found
        for href in links(html):
            href = urldefrag(href)[0]
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not href.startswith("/") or href.startswith(SKIP_PREFIXES) \
                    or parts.path.endswith(".pdf"):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target in seen:
                continue
            seen.add(target)
            key = shape(parts.path)
            shapes[key] = shapes.get(key, 0) + 1
            if shapes[key] <= PER_PATTERN:
                queue.append(target)
    return bad, seen


@pytest.fixture
async def suite(tmp_path, database_url):
    running = await start_suite(suite_config(tmp_path, database_url, step_up="off"))
    yield running
    await running.close()


async def _cases(suite) -> dict[str, int]:
    """Cases at the stages people work on: each page then has something to show."""
    loans = {}
    walk = await Walk(suite).start()
    await walk.apply()
    loans["submitted"] = walk.loan_id  # documents missing: the intake head's pass is blocked
    walk = await Walk(suite).start()
    await walk.apply(name="李四", id_number="110101198502021234")
    await walk.walk_to("review")
    loans["review"] = walk.loan_id
    returned = await Walk(suite).start()
    await returned.apply(name="王五", id_number="110101197803031234")
    await returned.walk_to("main_review")
    await returned.do("intake.head", "main_review_return", {"return_to": "submitted", "reason": "缺少收入证明"})
    await returned.do("intake.head", "preliminary_reject", {"reason": "收入不足"})
    loans["rejected"] = returned.loan_id
    active = await Walk(suite, "personal_business").start()
    await active.apply(name="赵六", id_number="110101196504041234")
    await active.walk_to("active")
    loans["active"] = active.loan_id
    meeting = await convene(suite)
    await meeting.phase("open")
    loans["committee"] = meeting.loan_id
    return loans


async def _names(suite) -> frozenset[str]:
    """The cases' tracking codes (a page's <title> names its case; no markup there) and the
    document codes (shown next to the document's name)."""
    async with suite.services.db.unit_of_work(write=False) as session:
        codes = set((await session.execute(select(Loan.tracking_code))).scalars())
    return frozenset(codes | set(suite.services.workflow.current.documents))


def _codes(suite) -> set[str]:
    definition = suite.services.workflow.current
    products = suite.services.workflow.rules.at(dt.date.today()).products
    return set(definition.stages) | set(definition.actions) | set(products) | set(ROLES)


async def test_every_page_in_both_languages_for_every_role(suite):
    loans = await _cases(suite)
    codes = _codes(suite)
    names = await _names(suite)
    report, reached = {}, set()
    for language in ("zh", "en"):
        anonymous = await suite.client()
        anonymous.client.session.cookie_jar.update_cookies({"lang": language})
        bad, seen = await crawl(anonymous, language, ["/login", "/portal", "/rate"], codes, names)
        reached |= {shape(p) for p in seen}
        report.update({f"[{language} anonymous] {k}": v for k, v in bad.items()})
        for username in PEOPLE:
            client = await suite.login(username)
            client.client.session.cookie_jar.update_cookies({"lang": language})
            start = ["/queue"] + [f"/loans/{n}" for n in loans.values()] + ["/loans/999999"]
            bad, seen = await crawl(client, language, start, codes, names)
            reached |= {shape(p) for p in seen}
            report.update({f"[{language} {username}] {k}": v for k, v in bad.items()})
    lines = [f"{page}: {p}" for page, found in report.items() for p in found[:5]]
    assert not lines, "\n".join(sorted(set(re.sub(r"\[\w+ [\w.]+\] ", "", line) for line in lines))[:120])
    # the crawl did reach the pages people work on
    for page in ("/queue", "/loans/N", "/archive", "/archive/loans/N", "/insight", "/postloan", "/postloan/loans/N",
                 "/committee/loans/N", "/committee/meetings/N", "/admin/users", "/admin/offices", "/me/fingerprints",
                 "/portal/progress", "/portal/feedback"):
        assert page in reached, (page, sorted(reached))


def test_the_checker_catches_what_it_must():
    """The crawl's own check: a bare code, English in Chinese, Chinese in English; not names."""
    codes = {"personal_business", "submitted", "convene_committee"}
    assert problems("<p>环节：submitted</p>", "zh", codes)
    assert problems("<td>personal_business</td>", "en", codes)
    assert problems("<p>Stage: 待初审</p>", "en", codes)
    assert problems('<button title="documents missing">提交</button>', "zh", codes)
    assert problems('<p>客户 <span translate="no">张三</span></p>', "en", codes)
    assert not problems('<p>Customer <span translate="no">张三 T00000001</span></p>', "en", codes)
    assert not problems('<p>缺少资料：借款申请书（APP-FORM）</p>', "zh", codes)
    assert not problems('<p><span translate="no">张三</span> <a lang="zh-CN">中文</a></p>', "en", codes)
    assert not problems("<p>Stage: Review <script>var x = 'submitted_x';</script></p>", "en", codes)


@ON_SQLITE
async def test_api_refusals_speak_the_page_language(suite):
    """What a page shows from a refused request (its toast) is in the page's language; a program
    that asks for no language gets the API's English; the error code never changes."""
    walk = await Walk(suite).start()
    await walk.apply()
    chinese = await suite.login("intake.head")
    chinese.client.session.cookie_jar.update_cookies({"lang": "zh"})
    english = await suite.login("intake.head")
    english.client.session.cookie_jar.update_cookies({"lang": "en"})
    program = await suite.login("intake.head")

    body = await chinese.json("GET", "/api/loans/999999", expect=404)
    assert body["error"] == "not_found" and body["message"] == "未找到贷款（999999）"
    assert body["message_en"] == "loan 999999 not found"
    assert (await english.json("GET", "/api/loans/999999", expect=404))["message"] == "loan 999999 not found"
    assert (await program.json("GET", "/api/loans/999999", expect=404))["message"] == "loan 999999 not found"

    command = {"action": "preliminary_pass", "payload": {"opinion": "材料齐全"}}
    body = await chinese.json("POST", f"/api/loans/{walk.loan_id}/commands", command, expect=422)
    assert body["error"] == "guard_documents_present"
    assert body["message"] == "缺少资料：借款申请书（APP-FORM）、身份证件（ID-CARD）"
    body = await program.json("POST", f"/api/loans/{walk.loan_id}/commands", command, expect=422)
    assert body["message"] == "documents missing: APP-FORM, ID-CARD"

    # the same reason where the loan page says why the action is not open yet
    page = await (await chinese.request("GET", f"/loans/{walk.loan_id}")).text()
    assert "缺少资料：借款申请书（APP-FORM）、身份证件（ID-CARD）" in page
    page = await (await english.request("GET", f"/loans/{walk.loan_id}")).text()
    assert "documents missing: Loan application form (APP-FORM), Identity document (ID-CARD)" in page
    # a page the person may not open says so in their language
    manager = await suite.login("officer.e.a")
    manager.client.session.cookie_jar.update_cookies({"lang": "zh"})
    page = await (await manager.request("GET", "/insight")).text()
    assert "统计监督仅供经营层负责人和董事长/理事长查看" in page


@ON_SQLITE
async def test_what_the_page_scripts_write_is_in_the_page_language(suite, browser):
    """The parts of a page its scripts fill in (the upload panel, the fingerprint panel, My
    prints, the step-up dialog's action), read from the live page in both languages."""
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("investigation")
    codes = _codes(suite)
    names = await _names(suite)
    base = str(suite.server.make_url("")).rstrip("/")
    for language in ("zh", "en"):
        context = await browser.new_context(locale="zh-CN")
        await context.add_cookies([{"name": "lang", "value": language, "url": base}])
        page = await context.new_page()
        await page.goto(f"{base}/login")
        await page.fill("input[name=username]", "officer.e.a")
        await page.fill("input[name=password]", DEMO_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/queue")
        await page.goto(f"{base}/loans/{walk.loan_id}")
        await page.wait_for_selector("[data-testid=filed-pages] li")
        await page.wait_for_selector("[data-fingerprint-summary] li")
        found = problems(await page.content(), language, codes, names)
        assert not found, (language, found[:10])
        options = await page.locator("[data-testid=upload-panel] select[name=code] option").all_inner_texts()
        assert any(("Investigation report" if language == "en" else "调查报告") in o for o in options), options
        await page.goto(f"{base}/me/fingerprints")
        await page.wait_for_load_state("networkidle")
        assert not problems(await page.content(), language, codes, names)
        await context.close()


@ON_SQLITE
async def test_office_names_follow_the_language_in_loan_rows_and_the_loan_file(suite):
    """The office column of the work queue and case tables, and the loan file's office, name the
    office in the reader's language; an office given no English name shows its Chinese name,
    marked as Chinese."""
    from sqlalchemy import update

    from core.orm import Office

    east = await suite.add_loan(office="SC-E", stage="review")
    west = await suite.add_loan(office="SC-W", stage="review")
    async with suite.services.db.unit_of_work() as session:
        await session.execute(update(Office).where(Office.code == "SC-W").values(name_en="西部分中心"))
    manager = await suite.login("manager.ho")
    cell = re.compile(r'<td data-testid="office"( lang="zh-CN")?>([^<]*)</td>')
    row = re.compile(r'href="/loans/(\d+)".*?</tr>', re.S)
    for language, expected in (("zh", {east: (None, "东部分中心"), west: (None, "西部分中心")}),
                               ("en", {east: (None, "East Intake Sub-center"), west: ("zh-CN", "西部分中心")})):
        manager.client.session.cookie_jar.update_cookies({"lang": language})
        html = await (await manager.request("GET", "/queue")).text()
        shown = {}
        for found in row.finditer(html):
            office = cell.search(found.group(0))
            shown[int(found.group(1))] = ("zh-CN" if office.group(1) else None, office.group(2))
        assert {k: shown.get(k) for k in expected} == expected, (language, shown)
        page = await (await manager.request("GET", f"/loans/{east}")).text()
        assert f'<dd data-testid="office">{expected[east][1]}</dd>' in page
        assert not problems(html, language, _codes(suite), await _names(suite))
