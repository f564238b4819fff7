"""The catalogue (web/i18n.py) as the `Wording` port core declares (core.ports): how the
services that may not import the web front (the committee's handlers) word a refusal in the
caller's language. Wired in by core.app.create_root."""
from __future__ import annotations

from typing import Any, Mapping

from .i18n import REFUSALS, message, pick_language


class CatalogueWording:
    def language(self, cookie: str | None, accept_language: str) -> str:
        return pick_language(cookie, accept_language)

    def refusal(self, code: str, language: str, values: Mapping[str, Any]) -> str | None:
        if code not in REFUSALS:
            return None
        return message(code, language, **values)
