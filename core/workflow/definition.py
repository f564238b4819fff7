"""The workflow definition: stages, actions and their rules, loaded from a TOML file.

The file is the bank's to edit (流程定制). Everything in it is checked when it is loaded —
unknown keys, missing keys, wrong types, references to unknown stages, roles, documents,
guards or payload fields, duplicate codes, unreachable stages — and every problem is reported
with the file and line, so a broken edit stops the service at start-up with a usable message.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import WorkflowDefinitionError
from .guards import FIELD_PARAMS, GUARDS
from .payload import FIELD_TYPES, FieldSpec
from .roles import ROLE_CODES
from .source import TomlSource

DEFAULT_PATH = Path(__file__).with_name("default.toml")
ENV_VAR = "LOANCTL_WORKFLOW"

STAGE_KINDS = ("start", "work", "end")
ACTION_KINDS = ("submit", "decide", "approve", "reject", "withdraw", "return", "dispatch", "system")
# kinds that move a case forward; the people who can take one of these are "the next actor"
FORWARD_KINDS = frozenset({"submit", "decide", "approve", "dispatch", "system"})
NOTIFY_TARGETS = ("customer", "next_actor", "current_actor", "sender", "author", "actor")
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_DOC_CODE = re.compile(r"^[A-Z][A-Z0-9\-]*$")


@dataclass(frozen=True)
class DocumentType:
    code: str
    name_zh: str
    name_en: str
    line: int = 0


@dataclass(frozen=True)
class Stage:
    code: str
    name_zh: str
    name_en: str
    kind: str
    deadline_hours: int | None = None
    deadline_working_days: int | None = None
    documents: tuple[str, ...] = ()
    line: int = 0

    @property
    def is_end(self) -> bool:
        return self.kind == "end"


@dataclass(frozen=True)
class GuardRef:
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NotifySpec:
    """``to`` is customer | next_actor | current_actor | sender | author | actor | role:<code> |
    assigned:<slot>; ``when`` limits it to one choice of an action with a table of targets."""

    to: str
    template: str
    when: str | None = None

    @property
    def target_kind(self) -> str:
        return self.to.split(":", 1)[0]

    @property
    def target_arg(self) -> str | None:
        return self.to.split(":", 1)[1] if ":" in self.to else None


@dataclass(frozen=True)
class Action:
    code: str
    name_zh: str
    name_en: str
    from_stages: tuple[str, ...]
    kind: str
    roles: frozenset[str]
    # a fixed target, or a choice made by the payload field ``choose_by`` (choice -> stage)
    to: str | None = None
    to_choices: Mapping[str, str] = field(default_factory=dict)
    choose_by: str | None = None
    guards: tuple[GuardRef, ...] = ()
    important: bool = False
    reason_required: bool = False
    duty: str | None = None
    duty_holders: str | None = None  # payload field listing the people the duty is recorded for
    payload: Mapping[str, FieldSpec] = field(default_factory=dict)
    assign: Mapping[str, str] = field(default_factory=dict)  # slot -> payload field
    notify: tuple[NotifySpec, ...] = ()
    line: int = 0

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.to,) if self.to else tuple(dict.fromkeys(self.to_choices.values()))

    def target(self, payload: Mapping[str, Any]) -> str:
        if self.to:
            return self.to
        return self.to_choices[payload[self.choose_by]]


@dataclass(frozen=True)
class Definition:
    name: str
    declared_version: str
    sha256: str
    origin: str
    text: str
    start: str
    stages: Mapping[str, Stage]
    actions: Mapping[str, Action]
    documents: Mapping[str, DocumentType]
    exclusive_duties: frozenset[str]
    slot_duties: Mapping[str, str]

    @property
    def version(self) -> str:
        """What the core stores on a loan: the declared version plus the content hash."""
        return f"{self.declared_version}@{self.sha256[:16]}"

    def actions_from(self, stage: str) -> tuple[Action, ...]:
        return tuple(a for a in self.actions.values() if stage in a.from_stages)

    def end_stages(self) -> tuple[str, ...]:
        return tuple(code for code, s in self.stages.items() if s.is_end)


# --- schema -------------------------------------------------------------------------------

_STR, _INT, _BOOL, _LIST, _TABLE = "string", "integer", "boolean", "array", "table"
_PY = {_STR: str, _INT: int, _BOOL: bool, _LIST: list, _TABLE: dict}

_TOP = {"workflow": (_TABLE, True), "separation": (_TABLE, True), "document": (_LIST, False),
        "stage": (_LIST, True), "action": (_LIST, True)}
_WORKFLOW = {"name": (_STR, True), "version": (_STR, True), "start": (_STR, True), "description": (_STR, False)}
_SEPARATION = {"exclusive": (_LIST, True), "slot_duties": (_TABLE, False)}
_DOCUMENT = {"code": (_STR, True), "name_zh": (_STR, True), "name_en": (_STR, True)}
_STAGE = {"code": (_STR, True), "name_zh": (_STR, True), "name_en": (_STR, True), "kind": (_STR, True),
          "deadline_hours": (_INT, False), "deadline_working_days": (_INT, False), "documents": (_LIST, False)}
_ACTION = {"code": (_STR, True), "name_zh": (_STR, True), "name_en": (_STR, True),
           "from": ((_STR, _LIST), True), "to": ((_STR, _TABLE), True), "choose_by": (_STR, False),
           "roles": (_LIST, True), "kind": (_STR, True), "guards": (_LIST, False),
           "important": (_BOOL, False), "reason_required": (_BOOL, False), "duty": (_STR, False),
           "duty_holders": (_STR, False), "payload": (_TABLE, False), "assign": (_TABLE, False),
           "notify": (_LIST, False)}
_FIELD = {"type": (_STR, True), "required": (_BOOL, False), "choices": (_LIST, False),
          "min": (_INT, False), "max": (_INT, False), "label": (_STR, False)}
_NOTIFY = {"to": (_STR, True), "template": (_STR, True), "when": (_STR, False)}


def _type_name(value: Any) -> str:
    for name, py in _PY.items():
        if isinstance(value, py) and not (py is int and isinstance(value, bool)):
            return name
    if isinstance(value, float):
        return "float"
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return "date/time"
    return type(value).__name__


class _Loader:
    def __init__(self, src: TomlSource) -> None:
        self.src = src
        self.problems: list[tuple[int, str]] = []

    def problem(self, path: tuple, message: str) -> None:
        # ("@value", needle, *path): the line of ``needle`` inside a value that spans lines
        if path and path[0] == "@value":
            line = self.src.line_in_value(path[1], *path[2:])
        else:
            line = self.src.line_of(*path)
        self.problems.append((line, message))

    def table(self, path: tuple, value: Any, schema: Mapping[str, tuple], what: str) -> bool:
        if not isinstance(value, dict):
            self.problem(path, f"{what} must be a table, got {_type_name(value)}")
            return False
        ok = True
        for key in value:
            if key not in schema:
                self.problem(path + (key,), f"unknown key '{key}' in {what}; allowed: {', '.join(schema)}")
                ok = False
        for key, (types, required) in schema.items():
            if key not in value:
                if required:
                    self.problem(path, f"missing key '{key}' in {what}")
                    ok = False
                continue
            types = types if isinstance(types, tuple) else (types,)
            if _type_name(value[key]) not in types:
                self.problem(path + (key,), f"'{key}' in {what} must be {' or '.join(types)}, got {_type_name(value[key])}")
                ok = False
        return ok

    def strings(self, path: tuple, value: list, what: str) -> list[str]:
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            self.problem(path, f"{what} must hold strings only")
        return [v for v in value if isinstance(v, str)]

    # --- entries ---------------------------------------------------------------------

    def load(self) -> Definition:
        data = self.src.data
        if not self.table((), data, _TOP, "the definition file"):
            raise WorkflowDefinitionError(self.src.origin, self.problems)
        wf = data["workflow"]
        self.table(("workflow",), wf, _WORKFLOW, "[workflow]")
        sep = data["separation"]
        self.table(("separation",), sep, _SEPARATION, "[separation]")
        if self.problems:
            raise WorkflowDefinitionError(self.src.origin, self.problems)

        exclusive = frozenset(self.strings(("separation", "exclusive"), sep["exclusive"], "exclusive duties"))
        for duty in exclusive:
            if not _CODE.match(duty):
                self.problem(("separation", "exclusive"), f"duty code '{duty}' must be lower_snake_case")
        slot_duties = dict(sep.get("slot_duties", {}))
        for slot, duty in slot_duties.items():
            if duty not in exclusive:
                self.problem(("separation", "slot_duties", slot), f"slot '{slot}' maps to '{duty}', which is not an exclusive duty")

        documents = self.load_documents(data.get("document", []))
        stages = self.load_stages(data["stage"], documents)
        if self.problems:  # actions would only repeat these as unknown stages
            raise WorkflowDefinitionError(self.src.origin, self.problems)
        actions = self.load_actions(data["action"], stages, exclusive)
        if self.problems:
            raise WorkflowDefinitionError(self.src.origin, self.problems)

        start = wf["start"]
        if start not in stages:
            self.problem(("workflow", "start"), f"start stage '{start}' is not defined")
        elif stages[start].kind != "start":
            self.problem(("workflow", "start"), f"stage '{start}' must have kind = \"start\"")
        for code, stage in stages.items():
            if stage.kind == "start" and code != start:
                self.problem(("stage", list(stages).index(code), "kind"), f"stage '{code}' is a second start stage; [workflow] start is '{start}'")
        self.check_slots(actions, slot_duties)
        if self.problems:
            raise WorkflowDefinitionError(self.src.origin, self.problems)
        self.check_graph(start, stages, actions)
        if self.problems:
            raise WorkflowDefinitionError(self.src.origin, self.problems)
        return Definition(
            name=wf["name"], declared_version=wf["version"], sha256=self.src.sha256,
            origin=self.src.origin, text=self.src.text, start=start, stages=stages,
            actions=actions, documents=documents, exclusive_duties=exclusive,
            slot_duties=slot_duties,
        )

    def load_documents(self, entries: list) -> dict[str, DocumentType]:
        documents: dict[str, DocumentType] = {}
        for i, entry in enumerate(entries):
            path = ("document", i)
            if not self.table(path, entry, _DOCUMENT, "[[document]]"):
                continue
            code = entry["code"]
            if not _DOC_CODE.match(code):
                self.problem(path + ("code",), f"document code '{code}' must be UPPER-CASE letters, digits and '-'")
            if code in documents:
                self.problem(path + ("code",), f"duplicate document code '{code}' (first at line {documents[code].line})")
                continue
            documents[code] = DocumentType(code, entry["name_zh"], entry["name_en"], self.src.line_of(*path))
        return documents

    def load_stages(self, entries: list, documents: Mapping[str, DocumentType]) -> dict[str, Stage]:
        stages: dict[str, Stage] = {}
        for i, entry in enumerate(entries):
            path = ("stage", i)
            if not self.table(path, entry, _STAGE, "[[stage]]"):
                continue
            code = entry["code"]
            if not _CODE.match(code):
                self.problem(path + ("code",), f"stage code '{code}' must be lower_snake_case")
            if code in stages:
                self.problem(path + ("code",), f"duplicate stage code '{code}' (first at line {stages[code].line})")
                continue
            if entry["kind"] not in STAGE_KINDS:
                self.problem(path + ("kind",), f"stage kind '{entry['kind']}' must be one of {', '.join(STAGE_KINDS)}")
            hours, days = entry.get("deadline_hours"), entry.get("deadline_working_days")
            if hours is not None and days is not None:
                self.problem(path + ("deadline_hours",), f"stage '{code}' sets both deadline_hours and deadline_working_days; pick one")
            for key, value in (("deadline_hours", hours), ("deadline_working_days", days)):
                if value is not None and value <= 0:
                    self.problem(path + (key,), f"{key} must be positive")
            if entry["kind"] != "work" and (hours or days):
                self.problem(path + ("kind",), f"{entry['kind']} stage '{code}' cannot have a deadline")
            docs = self.strings(path + ("documents",), entry.get("documents", []), "documents")
            for doc in docs:
                if doc not in documents:
                    self.problem(path + ("documents",), f"stage '{code}' requires unknown document code '{doc}'")
            stages[code] = Stage(code, entry["name_zh"], entry["name_en"], entry["kind"], hours, days,
                                 tuple(docs), self.src.line_of(*path))
        return stages

    def load_payload(self, path: tuple, table: dict) -> dict[str, FieldSpec]:
        fields: dict[str, FieldSpec] = {}
        for name, spec in table.items():
            fpath = path + (name,)
            if not _CODE.match(name):
                self.problem(fpath, f"payload field name '{name}' must be lower_snake_case")
            if not self.table(fpath, spec, _FIELD, f"payload field '{name}'"):
                continue
            if spec["type"] not in FIELD_TYPES:
                self.problem(fpath + ("type",), f"payload field '{name}' has unknown type '{spec['type']}'; known: {', '.join(sorted(FIELD_TYPES))}")
                continue
            choices = tuple(self.strings(fpath + ("choices",), spec.get("choices", []), "choices"))
            if spec["type"] == "enum" and not choices:
                self.problem(fpath, f"enum field '{name}' needs choices")
            if choices and spec["type"] != "enum":
                self.problem(fpath + ("choices",), f"only enum fields take choices ('{name}' is {spec['type']})")
            fields[name] = FieldSpec(name, spec["type"], spec.get("required", True), choices,
                                     spec.get("min"), spec.get("max"), spec.get("label", ""))
        return fields

    def load_actions(self, entries: list, stages: Mapping[str, Stage], exclusive: frozenset[str]) -> dict[str, Action]:
        actions: dict[str, Action] = {}
        for i, entry in enumerate(entries):
            path = ("action", i)
            if not self.table(path, entry, _ACTION, "[[action]]"):
                continue
            code = entry["code"]
            before = len(self.problems)
            if not _CODE.match(code):
                self.problem(path + ("code",), f"action code '{code}' must be lower_snake_case")
            if code in actions:
                self.problem(path + ("code",), f"duplicate action code '{code}' (first at line {actions[code].line})")
                continue
            if code in stages:
                self.problem(path + ("code",), f"action code '{code}' is also a stage code; use distinct names")
            kind = entry["kind"]
            if kind not in ACTION_KINDS:
                self.problem(path + ("kind",), f"action kind '{kind}' must be one of {', '.join(ACTION_KINDS)}")
            froms = [entry["from"]] if isinstance(entry["from"], str) else self.strings(path + ("from",), entry["from"], "from")
            if not froms:
                self.problem(path + ("from",), f"action '{code}' has no from-stage")
            for stage in froms:
                if stage not in stages:
                    self.problem(path + ("from",), f"action '{code}' starts from unknown stage '{stage}'")
                elif stages[stage].is_end:
                    self.problem(path + ("from",), f"action '{code}' starts from end stage '{stage}'")
            payload = self.load_payload(path + ("payload",), entry.get("payload", {}))
            to, to_choices, choose_by = None, {}, entry.get("choose_by")
            if isinstance(entry["to"], str):
                to = entry["to"]
                if choose_by is not None:
                    self.problem(path + ("choose_by",), f"action '{code}' has one target; choose_by is only for a table of targets")
            else:
                to_choices = dict(entry["to"])
                if not to_choices:
                    self.problem(path + ("to",), f"action '{code}' has an empty table of targets")
                if choose_by is None:
                    self.problem(path + ("to",), f"action '{code}' has a table of targets and needs choose_by = \"<payload field>\"")
                elif choose_by in payload:
                    self.problem(path + ("choose_by",), f"choose_by field '{choose_by}' is made from the targets; do not declare it in payload")
                else:
                    payload[choose_by] = FieldSpec(choose_by, "enum", True, tuple(to_choices))
            for target in ([to] if to else list(to_choices.values())):
                if not isinstance(target, str) or target not in stages:
                    self.problem(path + ("to",), f"action '{code}' leads to unknown stage '{target}'")
                elif stages[target].kind == "start":
                    self.problem(path + ("to",), f"action '{code}' leads back to the start stage '{target}'")
            roles = self.strings(path + ("roles",), entry["roles"], "roles")
            if not roles:
                self.problem(path + ("roles",), f"action '{code}' names no role")
            for role in roles:
                if role not in ROLE_CODES:
                    self.problem(path + ("roles",), f"action '{code}' names unknown role '{role}'")
            reason_required = entry.get("reason_required", False)
            if kind in ("reject", "return") and not reason_required:
                self.problem(path + ("kind",), f"{kind} action '{code}' must set reason_required = true (the applicant or sender is told why)")
            if reason_required:
                if "reason" in payload:
                    self.problem(path + ("payload", "reason"), "'reason' is added by reason_required; do not declare it")
                payload["reason"] = FieldSpec("reason", "text", True, label="reason")
            duty = entry.get("duty")
            if duty is not None and duty not in exclusive:
                self.problem(path + ("duty",), f"duty '{duty}' is not listed in [separation] exclusive")
            holders = entry.get("duty_holders")
            if holders is not None:
                if duty is None:
                    self.problem(path + ("duty_holders",), "duty_holders needs a duty")
                if holders not in payload or payload[holders].type not in ("user", "user_list"):
                    self.problem(path + ("duty_holders",), f"duty_holders '{holders}' must be a payload field of type user or user_list")
            guards = self.load_guards(path, entry.get("guards", []), payload)
            assign = {}
            for slot, field_name in entry.get("assign", {}).items():
                if not _CODE.match(slot):
                    self.problem(path + ("assign", slot), f"assignment slot '{slot}' must be lower_snake_case")
                if not isinstance(field_name, str) or field_name not in payload or payload[field_name].type not in ("user", "office"):
                    self.problem(path + ("assign", slot), f"assignment '{slot}' must name a payload field of type user or office")
                    continue
                assign[slot] = field_name
            notify = self.load_notify(path, entry.get("notify", []))
            for spec in notify:
                if spec.when is not None and spec.when not in to_choices:
                    self.problem(("@value", f'when = "{spec.when}"') + path + ("notify",),
                                 f"notify when = '{spec.when}' is not one of the targets of '{code}'")
            if len(self.problems) > before:
                continue
            actions[code] = Action(
                code=code, name_zh=entry["name_zh"], name_en=entry["name_en"], from_stages=tuple(froms),
                kind=kind, roles=frozenset(roles), to=to, to_choices=to_choices, choose_by=choose_by,
                guards=guards, important=entry.get("important", False), reason_required=reason_required,
                duty=duty, duty_holders=holders, payload=payload, assign=assign, notify=notify,
                line=self.src.line_of(*path),
            )
        return actions

    def load_guards(self, path: tuple, entries: list, payload: Mapping[str, FieldSpec]) -> tuple[GuardRef, ...]:
        guards = []
        for entry in entries:
            gpath = path + ("guards",)
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                self.problem(gpath, "each guard must be a table with a name, e.g. { name = \"is_sender\" }")
                continue
            name = entry["name"]
            gpath = ("@value", f'"{name}"') + gpath
            guard = GUARDS.get(name)
            if guard is None:
                self.problem(gpath, f"unknown guard '{name}'; known: {', '.join(sorted(GUARDS))}")
                continue
            params = {k: v for k, v in entry.items() if k != "name"}
            for key, value in params.items():
                if key not in guard.params:
                    self.problem(gpath, f"guard '{name}' takes no parameter '{key}'")
                    continue
                kind = guard.params[key][0]
                if kind == "str" and not isinstance(value, str) or kind == "str_list" and not (
                        isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    self.problem(gpath, f"parameter '{key}' of guard '{name}' must be {'a string' if kind == 'str' else 'a list of strings'}")
                    continue
                if key in FIELD_PARAMS:
                    for field_name in ([value] if isinstance(value, str) else value):
                        if field_name not in payload:
                            self.problem(gpath, f"guard '{name}' refers to payload field '{field_name}', which the action does not declare")
            for key, (_, required) in guard.params.items():
                if required and key not in params:
                    self.problem(gpath, f"guard '{name}' needs parameter '{key}'")
            guards.append(GuardRef(name, params))
        return tuple(guards)

    def load_notify(self, path: tuple, entries: list) -> tuple[NotifySpec, ...]:
        notify = []
        for entry in entries:
            npath = path + ("notify",)
            if isinstance(entry, dict) and isinstance(entry.get("to"), str):
                npath = ("@value", f'"{entry["to"]}"') + npath
            if not self.table(npath, entry, _NOTIFY, "notify entry"):
                continue
            spec = NotifySpec(entry["to"], entry["template"], entry.get("when"))
            if spec.target_kind == "role":
                if spec.target_arg not in ROLE_CODES:
                    self.problem(npath, f"notify names unknown role '{spec.target_arg}'")
            elif spec.target_kind == "assigned":
                if not spec.target_arg:
                    self.problem(npath, "notify 'assigned:' needs a slot name")
            elif spec.to not in NOTIFY_TARGETS:
                self.problem(npath, f"notify target '{spec.to}' must be one of {', '.join(NOTIFY_TARGETS)}, role:<code> or assigned:<slot>")
            if not _CODE.match(spec.template):
                self.problem(npath, f"template key '{spec.template}' must be lower_snake_case")
            notify.append(spec)
        return tuple(notify)

    def check_slots(self, actions: Mapping[str, Action], slot_duties: Mapping[str, str]) -> None:
        assigned = {slot for a in actions.values() for slot in a.assign}
        for action in actions.values():
            path = ("action", self._index_of(action))
            for guard in action.guards:
                if guard.name == "is_assigned" and guard.params["slot"] not in assigned:
                    self.problem(("@value", f'"{guard.params["slot"]}"') + path + ("guards",),
                                 f"guard is_assigned names slot '{guard.params['slot']}', which no action assigns")
            for spec in action.notify:
                if spec.target_kind == "assigned" and spec.target_arg not in assigned:
                    self.problem(("@value", f'"{spec.to}"') + path + ("notify",),
                                 f"notify names slot '{spec.target_arg}', which no action assigns")
        for slot in slot_duties:
            if slot not in assigned:
                self.problem(("separation", "slot_duties", slot), f"slot '{slot}' is not assigned by any action")

    def _index_of(self, action: Action) -> int:
        for i, entry in enumerate(self.src.data["action"]):
            if isinstance(entry, dict) and entry.get("code") == action.code:
                return i
        return 0

    def check_graph(self, start: str, stages: Mapping[str, Stage], actions: Mapping[str, Action]) -> None:
        reached = {start}
        queue = deque([start])
        while queue:
            stage = queue.popleft()
            for action in actions.values():
                if stage in action.from_stages:
                    for target in action.targets:
                        if target not in reached:
                            reached.add(target)
                            queue.append(target)
        for i, (code, stage) in enumerate(stages.items()):
            if code not in reached:
                self.problem(("stage", i), f"stage '{code}' cannot be reached from '{start}' by any action")
            elif not stage.is_end and not any(code in a.from_stages for a in actions.values()):
                self.problem(("stage", i), f"stage '{code}' is not an end stage but no action leaves it")
        if not any(s.is_end for s in stages.values()):
            self.problem(("workflow",), "the workflow has no end stage")


def parse_definition(text: str, origin: str = "<workflow>") -> Definition:
    src = TomlSource.parse(text, origin, error=WorkflowDefinitionError)
    return _Loader(src).load()


def load_definition(path: str | Path) -> Definition:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkflowDefinitionError(str(path), [(0, f"cannot read the workflow definition: {exc.strerror}")]) from None
    return parse_definition(text, str(path))


def configured_path(environ: Mapping[str, str] | None = None) -> Path:
    """The bank's file named by LOANCTL_WORKFLOW, else the default that follows product.md."""
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_VAR)
    return Path(value) if value else DEFAULT_PATH


def load_configured(environ: Mapping[str, str] | None = None) -> Definition:
    return load_definition(configured_path(environ))
