"""The main pages pass an accessibility engine: axe-core (vendored, tests/browser/vendor/axe-core)
runs in the live page, as the people who use it, in Chinese and in English, and finds no
violation of impact "serious" or "critical" (labels, contrast at WCAG AA, names of controls,
landmarks that break reading). Keyboard use and a visible focus ring are checked apart: axe
cannot judge them."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.committee_service.meeting import convene
from tests.loans.walk import Walk
from tests.suite import DEMO_PASSWORD, start_suite, suite_config

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")

# Every <details> opened (stage forms, the attendance log): axe checks only what is rendered.
RUN_AXE = """async () => {
  for (const d of document.querySelectorAll('details')) d.open = true;
  const result = await axe.run(document, { resultTypes: ['violations'] });
  return result.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' ' + (n.failureSummary || '').slice(0, 160)) }));
}"""


@pytest.fixture
async def suite(tmp_path, database_url):
    running = await start_suite(suite_config(tmp_path, database_url, step_up="off"))
    yield running
    await running.close()


async def _context(browser, base: str, language: str):
    # bypass_csp: the pages' CSP (rightly) refuses the injected engine; nothing else changes
    context = await browser.new_context(locale="zh-CN", bypass_csp=True)
    await context.add_cookies([{"name": "lang", "value": language, "url": base}])
    from tests.waiting import BROWSER_PATIENCE_MS
    context.set_default_timeout(BROWSER_PATIENCE_MS)
    context.set_default_navigation_timeout(BROWSER_PATIENCE_MS)
    return context


async def _signed_in(browser, base: str, language: str, username: str | None):
    context = await _context(browser, base, language)
    page = await context.new_page()
    if username:
        await page.goto(f"{base}/login")
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", DEMO_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/queue")
    return page


async def violations(page, url: str, ready: str = "main") -> list[dict]:
    await page.goto(url)
    await page.wait_for_selector(ready, state="attached")
    await page.wait_for_load_state("load")
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate(RUN_AXE)
    return [v for v in found if v["impact"] in SERIOUS]


async def _cases(suite) -> dict[str, int]:
    loans = {}
    walk = await Walk(suite).start()
    await walk.apply()
    loans["submitted"] = walk.loan_id
    walk = await Walk(suite).start()
    await walk.apply(name="李四", id_number="110101198502021234")
    await walk.walk_to("investigation")
    loans["investigation"] = walk.loan_id
    walk = await Walk(suite).start()
    await walk.apply(name="王五", id_number="110101197803031234")
    await walk.walk_to("review")
    loans["review"] = walk.loan_id
    active = await Walk(suite, "personal_business").start()
    await active.apply(name="赵六", id_number="110101196504041234")
    await active.walk_to("active")
    loans["active"] = active.loan_id
    return loans


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_the_main_pages_have_no_serious_accessibility_violation(suite, browser, language):
    loans = await _cases(suite)
    meeting = await convene(suite)
    await meeting.phase("open")
    member = meeting.members()[0]
    base = str(suite.server.make_url("")).rstrip("/")
    room = f"/committee/meetings/{meeting.id}"
    # (who, page, what must be there before the engine runs)
    visits = [
        (None, "/login", "form"), (None, "/portal", "#apply"), (None, "/portal/progress", "main"),
        (None, "/portal/feedback", "main"),
        ("officer.e.a", "/queue", "[data-testid=queue]"),
        ("officer.e.a", f"/loans/{loans['investigation']}", "[data-testid=filed-pages] li"),
        ("officer.e.a", f"/loans/{loans['investigation']}/fingerprints/enroll", "main"),
        ("officer.e.a", "/me/fingerprints", "main"),
        ("officer.e.a", "/admin/users", "main"),
        ("intake.head", f"/loans/{loans['submitted']}", "[data-testid=actions]"),
        ("reviewer", f"/loans/{loans['review']}", "[data-testid=actions]"),
        ("convener", f"/committee/loans/{meeting.loan_id}", "main"),
        ("convener", room, "[data-testid=next-phase]"),
        (member, room, "[data-testid=tiles]"),
        ("archivist", "/archive", "main"),
        ("archivist", f"/archive/loans/{loans['active']}", "main"),
        ("chairman", "/insight", "figure.chart svg"),
        ("admin", "/admin/users", "main"),
        ("admin", "/admin/offices", "main"),
        ("postloan.cg", "/postloan", "main"),
        ("postloan.cg", f"/postloan/loans/{loans['active']}", "main"),
        ("applicant", "/portal", "#apply"),
    ]
    pages, report = {}, {}
    for who, path, ready in visits:
        if who not in pages:
            pages[who] = await _signed_in(browser, base, language, who)
        found = await violations(pages[who], f"{base}{path}", ready)
        if found:
            report[f"{who or 'anonymous'} {path}"] = found
    assert not report, "\n".join(f"{where}: {v['impact']} {v['id']} ({v['help']}) {v['nodes']}"
                                 for where, found in report.items() for v in found)


async def test_the_stage_form_is_usable_by_keyboard_with_a_visible_focus(suite, browser):
    """Tab reaches the action's summary, Enter opens it, Tab reaches its fields; every stop
    shows a focus ring (an outline at least 2 px wide, not the page's background)."""
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("investigation")
    base = str(suite.server.make_url("")).rstrip("/")
    page = await _signed_in(browser, base, "zh", "officer.e.a")
    await page.goto(f"{base}/loans/{walk.loan_id}")
    await page.wait_for_selector("[data-testid=actions] details.action")
    await page.evaluate("() => { for (const d of document.querySelectorAll('details.action')) d.open = false; }")
    target = await page.locator("details.action:has(form)").first.get_attribute("data-action")
    focused = []
    for _ in range(60):  # the page's tab stops, in order, until the first action's summary
        await page.keyboard.press("Tab")
        stop = await page.evaluate("""() => { const el = document.activeElement; const s = getComputedStyle(el);
          return { tag: el.tagName, action: el.closest('details.action')?.dataset.action || '',
                   outline: parseFloat(s.outlineWidth) || 0, style: s.outlineStyle }; }""")
        focused.append(stop)
        assert stop["outline"] >= 2 and stop["style"] != "none", ("no visible focus", stop)
        if stop["tag"] == "SUMMARY" and stop["action"] == target:
            break
    else:
        raise AssertionError(("the stage form's summary is never reached by Tab", focused[-5:]))
    await page.keyboard.press("Enter")
    assert await page.locator(f"details[data-action={target}]").evaluate("d => d.open")
    await page.keyboard.press("Tab")
    inside = await page.evaluate("""t => [!!document.activeElement.closest(`details[data-action=${t}] form`),
        document.activeElement.outerHTML.slice(0, 200)]""", target)
    assert inside[0], ("Tab from the opened summary goes into its form", inside[1])


async def test_the_engine_finds_what_it_must(suite, browser):
    """The check itself: an unlabelled field and pale text put into a real page are reported."""
    base = str(suite.server.make_url("")).rstrip("/")
    page = await _signed_in(browser, base, "zh", None)
    await page.goto(f"{base}/login")
    await page.evaluate("""() => { const main = document.querySelector('main');
      main.insertAdjacentHTML('beforeend', '<input name="unlabelled"><p style="color:#bbb;background:#fff">浅色文字</p>'); }""")
    await page.add_script_tag(path=str(AXE))
    found = {v["id"] for v in await page.evaluate(RUN_AXE) if v["impact"] in SERIOUS}
    assert {"label", "color-contrast"} <= found, found
