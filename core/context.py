"""What a running core service holds, handed to handlers through the application."""
from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from .config import Config
from .db import Database
from .errors import Unauthenticated
from .identity import Identity, Principal
from .insight.cache import FiguresCache
from .loanflow import Workflow
from .passwords import PasswordHashing
from .scope import Scope


@dataclass
class Services:
    config: Config
    db: Database
    hashing: PasswordHashing
    identity: Identity
    workflow: Workflow
    # Where dashboards and exports read: the streaming replica when one is configured
    # (LOANCTL_DATABASE_REPLICA_URL), so statistics never compete with commands; else `db` itself.
    reports: Database | None = None
    # The statistics dashboard's figures, kept per data version (core/insight/cache.py).
    figures_cache: FiguresCache = field(default_factory=FiguresCache)

    def __post_init__(self) -> None:
        if self.reports is None:
            self.reports = self.db

    @classmethod
    def build(cls, config: Config) -> "Services":
        hashing = PasswordHashing(config.argon2_memory_kib, config.argon2_time_cost,
                                  config.argon2_parallelism)
        db = Database(config.effective_database_url)
        reports = Database(config.database_replica_url) if config.database_replica_url else db
        return cls(config, db, hashing, Identity(config, hashing),
                   Workflow.load(config.workflow_path, config.rules_path), reports)

    @property
    def reads_replica(self) -> bool:
        return self.reports is not self.db

    async def close(self) -> None:
        if self.reads_replica:
            await self.reports.close()
        await self.db.close()

    async def start(self) -> None:
        """Migrate the database and remember the workflow versions loans run on."""
        await self.db.migrate()
        async with self.db.unit_of_work() as session:
            await self.workflow.remember_versions(session)

    def scope(self, principal: Principal) -> Scope:
        return Scope(principal, self.workflow.stage_roles)


SERVICES = web.AppKey("services", Services)
PRINCIPAL = web.RequestKey("principal", Principal)
SERVICE_NAME = web.AppKey("service_name", str)
# Pages render errors as HTML; set by the web front, absent on API-only services.
RENDER_ERROR = web.AppKey("render_error", object)


def services(request: web.Request) -> Services:
    return request.config_dict[SERVICES]


def principal(request: web.Request) -> Principal:
    who = request.get(PRINCIPAL)
    if who is None:
        raise Unauthenticated("sign in first")
    return who


def scope(request: web.Request) -> Scope:
    return services(request).scope(principal(request))
