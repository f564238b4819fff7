"""Offices, users and roles: administration use cases."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit, messages, outbox
from ..errors import Conflict, Forbidden, InvalidInput
from ..identity import Identity
from ..orm import Office, User, UserRole, utcnow
from ..passwords import PasswordHashing, check_policy
from ..ports import StepUpVerifier
from ..roles import OFFICE_KINDS, ROLES
from ..scope import Scope


def office_view(office: Office) -> dict:
    return {"id": office.id, "code": office.code, "name_zh": office.name_zh, "name_en": office.name_en,
            "kind": office.kind, "parent_id": office.parent_id, "region": office.region,
            "active": office.active}


def user_view(user: User) -> dict:
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "phone": user.phone, "office_id": user.office_id, "active": user.active,
            "roles": sorted(user.role_codes)}


async def list_offices(session: AsyncSession, scope: Scope) -> list[dict]:
    rows = (await session.execute(select(Office).where(scope.offices()).order_by(Office.path))).scalars()
    return [office_view(o) for o in rows]


async def create_office(session: AsyncSession, scope: Scope, body: dict) -> dict:
    parent = await scope.office(session, body["parent_id"])
    scope.require_admin_over(parent)
    kind = OFFICE_KINDS[body["kind"]]
    if parent.kind not in kind.parents:
        raise InvalidInput(f"a {kind.name_en.lower()} cannot sit under a {parent.kind.replace('_', ' ')}",
                           details={"kind": "parent"})
    await _unique_code(session, body["code"])
    office = Office(code=body["code"], name_zh=body["name_zh"], name_en=body.get("name_en") or body["name_zh"],
                    kind=kind.code, parent_id=parent.id, region=body.get("region", ""))
    session.add(office)
    await session.flush()
    office.path = f"{parent.path}{office.id}/"
    await audit.append(session, scope.principal.actor("admin"), "office.create", "office", office.id, body)
    return office_view(office)


async def update_office(session: AsyncSession, scope: Scope, office_id: int, body: dict) -> dict:
    office = await scope.office(session, office_id)
    scope.require_admin_over(office)
    for name in ("name_zh", "name_en", "region", "active"):
        if name in body:
            setattr(office, name, body[name])
    await audit.append(session, scope.principal.actor("admin"), "office.update", "office", office.id, body)
    return office_view(office)


async def _unique_code(session: AsyncSession, code: str) -> None:
    if (await session.execute(select(Office.id).where(Office.code == code))).first():
        raise Conflict(f"an office with code {code} already exists", code="duplicate")


async def list_users(session: AsyncSession, scope: Scope, *, office_id: int | None = None,
                     role: str | None = None) -> list[dict]:
    query = select(User).where(scope.users()).order_by(User.username)
    if office_id is not None:
        query = query.where(User.office_id == office_id)
    if role is not None:
        query = query.where(User.roles.any(UserRole.role == role))
    return [user_view(u) for u in (await session.execute(query)).scalars()]


async def get_user(session: AsyncSession, scope: Scope, user_id: int) -> dict:
    return user_view(await scope.user(session, user_id))


def _check_roles(scope: Scope, roles: list[str]) -> None:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InvalidInput(f"unknown role(s): {', '.join(unknown)}", details={"roles": "enum"})
    at_head_office = scope.principal.office_path.count("/") == 2  # "/<root id>/"
    if "chairman" in roles and not at_head_office:
        raise Forbidden("only a head-office administrator may grant the chairman role")


CREDENTIALS_ACTION = "change_credentials"
_CREDENTIALS = ("password", "roles")


def credentials_payload(body: dict, user_id: int | None = None) -> dict:
    """What an administrator's step-up for a credential change is bound to: the change itself
    (the password included, so its hash), and the account when it exists."""
    payload = {k: v for k, v in body.items() if k != "step_up"}
    if user_id is not None:
        payload["user_id"] = user_id
    return payload


async def _confirm_credentials(session: AsyncSession, verifier: StepUpVerifier, scope: Scope, body: dict,
                               user_id: int | None, step_up: str | None) -> None:
    # Granting roles or setting a password hands out a credential: with a stolen administrator
    # session it would make an accomplice an administrator, so it needs the administrator's own
    # fresh print (LOANCTL_STEP_UP=required), like the workflow's important actions.
    await verifier.redeem(session, step_up, user_id=scope.principal.user_id, loan_id=0, action=CREDENTIALS_ACTION,
                          payload=credentials_payload(body, user_id))


def _notify_credentials(session: AsyncSession, user: User, changed: list[str]) -> None:
    what = "、".join({"password": "密码", "roles": "角色权限"}[c] for c in changed)
    outbox.queue(session, template="credentials_changed", user_id=user.id, phone=user.phone, name=user.display_name,
                 text=messages.render("credentials_changed", bank=messages.BANK, what=what,
                                      time=utcnow().astimezone(messages.LOCAL_TIME).strftime("%Y-%m-%d %H:%M")))


async def create_user(session: AsyncSession, scope: Scope, hashing: PasswordHashing, body: dict,
                      *, min_length: int, step_up: StepUpVerifier | None = None) -> dict:
    office = await scope.office(session, body["office_id"])
    scope.require_admin_over(office)
    _check_roles(scope, body["roles"])
    if (await session.execute(select(User.id).where(func.lower(User.username) == body["username"].lower()))).first():
        raise Conflict(f"user name {body['username']} is taken", code="duplicate")
    check_policy(body["password"], username=body["username"], min_length=min_length)
    if step_up is not None:  # LOANCTL_STEP_UP=required
        await _confirm_credentials(session, step_up, scope, body, None, body.get("step_up"))
    user = User(username=body["username"], display_name=body["display_name"], phone=body.get("phone", ""),
                office_id=office.id, password_hash=hashing.hash(body["password"]),
                roles=[UserRole(role=r) for r in sorted(set(body["roles"]))])
    session.add(user)
    await session.flush()
    logged = {k: v for k, v in body.items() if k not in ("password", "step_up")}
    await audit.append(session, scope.principal.actor("admin"), "user.create", "user", user.id, logged)
    _notify_credentials(session, user, ["password", "roles"])
    return user_view(user)


async def update_user(session: AsyncSession, scope: Scope, identity: Identity, hashing: PasswordHashing,
                      user_id: int, body: dict, *, min_length: int, step_up: StepUpVerifier | None = None) -> dict:
    user = await scope.user(session, user_id)
    scope.require_admin_over(await session.get(Office, user.office_id))
    changed = [c for c in _CREDENTIALS if c in body]
    # Refusals first (a refused change leaves the token unspent), then the step-up, then writes.
    if "roles" in body:
        _check_roles(scope, body["roles"])
        if user.id == scope.principal.user_id and "admin" not in body["roles"]:
            raise InvalidInput("administrators cannot remove their own admin role", details={"roles": "self"})
    if "password" in body:
        check_policy(body["password"], username=user.username, min_length=min_length)
    if changed and step_up is not None:
        await _confirm_credentials(session, step_up, scope, body, user.id, body.get("step_up"))
    if "office_id" in body:
        target = await scope.office(session, body["office_id"])
        scope.require_admin_over(target)
        user.office_id = target.id
    if "roles" in body:
        user.roles = [UserRole(role=r) for r in sorted(set(body["roles"]))]
    for name in ("display_name", "phone", "active"):
        if name in body:
            setattr(user, name, body[name])
    if "password" in body:
        user.password_hash = hashing.hash(body["password"])
    if body.get("active") is False or "password" in body or "roles" in body:
        # A changed account must sign in again with what it now is.
        await identity.end_sessions_of(session, user.id)
    logged = {k: (v if k != "password" else "(changed)") for k, v in body.items() if k != "step_up"}
    await audit.append(session, scope.principal.actor("admin"), "user.update", "user", user.id, logged)
    if changed:
        _notify_credentials(session, user, changed)
    await session.flush()
    await session.refresh(user, ["roles"])
    return user_view(user)


async def get_office(session: AsyncSession, scope: Scope, office_id: int) -> dict:
    return office_view(await scope.office(session, office_id))
