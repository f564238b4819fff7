"""What a running core service holds, handed to handlers through the application."""
from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from .config import Config
from .db import Database
from .errors import Unauthenticated
from .identity import Identity, Principal
from .events import LoanDisbursed
from .insight.cache import FiguresCache
from .loanflow import Workflow
from .passwords import PasswordHashing
from .ports import Ports, StepUpVerifier
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
    # What the other services provide, wired in by the composition root (core.app; core.ports).
    ports: Ports = field(default_factory=Ports)
    # The statistics dashboard's figures, kept per data version (core/insight/cache.py).
    figures_cache: FiguresCache = field(default_factory=FiguresCache)

    def __post_init__(self) -> None:
        if self.reports is None:
            self.reports = self.db

    @classmethod
    def build(cls, config: Config, ports: Ports | None = None) -> "Services":
        hashing = PasswordHashing(config.argon2_memory_kib, config.argon2_time_cost,
                                  config.argon2_parallelism)
        db = Database(config.effective_database_url)
        reports = Database(config.database_replica_url) if config.database_replica_url else db
        ports = ports or Ports()
        workflow = Workflow.load(config.workflow_path, config.rules_path)
        wire_workflow(workflow, ports)
        return cls(config, db, hashing, Identity(config, hashing), workflow, reports, ports)

    @property
    def step_up_verifier(self) -> StepUpVerifier | None:
        """Who spends step-up tokens when LOANCTL_STEP_UP=required; None when step-up is off."""
        return self.ports.step_up if self.config.step_up == "required" else None

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


def wire_workflow(workflow: Workflow, ports: Ports) -> None:
    """Give the workflow its step-up verifier and subscribe core's own handlers to its events."""
    from .postloan.service import on_loan_disbursed  # post-loan builds on loanflow: imported when wiring

    workflow.step_up = ports.step_up

    async def enter_post_loan(session, event: LoanDisbursed) -> None:
        await on_loan_disbursed(session, workflow, event)

    workflow.events.subscribe(LoanDisbursed, enter_post_loan)


SERVICES = web.AppKey("services", Services)
# The ports the composition root (core.app.create_root) fills; read when the services start.
PORTS = web.AppKey("ports", Ports)
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
