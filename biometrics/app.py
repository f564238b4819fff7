"""The fingerprint service over HTTP: enroll, verify, identify, healthz.

Every call carries a short-lived service token signed by core (audience "biometrics", the
scope naming the call). Run alone with `loanctl serve biometrics`, or mounted at /biometrics/
of the suite's root application (`mount`), sharing its database.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

from aiohttp import web

from core.config import Config
from core.context import SERVICES
from core.apispec import parse_json
from core.db import Database, DatabaseUnavailable
from core.errors import InvalidInput, MalformedRequest, ServiceError
from core.inputs import parse_id
from core.middleware import database_unavailable_response, error_response
from core.servicetoken import ServiceTokens, bearer

from .engine import MatchingPool
from .identifyindex import IdentifyIndex, ShardError
from .keyring import Keyring
from .service import BiometricService, CaptureInput, Settings, Subject

AUDIENCE = "biometrics"
SCOPES = ("enroll", "verify", "identify", "read", "health")
MAX_BODY = 12 * 1024 * 1024
log = logging.getLogger(__name__)


class Runtime:
    """What the service holds while it runs; started and stopped by a cleanup context."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.tokens = ServiceTokens(config.secret_key)
        self.service: BiometricService | None = None
        self.reconciling: asyncio.Task | None = None  # the index's reconcile at start

    def running(self) -> BiometricService:
        if self.service is None:
            raise RuntimeError("the fingerprint service is not started")
        return self.service

    def context(self, shared_db_of: web.Application | None = None):
        """Cleanup context: the process pool sized to the cores, the keys, the database (the
        root app's when mounted, else its own, migrated)."""
        async def lifetime(app: web.Application) -> AsyncIterator[None]:
            own_db = None
            if shared_db_of is not None and SERVICES in shared_db_of:
                db = shared_db_of[SERVICES].db
            else:
                db = own_db = Database(self.config.effective_database_url)
                await db.migrate()
            keyring = Keyring.load(self.config.biometric_key, self.config.data_dir)
            pool = MatchingPool()
            pool.start()
            index = IdentifyIndex.from_config(self.config, keyring.current)
            self.service = service = BiometricService(db, keyring, pool, Settings.from_config(self.config), index)
            # The index catches up with the database in the background (a crash between an
            # enrollment's commit and its store append heals here; every search reconciles too).
            self.reconciling = warming = asyncio.create_task(self._reconcile(service))
            try:
                yield
            finally:
                self.service = None
                await service.close()  # waits for the reconcile's current step
                await asyncio.gather(warming, return_exceptions=True)
                await pool.close()
                if own_db is not None:
                    await own_db.close()
        return lifetime

    @staticmethod
    async def _reconcile(service: BiometricService) -> None:
        try:
            covered = await service.reconcile_index()
            log.info("identify index ready: %d enrolled prints", covered)
        except ShardError as error:
            # Searches reconcile again (and answer 503 while the shards cannot be reached).
            log.warning("identify index not reconciled at start: %s", error)
        except DatabaseUnavailable:
            log.warning("identify index not reconciled at start: the database is unavailable")


RUNTIME = web.AppKey("biometrics_runtime", Runtime)


@web.middleware
async def json_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except ServiceError as error:
        return error_response(error.status, error.code, error.message, error.details)
    except DatabaseUnavailable as error:
        return database_unavailable_response(error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(error.status, "not_found" if error.status == 404 else "error", error.reason)


def _authorize(request: web.Request, scope: str) -> dict[str, Any]:
    runtime = request.app[RUNTIME]
    return runtime.tokens.verify(bearer(request.headers.get("Authorization")), audience=AUDIENCE, scope=scope)


async def _body(request: web.Request) -> dict[str, Any]:
    body = parse_json(await request.read())
    if not isinstance(body, dict):
        raise MalformedRequest("the body must be a JSON object")
    return body


def _requested_by(claims: dict, body: dict) -> str:
    # The token says which service asks; the body may name the person it asks for.
    who = str(body.get("requested_by") or "")[:40]
    return f"{claims['sub']}/{who}"[:64] if who else str(claims["sub"])[:64]


def _int(body: dict, name: str, *, required: bool = False) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name} is required", details={name: "required"})
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer", details={name: "type"})
    return value


async def healthz(request: web.Request) -> web.Response:
    _authorize(request, "health")
    service = request.app[RUNTIME].running()
    async with service.db.unit_of_work(write=False) as session:
        await session.connection()
    return web.json_response({"status": "ok", "service": "biometrics", "workers": service.pool.workers})


async def enroll(request: web.Request) -> web.Response:
    claims = _authorize(request, "enroll")
    body = await _body(request)
    service = request.app[RUNTIME].running()
    result = await service.enroll(
        Subject.parse(body.get("subject", "")), _int(body, "finger", required=True), CaptureInput.from_json(body),
        requested_by=_requested_by(claims, body), loan_id=_int(body, "loan_id"),
        search_duplicates=bool(body.get("search_duplicates")))
    return web.json_response(result, status=201)


async def verify(request: web.Request) -> web.Response:
    claims = _authorize(request, "verify")
    body = await _body(request)
    service = request.app[RUNTIME].running()
    result = await service.verify(
        Subject.parse(body.get("subject", "")), CaptureInput.from_json(body), requested_by=_requested_by(claims, body),
        purpose=str(body.get("purpose") or "verification"), finger=_int(body, "finger"),
        loan_id=_int(body, "loan_id"), enrollment_loan_id=_int(body, "enrollment_loan_id"),
        render=bool(body.get("render")))
    return web.json_response(result)


async def identify(request: web.Request) -> web.Response:
    _authorize(request, "identify")
    body = await _body(request)
    service = request.app[RUNTIME].running()
    return web.json_response(await service.identify(CaptureInput.from_json(body),
                                                    kind=str(body.get("kind") or "customer")))


async def enrollments(request: web.Request) -> web.Response:
    _authorize(request, "read")
    service = request.app[RUNTIME].running()
    loan = request.query.get("loan_id")
    if loan is not None and parse_id(loan) is None:
        raise InvalidInput("loan_id must be an id", details={"loan_id": "type"})
    items = await service.enrolled(Subject.parse(request.match_info["subject"]), loan_id=parse_id(loan) if loan else None)
    return web.json_response({"items": items})


def build_service_app(runtime: Runtime) -> web.Application:
    """The routes, on an application that uses the given runtime (started elsewhere or by the caller)."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[json_errors])
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/enroll", enroll)
    app.router.add_post("/verify", verify)
    app.router.add_post("/identify", identify)
    app.router.add_get("/subjects/{subject}/enrollments", enrollments)
    return app


def create_app(config: Config) -> web.Application:
    """The fingerprint service alone (`loanctl serve biometrics`), with its own database
    connection (the same database as core's) and process pool."""
    if not config.secret_key:
        config = config.with_secrets()
    runtime = Runtime(config)
    app = build_service_app(runtime)
    app.cleanup_ctx.append(runtime.context())
    return app


def mount(root: web.Application, config: Config) -> Runtime:
    """Serve the fingerprint service at /biometrics/ of the suite's root app, sharing its
    database; returns the runtime so core can also call the service layer in-process."""
    runtime = Runtime(config)
    root[RUNTIME] = runtime
    root.cleanup_ctx.append(runtime.context(shared_db_of=root))
    root.add_subapp("/biometrics/", build_service_app(runtime))
    return runtime
