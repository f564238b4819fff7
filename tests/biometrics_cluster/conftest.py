"""A two-node Ray cluster in a network namespace of its own, one per test module
(biometrics.loopbackcluster), and reading what a scenario run inside it printed."""
from __future__ import annotations

import json

import pytest

from biometrics.loopbackcluster import LoopbackCluster


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
