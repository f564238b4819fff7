"""Send a tallied meeting's decision to core: the committee_decision command over HTTP,
authenticated by a service token (subject "committee", audience "core")."""
from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

import aiohttp

from core.servicetoken import ServiceTokens

DECISION_PATH = "/api/committee/decisions"
CORE_AUDIENCE = "core"
DECISION_SCOPE = "committee_decision"


class DecisionNotDelivered(RuntimeError):
    """Core did not accept the decision (the meeting keeps it and it can be sent again)."""


def core_url(default: str) -> str:
    """Core's base URL: LOANCTL_CORE_URL, else ``default`` (e.g. the address the request came to)."""
    return os.environ.get("LOANCTL_CORE_URL", default).rstrip("/")


def client_ssl(data_dir: Path) -> ssl.SSLContext | None:
    """Trust the bank's private CA (``loanctl tls init``) besides the system's."""
    authority = os.environ.get("LOANCTL_TLS_CA") or str(data_dir / "tls" / "ca.pem")
    if not Path(authority).exists():
        return None
    return ssl.create_default_context(cafile=authority)


async def send_decision(base_url: str, secret_key: bytes, loan_id: int, payload: dict[str, Any],
                        *, ssl_context: ssl.SSLContext | None = None, timeout: float = 30.0) -> dict[str, Any]:
    token = ServiceTokens(secret_key).issue(subject="committee", audience=CORE_AUDIENCE, scope=DECISION_SCOPE)
    body = {"loan_id": loan_id, "payload": payload}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        async with http.post(base_url + DECISION_PATH, json=body, ssl=ssl_context if ssl_context else True,
                             headers={"Authorization": f"Bearer {token}",
                                      "Idempotency-Key": f"committee-decision-{payload['meeting_id']}"}) as reply:
            answer = await reply.json(content_type=None)
            if reply.status != 200:
                raise DecisionNotDelivered(f"core refused the decision ({reply.status}): {answer}")
            return answer
