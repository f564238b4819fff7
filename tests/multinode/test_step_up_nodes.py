"""Step-up tokens on two core nodes, with real prints: a token is issued by one node and spent
by another, and once spent on one node it is refused on every other (single use is a row in
the shared database, not a node's memory)."""
from __future__ import annotations

import pytest

from tests.loans.walk import Walk, enroll_staff, step_up
from tests.multinode.conftest import start_cluster, stop_cluster
from tests.multinode.nodes import nodes_suite
from tests.suite import file_documents

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running, name = start_cluster(tmp_path_factory, step_up="required", sms=False)
    yield running
    stop_cluster(running, name)


@pytest.fixture
async def nodes(cluster):
    suite = await nodes_suite(cluster.config, cluster.nodes)
    yield suite
    await suite.close()


async def test_a_step_up_token_spent_on_one_node_is_refused_on_the_other(nodes):
    a, b = nodes.bases
    walk = await Walk(nodes).start()
    await walk.apply(id_number="330102198501019901")
    await file_documents(nodes, walk.loan_id, "APP-FORM", "ID-CARD")
    head_on_a = await (await nodes.client(a)).login("intake.head")
    head_on_b = await (await nodes.client(b)).login("intake.head")
    await enroll_staff(nodes, head_on_a)
    command = {"action": "preliminary_return", "payload": {"reason": "缺少收入证明"}}
    path = f"/api/loans/{walk.loan_id}/commands"

    token = await step_up(nodes, head_on_a, walk.loan_id, command["action"], command["payload"])
    await head_on_a.json("POST", path, {**command, "step_up": token})  # spent on A
    await walk.do("applicant", "submit_application", {})                 # the same command is open again
    refused = await head_on_b.json("POST", path, {**command, "step_up": token}, expect=403)
    assert refused["error"] == "step_up_invalid" and "already used" in refused["message"], refused
    assert await walk.stage() == "submitted"

    # The refusal was the token's alone: a fresh print, taken on A, is spent on B.
    fresh = await step_up(nodes, head_on_a, walk.loan_id, command["action"], command["payload"])
    done = await head_on_b.json("POST", path, {**command, "step_up": fresh})
    assert done["loan"]["stage"] == "draft"
    # Replayed on A, the command meets a loan that moved on.
    again = await head_on_a.json("POST", path, {**command, "step_up": fresh}, expect=409)
    assert again["error"] == "wrong_stage"
