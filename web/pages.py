"""Server-rendered pages of the staff front: login, work queue, loan file, administration."""
from __future__ import annotations

import datetime
import json

from aiohttp import web
from jinja2 import Environment
from sqlalchemy import select

from core import loanflow
from core.api.session import clear_session_cookie, set_session_cookie, sign_in, sign_out
from core.apispec import path_id
from core.context import PRINCIPAL, principal, scope, services
from core.errors import ServiceError, TooManyRequests
from core.orm import Loan, Office, User, UserRole
from core.roles import OFFICE_KINDS, ROLES
from core.services import intake, loans, organisation

from .i18n import LANGUAGES, choice_namer, pick_language, translator

JINJA = web.AppKey("jinja", Environment)
routes = web.RouteTableDef()


def language(request: web.Request) -> str:
    return pick_language(request.cookies.get("lang"), request.headers.get("Accept-Language", ""))


def render(request: web.Request, template: str, status: int = 200, **context) -> web.Response:
    lang = language(request)
    t = translator(lang)
    workflow = services(request).workflow
    stages = workflow.current.stages
    products = workflow.rules.at(datetime.date.today()).products
    html = request.config_dict[JINJA].get_template(template).render(
        t=t, lang=lang, me=request.get(PRINCIPAL), choice_name=choice_namer(lang),
        stage_name=lambda code: (getattr(stages[code], f"name_{lang}") if code in stages else code),
        product_name=lambda code: (getattr(products[code], f"name_{lang}") if code in products else code),
        role_name=lambda code: (ROLES[code].name_zh if lang == "zh" else ROLES[code].name_en) if code in ROLES else code,
        kind_name=lambda code: (OFFICE_KINDS[code].name_zh if lang == "zh" else OFFICE_KINDS[code].name_en),
        yuan=lambda fen: f"{fen / 100:,.2f}",
        **context)
    return web.Response(text=html, content_type="text/html", status=status)


async def render_error(request: web.Request, status: int, message: str) -> web.Response:
    if status == 401:
        raise web.HTTPSeeOther("/login")
    return render(request, "error.html", status=status, status_code=status, message=message)


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
    t = translator(language(request))
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


@routes.get("/queue")
async def queue_page(request: web.Request) -> web.Response:
    signed_in(request)
    async with services(request).db.unit_of_work(write=False) as session:
        queue = await loans.list_loans(session, scope(request), queue=True, limit=100)
        cases = await loans.list_loans(session, scope(request), limit=100)
    return render(request, "queue.html", queue=queue, cases=cases)


@routes.get(r"/loans/{loan_id:[0-9]{1,10}}")
async def loan_page(request: web.Request) -> web.Response:
    signed_in(request)
    svc, who = services(request), principal(request)
    loan_id = path_id(request, "loan_id")
    async with svc.db.unit_of_work(write=False) as session:
        view = await loans.get_loan(session, scope(request), loan_id)
        row = await session.get(Loan, loan_id)
        actions = await loanflow.options(session, svc.workflow, scope(request), row, loanflow.Caller.of(who))
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
    return render(request, "loan.html", loan=view, actions=actions, history=history, credit=credit,
                  suggestion=suggestion, offices=offices, candidates=candidates, flags=json.loads(row.flags))


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
    return render(request, "admin_offices.html", offices=offices, depth=depth, kinds=OFFICE_KINDS.values())


@routes.get("/admin/users")
async def users_page(request: web.Request) -> web.Response:
    signed_in(request)
    async with services(request).db.unit_of_work(write=False) as session:
        users = await organisation.list_users(session, scope(request))
        offices = await organisation.list_offices(session, scope(request))
    return render(request, "admin_users.html", users=users, offices=offices, roles=ROLES.values(),
                  office_names={o["id"]: o["name_zh"] for o in offices})
