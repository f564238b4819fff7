"""Request schemas that both validate input and describe it in the OpenAPI document.

One declaration per operation: the route, its body and query fields, its answers. The
OpenAPI document is generated from the same objects the handlers validate with, so the two
cannot drift apart.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web

from .context import PRINCIPAL
from .errors import InvalidInput, Unauthenticated, MalformedRequest, NotFound, UnsupportedMediaType
# ID_MAX and INT64_MAX are re-exported: the API modules declare their fields with them.
from .inputs import (ID_MAX, INT64_MAX, INT64_MIN, MAX_JSON_DEPTH, MAX_NUMBER_DIGITS,  # noqa: F401
                     check_text, parse_id)

_JSON_TYPES = {"string": str, "integer": int, "boolean": bool, "number": (int, float),
               "array": list, "object": dict}


def path_id(request: web.Request, name: str) -> int:
    """The id in the path, or 404: what a missing row answers."""
    value = parse_id(request.match_info[name])
    if value is None:
        raise NotFound(f"{name} not found")
    return value


@dataclass(frozen=True)
class Field:
    type: str
    required: bool = True
    description: str = ""
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple | None = None
    pattern: str | None = None
    items: "Field | None" = None
    max_items: int | None = None
    nullable: bool = False

    def check(self, name: str, value: Any) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise InvalidInput(f"{name} may not be null", details={name: "null"})
        expected = _JSON_TYPES[self.type]
        if isinstance(value, bool) and self.type in ("integer", "number"):
            raise InvalidInput(f"{name} must be a {self.type}", details={name: "type"})
        if not isinstance(value, expected):
            raise InvalidInput(f"{name} must be a {self.type}", details={name: "type"})
        if self.type == "string":
            check_text(name, value)
            if self.min_length is not None and len(value) < self.min_length:
                raise InvalidInput(f"{name} must have at least {self.min_length} characters",
                                   details={name: "min_length"})
            if len(value) > (self.max_length or 10_000):
                raise InvalidInput(f"{name} may have at most {self.max_length or 10_000} characters",
                                   details={name: "max_length"})
            # ASCII: \d and \w would also take '²', '١', fullwidth digits
            if self.pattern and not re.fullmatch(self.pattern, value, re.ASCII):
                raise InvalidInput(f"{name} has the wrong format", details={name: "pattern"})
        if self.type in ("integer", "number"):
            if value < self.lowest:
                raise InvalidInput(f"{name} must be at least {self.lowest}", details={name: "minimum"})
            if value > self.highest:
                raise InvalidInput(f"{name} must be at most {self.highest}", details={name: "maximum"})
        if self.enum is not None and value not in self.enum:
            raise InvalidInput(f"{name} must be one of {', '.join(map(str, self.enum))}",
                               details={name: "enum"})
        if self.type == "array":
            if len(value) > (self.max_items or 1000):
                raise InvalidInput(f"{name} has too many items", details={name: "max_items"})
            if self.items is not None:
                value = [self.items.check(f"{name}[{i}]", item) for i, item in enumerate(value)]
        return value

    @property
    def lowest(self) -> int:
        return self.minimum if self.minimum is not None else INT64_MIN

    @property
    def highest(self) -> int:
        return self.maximum if self.maximum is not None else INT64_MAX

    def to_openapi(self) -> dict:
        schema: dict[str, Any] = {"type": self.type}
        for key, attr in (("description", "description"), ("minLength", "min_length"),
                          ("maxLength", "max_length"), ("minimum", "minimum"), ("maximum", "maximum"),
                          ("pattern", "pattern"), ("maxItems", "max_items")):
            value = getattr(self, attr)
            if value not in (None, ""):
                schema[key] = value
        if self.pattern:
            # Checked with re.fullmatch: the published pattern says so (JSON Schema's is a search).
            schema["pattern"] = _anchored(self.pattern)
        if self.type == "string" and self.max_length is None:
            schema["maxLength"] = 10_000
        if self.type in ("integer", "number"):
            schema["minimum"], schema["maximum"] = self.lowest, self.highest
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.items is not None:
            schema["items"] = self.items.to_openapi()
        if self.nullable:
            schema["nullable"] = True
        return schema


def _anchored(pattern: str) -> str:
    return pattern if pattern.startswith("^") and pattern.endswith("$") else f"^(?:{pattern})$"


def id_field(*, required: bool = True, description: str = "") -> Field:
    """A reference to a row: 1..ID_MAX."""
    return Field("integer", required=required, minimum=1, maximum=ID_MAX, description=description)


def _declared_ranges(where: str, fields: dict[str, Field]) -> None:
    # Every integer says what it can hold: the schema, the check and the column agree.
    for name, spec in fields.items():
        if spec.type in ("integer", "number") and (spec.minimum is None or spec.maximum is None):
            raise TypeError(f"{where}: integer field {name} needs a declared minimum and maximum")
        if spec.items is not None:
            _declared_ranges(where, {f"{name}[]": spec.items})


@dataclass(frozen=True)
class Body:
    """A JSON object body: known fields only, each checked."""

    name: str
    fields: dict[str, Field]

    def validate(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise InvalidInput("the body must be a JSON object")
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise InvalidInput(f"unknown field(s): {', '.join(unknown)}",
                               details={name: "unknown" for name in unknown})
        clean: dict[str, Any] = {}
        for name, spec in self.fields.items():
            if name not in data:
                if spec.required:
                    raise InvalidInput(f"{name} is required", details={name: "required"})
                continue
            clean[name] = spec.check(name, data[name])
        return clean

    def to_openapi(self) -> dict:
        return {
            "type": "object", "additionalProperties": False,
            "properties": {name: spec.to_openapi() for name, spec in self.fields.items()},
            "required": [name for name, spec in self.fields.items() if spec.required],
        }


Handler = Callable[..., Awaitable[web.StreamResponse]]


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    body: Body | None
    query: dict[str, Field]
    responses: dict[int, str]
    tag: str
    public: bool
    handler: Handler | None = None
    produces: str | tuple[str, ...] = "application/json"
    """The media type(s) of the success answers (e.g. application/zip); errors are always JSON."""


ERROR_SCHEMA = {
    "type": "object", "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                   "details": {"type": "object"}},
}


@dataclass
class ApiRoutes:
    """Collects the API's operations; `apply` adds them to an aiohttp application."""

    operations: list[Operation] = field(default_factory=list)
    extra_paths: dict[str, dict[str, dict]] = field(default_factory=dict)

    def route(self, method: str, path: str, *, summary: str, body: Body | None = None,
              query: dict[str, Field] | None = None, responses: dict[int, str] | None = None,
              tag: str = "core", public: bool = False, produces: str | tuple[str, ...] = "application/json"):
        where = f"{method} {path}"
        _declared_ranges(where, query or {})
        if body is not None:
            _declared_ranges(where, body.fields)

        def register(handler: Handler) -> Handler:
            self.operations.append(Operation(method, path, summary, body, query or {},
                                             responses or {200: "OK"}, tag, public, handler, produces))
            return handler
        return register

    def document(self, path: str, operations: dict[str, dict]) -> None:
        """Describe operations served outside these routes (e.g. the tus uploads sub-application)
        in the same document: ``{"post": {OpenAPI operation}, ...}``."""
        self.extra_paths[path] = operations

    def apply(self, app: web.Application) -> None:
        for op in self.operations:
            app.router.add_route(op.method, op.path, _validating(op))

    def openapi(self, *, title: str, version: str, prefix: str) -> dict:
        paths: dict[str, dict] = {}
        for op in self.operations:
            entry: dict[str, Any] = {
                "summary": op.summary, "tags": [op.tag],
                "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower()).strip('_')}",
                "responses": {},
            }
            params = [{"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}
                      for name in re.findall(r"{(\w+)}", op.path)]
            params += [{"name": name, "in": "query", "required": spec.required,
                        "schema": spec.to_openapi()} for name, spec in op.query.items()]
            if params:
                entry["parameters"] = params
            if op.body is not None:
                entry["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.name}"}}}}
            for status, text in op.responses.items():
                if status >= 400:
                    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                elif op.produces == "application/json":
                    content = {"application/json": {"schema": {"type": "object"}}}
                else:
                    types = (op.produces,) if isinstance(op.produces, str) else op.produces
                    content = {t: {"schema": {"type": "string", "format": "binary"}} for t in types}
                entry["responses"][str(status)] = {"description": text}
                if status not in (204, 304):
                    entry["responses"][str(status)]["content"] = content
            for status, text in _COMMON_ERRORS(op).items():
                entry["responses"].setdefault(str(status), {
                    "description": text,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
            if "400" in entry["responses"]:
                # A request line or header the HTTP parser refuses is answered before any handler,
                # in plain text.
                entry["responses"]["400"].setdefault("content", {})["text/plain"] = {"schema": {"type": "string"}}
            if not op.public:
                entry["security"] = [{"session": []}]
            paths.setdefault(prefix + op.path, {})[op.method.lower()] = entry
        for path, operations in self.extra_paths.items():
            paths.setdefault(prefix + path, {}).update(operations)
        schemas = {"Error": ERROR_SCHEMA}
        schemas.update({op.body.name: op.body.to_openapi() for op in self.operations if op.body})
        return {
            "openapi": "3.0.3",
            "info": {"title": title, "version": version},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "las_session",
                                                "description": "Session cookie; state-changing "
                                                "requests also need the X-CSRF-Token header."}},
            },
        }


def _COMMON_ERRORS(op: Operation) -> dict[int, str]:
    errors = {400: "Malformed request (e.g. a request line or header the HTTP parser refuses)",
              429: "Too many requests",
              503: "Busy or the database unreachable: retry after the Retry-After seconds"}
    if not op.public:
        errors.update({401: "Not signed in", 403: "Not allowed, or CSRF check failed"})
    changes = op.method not in ("GET", "HEAD", "OPTIONS")
    if changes:
        # Every state-changing request passes the CSRF/origin check, and may lose a race.
        errors.update({403: "Not allowed, or CSRF check failed",
                       409: "Conflicts with the current state, or lost a race with another change"})
    if "{" in op.path or op.body is not None:
        errors[404] = "Not found or outside the caller's scope (the object named in the path or body)"
    if op.query:
        errors[422] = "Invalid or unknown query parameter"
    if op.body is not None:
        errors.update({400: "Malformed JSON", 413: "Body too large", 415: "Body is not JSON",
                       422: "Invalid input"})
    return errors


def _validating(op: Operation) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if not op.public and request.get(PRINCIPAL) is None:
            # Strangers learn nothing about the operation, not even what input it wants.
            raise Unauthenticated("sign in first")
        kwargs: dict[str, Any] = {}
        for name in re.findall(r"{(\w+)}", op.path):
            kwargs[name] = path_id(request, name)
        if op.query:
            kwargs["query"] = _query(op.query, request)
        if op.body is not None:
            kwargs["body"] = op.body.validate(await read_json(request))
        return await op.handler(request, **kwargs)
    handler.__name__ = op.handler.__name__
    return handler


def _query(fields: dict[str, Field], request: web.Request) -> dict[str, Any]:
    unknown = sorted(set(request.query) - set(fields))
    if unknown:
        raise InvalidInput(f"unknown query parameter(s): {', '.join(unknown)}")
    clean: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in request.query:
            if spec.required:
                raise InvalidInput(f"{name} is required")
            continue
        raw = check_text(name, request.query[name])
        if spec.type == "integer":
            if not re.fullmatch(r"-?[0-9]{1,%d}" % MAX_NUMBER_DIGITS, raw):
                raise InvalidInput(f"{name} must be an integer", details={name: "type"})
            value: Any = int(raw)
        elif spec.type == "boolean":
            if raw not in ("true", "false"):
                raise InvalidInput(f"{name} must be true or false", details={name: "type"})
            value = raw == "true"
        else:
            value = raw
        clean[name] = spec.check(name, value)
    return clean


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("the body must be sent as application/json")
    return parse_json(await request.read())


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def _json_depth(raw: bytes) -> int:
    """The deepest nesting of a JSON text, found without parsing it (strings blanked first)."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break
        else:
            depth -= 1
    return deepest


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise MalformedRequest(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _finite_float(text: str) -> float:
    if len(text) > 64:
        raise MalformedRequest("a number is written with more than 64 characters")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise MalformedRequest("a number is out of range")
    return value


def _no_constant(text: str) -> Any:
    raise MalformedRequest(f"{text} is not JSON")


def _check_strings(value: Any, where: str = "body") -> None:
    if isinstance(value, str):
        check_text(where, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(where, key)
            _check_strings(item, key)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, where)


def parse_json(raw: bytes) -> Any:
    """The one JSON reader of request bodies: nesting and number sizes bounded before and
    while parsing, NUL and lone surrogates refused in every string and key (4xx, never 500)."""
    if _json_depth(raw) > MAX_JSON_DEPTH:
        raise MalformedRequest(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(raw, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedRequest(f"malformed JSON: {error}") from None
    except (RecursionError, ValueError):
        raise MalformedRequest("malformed JSON") from None
    _check_strings(value)
    return value


