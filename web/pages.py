"""Server-rendered pages of the staff front: login, work queue, loan file, administration."""
from __future__ import annotations

import json

from aiohttp import web
from jinja2 import Environment
from sqlalchemy import select

from committee import service as committee_service
from core import loanflow
from core.api.session import clear_session_cookie, set_session_cookie, sign_in, sign_out
from core.apispec import path_id
from core.context import PRINCIPAL, principal, scope, services
from core.errors import ServiceError, TooManyRequests
from core.orm import Loan, Office, User, UserRole
from core.roles import OFFICE_KINDS, ROLES
from core.services import intake, loans, organisation

from .i18n import LANGUAGES, Catalogue, catalogue, has_cjk, pick_language

JINJA = web.AppKey("jinja", Environment)
routes = web.RouteTableDef()


def language(request: web.Request) -> str:
    return pick_language(request.cookies.get("lang"), request.headers.get("Accept-Language", ""))


def when(moment) -> str:
    """An ISO time as people read it: 2026-11-29 09:30 (UTC as stored)."""
    return str(moment)[:16].replace("T", " ") if moment else "—"


def labels(request: web.Request) -> Catalogue:
    """The request's catalogue: every name and message in the page's language."""
    return catalogue(language(request), services(request).workflow)


def render(request: web.Request, template: str, status: int = 200, **context) -> web.Response:
    c = labels(request)
    html = request.config_dict[JINJA].get_template(template).render(
        c=c, t=c.label, lang=c.language, me=request.get(PRINCIPAL), choice_name=c.choice,
        stage_name=c.stage, product_name=c.product, role_name=c.role, kind_name=c.office_kind,
        js_labels=c.script_labels(), has_cjk=has_cjk,
        yuan=lambda fen: f"{fen / 100:,.2f}", when=when,
        **context)
    return web.Response(text=html, content_type="text/html", status=status)


async def render_error(request: web.Request, status: int, message: str) -> web.Response:
    if status == 401:
        raise web.HTTPSeeOther("/login")
    return render(request, "error.html", status=status, status_code=status,
                  message=labels(request).message(message, status=status))


def explicit_language(request: web.Request) -> str | None:
    """The language a person asked for (the switch's cookie, or the browser's); None for a
    program calling the API, which gets the API's own English."""
    if request.cookies.get("lang") in LANGUAGES or request.headers.get("Accept-Language"):
        return language(request)
    return None


@web.middleware
async def localized_errors(request: web.Request, handler):
    """A JSON refusal read by a person (a page's toast) speaks the page's language; the stable
    ``error`` code stays, and the English text stays in ``message_en``."""
    response = await handler(request)
    lang = explicit_language(request)
    if lang is None or response.status < 400 or response.content_type != "application/json" \
            or not isinstance(response, web.Response) or response.body is None:
        return response
    try:
        body = json.loads(response.body)
    except (TypeError, ValueError):
        return response
    if not isinstance(body, dict) or not isinstance(body.get("message"), str) or "error" not in body:
        return response
    worded = catalogue(lang, services(request).workflow).message(
        body["message"], code=body["error"], details=body.get("details"), status=response.status)
    if worded != body["message"]:
        body["message_en"], body["message"] = body["message"], worded
        response.body = json.dumps(body, ensure_ascii=False).encode()
    return response


def signed_in(request: web.Request) -> None:
    if request.get(PRINCIPAL) is None:
        raise web.HTTPSeeOther("/login")


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/queue" if request.get(PRINCIPAL) else "/login")


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html")


@routes.post("/login")
async def login_form(request: web.Request) -> web.Response:
    form = await request.post()
    username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:256]
    t = labels(request).label
    try:
        result = await sign_in(request, username, password)
    except TooManyRequests:
        return render(request, "login.html", status=429, error=t("throttled"), username=username)
    except ServiceError:
        return render(request, "login.html", status=401, error=t("login_failed"), username=username)
    response = web.HTTPSeeOther("/queue")
    set_session_cookie(request, response, result.token)
    raise response


@routes.post("/logout")
async def logout_form(request: web.Request) -> web.Response:
    if request.get(PRINCIPAL) is not None:
        await sign_out(request)
    response = web.HTTPSeeOther("/login")
    clear_session_cookie(request, response)
    raise response


@routes.get("/lang/{code}")
async def switch_language(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    response = web.HTTPSeeOther(request.headers.get("Referer") or "/")
    if code in LANGUAGES:
        response.set_cookie("lang", code, samesite="Lax", max_age=365 * 86400, path="/")
    raise response


async def office_names(session, lang: str, ids) -> dict[int, str]:
    """Offices by id, named in the reader's language (an office given no English name keeps its
    Chinese one: the page marks that name as Chinese)."""
    ids = set(ids)
    if not ids:
        return {}
    rows = (await session.execute(select(Office.id, Office.name_zh, Office.name_en).where(Office.id.in_(ids)))).all()
    return {id_: (zh if lang == "zh" else en or zh) for id_, zh, en in rows}


@routes.get("/queue")
async def queue_page(request: web.Request) -> web.Response:
    signed_in(request)
    async with services(request).db.unit_of_work(write=False) as session:
        queue = await loans.list_loans(session, scope(request), queue=True, limit=100)
        cases = await loans.list_loans(session, scope(request), limit=100)
        meetings = await committee_service.rooms_for(session, principal(request).user_id)
        offices = await office_names(session, language(request),
                                     (item["office_id"] for item in queue["items"] + cases["items"]))
    return render(request, "queue.html", queue=queue, cases=cases, meetings=meetings, office_names=offices)


# Actions with a page of their own: the loan page links there instead of offering a bare form.
OWN_PAGE_ACTIONS = frozenset({"convene_committee"})
# Fields of a command's payload that are the application's data (shown in the facts), not findings.
_NOT_FINDINGS = frozenset({"customer_name", "id_number", "phone", "product", "amount", "term_months", "region",
                           "channel", "members", "meeting_at"})


def case_file(history: list[dict], definition, c: Catalogue, people: dict[int, str], offices: dict[int, str],
              yuan) -> list[dict]:
    """What each step found and decided, in order: the command's payload in words (choices named,
    people and offices by name, money in yuan), with who and when."""
    entries = []
    for event in history:
        action = definition.actions.get(event["action"])
        specs = action.payload if action else {}
        content = []
        if event["reason"]:
            content.append(("reason", event["reason"], True))
        payload = event["payload"]
        # in the order the definition lists the fields (items, conclusion, opinion), as the form asked
        for name in [*[n for n in specs if n in payload], *[n for n in payload if n not in specs]]:
            value = payload[name]
            if name in _NOT_FINDINGS or name == "reason" or value in (None, "", {}, []):
                continue
            kind = specs[name].type if name in specs else ""
            # what a person wrote, in their own words, and people's names: shown as they are
            written = kind not in ("enum", "office", "money", "integer", "date", "boolean") \
                and name not in ("outcome", "return_to")
            if kind == "enum" or name in ("outcome", "return_to"):
                value = c.stage(value) if name == "return_to" else c.choice(str(value))
            elif kind == "user":
                value = people.get(int(value), value) if str(value).isdigit() else value
            elif kind == "office":
                value = offices.get(int(value), value) if str(value).isdigit() else value
            elif kind == "money":
                value = yuan(int(value))
            elif kind == "boolean":
                value = c.label("yes" if value else "no")
            content.append((name, value, written))
        if content:
            entries.append({**event, "content": content})
    return entries


async def case_file_of(request: web.Request, session, row: Loan, history: list[dict] | None = None) -> list[dict]:
    """The loan's findings for a later role's page (loan page, committee room)."""
    svc, c = services(request), labels(request)
    history = history if history is not None else await loanflow.history(session, svc.workflow, row)
    definition = svc.workflow.registry.get(row.workflow_version)
    named = set()
    for event in history:
        specs = definition.actions[event["action"]].payload if event["action"] in definition.actions else {}
        for name, value in event["payload"].items():
            if name in specs and specs[name].type in ("user", "office") and str(value).isdigit():
                named.add(int(value))
    people, offices = {}, {}
    if named:
        people = dict((await session.execute(select(User.id, User.display_name).where(User.id.in_(named)))).all())
        offices = {o.id: (o.name_zh if c.language == "zh" else o.name_en or o.name_zh) for o in
                   (await session.execute(select(Office).where(Office.id.in_(named)))).scalars()}
    return case_file(history, definition, c, people, offices, lambda fen: f"{fen / 100:,.2f}")


@routes.get(r"/loans/{loan_id:[0-9]{1,10}}")
async def loan_page(request: web.Request) -> web.Response:
    signed_in(request)
    svc, who = services(request), principal(request)
    loan_id = path_id(request, "loan_id")
    async with svc.db.unit_of_work(write=False) as session:
        view = await loans.get_loan(session, scope(request), loan_id)
        row = await session.get(Loan, loan_id)
        actions = [a for a in await loanflow.options(session, svc.workflow, scope(request), row, loanflow.Caller.of(who))
                   if a["code"] not in OWN_PAGE_ACTIONS]
        history = await loanflow.history(session, svc.workflow, row)
        staff = bool(who.roles - {"applicant"})
        credit = await loanflow.credit_history(session, row.customer_id, excluding=row.id) if staff else None
        suggestion = None
        if any(a["code"] == "dispatch_officers" and a["open"] for a in actions):
            suggestion = await intake.dispatch_suggestion(session, svc.workflow, scope(request), loan_id)
        needs = {f["type"] for a in actions for f in a["fields"]}
        offices = list((await session.execute(select(Office).where(Office.active).order_by(Office.path))).scalars()) \
            if "office" in needs else []
        candidates = {}
        for action in actions:
            for field in action["fields"]:
                role = loanflow.SLOT_ROLES.get(field["name"])
                if field["type"] == "user" and role and field["name"] not in candidates:
                    candidates[field["name"]] = list((await session.execute(
                        select(User).join(UserRole, UserRole.user_id == User.id)
                        .where(UserRole.role == role, User.active).order_by(User.office_id, User.id))).scalars())
        rooms = await committee_service.rooms_for(session, who.user_id, loan_id=loan_id)
        findings = await case_file_of(request, session, row, history) if staff else []
        office_name = (await office_names(session, language(request), [row.office_id])).get(row.office_id, "")
    # officers A and B are picked from the investigating office chosen in the same form
    office_bound = {"officer_a", "officer_b"} if any(a["code"] == "dispatch_officers" for a in actions) else set()
    return render(request, "loan.html", loan=view, actions=actions, history=history, credit=credit,
                  suggestion=suggestion, offices=offices, candidates=candidates,
                  flags=json.loads(row.flags), case_file=findings, office_bound=office_bound, rooms=rooms,
                  office_name=office_name)


@routes.get("/admin/offices")
async def offices_page(request: web.Request) -> web.Response:
    signed_in(request)
    async with services(request).db.unit_of_work(write=False) as session:
        offices = await organisation.list_offices(session, scope(request))
    by_id = {o["id"]: o for o in offices}
    depth = {}
    for office in offices:  # listed parent-first (ordered by path)
        parent = by_id.get(office["parent_id"])
        depth[office["id"]] = depth[parent["id"]] + 1 if parent else 0
    return render(request, "admin_offices.html", offices=offices, depth=depth, kinds=OFFICE_KINDS.values(),
                  can_admin=principal(request).has("admin"))


@routes.get("/admin/users")
async def users_page(request: web.Request) -> web.Response:
    signed_in(request)
    async with services(request).db.unit_of_work(write=False) as session:
        users = await organisation.list_users(session, scope(request))
        offices = await organisation.list_offices(session, scope(request))
    who = principal(request)
    can_admin = who.has("admin")
    # The roles this administrator may grant: staff roles, the chairman's only at the head office.
    at_head_office = who.office_path.count("/") == 2
    grantable = [r for r in ROLES.values() if r.staff and (r.code != "chairman" or at_head_office)] if can_admin else []
    lang = language(request)
    return render(request, "admin_users.html", users=users, offices=offices, can_admin=can_admin,
                  grantable=grantable, grantable_codes={r.code for r in grantable},
                  office_names={o["id"]: (o["name_zh"] if lang == "zh" else o["name_en"] or o["name_zh"]) for o in offices})
