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


# --- issue 13: input that used to reach a 500 ------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000
LONG_NUMBER = b'{"username": "admin", "password": ' + b"9" * 5000 + b"}"


async def _raw(client, method: str, path: str, data: bytes, csrf: str | None = None):
    headers = {"Content-Type": "application/json"}
    if csrf:
        headers["X-CSRF-Token"] = csrf
    response = await client.request(method, path, data=data, headers=headers)
    return response.status, await response.json()


async def test_deep_json_and_huge_numbers_are_refused_before_parsing(suite):
    """Nested 100k deep or a 5,000-digit number: 400 JSON on every endpoint, signed in or not
    (sign-in, feedback, ratings, applications, offices), and nothing is written."""
    admin = await suite.login("admin")
    applicant = await suite.login("applicant")
    stranger = await suite.client()
    before = await _counts(suite)
    targets = [(stranger, "POST", "/api/session", None), (stranger, "POST", "/api/feedback", None),
               (stranger, "POST", "/api/ratings", None), (admin, "POST", "/api/offices", admin.csrf),
               (applicant, "POST", "/api/applications", applicant.csrf)]
    deep_object = b'{"a":' * 50 + b"1" + b"}" * 50
    for who, method, path, csrf in targets:
        for data in (DEEP, LONG_NUMBER, deep_object, b'{"amount": 1e999}', b'{"amount": NaN}'):
            status, body = await _raw(who.client, method, path, data, csrf)
            assert status == 400 and body["error"] == "malformed_json", (path, data[:20], status, body)
    assert await _counts(suite) == before


INT64_OVER = 2**63
INT32_OVER = 2**31


async def test_integers_have_declared_ranges(suite):
    """Above 2^63-1 (or an id above what the id column holds): 422, never 500."""
    from core.api import routes

    # Every integer of every operation declares its range, and the OpenAPI document says it.
    spec = (await (await suite.client()).json("GET", "/api/openapi.json"))
    for schema in spec["components"]["schemas"].values():
        for name, prop in schema.get("properties", {}).items():
            if prop.get("type") in ("integer", "number"):
                assert "minimum" in prop and "maximum" in prop, name
    for op in routes.operations:
        for name, field_ in op.query.items():
            if field_.type == "integer":
                assert field_.minimum is not None and field_.maximum is not None, (op.path, name)
    admin = await suite.login("admin")
    applicant = await suite.login("applicant")
    offices, _ = await suite.ids()
    before = await _counts(suite)
    for value in (INT64_OVER, INT32_OVER, -INT64_OVER - 1, 10**23):
        await admin.json("POST", "/api/offices", _office(offices, parent_id=value), expect=422)
        await admin.json("POST", "/api/users", {"username": "big.id", "display_name": "x", "office_id": value,
                                                "roles": ["loan_officer"], "password": "Some long passphrase"},
                         expect=422)
        await admin.json("GET", f"/api/users?office_id={value}", expect=422)
        await admin.json("GET", f"/api/loans?before_id={value}", expect=422)
        await admin.json("POST", "/api/step-up", {"loan_id": value, "action": "x", "payload_sha256": "0" * 64,
                                                  "image_base64": "AAAA"}, expect=422)
    await admin.json("GET", "/api/loans?before_id=" + "9" * 5000, expect=422)
    from tests.loans.walk import application
    for amount in (INT64_OVER - 1, INT64_OVER, 10**16):
        refused = await applicant.json("POST", "/api/applications", {
            "action": "apply", "payload": {**application("personal_consumer"), "amount": amount}}, expect=422)
        assert "amount" in refused["message"]
    assert await _counts(suite) == before


@pytest.mark.parametrize("bad", ["\ud800", "a\udfffb", "nul\x00byte"], ids=["lone-high", "lone-low", "nul"])
async def test_lone_surrogates_and_nul_are_refused(suite, bad):
    admin = await suite.login("admin")
    applicant = await suite.login("applicant")
    stranger = await suite.client()
    offices, _ = await suite.ids()
    before = await _counts(suite)
    for who, path, body in (
            (admin, "/api/offices", _office(offices, name_zh=bad)),
            (admin, "/api/offices", {**_office(offices), bad: 1}),
            (admin, "/api/users", {"username": "u1", "display_name": bad, "office_id": offices["HO"],
                                   "roles": ["loan_officer"], "password": "Some long passphrase"}),
            (applicant, "/api/applications", {"action": "apply", "payload": {
                "product": "personal_consumer", "amount": 100, "term_months": 12, "purpose": bad,
                "customer_name": "张三", "id_number": "110101199001011234", "phone": "13800000000"}}),
            (stranger, "/api/feedback", {"topic": "other", "text": bad}),
            (stranger, "/api/session", {"username": bad, "password": "x"})):
        response = await who.request("POST", path, body)
        answer = await response.json()
        assert response.status == 422 and set(answer) >= {"error", "message"}, (path, response.status, answer)
    response = await admin.request("GET", "/api/loans?stage=%00")
    assert response.status == 422 and "error" in await response.json()
    # A surrogate cannot be percent-encoded as UTF-8: its bytes arrive undecoded, a harmless text.
    for query in ("stage=%ED%A0%80", "stage=a%ED%BF%BFb", "stage=%C0%80"):
        response = await admin.request("GET", f"/api/loans?{query}")
        assert response.status < 500 and await response.json(), query
    assert await _counts(suite) == before
    # The sign-in form too (not JSON): refused, no session (an undecodable name is just a
    # wrong name: a refused sign-in, audited as such).
    from urllib.parse import quote
    form = await stranger.client.post(
        "/login", data=f"username={quote(bad, errors='surrogatepass')}&password=x".encode(),
        headers={"Origin": str(suite.server.make_url("")).rstrip("/"),
                 "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status in (401, 422) and not form.cookies


async def test_path_ids_are_ascii_digits(suite):
    admin = await suite.login("chairman")
    loan = await suite.add_loan(office="SC-E", stage="investigation")
    for path in ("/api/loans/²", "/api/loans/١", "/api/loans/１", "/api/loans/٣", f"/api/loans/{INT32_OVER}",
                 "/api/loans/0", "/api/committee/meetings/²", "/api/users/١"):
        response = await admin.request("GET", path)
        assert response.status == 404 and (await response.json())["error"] == "not_found", path
    assert (await admin.request("GET", f"/api/loans/{loan}")).status == 200
    for page in ("/loans/١", "/loans/²", f"/loans/{INT32_OVER}", "/committee/meetings/１"):
        assert (await admin.client.get(page)).status == 404, page


async def test_dates_have_a_sane_window(suite):
    from core.workflow.errors import InvalidPayload
    from core.workflow.payload import FieldSpec, check_payload

    convener = await suite.login("convener")
    for when in ("9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+08:00",
                 "2001-01-01T00:00:00+00:00"):
        refused = await convener.json("POST", "/api/committee/meetings", {"loan_id": 1, "meeting_at": when},
                                      expect=422)
        assert refused["details"] == {"meeting_at": "range"}
    specs = {"at": FieldSpec("at", "datetime"), "on": FieldSpec("on", "date", required=False)}
    for payload in ({"at": "9999-12-31T23:59:59+00:00"}, {"at": "0001-01-01T00:00:00+00:00"},
                    {"at": "2030-01-01T09:00:00+08:00", "on": "9999-12-31"}):
        with pytest.raises(InvalidPayload):
            check_payload(specs, payload)
    assert check_payload(specs, {"at": "2030-01-01T09:00:00+08:00"})["at"].year == 2030


async def test_amounts_follow_the_rule_table_and_sums_never_overflow(suite):
    """An application above the product's limit is refused; amounts already stored at the
    64-bit edge (an old row, an import) still let every dashboard answer."""
    from tests.loans.walk import application

    applicant = await suite.login("applicant")
    rules = suite.services.workflow.rules.at(__import__("datetime").date.today())
    limit = rules.product("personal_consumer").max_amount_fen
    refused = await applicant.json("POST", "/api/applications", {
        "action": "apply", "payload": {**application("personal_consumer"), "amount": limit + 1}}, expect=422)
    assert "largest" in refused["message"]
    await applicant.json("POST", "/api/applications", {
        "action": "apply", "payload": {**application("personal_consumer"), "amount": limit}}, expect=201)
    for _ in range(3):
        await suite.add_loan(office="SC-E", stage="investigation", amount_fen=2**63 - 1)
    for who in ("chairman", "manager.ho"):
        client = await suite.login(who)
        dashboard = await client.json("GET", "/api/insight/dashboard")
        assert dashboard
        for path in ("/api/insight/chart.svg", "/api/insight/export?format=csv&table=by_product",
                     "/api/insight/export?format=xlsx"):
            assert (await client.request("GET", path)).status == 200, path


async def test_scanner_resolution_is_bounded(suite):
    from tests.loans.walk import fresh_capture

    clerk = await suite.login("accountant.cg")
    for dpi in (0, 249, 1201, 5000, 10**20, 1e300):
        body = {"finger": 2, "image_base64": fresh_capture("107_1"), "dpi": dpi}
        refused = await clerk.json("POST", "/api/me/fingerprints", body, expect=422)
        assert refused["details"] == {"dpi": "maximum" if dpi > 1200 else "minimum"}
        await clerk.json("POST", "/api/step-up", {"loan_id": 0, "action": "x", "payload_sha256": "0" * 64,
                                                  "image_base64": fresh_capture("107_3"), "dpi": dpi}, expect=422)
    from biometrics.service import CaptureInput
    from core.errors import InvalidInput
    for dpi in (0, 100, 2000):
        with pytest.raises(InvalidInput):
            CaptureInput.from_json({"image_base64": "AAAA", "dpi": dpi})


def test_logout_clears_the_cookie_with_the_attributes_that_set_it():
    """Over TLS the session cookie is `__Host-` + Secure; a clearing header without Secure is
    ignored by browsers, which would keep the revoked cookie."""
    import ssl

    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from core.api.session import clear_session_cookie, set_session_cookie

    for secure in (True, False):
        request = make_mocked_request("DELETE", "/api/session",
                                      sslcontext=ssl.create_default_context() if secure else None)
        assert request.secure is secure
        set_, cleared = web.Response(), web.Response()
        set_session_cookie(request, set_, "token")
        clear_session_cookie(request, cleared)
        (name, morsel), = set_.cookies.items()
        (cleared_name, clearing), = cleared.cookies.items()
        assert name == cleared_name == ("__Host-las_session" if secure else "las_session")
        for attribute in ("secure", "httponly", "samesite", "path"):
            assert clearing[attribute] == morsel[attribute], attribute
        assert bool(clearing["secure"]) is secure and clearing["max-age"] == "0"


async def test_ids_inside_workflow_payloads_are_bounded_too(suite):
    """Dispatch names an office and two officers: an id above the column, or not ASCII digits,
    is refused as an unknown person (422) before anything else is looked at, step-up included."""
    loan = await suite.add_loan(office="SC-E", stage="dispatch")
    offices, users = await suite.ids()
    head = await suite.login("intake.head")
    good = {"route": "sub_center", "office": offices["SC-E"], "officer_a": users["officer.e.a"],
            "officer_b": users["officer.e.b"]}
    before = await _counts(suite)
    for name in ("office", "officer_a"):
        for bad in (INT64_OVER, INT32_OVER, "²", "١", "１２"):
            refused = await head.json("POST", f"/api/loans/{loan}/commands",
                                      {"action": "dispatch_officers", "payload": {**good, name: bad}}, expect=422)
            assert name in refused["message"], refused
    assert await _counts(suite) == before
