"""Who is asking: logins, server-side sessions, throttling and the principal of a request."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit
from .config import Config
from .errors import TooManyRequests
from .orm import LoginFailure, Office, User, WebSession, utcnow
from .passwords import PasswordHashing


@dataclass(frozen=True)
class Principal:
    """The signed-in user as every use case sees them."""

    user_id: int
    username: str
    display_name: str
    office_id: int
    office_path: str
    roles: frozenset[str]
    csrf_token: str = ""
    session_key: str = ""

    def has(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def actor(self, role: str | None = None) -> audit.Actor:
        """The audit actor; `role` is the role this action is taken in."""
        if role is None:
            role = ",".join(sorted(self.roles))
        return audit.Actor(self.user_id, self.username, role[:32], self.office_id)


def is_staff(principal: Principal | None) -> bool:
    """Bank staff, as opposed to an applicant signed in on the portal: who confirms important
    actions with a fingerprint step-up."""
    return principal is not None and not principal.roles <= {"applicant"}


def token_key(token: str) -> str:
    """Sessions are stored by the token's hash: a copy of the table opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionLookup:
    principal: Principal | None
    key: str
    expire: bool = False
    touch: bool = False


@dataclass(frozen=True)
class LoginResult:
    token: str | None
    principal: Principal | None
    throttled_for: int = 0


class Identity:
    def __init__(self, config: Config, hashing: PasswordHashing) -> None:
        self.config = config
        self.hashing = hashing

    async def login(self, session: AsyncSession, username: str, password: str, *,
                    address: str, user_agent: str = "") -> LoginResult:
        """Check a password; on failure record it (the caller commits either way).

        Unknown user and wrong password give the same result after the same work.
        """
        now = utcnow()
        account = username.strip().lower()[:64]
        window_start = now - dt.timedelta(seconds=self.config.login_window_seconds)
        account_failures = await self._count(session, LoginFailure.account == account, window_start)
        address_failures = await self._count(session, LoginFailure.address == address, window_start)
        if account_failures >= self.config.login_account_failures or \
                address_failures >= self.config.login_address_failures:
            await audit.append(session, audit.Actor(None, account, "anonymous", None),
                               "login", "user", account, {"address": address}, outcome="throttled")
            return LoginResult(None, None, throttled_for=self.config.login_window_seconds)
        user = (await session.execute(
            select(User).where(func.lower(User.username) == account))).scalar_one_or_none()
        ok = self.hashing.verify(user.password_hash if user else None, password)
        if not ok or user is None or not user.active:
            session.add(LoginFailure(account=account, address=address, at=now))
            await audit.append(session, audit.Actor(user.id if user else None, account, "anonymous",
                                                    user.office_id if user else None),
                               "login", "user", account, {"address": address}, outcome="denied")
            return LoginResult(None, None)
        if self.hashing.needs_rehash(user.password_hash):
            user.password_hash = self.hashing.hash(password)
        await session.execute(delete(LoginFailure).where(LoginFailure.account == account))
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        session.add(WebSession(token_hash=token_key(token), user_id=user.id, csrf_token=csrf,
                               created_at=now, last_seen_at=now, address=address[:64],
                               user_agent=user_agent[:300]))
        principal = await self._principal(session, user, csrf, token_key(token))
        await audit.append(session, principal.actor(), "login", "user", user.id,
                           {"address": address}, outcome="ok")
        return LoginResult(token, principal)

    async def _count(self, session: AsyncSession, condition, since: dt.datetime) -> int:
        return (await session.execute(
            select(func.count()).select_from(LoginFailure).where(condition, LoginFailure.at >= since)
        )).scalar_one()

    async def _principal(self, session: AsyncSession, user: User, csrf: str, key: str) -> Principal:
        office_path = (await session.execute(
            select(Office.path).where(Office.id == user.office_id))).scalar_one()
        return Principal(user.id, user.username, user.display_name, user.office_id, office_path,
                         user.role_codes, csrf, key)

    async def resume(self, session: AsyncSession, token: str) -> SessionLookup:
        """Find the session of a cookie without writing; say what bookkeeping is due."""
        if not token or len(token) > 100:
            return SessionLookup(None, "")
        key = token_key(token)
        row = (await session.execute(select(WebSession).where(WebSession.token_hash == key))).scalar_one_or_none()
        if row is None:
            return SessionLookup(None, "")
        now = utcnow()
        idle = dt.timedelta(seconds=self.config.session_idle_seconds)
        absolute = dt.timedelta(seconds=self.config.session_absolute_seconds)
        user = await session.get(User, row.user_id)
        if now - row.last_seen_at > idle or now - row.created_at > absolute or user is None or not user.active:
            return SessionLookup(None, key, expire=True)
        principal = await self._principal(session, user, row.csrf_token, key)
        # Writing last_seen on every request would serialize reads on SQLite; a minute's
        # granularity is plenty for an idle timeout counted in tens of minutes.
        return SessionLookup(principal, key, touch=now - row.last_seen_at > dt.timedelta(seconds=60))

    async def settle(self, session: AsyncSession, lookup: "SessionLookup") -> None:
        """Do the bookkeeping `resume` asked for, in a writing unit of work."""
        if lookup.expire:
            await session.execute(delete(WebSession).where(WebSession.token_hash == lookup.key))
        elif lookup.touch:
            row = await session.get(WebSession, lookup.key)
            if row is not None:
                row.last_seen_at = utcnow()

    async def logout(self, session: AsyncSession, principal: Principal) -> None:
        await session.execute(delete(WebSession).where(WebSession.token_hash == principal.session_key))
        await audit.append(session, principal.actor(), "logout", "user", principal.user_id)

    async def end_sessions_of(self, session: AsyncSession, user_id: int) -> None:
        await session.execute(delete(WebSession).where(WebSession.user_id == user_id))


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(expected) and given is not None and hmac.compare_digest(expected, given)


def raise_if_throttled(result: LoginResult) -> None:
    if result.throttled_for:
        raise TooManyRequests("too many failed logins; try again later", retry_after=result.throttled_for)
