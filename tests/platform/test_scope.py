"""The scope matrix: each role lists, reads and writes only what it may; the rest is 404."""
from __future__ import annotations

import pytest

from tests.loans.walk import credential_step_up


@pytest.fixture
async def cases(suite):
    return {
        "east": await suite.add_loan(office="SC-E", stage="investigation", officer_a="officer.e.a",
                                     officer_b="officer.e.b", applicant="applicant"),
        "west": await suite.add_loan(office="SC-W", stage="investigation", officer_a="officer.w.a",
                                     officer_b="officer.w.b"),
        "chengguan": await suite.add_loan(office="CU-CG", stage="review", officer_a="officer.cg"),
        "hekou": await suite.add_loan(office="CU-HK", stage="disbursement", officer_a="officer.hk"),
        "intake": await suite.add_loan(office="IC", stage="submitted"),
    }


EVERYTHING = {"east", "west", "chengguan", "hekou", "intake"}
VISIBLE = {
    "chairman": EVERYTHING,
    "manager.cg": {"chengguan"},
    "manager.hk": {"hekou"},
    "officer.e.a": {"east"},
    "officer.e.b": {"east"},
    "officer.w.a": {"west"},
    "officer.cg": {"chengguan"},
    "reviewer": {"chengguan"},
    "accountant.cg": set(),
    "accountant.hk": {"hekou"},
    "intake.head": {"intake"},
    "applicant": {"east"},
    "archivist": EVERYTHING,
    "admin": set(),
    "member01": set(),
}
QUEUE = {"officer.e.a": {"east"}, "reviewer": {"chengguan"}, "accountant.hk": {"hekou"},
         "intake.head": {"intake"}, "manager.cg": set(), "chairman": set(), "applicant": set()}


@pytest.mark.parametrize("username", sorted(VISIBLE))
async def test_list_read_write_follow_scope(suite, cases, username):
    client = await suite.login(username)
    names = {v: k for k, v in cases.items()}
    listed = await client.json("GET", "/api/loans")
    assert {names[item["id"]] for item in listed["items"]} == VISIBLE[username]
    for name, loan_id in cases.items():
        read = await client.request("GET", f"/api/loans/{loan_id}")
        write = await client.request("POST", f"/api/loans/{loan_id}/notes", {"text": f"{username} was here"})
        if name in VISIBLE[username]:
            assert read.status == 200
            assert write.status == 201
        else:
            # Out of scope looks exactly like missing: 404 with the same body as a loan that never was.
            assert read.status == write.status == 404
            missing = await client.request("GET", "/api/loans/999999")
            assert (await read.json())["error"] == (await missing.json())["error"] == "not_found"


@pytest.mark.parametrize("username", sorted(QUEUE))
async def test_work_queue_holds_only_own_work(suite, cases, username):
    client = await suite.login(username)
    names = {v: k for k, v in cases.items()}
    queue = await client.json("GET", "/api/queue")
    assert {names[item["id"]] for item in queue["items"]} == QUEUE[username]


async def test_denied_write_stores_nothing(suite, cases):
    outsider = await suite.login("officer.w.a")
    await outsider.json("POST", f"/api/loans/{cases['east']}/notes", {"text": "sneaky"}, expect=404)
    owner = await suite.login("officer.e.a")
    loan = await owner.json("GET", f"/api/loans/{cases['east']}")
    assert loan["notes"] == []


async def test_users_and_offices_scope(suite):
    offices, users = await suite.ids()
    manager = await suite.login("manager.cg")
    listed = {u["username"] for u in (await manager.json("GET", "/api/users"))["items"]}
    assert {"officer.cg", "accountant.cg", "postloan.cg", "manager.cg"} <= listed
    assert not listed & {"officer.hk", "admin", "chairman", "officer.e.a"}
    await manager.json("GET", f"/api/users/{users['officer.hk']}", expect=404)
    office_codes = {o["id"] for o in (await manager.json("GET", "/api/offices"))["items"]}
    assert office_codes == {offices["SB-CG"], offices["CU-CG"], offices["SO-DJ"]}

    officer = await suite.login("officer.cg")
    assert [u["username"] for u in (await officer.json("GET", "/api/users"))["items"]] == ["officer.cg"]
    await officer.json("GET", f"/api/users/{users['accountant.cg']}", expect=404)
    # Seeing oneself is not administering: a non-admin cannot change users or offices.
    await officer.json("PATCH", f"/api/users/{users['officer.cg']}", {"roles": ["admin"]}, expect=403)
    await officer.json("PATCH", f"/api/offices/{offices['CU-CG']}", {"name_zh": "改名"}, expect=403)


async def test_branch_administrator_is_confined_to_its_subtree(suite):
    offices, users = await suite.ids()
    admin = await suite.login("admin")
    await admin.json("POST", "/api/users", await credential_step_up(suite, admin, {
        "username": "admin.cg", "display_name": "城关支行管理员", "office_id": offices["SB-CG"],
        "roles": ["admin"], "password": "Long enough passphrase 1"}), expect=201)
    branch_admin = await suite.login("admin.cg", "Long enough passphrase 1")
    created = await branch_admin.json("POST", "/api/users", await credential_step_up(suite, branch_admin, {
        "username": "officer.new", "display_name": "新客户经理", "office_id": offices["CU-CG"],
        "roles": ["loan_officer"], "password": "Another good passphrase"}), expect=201)
    assert created["roles"] == ["loan_officer"]
    await branch_admin.json("POST", "/api/users", {
        "username": "officer.hk2", "display_name": "河口", "office_id": offices["CU-HK"],
        "roles": ["loan_officer"], "password": "Another good passphrase"}, expect=404)
    await branch_admin.json("PATCH", f"/api/users/{users['officer.hk']}", {"active": False}, expect=404)
    await branch_admin.json("PATCH", f"/api/offices/{offices['HO']}", {"name_zh": "x"}, expect=404)
    await branch_admin.json("POST", "/api/users", {
        "username": "boss", "display_name": "x", "office_id": offices["CU-CG"], "roles": ["chairman"],
        "password": "Another good passphrase"}, expect=403)
