"""The core service's JSON API, mounted under /api/."""
from __future__ import annotations

from ..apispec import ApiRoutes

routes = ApiRoutes()

# Importing the modules registers their operations on `routes`.
from . import session, organisation, loans, workflow, audit_trail, meta, archive, postloan, insight, committee  # noqa: E402,F401
