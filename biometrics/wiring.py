"""Hooking the fingerprint service into the suite's root application (core/app.py)."""
from __future__ import annotations

from aiohttp import web

from core.config import Config

from . import stepup


def attach(root: web.Application, config: Config) -> None:
    """Serve the service at /biometrics/ (tokens required), add its loan-level operations to
    core's /api/ (call before /api/ is built), and give core its client: HTTP when
    LOANCTL_BIOMETRICS_URL names a separate service, else the service layer in this process."""
    from . import loanapi  # noqa: F401  (registers the /api/ operations)
    from .app import mount

    runtime = mount(root, config)
    root[loanapi.CLIENT] = loanapi.make_client(config, runtime)


class StepUpTokens:
    """core.ports.StepUpVerifier: the step-up tokens this service issues (biometrics.stepup),
    spent in the command's own transaction (the token table is in the suite's database)."""

    async def redeem(self, session, token, *, user_id, loan_id, action, payload, now=None) -> None:
        await stepup.redeem(session, token, user_id=user_id, loan_id=loan_id, action=action, payload=payload, now=now)
