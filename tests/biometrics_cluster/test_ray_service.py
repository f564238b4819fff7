"""The fingerprint service's identify with LOANCTL_RAY_ADDRESS naming a real two-node Ray
cluster (started in a network namespace of its own, every packet on loopback): the service's
shards run as actors on both nodes and rank every probe exactly as in-process shards of the
same database do; an enrollment (with its duplicate search) while an identify runs; a shard's
actor killed between searches and during one: the next answers are complete (the actor is
restarted and reloads its shard from the encrypted store), never partial."""
from __future__ import annotations

import pytest

from .conftest import run_scenario


@pytest.fixture(scope="module")
def report(cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("service")
    return run_scenario(cluster, "tests.biometrics_cluster.service_scenario", str(folder / "data"))


def test_the_service_searches_on_both_nodes_and_ranks_as_in_process(report):
    assert report["ray_address"] == "127.0.0.1:6379" and report["shards"] == 2
    assert report["store"].startswith("identify/")  # under the data folder
    assert len(report["cluster_nodes"]) == 2 and report["shard_nodes"] == report["cluster_nodes"]
    assert sum(report["versions"]) == 30 + report["distractors"] and min(report["versions"]) > 0
    assert report["cluster"] == report["local"]
    for probe, ranked in zip(("customer:1", "customer:4", "customer:8"), report["cluster"]):
        # (The distractors are rotated copies of the enrolled prints: mates too, so they may lead.)
        assert len(ranked) > 100 and any(subject == probe and score >= 40 for _, score, subject in ranked)
        assert [score for _, score, _ in ranked] == sorted((score for _, score, _ in ranked), reverse=True)


def test_an_enrollment_with_its_duplicate_search_while_an_identify_runs(report):
    enroll = report["enroll"]
    # The identify under way answered over what was enrolled when it began: the newcomer is not
    # in its ranking; the next identify has it, as the in-process shards do.
    assert enroll["during"] == enroll["before"]
    assert enroll["newcomer"] not in [c for c, _, _ in enroll["before"]]
    assert enroll["after"] == enroll["after_local"]
    assert enroll["newcomer"] in [c for c, _, _ in enroll["after"]]
    # The print is customer 2's finger: the duplicate search finds them, never the enrolling subject.
    assert enroll["duplicate_mate"] and not enroll["duplicate_self"]


def test_a_killed_shard_actor_is_restarted_and_the_answers_stay_complete(report):
    kill = report["kill"]
    assert kill["between"] == kill["expected"] and kill["new_pid"]
    assert kill["restarted_version"] == kill["versions"][1]  # reloaded its whole shard from the store
    # Killed while it searched: the answer is complete after the retry, never a partial ranking.
    assert kill["mid_new_pid"]
    assert kill["mid_error"] is None and kill["mid"] == kill["expected_mid"]
    assert all("key" not in text.lower() for text in report["reprs"])
