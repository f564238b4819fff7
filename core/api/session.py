"""Signing in and out."""
from __future__ import annotations

from aiohttp import web

from ..apispec import Body, Field
from ..context import principal, services
from ..errors import Unauthenticated
from ..identity import raise_if_throttled
from ..inputs import check_text
from ..middleware import session_cookie_name
from . import routes

LOGIN = Body("Login", {
    "username": Field("string", min_length=1, max_length=64),
    "password": Field("string", min_length=1, max_length=256),
})


def _cookie_attributes(request: web.Request) -> dict:
    # Setting and clearing carry the same attributes: a browser ignores a Set-Cookie for a
    # __Host- cookie without Secure, and would keep the (revoked) session cookie.
    return {"httponly": True, "samesite": "Lax", "secure": request.secure, "path": "/"}


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(session_cookie_name(request), token, **_cookie_attributes(request))


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(session_cookie_name(request), **_cookie_attributes(request))


async def sign_in(request: web.Request, username: str, password: str):
    """Shared by the API and the login page: check the password, open a session."""
    check_text("username", username)  # the form is not checked by the API's schema
    check_text("password", password)
    svc = services(request)
    async with svc.db.unit_of_work() as session:
        result = await svc.identity.login(
            session, username, password, address=request.remote or "",
            user_agent=request.headers.get("User-Agent", ""))
    raise_if_throttled(result)
    if result.token is None:
        raise Unauthenticated("wrong user name or password", code="login_failed")
    return result


@routes.route("POST", "/session", summary="Sign in", body=LOGIN, public=True, tag="session",
              responses={200: "Signed in; the session cookie is set", 401: "Wrong user name or password"})
async def login(request: web.Request, body: dict) -> web.Response:
    result = await sign_in(request, body["username"], body["password"])
    response = web.json_response(_me(result.principal))
    set_session_cookie(request, response, result.token)
    return response


@routes.route("GET", "/session", summary="The signed-in user", tag="session")
async def whoami(request: web.Request) -> web.Response:
    return web.json_response(_me(principal(request)))


@routes.route("DELETE", "/session", summary="Sign out (ends the server-side session)", tag="session")
async def logout(request: web.Request) -> web.Response:
    await sign_out(request)
    response = web.json_response({"signed_out": True})
    clear_session_cookie(request, response)
    return response


async def sign_out(request: web.Request) -> None:
    svc = services(request)
    async with svc.db.unit_of_work() as session:
        await svc.identity.logout(session, principal(request))


def _me(who) -> dict:
    return {"user_id": who.user_id, "username": who.username, "display_name": who.display_name,
            "office_id": who.office_id, "roles": sorted(who.roles), "csrf_token": who.csrf_token}
