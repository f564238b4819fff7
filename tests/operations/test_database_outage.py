"""The database going away (issue 13, item 17): a real PostgreSQL behind a loopback relay is cut
off (open connections reset, the port closed) and brought back. Requests answer 503 with
Retry-After and a JSON error, the log has one line for the outage (no traceback per request),
/healthz says the database is down, and everything answers again once it is back."""
from __future__ import annotations

import logging

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, _create_postgres_database, _drop_postgres_database
from tests.operations.pgproxy import PostgresRelay

pytestmark = pytest.mark.postgres


@pytest.fixture
async def relayed_suite(tmp_path):
    from urllib.parse import urlsplit

    from tests.suite import start_suite, suite_config

    url, name = await _create_postgres_database()
    target = urlsplit(POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://"))
    relay = await PostgresRelay(target.hostname or "127.0.0.1", target.port or 5432).start()
    relayed = url.replace(f"@{target.hostname}:{target.port or 5432}/", f"@127.0.0.1:{relay.port}/")
    assert relayed != url
    # The background rounds (outbox, scheduler, deadline warnings) run too, often: during the
    # outage they must not add a traceback per round either.
    suite = await start_suite(suite_config(tmp_path, relayed, scheduler_interval=0.05, outbox_interval=0.05))
    try:
        yield suite, relay
    finally:
        await suite.close()
        await relay.close()
        await _drop_postgres_database(name)


async def test_outage_is_a_503_with_retry_after_and_one_log_line(relayed_suite, caplog):
    suite, relay = relayed_suite
    chairman = await suite.login("chairman")
    assert (await chairman.request("GET", "/api/loans")).status == 200
    health = await chairman.client.get("/healthz")
    assert health.status == 200 and (await health.json())["database"] == "up"

    await relay.cut()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            response = await chairman.request("GET", "/api/loans")
            body = await response.json()
            assert response.status == 503, body
            assert body["error"] == "database_unavailable" and body["message"]
            assert int(response.headers["Retry-After"]) > 0
        stranger = await suite.client()
        login = await stranger.request("POST", "/api/session", {"username": "chairman", "password": "x" * 12})
        assert login.status == 503 and login.headers["Retry-After"]
        page = await chairman.request("GET", "/queue", headers={"Accept": "text/html"})
        assert page.status == 503 and page.headers["Retry-After"]
        health = await chairman.client.get("/healthz")
        assert health.status == 503 and health.headers["Retry-After"]
        assert (await health.json())["database"] == "down"
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1, [r.getMessage() for r in problems]
    assert problems[0].exc_info is None and "database" in problems[0].getMessage()

    await relay.restore()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        health = await chairman.client.get("/healthz")
        assert health.status == 200 and (await health.json())["database"] == "up"
        assert (await chairman.request("GET", "/api/loans")).status == 200
    assert [r.levelno for r in caplog.records if "database" in r.getMessage()] == [logging.INFO]


async def test_the_fingerprint_service_run_apart_answers_503_too(relayed_suite):
    from aiohttp.test_utils import TestClient, TestServer

    from biometrics.app import AUDIENCE, create_app
    from core.servicetoken import ServiceTokens
    from tests.biometrics_service.prints import b64, fvc_bytes

    suite, relay = relayed_suite
    config = suite.services.config
    token = ServiceTokens(config.secret_key).issue(subject="core", audience=AUDIENCE, scope="identify")
    headers = {"Authorization": f"Bearer {token}"}
    async with TestClient(TestServer(create_app(config))) as client:
        body = {"image_base64": b64(fvc_bytes("101_1"))}
        assert (await client.post("/identify", json=body, headers=headers)).status == 200
        await relay.cut()
        refused = await client.post("/identify", json=body, headers=headers)
        assert refused.status == 503 and int(refused.headers["Retry-After"]) > 0
        assert (await refused.json())["error"] == "database_unavailable"
        await relay.restore()
        assert (await client.post("/identify", json=body, headers=headers)).status == 200
