"""A pair of core nodes on one PostgreSQL database, shared by the tests of a module.

Starting a node takes seconds, so each module starts its nodes once; the tests in it work on
their own loans and users, so they do not disturb each other. PostgreSQL is required (the
shared storage of several nodes); without it the tests skip, and fail in CI (REQUIRE_POSTGRES).
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path


import pytest

from core.config import Config
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.multinode.nodes import Node, cluster_config, prepare_database, start_nodes
from tests.multinode.redis_server import start_redis
from tests.postloan.smsc import Smsc
from tests.waiting import PATIENCE


class SmscThread:
    """The fake SMSC (tests/postloan/smsc.py) on an event loop of its own, so it outlives each
    test's loop and serves every node of the module: the edge where messages leave the suite."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-smsc", daemon=True)
        self.thread.start()
        self.smsc: Smsc = self._call(Smsc().start())

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(PATIENCE)

    def texts(self) -> list[str]:
        async def read() -> list[str]:
            return self.smsc.texts()
        return self._call(read())

    @property
    def url(self) -> str:
        # A high per-number rate: the tests send many messages to the demo's few phone numbers.
        return f"smpp://{self.smsc.system_id}:{self.smsc.password}@127.0.0.1:{self.smsc.port}?rate=100000"

    def close(self) -> None:
        self._call(self.smsc.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(PATIENCE)
        self.loop.close()


@dataclass
class Cluster:
    config: Config
    workdir: Path
    nodes: list[Node]
    settings: dict[str, str]
    smsc: SmscThread | None = None
    extra: list[Node] = field(default_factory=list)


def start_cluster(tmp_path_factory, *, step_up: str, sms: bool) -> tuple[Cluster, str]:
    workdir = tmp_path_factory.mktemp("cluster")
    url, name = asyncio.run(_create_postgres_database())
    config = cluster_config(workdir, url, step_up=step_up)
    asyncio.run(prepare_database(config))
    smsc = SmscThread() if sms else None
    # Background rounds every second (scheduler, deadline warnings, outbox every 0.2 s) on every
    # node: the tests see them run side by side, as in production. Three failed logins trip the
    # account throttle, so the throttle test stays short.
    settings = dict(LOANCTL_SCHEDULER_INTERVAL="1", LOANCTL_OUTBOX_INTERVAL="0.2",
                    LOANCTL_LOGIN_ACCOUNT_FAILURES="3")
    if smsc:
        settings["LOANCTL_SMS_GATEWAY"] = smsc.url
    try:
        nodes = start_nodes(config, workdir, 2, **settings)
    except BaseException:
        if smsc:
            smsc.close()
        asyncio.run(_drop_postgres_database(name))
        raise
    return Cluster(config, workdir, nodes, settings, smsc), name


def stop_cluster(cluster: Cluster, name: str) -> None:
    nodes = cluster.nodes + cluster.extra
    for node in nodes:  # all asked at once: each finishes its requests in parallel
        node.terminate()
    for node in nodes:
        node.stop()
    if cluster.smsc:
        cluster.smsc.close()
    asyncio.run(_drop_postgres_database(name))


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """Debian's redis-server on a free loopback port (skips without it; REQUIRE_REDIS=1 fails)."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()
