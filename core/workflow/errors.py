"""Errors of the workflow: one for a broken definition file, typed ones for refused actions."""
from __future__ import annotations

from typing import Any

from .source import SourceError


class WorkflowDefinitionError(SourceError):
    """The definition file is wrong; the message names the file and line of each problem."""


class DomainError(Exception):
    """An action was refused. ``code`` is stable (for the API and tests); ``message`` is for people."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class UnknownAction(DomainError):
    code = "unknown_action"


class WrongStage(DomainError):
    code = "wrong_stage"


class ActionNotAllowed(DomainError):
    """The actor lacks a role the action needs."""

    code = "action_not_allowed"


class GuardFailed(DomainError):
    code = "guard_failed"


class DutyConflict(DomainError):
    """Separation of duties (审贷分离) would be broken on this loan."""

    code = "duty_conflict"


class InvalidPayload(DomainError):
    code = "invalid_payload"
