"""The fingerprint service alone over HTTP, as `loanctl serve biometrics` runs it, on a test
server: `client.call(method, path, body, scope=…, expect=…)` sends it with a service token."""
from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from biometrics.app import AUDIENCE, RUNTIME, create_app
from core.config import Config
from core.servicetoken import ServiceTokens


async def serve(config: Config) -> TestClient:
    """Started (close it with `await client.close()`); `client.service` is the running service."""
    client = TestClient(TestServer(create_app(config)))
    await client.start_server()
    tokens = ServiceTokens(config.secret_key)

    async def call(method: str, path: str, body: dict | None = None, *, scope: str, expect: int = 200):
        token = tokens.issue(subject="core", audience=AUDIENCE, scope=scope)
        response = await client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
        answer = await response.json()
        assert response.status == expect, (response.status, answer)
        return answer

    client.call = call
    client.config = config
    client.service = client.server.app[RUNTIME].running()
    return client
