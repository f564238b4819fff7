"""Request middlewares shared by the services: JSON errors, sessions, CSRF, headers."""
from __future__ import annotations

import logging

from aiohttp import web

from .context import PRINCIPAL, RENDER_ERROR, services
from .db import DatabaseUnavailable
from .errors import Forbidden, ServiceError, TooManyRequests
from .identity import csrf_matches
from .orm_errors import is_lost_race

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
HEALTH_PATH = "/healthz"


def session_cookie_name(request: web.Request) -> str:
    # The __Host- prefix needs Secure, which browsers only keep over TLS.
    return "__Host-las_session" if request.secure else "las_session"


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def error_response(status: int, code: str, message: str, details: dict | None = None,
                   headers: dict | None = None) -> web.Response:
    body = {"error": code, "message": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status, headers=headers)


DATABASE_DOWN = "the database cannot be reached just now; try again shortly"


def database_unavailable_response(error: DatabaseUnavailable) -> web.Response:
    """503 with Retry-After for every service's JSON answers while the database is away (the
    database logs the outage once; each request just hears "later")."""
    return error_response(503, "database_unavailable", DATABASE_DOWN,
                          headers={"Retry-After": str(error.retry_after)})


_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "invalid_input", 429: "too_many_requests"}


@web.middleware
async def errors(request: web.Request, handler):
    try:
        return await handler(request)
    except ServiceError as error:
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyRequests) else None
        if not wants_json(request) and RENDER_ERROR in request.config_dict:
            return await request.config_dict[RENDER_ERROR](request, error.status, error.message)
        return error_response(error.status, error.code, error.message, error.details, headers)
    except DatabaseUnavailable as error:
        if not wants_json(request) and RENDER_ERROR in request.config_dict:
            response = await request.config_dict[RENDER_ERROR](request, 503, DATABASE_DOWN)
            response.headers["Retry-After"] = str(error.retry_after)
            return response
        return database_unavailable_response(error)
    except web.HTTPException as error:
        if error.status < 400 or not wants_json(request):
            raise
        code = _HTTP_CODES.get(error.status, "error")
        message = error.reason if error.status != 413 else "the request body is too large"
        # A 405 must say which methods the resource has (RFC 9110 §15.5.6).
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        return error_response(error.status, code, message, headers=headers)
    except Exception as error:
        if is_lost_race(error):
            # Two requests changed the same thing at once and this one lost: nothing was
            # written, and trying again after a reload is the right move.
            return error_response(409, "conflict", "someone else changed this at the same time; reload and retry")
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not wants_json(request):
            raise web.HTTPInternalServerError(text="internal error")
        return error_response(500, "internal_error", "an internal error occurred; it has been logged")


# Never shed: the health check (a load balancer must see the process answer), the committee's
# long-lived Socket.IO connections (a meeting in progress), static files (no work).
UNBOUNDED_PREFIXES = ("/socket.io/", "/static/")
SHED_RETRY_AFTER_SECONDS = 1


class RequestLimit:
    """At most ``limit`` requests worked on at once in this process; the rest are answered 503
    with Retry-After at once, so a burst costs the others nothing and clients back off, rather
    than everyone queueing for seconds. 0 means no bound."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0
        self.shed = 0

    def exempt(self, request: web.Request) -> bool:
        return self.limit <= 0 or request.path == HEALTH_PATH or request.path.startswith(UNBOUNDED_PREFIXES)

    def middleware(self):
        @web.middleware
        async def bounded(request: web.Request, handler):
            if self.exempt(request):
                return await handler(request)
            if self.busy >= self.limit:
                self.shed += 1
                headers = {"Retry-After": str(SHED_RETRY_AFTER_SECONDS)}
                message = "the server is busy; try again in a moment"
                if wants_json(request):
                    return error_response(503, "overloaded", message, headers=headers)
                return web.Response(status=503, text=message, headers=headers)
            self.busy += 1
            try:
                return await handler(request)
            finally:
                self.busy -= 1
        return bounded


@web.middleware
async def sessions(request: web.Request, handler):
    token = request.cookies.get(session_cookie_name(request))
    if token and request.path != HEALTH_PATH:  # the health check needs no session, and answers alone
        svc = services(request)
        async with svc.db.unit_of_work(write=False) as session:
            lookup = await svc.identity.resume(session, token)
        if lookup.expire or lookup.touch:
            async with svc.db.unit_of_work() as session:
                await svc.identity.settle(session, lookup)
        if lookup.principal is not None:
            request[PRINCIPAL] = lookup.principal
    return await handler(request)


def same_origin(request: web.Request) -> bool:
    """Browsers name the page a request comes from; refuse other sites' pages."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is not None:
        own = f"{request.scheme}://{request.host}"
        return origin == own
    return True


@web.middleware
async def csrf(request: web.Request, handler):
    """State-changing requests: same origin, and the session's CSRF token when signed in."""
    if request.method in SAFE_METHODS or request.get("service_call"):
        return await handler(request)
    if not same_origin(request):
        raise Forbidden("cross-site request refused", code="csrf")
    who = request.get(PRINCIPAL)
    if who is not None:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type == "application/x-www-form-urlencoded":
            given = (await request.post()).get("csrf_token")
        if not csrf_matches(who.csrf_token, given):
            raise Forbidden("missing or wrong CSRF token", code="csrf")
    elif request.content_type not in ("application/json", "application/x-www-form-urlencoded"):
        # Unauthenticated writes (login, the public portal) must be JSON, which another site
        # cannot send without a CORS preflight, or a same-origin form post with an Origin.
        raise Forbidden("refused: send JSON", code="csrf")
    elif request.content_type == "application/x-www-form-urlencoded" and "Origin" not in request.headers:
        raise Forbidden("refused: a form post must come from this site", code="csrf")
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy",
                       "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                       "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'")
    if request.secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.path.startswith("/api/") or PRINCIPAL in request:
        headers.setdefault("Cache-Control", "no-store")
