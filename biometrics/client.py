"""How core talks to the fingerprint service: over HTTP with a service token when the service
runs apart (LOANCTL_BIOMETRICS_URL), or straight to the service layer in this process.

Both give the same answers and raise the same `core.errors` exceptions, so the loan-level
use cases do not care where the service runs.
"""
from __future__ import annotations

import base64
from typing import Any, Protocol

import aiohttp

from core.errors import (
    Conflict, Forbidden, InvalidInput, NotFound, ServiceError, Unauthenticated,
)
from core.servicetoken import ServiceTokens

from .app import AUDIENCE, Runtime
from .service import CaptureInput, Subject

_ERRORS = {401: Unauthenticated, 403: Forbidden, 404: NotFound, 409: Conflict, 422: InvalidInput}


class BiometricsClient(Protocol):
    async def enroll(self, subject: Subject, finger: int, capture: CaptureInput, *, requested_by: str,
                     loan_id: int | None = None, search_duplicates: bool = False) -> dict[str, Any]: ...

    async def verify(self, subject: Subject, capture: CaptureInput, *, requested_by: str, purpose: str,
                     finger: int | None = None, loan_id: int | None = None,
                     enrollment_loan_id: int | None = None, render: bool = False) -> dict[str, Any]: ...

    async def enrolled(self, subject: Subject, *, loan_id: int | None = None) -> list[dict[str, Any]]: ...


class LocalClient:
    """The service layer of the fingerprint service mounted in this process."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def enroll(self, subject, finger, capture, *, requested_by, loan_id=None, search_duplicates=False):
        return await self.runtime.running().enroll(subject, finger, capture, requested_by=requested_by,
                                                   loan_id=loan_id, search_duplicates=search_duplicates)

    async def verify(self, subject, capture, *, requested_by, purpose, finger=None, loan_id=None,
                     enrollment_loan_id=None, render=False):
        return await self.runtime.running().verify(subject, capture, requested_by=requested_by, purpose=purpose,
                                                   finger=finger, loan_id=loan_id,
                                                   enrollment_loan_id=enrollment_loan_id, render=render)

    async def enrolled(self, subject, *, loan_id=None):
        return await self.runtime.running().enrolled(subject, loan_id=loan_id)


class HttpClient:
    """The fingerprint service at a URL, each call with a fresh token scoped to it."""

    def __init__(self, url: str, secret_key: bytes, *, subject: str = "core", timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.tokens = ServiceTokens(secret_key)
        self.subject = subject
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def _call(self, method: str, path: str, scope: str, body: dict | None = None,
                    params: dict | None = None) -> Any:
        token = self.tokens.issue(subject=self.subject, audience=AUDIENCE, scope=scope, lifetime=120)
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                async with http.request(method, f"{self.url}{path}", json=body, params=params,
                                        headers={"Authorization": f"Bearer {token}"}) as response:
                    answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise ServiceUnavailable(f"the fingerprint service at {self.url} did not answer: {error}") from None
        if response.status >= 400:
            kind = _ERRORS.get(response.status, ServiceError)
            error = kind(answer.get("message", "fingerprint service error"), code=answer.get("error"),
                         details=answer.get("details"))
            if kind is ServiceError:
                error.status = response.status
            raise error
        return answer

    @staticmethod
    def _capture(capture: CaptureInput) -> dict:
        return {"image_base64": base64.b64encode(capture.image).decode(), "dpi": capture.dpi,
                "device": capture.device}

    async def enroll(self, subject, finger, capture, *, requested_by, loan_id=None, search_duplicates=False):
        return await self._call("POST", "/enroll", "enroll", {
            "subject": str(subject), "finger": finger, "loan_id": loan_id, "requested_by": requested_by,
            "search_duplicates": search_duplicates, **self._capture(capture)})

    async def verify(self, subject, capture, *, requested_by, purpose, finger=None, loan_id=None,
                     enrollment_loan_id=None, render=False):
        return await self._call("POST", "/verify", "verify", {
            "subject": str(subject), "purpose": purpose, "finger": finger, "loan_id": loan_id,
            "enrollment_loan_id": enrollment_loan_id, "requested_by": requested_by, "render": render,
            **self._capture(capture)})

    async def enrolled(self, subject, *, loan_id=None):
        params = {"loan_id": str(loan_id)} if loan_id else None
        return (await self._call("GET", f"/subjects/{subject}/enrollments", "read", params=params))["items"]


class ServiceUnavailable(ServiceError):
    status = 503
    code = "biometrics_unavailable"
