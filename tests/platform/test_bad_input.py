"""Bad input answers 4xx with a JSON error and changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.orm import AuditRecord, Office, User


async def _counts(suite):
    async with suite.services.db.unit_of_work(write=False) as session:
        return tuple([(await session.execute(select(func.count()).select_from(t))).scalar_one()
                      for t in (Office, User, AuditRecord)])


def _office(offices, **changes):
    body = {"code": "CU-X", "name_zh": "某社", "kind": "credit_union", "parent_id": offices["SB-CG"]}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


BAD_OFFICES = [
    ("wrong type", lambda o: _office(o, parent_id="1"), 422),
    ("boolean for integer", lambda o: _office(o, parent_id=True), 422),
    ("missing field", lambda o: _office(o, name_zh=...), 422),
    ("unknown field", lambda o: _office(o, secret_flag=1), 422),
    ("bad enum", lambda o: _office(o, kind="castle"), 422),
    ("too long", lambda o: _office(o, name_zh="长" * 101), 422),
    ("bad pattern", lambda o: _office(o, code="a b;drop"), 422),
    ("null", lambda o: _office(o, name_zh=None), 422),
    ("not an object", lambda o: ["code"], 422),
    ("nested object", lambda o: _office(o, name_zh={"$ne": ""}), 422),
    ("wrong parent kind", lambda o: _office(o, kind="sub_center"), 422),
    ("unknown parent", lambda o: _office(o, parent_id=987654), 404),
]


@pytest.mark.parametrize("case, make, status", BAD_OFFICES, ids=[c[0] for c in BAD_OFFICES])
async def test_bad_office_bodies(suite, case, make, status):
    admin = await suite.login("admin")
    offices, _ = await suite.ids()
    before = await _counts(suite)
    response = await admin.request("POST", "/api/offices", make(offices))
    body = await response.json()
    assert response.status == status and set(body) >= {"error", "message"}, body
    assert await _counts(suite) == before


async def test_malformed_json_wrong_media_and_oversized(suite):
    admin = await suite.login("admin")
    before = await _counts(suite)
    headers = {"X-CSRF-Token": admin.csrf, "Content-Type": "application/json"}
    response = await admin.client.post("/api/offices", data=b'{"code": "x",', headers=headers)
    assert response.status == 400 and (await response.json())["error"] == "malformed_json"
    response = await admin.client.post("/api/offices", data=b"\xff\xfe\x00", headers=headers)
    assert response.status == 400
    response = await admin.client.post("/api/offices", data="code=x",
                                       headers={"X-CSRF-Token": admin.csrf, "Content-Type": "text/plain"})
    assert response.status == 415 and (await response.json())["error"] == "unsupported_media_type"
    huge = b'{"code": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await admin.client.post("/api/offices", data=huge, headers=headers)
    assert response.status == 413 and (await response.json())["error"] == "payload_too_large"
    assert await _counts(suite) == before


async def test_bad_paths_and_queries(suite):
    admin = await suite.login("admin")
    for path in ("/api/loans/abc", "/api/loans/-1", "/api/loans/99999999999999999999999", "/api/nowhere"):
        response = await admin.request("GET", path)
        assert response.status == 404 and (await response.json())["error"] == "not_found", path
    for query in ("limit=0", "limit=abc", "limit=100000", "bogus=1"):
        response = await admin.request("GET", f"/api/loans?{query}")
        assert response.status == 422, query
    response = await admin.request("PUT", "/api/offices")
    assert response.status == 405 and (await response.json())["error"] == "method_not_allowed"


async def test_unauthenticated_api_calls(suite):
    client = await suite.client()
    for method, path in (("GET", "/api/loans"), ("GET", "/api/users"), ("POST", "/api/offices")):
        response = await client.request(method, path, {} if method == "POST" else None)
        assert response.status == 401 and (await response.json())["error"] == "unauthenticated"


async def test_duplicate_user_and_self_demotion(suite):
    admin = await suite.login("admin")
    offices, users = await suite.ids()
    before = await _counts(suite)
    await admin.json("POST", "/api/users", {"username": "ADMIN", "display_name": "x", "office_id": offices["HO"],
                                             "roles": ["admin"], "password": "Some long passphrase"}, expect=409)
    await admin.json("PATCH", f"/api/users/{users['admin']}", {"roles": ["archivist"]}, expect=422)
    assert await _counts(suite) == before
