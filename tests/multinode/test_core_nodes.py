"""Two `loanctl serve core` nodes on one PostgreSQL serve the same users interchangeably.

Everything a request leans on between requests (sessions, CSRF tokens, login throttling,
idempotency keys, the loan's row lock, outbox leases) lives in the database, so any node can
answer any request. Step-up is off on these nodes (the walk would need a print per command);
tests/multinode/test_step_up_nodes.py checks step-up tokens across nodes with real prints.
"""
from __future__ import annotations

import asyncio
import itertools

import aiohttp
import pytest
from sqlalchemy import func, select

from core import outbox
from core.orm import Customer, Loan, LoanEvent, OutboxMessage
from core.postloan.tables import SmsSubmission
from tests.loans.walk import Walk, application
from tests.multinode.conftest import start_cluster, stop_cluster
from tests.multinode.nodes import nodes_suite, start_node, wait_for
from tests.suite import DEMO_PASSWORD, file_documents

pytestmark = pytest.mark.postgres

PATH = ["submitted", "main_review", "dispatch", "investigation", "investigation_check", "review", "committee",
        "committee_meeting", "approval_notice", "signing", "payment_first_review", "payment_second_review",
        "compliance_review", "disbursement", "active", "closed"]
_id_numbers = itertools.count(1)


def id_number() -> str:
    return f"33010219850101{next(_id_numbers):04d}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running, name = start_cluster(tmp_path_factory, step_up="off", sms=True)
    yield running
    stop_cluster(running, name)


@pytest.fixture
async def nodes(cluster):
    suite = await nodes_suite(cluster.config, cluster.nodes)
    yield suite
    await suite.close()


async def _events(suite, loan_id: int, action: str) -> int:
    async with suite.services.db.unit_of_work(write=False) as session:
        return (await session.execute(select(func.count()).select_from(LoanEvent).where(
            LoanEvent.loan_id == loan_id, LoanEvent.action == action))).scalar_one()


async def test_a_client_alternating_between_nodes_walks_a_loan_to_the_end(nodes):
    walk = await Walk(nodes).start()
    await walk.apply(id_number=id_number())
    seen = ["submitted"]
    while seen[-1] != "closed":
        seen.append(await walk.step())
    assert seen == PATH
    history = await (await walk.as_("chairman")).json("GET", f"/api/loans/{walk.loan_id}/history")
    assert [e["to"] for e in history["items"]] == PATH
    # Every signed-in person's requests really went to both nodes, one after the other.
    for client in walk.clients.values():
        assert set(client.client.used) == set(nodes.bases)


async def test_a_session_and_its_csrf_token_hold_on_every_node(nodes):
    a, b = nodes.bases
    user = await (await nodes.client(a, b)).login("reviewer")      # signs in on A
    me = await user.json("GET", "/api/session")                       # B knows the session
    assert me["username"] == "reviewer" and me["csrf_token"] == user.csrf
    refused = await user.json("DELETE", "/api/session", csrf=False, expect=403)  # on A: no CSRF token
    assert refused["error"] == "csrf"
    await user.json("DELETE", "/api/session")                         # B ends the session
    gone = await user.json("GET", "/api/session", expect=401)         # A no longer knows it
    assert gone["error"] == "unauthenticated"


async def test_concurrent_commands_on_one_loan_split_across_nodes_exactly_one_wins(nodes):
    a, b = nodes.bases
    walk = await Walk(nodes).start()
    await walk.apply(id_number=id_number())
    await file_documents(nodes, walk.loan_id, "APP-FORM", "ID-CARD")
    on_a = await (await nodes.client(a)).login("intake.head")
    on_b = await (await nodes.client(b)).login("intake.head")
    for action, payload in (("preliminary_pass", {"opinion": "材料齐全"}),
                            ("main_review_pass", {"opinion": "符合条件", "risk_level": "low"})):
        body = {"action": action, "payload": payload}
        responses = await asyncio.gather(*(
            client.request("POST", f"/api/loans/{walk.loan_id}/commands", body) for client in (on_a, on_b)))
        statuses = sorted(response.status for response in responses)
        bodies = [await response.json() for response in responses]
        assert statuses == [200, 409], bodies
        loser = next(b for r, b in zip(responses, bodies) if r.status == 409)
        assert loser["error"] in ("wrong_stage", "conflict"), loser
        assert await _events(nodes, walk.loan_id, action) == 1
    assert await walk.stage() == "dispatch"


async def test_a_login_throttle_tripped_on_one_node_holds_on_the_other(nodes):
    a, b = nodes.bases
    on_a, on_b = await nodes.client(a), await nodes.client(b)
    for _ in range(3):  # the nodes trip the account throttle at 3 failures
        denied = await on_a.json("POST", "/api/session", {"username": "archivist", "password": "wrong-password"},
                                 expect=401)
        assert denied["error"] == "login_failed"
    for client in (on_a, on_b):  # even the right password is refused now, on either node
        response = await client.request("POST", "/api/session", {"username": "archivist", "password": DEMO_PASSWORD})
        assert response.status == 429, await response.text()
        assert (await response.json())["error"] == "too_many_requests"
        assert int(response.headers["Retry-After"]) > 0


async def test_the_outbox_sends_each_message_once_with_both_nodes_workers_running(nodes, cluster):
    texts = [f"多节点外发测试 第{n}条" for n in range(40)]
    async with nodes.services.db.unit_of_work() as session:
        queued = [outbox.queue(session, template="multinode_test", text=text, phone=f"1390000{n:04d}")
                  for n, text in enumerate(texts)]
        await session.flush()
        ids = [message.id for message in queued]

    async def all_sent() -> bool:
        async with nodes.services.db.unit_of_work(write=False) as session:
            return (await session.execute(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.id.in_(ids), OutboxMessage.status == "sent"))).scalar_one() == len(ids)
    await wait_for(all_sent, "the nodes' outbox workers send the queued messages")
    received = cluster.smsc.texts()
    assert {text: received.count(text) for text in texts} == {text: 1 for text in texts}
    async with nodes.services.db.unit_of_work(write=False) as session:
        attempts = (await session.execute(select(SmsSubmission.attempts).where(SmsSubmission.outbox_id.in_(ids)))
                    ).scalars().all()
    assert attempts == [1] * len(ids)  # no message was claimed by a second worker


async def test_a_node_killed_mid_burst_loses_no_acknowledged_command(nodes, cluster):
    """A third node takes half of a burst of applications and is killed (SIGKILL) once it has
    acknowledged some, with more in flight. Every acknowledged application is stored; every
    request the dead node never answered is retried on the surviving node with its
    Idempotency-Key, and each ends as exactly one application."""
    survivor = cluster.nodes[0]
    doomed = await asyncio.to_thread(lambda: start_node("C", cluster.config, cluster.workdir, **cluster.settings)
                                     .wait_healthy())
    cluster.extra.append(doomed)
    to_doomed = await nodes.client(doomed.base)
    to_survivor = await nodes.client(survivor.base)
    burst = [(f"burst-{n}-{id_number()}", application("personal_consumer", name=f"突发{n}", id_number=id_number()))
             for n in range(24)]
    acknowledged: dict[str, int] = {}
    unanswered: list[tuple[str, dict]] = []
    doomed_acks = 0
    killed = asyncio.Event()
    gate = asyncio.Semaphore(6)

    async def send(n: int, key: str, payload: dict) -> None:
        nonlocal doomed_acks
        client = to_doomed if n % 2 == 0 else to_survivor
        body = {"action": "apply", "payload": payload}
        async with gate:
            try:
                response = await client.request("POST", "/api/applications", body, headers={"Idempotency-Key": key})
                result = await response.json()
            except (aiohttp.ClientError, asyncio.TimeoutError):
                assert client is to_doomed
                unanswered.append((key, body))
                return
        assert response.status == 201, result
        acknowledged[key] = result["loan"]["id"]
        if client is to_doomed:
            doomed_acks += 1
            if doomed_acks == 4 and not killed.is_set():
                killed.set()
                doomed.kill()

    await asyncio.gather(*(send(n, key, payload) for n, (key, payload) in enumerate(burst)))
    assert killed.is_set() and unanswered, "the node was killed with requests still to answer"
    for key, body in unanswered:  # the client's retry, on the node that is left
        response = await to_survivor.request("POST", "/api/applications", body, headers={"Idempotency-Key": key})
        result = await response.json()
        assert response.status == 201, result
        acknowledged[key] = result["loan"]["id"]
    assert len(acknowledged) == len(burst)
    async with nodes.services.db.unit_of_work(write=False) as session:
        stored = dict((await session.execute(
            select(Customer.id_number, Loan.id).join(Loan, Loan.customer_id == Customer.id).where(
                Customer.id_number.in_([payload["id_number"] for _, payload in burst])))).all())
    # One application per request, and it is the one the client was told about.
    assert sorted(stored.values()) == sorted(acknowledged.values())
    assert {payload["id_number"]: acknowledged[key] for key, payload in burst} == stored
