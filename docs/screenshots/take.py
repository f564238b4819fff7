"""Screenshots of the main pages, in Chinese and English, on a desktop and on a phone.

    python docs/screenshots/take.py          # writes docs/screenshots/*.jpg (see docs/screenshots.md)

Starts the suite on a temporary SQLite database with the demo organisation (as the tests do),
walks a few loans to the stages the pages show, and photographs them in headless Chromium.
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.loans.walk import Walk  # noqa: E402
from tests.suite import DEMO_PASSWORD, start_suite, suite_config  # noqa: E402

HERE = Path(__file__).resolve().parent
DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
              "has_touch": True},
}


async def cases(suite) -> dict[str, int]:
    review = await Walk(suite).start()
    await review.apply()
    await review.walk_to("review")
    active = await Walk(suite, "personal_business").start()
    await active.apply(name="赵六", id_number="110101196504041234")
    await active.walk_to("active")
    return {"review": review.loan_id, "active": active.loan_id}


async def main() -> None:
    from playwright.async_api import async_playwright

    folder = Path(tempfile.mkdtemp(prefix="screens-"))
    suite = await start_suite(suite_config(folder, f"sqlite+aiosqlite:///{folder / 'demo.sqlite3'}", step_up="off"))
    try:
        loans = await cases(suite)
        base = str(suite.server.make_url("")).rstrip("/")
        shots = [  # (file name, who, path)
            ("portal", None, "/portal"),
            ("queue", "officer.e.a", "/queue"),
            ("loan", "reviewer", f"/loans/{loans['review']}"),
            ("archive", "reviewer", f"/archive/loans/{loans['active']}"),
            ("statistics", "chairman", "/insight"),
        ]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            for language in ("zh", "en"):
                for device, options in DEVICES.items():
                    for name, who, path in shots:
                        context = await browser.new_context(locale="zh-CN", **options)
                        await context.add_cookies([{"name": "lang", "value": language, "url": base}])
                        page = await context.new_page()
                        if who:
                            await page.goto(f"{base}/login")
                            await page.fill("input[name=username]", who)
                            await page.fill("input[name=password]", DEMO_PASSWORD)
                            await page.click("button[type=submit]")
                            await page.wait_for_url(f"{base}/queue")
                        await page.goto(f"{base}{path}")
                        await page.wait_for_load_state("networkidle")
                        target = HERE / f"{name}-{language}-{device}.jpg"
                        await page.screenshot(path=str(target), full_page=True, type="jpeg", quality=70)
                        print(target.relative_to(ROOT), flush=True)
                        await context.close()
            await browser.close()
    finally:
        await suite.close()


if __name__ == "__main__":
    asyncio.run(main())
