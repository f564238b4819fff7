"""The core service's JSON API, mounted under /api/."""
from __future__ import annotations

from ..apispec import ApiRoutes

routes = ApiRoutes()

# Importing the modules registers their operations on `routes`. The other services register
# theirs from their own packages (committee.api, recordings.api, biometrics.loanapi), imported
# by the composition root (core.app) before /api/ is built.
from . import session, organisation, loans, workflow, audit_trail, meta, postloan, insight  # noqa: E402,F401
