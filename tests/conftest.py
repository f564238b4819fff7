"""Fixtures shared by the whole suite: databases (SQLite and PostgreSQL) and a running app."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "LOANCTL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres")


def unavailable(what: str, reason: str, variable: str) -> None:
    """Skip a test that needs something missing here; in CI (variable set) fail instead:
    REQUIRE_POSTGRES (PostgreSQL), REQUIRE_BROWSER (Chromium), REQUIRE_REDIS (Debian's
    redis-server, for the committee nodes of tests/multinode)."""
    message = f"{what} not available: {reason}"
    if os.environ.get(variable) == "1":
        pytest.fail(f"{message} ({variable}=1)")
    pytest.skip(message)


async def _create_postgres_database() -> tuple[str, str]:
    import asyncpg

    admin = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    name = f"loanctl_test_{secrets.token_hex(6)}"
    try:
        connection = await asyncpg.connect(admin, timeout=30)
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        unavailable("PostgreSQL", f"cannot connect to {admin.split('@')[-1]}: {error}", "REQUIRE_POSTGRES")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}", name


async def _drop_postgres_database(name: str) -> None:
    import asyncpg

    admin = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(admin, timeout=30)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request, tmp_path):
    """The same test on SQLite and on PostgreSQL (a fresh database each time)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'loans.sqlite3'}"
        return
    url, name = await _create_postgres_database()
    yield url
    await _drop_postgres_database(name)


@pytest.fixture
async def suite(tmp_path, database_url):
    """The web app with the demo organisation, on SQLite and on PostgreSQL."""
    from tests.suite import start_suite, suite_config

    running = await start_suite(suite_config(tmp_path, database_url))
    yield running
    await running.close()


CHROMIUM = os.environ.get("LOANCTL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-dev-shm-usage", "--disable-gpu", "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
async def browser():
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} is not installed (apt-get install chromium)", "REQUIRE_BROWSER")
    from playwright.async_api import async_playwright  # a test dependency: missing is a broken install
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()
