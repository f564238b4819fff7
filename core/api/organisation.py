"""Administration of offices, users and roles."""
from __future__ import annotations

from aiohttp import web

from ..apispec import Body, Field, id_field
from ..context import scope, services
from ..passwords import POLICY_TEXT
from ..roles import OFFICE_KINDS, ROLES
from ..services import organisation
from . import routes

NEW_OFFICE = Body("NewOffice", {
    "code": Field("string", min_length=1, max_length=32, pattern=r"[A-Za-z0-9_-]+"),
    "name_zh": Field("string", min_length=1, max_length=100),
    "name_en": Field("string", required=False, max_length=100),
    "kind": Field("string", enum=tuple(OFFICE_KINDS)),
    "parent_id": id_field(),
    "region": Field("string", required=False, max_length=64),
})
OFFICE_CHANGE = Body("OfficeChange", {
    "name_zh": Field("string", required=False, min_length=1, max_length=100),
    "name_en": Field("string", required=False, max_length=100),
    "region": Field("string", required=False, max_length=64),
    "active": Field("boolean", required=False),
})
_ROLE_LIST = Field("array", items=Field("string", enum=tuple(ROLES)), max_items=len(ROLES))
NEW_USER = Body("NewUser", {
    "username": Field("string", min_length=2, max_length=64, pattern=r"[A-Za-z0-9_.-]+"),
    "display_name": Field("string", min_length=1, max_length=100),
    "phone": Field("string", required=False, max_length=32, pattern=r"[0-9+ -]*"),
    "office_id": id_field(),
    "roles": _ROLE_LIST,
    "password": Field("string", min_length=1, max_length=256, description=POLICY_TEXT),
    "step_up": Field("string", required=False, max_length=200,
                     description="with a password or roles: the administrator's step-up token (POST /api/step-up, "
                                 "loan_id 0, action change_credentials, SHA-256 of the body without step_up, "
                                 "plus user_id when changing a user)"),
})
USER_CHANGE = Body("UserChange", {
    "display_name": Field("string", required=False, min_length=1, max_length=100),
    "phone": Field("string", required=False, max_length=32, pattern=r"[0-9+ -]*"),
    "office_id": id_field(required=False),
    "roles": Field("array", required=False, items=Field("string", enum=tuple(ROLES)), max_items=len(ROLES)),
    "active": Field("boolean", required=False),
    "password": Field("string", required=False, min_length=1, max_length=256, description=POLICY_TEXT),
    "step_up": Field("string", required=False, max_length=200,
                     description="with a password or roles: the administrator's step-up token (POST /api/step-up, "
                                 "loan_id 0, action change_credentials, SHA-256 of the body without step_up, "
                                 "plus user_id when changing a user)"),
})


@routes.route("GET", "/roles", summary="The roles and office kinds", tag="organisation")
async def list_roles(request: web.Request) -> web.Response:
    scope(request)
    return web.json_response({
        "roles": [{"code": r.code, "name_zh": r.name_zh, "name_en": r.name_en} for r in ROLES.values()],
        "office_kinds": [{"code": k.code, "name_zh": k.name_zh, "name_en": k.name_en, "parents": list(k.parents)}
                         for k in OFFICE_KINDS.values()],
    })


@routes.route("GET", "/offices", summary="Offices within scope", tag="organisation")
async def list_offices(request: web.Request) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response({"items": await organisation.list_offices(session, scope(request))})


@routes.route("POST", "/offices", summary="Create an office", body=NEW_OFFICE, tag="organisation",
              responses={201: "Created", 409: "Code taken"})
async def create_office(request: web.Request, body: dict) -> web.Response:
    async with services(request).db.unit_of_work() as session:
        return web.json_response(await organisation.create_office(session, scope(request), body), status=201)


@routes.route("GET", "/offices/{office_id}", summary="One office", tag="organisation")
async def get_office(request: web.Request, office_id: int) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response(await organisation.get_office(session, scope(request), office_id))


@routes.route("PATCH", "/offices/{office_id}", summary="Change an office", body=OFFICE_CHANGE, tag="organisation")
async def update_office(request: web.Request, office_id: int, body: dict) -> web.Response:
    async with services(request).db.unit_of_work() as session:
        return web.json_response(await organisation.update_office(session, scope(request), office_id, body))


@routes.route("GET", "/users", summary="Users within scope", tag="organisation",
              query={"office_id": id_field(required=False),
                     "role": Field("string", required=False, enum=tuple(ROLES))})
async def list_users(request: web.Request, query: dict) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        items = await organisation.list_users(session, scope(request), **query)
    return web.json_response({"items": items})


@routes.route("POST", "/users", summary="Create a user", body=NEW_USER, tag="organisation",
              responses={201: "Created", 409: "User name taken"})
async def create_user(request: web.Request, body: dict) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work() as session:
        view = await organisation.create_user(session, scope(request), svc.hashing, body,
                                              min_length=svc.config.password_min_length,
                                              step_up=svc.step_up_verifier)
    return web.json_response(view, status=201)


@routes.route("GET", "/users/{user_id}", summary="One user", tag="organisation")
async def get_user(request: web.Request, user_id: int) -> web.Response:
    async with services(request).db.unit_of_work(write=False) as session:
        return web.json_response(await organisation.get_user(session, scope(request), user_id))


@routes.route("PATCH", "/users/{user_id}", summary="Change a user (roles, office, password, active)",
              body=USER_CHANGE, tag="organisation")
async def update_user(request: web.Request, user_id: int, body: dict) -> web.Response:
    svc = services(request)
    async with svc.db.unit_of_work() as session:
        view = await organisation.update_user(session, scope(request), svc.identity, svc.hashing, user_id,
                                              body, min_length=svc.config.password_min_length,
                                              step_up=svc.step_up_verifier)
    return web.json_response(view)
