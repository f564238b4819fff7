"""The OpenAPI document describes exactly what the server serves; random bodies never give a 5xx."""
from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings, strategies as st

from core.api import routes


def _served(app) -> set[tuple[str, str]]:
    served = set()
    api = next(r for r in app.router.resources() if getattr(r, "_prefix", None) == "/api")._app
    for route in api.router.routes():
        if route.method in ("HEAD", "*"):
            continue
        path = route.resource.canonical
        served.add((route.method, re.sub(r"^/api", "", path)))
    # The tus uploads are a sub-application of their own at /api/uploads/, documented too.
    uploads = next(r for r in app.router.resources() if getattr(r, "_prefix", None) == "/api/uploads")._app
    for route in uploads.router.routes():
        served.add((route.method, re.sub(r"^/api", "", route.resource.canonical)))
    return served


async def test_document_matches_routes(suite):
    client = await suite.client()
    document = await client.json("GET", "/api/openapi.json")
    documented = {(method.upper(), path.removeprefix("/api"))
                  for path, item in document["paths"].items() for method in item}
    assert documented == _served(suite.server.app)
    assert document["openapi"].startswith("3.")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            if "requestBody" in operation:
                if "application/json" not in operation["requestBody"]["content"]:
                    continue  # a tus PATCH: bytes
                name = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
                assert document["components"]["schemas"][name]["additionalProperties"] is False


async def test_document_names_content_types_anchored_patterns_and_405_allow(suite):
    client = await suite.client()
    document = await client.json("GET", "/api/openapi.json")
    paths = document["paths"]
    ok = lambda path: set(paths[f"/api{path}"]["get"]["responses"]["200"]["content"])  # noqa: E731
    assert ok("/archive/loans/{loan_id}/export.zip") == {"application/zip"}
    assert ok("/archive/loans/{loan_id}/export.pdf") == {"application/pdf"}
    assert ok("/insight/chart.svg") == {"image/svg+xml"}
    assert "image/jpeg" in ok("/archive/loans/{loan_id}/pages/{document_id}")
    assert {"post", "options"} <= set(paths["/api/uploads/"])
    assert "460" in paths["/api/uploads/{upload_id}"]["patch"]["responses"]
    assert "422" in paths["/api/loans"]["get"]["responses"]  # unknown query parameters
    patterns = re.findall(r'"pattern": "((?:[^"\\]|\\.)*)"', json.dumps(document))
    assert patterns and all(p.startswith("^") and p.endswith("$") for p in patterns)
    # A method the resource does not have: 405 naming the ones it has.
    client = await suite.login("chairman")
    response = await client.request("PUT", "/api/loans", {})
    assert response.status == 405 and "GET" in response.headers["Allow"]
    assert (await response.json())["error"] == "method_not_allowed"
    response = await client.request("PUT", "/api/uploads/", headers={"Tus-Resumable": "1.0.0"})
    assert response.status == 405 and "POST" in response.headers["Allow"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)


def _bodies(operation):
    fields = operation.body.fields
    known = st.fixed_dictionaries({}, optional={name: json_values for name in fields})
    return st.one_of(known, json_values, st.dictionaries(st.sampled_from(sorted(fields)), json_values))


def _samples(strategy, count: int) -> list:
    """Draw bodies with hypothesis up front; the app is then probed with each of them."""
    drawn = []

    @settings(max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(value=strategy)
    def collect(value):
        drawn.append(value)
    collect()
    return drawn


async def test_random_bodies_never_break_the_server(suite):
    admin = await suite.login("admin")
    writes = [op for op in routes.operations if op.body is not None and not op.public]
    failures = []
    for operation in writes:
        path = "/api" + re.sub(r"{\w+}", "1", operation.path)
        for body in _samples(_bodies(operation), 30):
            response = await admin.request(operation.method, path, body)
            payload = await response.json()
            if response.status >= 500 or (response.status >= 400 and "error" not in payload):
                failures.append((operation.method, path, json.dumps(body)[:200], response.status))
    assert failures == []
