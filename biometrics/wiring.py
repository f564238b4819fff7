"""Hooking the fingerprint service into the suite's root application (core/app.py)."""
from __future__ import annotations

from aiohttp import web

from core.config import Config


def attach(root: web.Application, config: Config) -> None:
    """Serve the service at /biometrics/ (tokens required), add its loan-level operations to
    core's /api/ (call before /api/ is built), and give core its client: HTTP when
    LOANCTL_BIOMETRICS_URL names a separate service, else the service layer in this process."""
    from . import loanapi  # noqa: F401  (registers the /api/ operations)
    from .app import mount

    runtime = mount(root, config)
    root[loanapi.CLIENT] = loanapi.make_client(config, runtime)
