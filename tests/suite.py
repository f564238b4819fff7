"""A running suite for tests: the web app on a real socket, signed-in API clients, seeded cases."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from core import demo
from core.config import Config
from core.context import SERVICES, Services
from core.orm import Customer, Loan, Office, User
from web.app import create_app

DEMO_PASSWORD = "Demo-Passw0rd!2026"


def suite_config(tmp_path: Path, database_url: str, **overrides) -> Config:
    # No background rounds: tests drive the scheduler and the outbox worker themselves.
    values = dict(data_dir=tmp_path / "data", database_url=database_url, demo_password=DEMO_PASSWORD,
                  scheduler_interval=0,
                  argon2_memory_kib=8 * 1024, argon2_time_cost=1)
    values.update(overrides)
    return Config(**values).with_secrets()


class ApiClient:
    """One browser-like client: its own cookie jar, and the CSRF token of its session."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""
        self.me: dict[str, Any] = {}

    async def request(self, method: str, path: str, json: Any = None, *, csrf: bool = True,
                      headers: dict | None = None, data: Any = None):
        all_headers = {"X-CSRF-Token": self.csrf} if csrf and self.csrf else {}
        all_headers.update(headers or {})
        kwargs = {"json": json} if data is None else {"data": data}
        return await self.client.request(method, path, headers=all_headers, **kwargs)

    async def json(self, method: str, path: str, json: Any = None, *, expect: int = 200, **kwargs) -> Any:
        response = await self.request(method, path, json, **kwargs)
        body = await response.json()
        assert response.status == expect, (response.status, body)
        return body

    async def login(self, username: str, password: str = DEMO_PASSWORD) -> "ApiClient":
        self.me = await self.json("POST", "/api/session", {"username": username, "password": password})
        self.csrf = self.me["csrf_token"]
        return self


@dataclass
class Suite:
    server: TestServer
    services: Services
    clients: list[TestClient] = field(default_factory=list)
    _codes: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def client(self) -> ApiClient:
        client = TestClient(self.server)
        await client.start_server()
        self.clients.append(client)
        return ApiClient(client)

    async def login(self, username: str, password: str = DEMO_PASSWORD) -> ApiClient:
        return await (await self.client()).login(username, password)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        await self.server.close()

    async def ids(self) -> tuple[dict[str, int], dict[str, int]]:
        """Demo offices by code and users by name."""
        async with self.services.db.unit_of_work(write=False) as session:
            offices = dict((await session.execute(select(Office.code, Office.id))).all())
            users = dict((await session.execute(select(User.username, User.id))).all())
        return offices, users

    async def add_loan(self, *, office: str, stage: str, customer: str = "客户", officer_a: str | None = None,
                       officer_b: str | None = None, applicant: str | None = None, amount_fen: int = 10_000_000,
                       product: str = "personal_consumer") -> int:
        """A case placed directly at a stage: for tests of reading and scope, not of the workflow."""
        offices, users = await self.ids()
        n = next(self._codes)
        async with self.services.db.unit_of_work() as session:
            person = Customer(name=f"{customer}{n}", id_number=f"1101011990010{n:05d}", phone="13800000000",
                              office_id=offices[office], user_id=users.get(applicant) if applicant else None)
            session.add(person)
            await session.flush()
            loan = Loan(tracking_code=f"T{n:08d}", customer_id=person.id, product=product, amount_fen=amount_fen,
                        term_months=12, stage=stage, office_id=offices[office],
                        workflow_version=self.services.workflow.current.version,
                        officer_a_id=users[officer_a] if officer_a else None,
                        officer_b_id=users[officer_b] if officer_b else None,
                        applicant_user_id=users[applicant] if applicant else None)
            session.add(loan)
            await session.flush()
            return loan.id


async def start_suite(config: Config, *, load_demo: bool = True, app: web.Application | None = None) -> Suite:
    app = app or create_app(config)
    server = TestServer(app)
    await server.start_server()
    services = app[SERVICES]
    if load_demo:
        async with services.db.unit_of_work() as session:
            await demo.load(session, services.hashing, DEMO_PASSWORD)
    return Suite(server, services)


def scanned_page(label: str) -> bytes:
    """A small real PNG scan, different for every label (so every page has its own digest)."""
    import hashlib
    import io

    from PIL import Image, ImageDraw

    shade = hashlib.sha256(label.encode()).digest()
    image = Image.new("RGB", (120, 60), tuple(shade[:3]))
    ImageDraw.Draw(image).text((4, 20), label[:18], fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(200, 200))
    return out.getvalue()


async def file_documents(suite: "Suite", loan_id: int, *codes: str) -> None:
    """File one real scanned page per document code through the archive's service layer
    (content check, blob store, signed index, audit), as the scanning desk would."""
    from core import audit
    from recordings.api import ARCHIVE
    from recordings import service as archive_service
    from recordings.contentcheck import check_bytes

    from core.orm import LoanDocument

    archive = suite.server.app[ARCHIVE]
    async with suite.services.db.unit_of_work(write=False) as session:
        filed = set((await session.execute(select(LoanDocument.code).where(LoanDocument.loan_id == loan_id))).scalars())
    for code in dict.fromkeys(codes):
        if code in filed:
            continue
        data = scanned_page(f"{loan_id}-{code}")
        verdict = check_bytes(data)
        stored = await archive.store.put_bytes(data)
        async with suite.services.db.unit_of_work() as session:
            loan = (await session.execute(select(Loan).where(Loan.id == loan_id).with_for_update())).scalar_one()
            await archive_service.file_page(
                session, archive, suite.services.workflow, loan, code,
                archive_service.StoredFile(stored.digest, stored.size, verdict.mime_type, f"{code}.png"),
                actor=audit.Actor.system("scanning-desk"), filed_by_id=None)


async def browser_page(browser, locale: str = "zh-CN"):
    """A page in a fresh browser context whose waits (selectors, navigations) have the suite's
    generous limit (tests/waiting.py), not Playwright's 30 s."""
    from tests.waiting import BROWSER_PATIENCE_MS

    context = await browser.new_context(locale=locale)
    context.set_default_timeout(BROWSER_PATIENCE_MS)
    context.set_default_navigation_timeout(BROWSER_PATIENCE_MS)
    return await context.new_page()


async def sign_in_page(browser, base: str, username: str, password: str = DEMO_PASSWORD):
    """A fresh browser context signed in on the login page; lands on the work queue."""
    page = await browser_page(browser)
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/queue")
    return page
