"""A two-node Ray cluster in a network namespace of its own, one per test module
(biometrics.loopbackcluster), and reading what a scenario run inside it printed."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from biometrics.loopbackcluster import LoopbackCluster
from tests.waiting import limit

ROOT = Path(__file__).resolve().parents[2]


def result(stdout: str) -> dict:
    """The JSON object the command printed last. Ray's driver writes its own notices to the same
    stdout (e.g. "(raylet) A worker died ..." after the scenario kills an actor on purpose)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON result in the output: {stdout[-2000:]!r}")


@pytest.fixture(scope="module")
def cluster():
    with LoopbackCluster(nodes=2, cpus_per_node=1) as running:
        yield running


def run_scenario(cluster: LoopbackCluster, module: str, *arguments: str) -> dict:
    """`python -m module ADDRESS arguments…` inside the cluster's namespace; what it printed."""
    done = cluster.run([sys.executable, "-m", module, cluster.address, *arguments], timeout=limit(900),
                       cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-4000:]
    return result(done.stdout)
