"""Shards on a real two-node Ray cluster, started inside a network namespace this test makes
(only `lo` in it, so every packet stays on loopback): the cluster's answers equal the
in-process search of the same encrypted store; an enrollment during a search lands in one
shard; a node's actor killed mid-search gives the complete answer after a retry, or, with no
restarts allowed, a clear error and never a partial ranking."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.waiting import limit

from .conftest import ROOT, result as _result, run_scenario


@pytest.fixture(scope="module")
def report(cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards")
    return run_scenario(cluster, "tests.biometrics_cluster.scenario", str(folder / "store"))


def test_bench_identify_on_the_cluster_ranks_as_in_process(cluster, report):
    # After the scenario (which ends its actors): the CLI's --ray-address on the same cluster.
    loanctl = str(Path(sys.executable).with_name("loanctl"))
    done = cluster.run([loanctl, "biometrics", "bench-identify", "--gallery", "400", "--shards", "2", "--probes", "2",
                        "--fingers", "4", "--ray-address", cluster.address], timeout=limit(600), cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-4000:]
    result = _result(done.stdout)
    assert result["ray_nodes"] == 2
    assert result["ray_top_equal_in_process"] is True
    assert result["rank1_same_as_exhaustive"] is True
    assert result["ray_search_seconds_per_probe"] > 0 and result["ray_slowest_shard_cpu_seconds_per_probe"] > 0
    # The figures of the 1M run: each shard's CPU per probe and each actor's peak memory and load rate.
    assert len(result["ray_shard_cpu_seconds_per_probe"]) == 2
    shard_cpu, slowest = result["ray_shard_cpu_seconds_per_probe"], result["ray_slowest_shard_cpu_seconds_per_probe"]
    assert 0 < max(shard_cpu) <= slowest * (1 + 1e-9) and slowest <= sum(shard_cpu) * (1 + 1e-9)
    assert len(result["ray_actor_peak_rss_bytes"]) == 2 and min(result["ray_actor_peak_rss_bytes"]) > 10 * 2 ** 20
    assert result["ray_load_templates_per_second_per_core"] > 0
    assert result["store_write_seconds"] > 0  # the shards' store written while building


def test_shards_spread_over_both_nodes_and_answer_as_in_process(report):
    assert len(report["cluster_nodes"]) == 2
    assert report["nodes"] == report["cluster_nodes"]  # one shard on each node
    assert report["versions"] == [3000, 3000]
    assert report["cluster_hits"] == report["local_hits"]
    for ranked in report["cluster_hits"]:
        assert len(ranked) == 10
        assert {shard for _, _, shard in ranked} <= {0, 1}
        assert [score for _, score, _ in ranked] == sorted((score for _, score, _ in ranked), reverse=True)


def test_an_enrollment_during_a_search_lands_in_one_shard(report):
    enroll = report["enroll"]
    assert enroll["target"] == enroll["on_node2"]
    # The search under way answered from one consistent version: before or after the newcomer.
    assert enroll["during"] in (enroll["before"], enroll["after_local"])
    assert enroll["newcomer"] not in [m for m, _, _ in enroll["before"]]
    # Afterwards the cluster finds the newcomer first, as the store searched in-process does.
    assert enroll["next"] == enroll["after_local"]
    assert enroll["next"][0][0] == enroll["newcomer"]
    versions = [3000, 3000]
    versions[enroll["target"]] += 1
    assert enroll["versions"] == versions
    assert enroll["other_pid_same"]  # the other shard was not rebuilt or restarted


def test_a_killed_actor_is_restarted_from_the_store_and_the_answer_is_complete(report):
    kill = report["kill"]
    assert kill["error"] is None
    assert kill["retries"] >= 1
    assert kill["hits"] == kill["expected"]
    assert kill["new_pid"] and kill["restarted_node"]
    assert kill["restarted_version"] == 3001  # reloaded from the encrypted store, newcomer included
    assert kill["newcomer_after_restart"][0][0] == report["enroll"]["newcomer"]


def test_without_restarts_a_killed_actor_is_a_clear_error_not_a_partial_ranking(report):
    fragile = report["fragile"]
    assert fragile["hits"] is None
    assert "did not answer" in fragile["error"] and "no complete ranking" in fragile["error"]
