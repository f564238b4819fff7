"""The loan workflow as data: definition, transition planning, separation of duties.

Pure domain code: besides reading the definition file nothing here does I/O.
"""
from .definition import (
    DEFAULT_PATH, ENV_VAR, Action, Definition, DocumentType, GuardRef, NotifySpec, Stage,
    configured_path, load_configured, load_definition, parse_definition,
)
from .duties import DEFAULT_EXCLUSIVE, check_duty, check_new_duties, duties_of, excluded_for
from .errors import (
    ActionNotAllowed, DomainError, DutyConflict, GuardFailed, InvalidPayload, UnknownAction,
    WorkflowDefinitionError, WrongStage,
)
from .payload import FieldSpec
from .registry import UnknownDefinitionVersion, WorkflowRegistry
from .roles import ROLE_CODES, SERVICE_ACTORS
from .transitions import ActionOption, Notification, Plan, action_options, open_actions, plan
from .views import ActorView, DutyRecord, LoanView

__all__ = [
    "DEFAULT_PATH", "ENV_VAR", "Action", "ActionNotAllowed", "ActionOption", "ActorView",
    "DEFAULT_EXCLUSIVE", "Definition", "DocumentType", "DomainError", "DutyConflict", "DutyRecord",
    "FieldSpec", "GuardFailed", "GuardRef", "InvalidPayload", "LoanView", "Notification",
    "NotifySpec", "Plan", "ROLE_CODES", "SERVICE_ACTORS", "Stage", "UnknownAction",
    "UnknownDefinitionVersion", "WorkflowDefinitionError", "WorkflowRegistry", "WrongStage",
    "action_options", "check_duty", "check_new_duties", "configured_path", "duties_of",
    "excluded_for", "load_configured", "load_definition", "open_actions", "parse_definition", "plan",
]
