"""Several `loanctl serve core` processes on one PostgreSQL database, for the multi-node tests.

Each node is a real subprocess on its own loopback port, sharing the database and the data
folder (secret key, archive and biometric keys) as the nodes of a deployment share them. The
test process keeps an in-process handle on the same database (a `Suite` whose clients talk to
the nodes), so the loan-walk helpers of tests/loans/walk.py run unchanged against the nodes.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from core.app import create_app as create_core_app
from core.config import Config
from tests.suite import DEMO_PASSWORD, ApiClient, Suite, start_suite, suite_config
from tests.waiting import PATIENCE

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Node:
    """One `loanctl serve core` subprocess."""

    name: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_healthy(self) -> "Node":
        """Poll /healthz until the node answers (it migrates nothing: the database is ready)."""
        deadline = time.monotonic() + PATIENCE
        while not self.healthy():
            if self.process.poll() is not None:
                raise AssertionError(f"node {self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"node {self.name} not healthy within {PATIENCE} s:\n{self.log()[-3000:]}")
            time.sleep(0.1)  # the polling interval of a health check, not a guess at readiness
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, connections cut — a machine losing power."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self) -> None:
        """SIGTERM: the node stops listening and finishes what it is doing."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout=PATIENCE)
            except subprocess.TimeoutExpired:
                self.kill()


def node_environment(config: Config, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANCTL_") or k == "LOANCTL_JIT_CACHE"}
    env.update(LOANCTL_DATABASE_URL=config.database_url, LOANCTL_DATA=str(config.data_dir),
               LOANCTL_ARGON2_MEMORY_KIB=str(config.argon2_memory_kib),
               LOANCTL_ARGON2_TIME_COST=str(config.argon2_time_cost),
               LOANCTL_STEP_UP=config.step_up, PYTHONUNBUFFERED="1")
    env.update(settings)
    return env


def start_node(name: str, config: Config, workdir: Path, **settings: str) -> Node:
    """Start a node (without waiting for it); `settings` are extra LOANCTL_* variables."""
    port = free_port()
    log_path = workdir / f"node-{name}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "serve", "core", "--no-demo", "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=ROOT, env=node_environment(config, **settings), stdout=log, stderr=subprocess.STDOUT)
    return Node(name, port, process, log_path)


def start_nodes(config: Config, workdir: Path, count: int, **settings: str) -> list[Node]:
    """Start `count` nodes side by side and wait until every one answers its health check."""
    nodes = [start_node(chr(ord("A") + n), config, workdir, **settings) for n in range(count)]
    try:
        for node in nodes:
            node.wait_healthy()
    except BaseException:
        for node in nodes:
            node.kill()
        raise
    return nodes


async def prepare_database(config: Config) -> None:
    """Migrate and load the demo organisation once, before any node starts (the nodes run
    `--no-demo` and find the schema current)."""
    from core import demo
    from core.context import Services

    services = Services.build(config)
    try:
        await services.start()
        async with services.db.unit_of_work() as session:
            await demo.load(session, services.hashing, DEMO_PASSWORD)
    finally:
        await services.db.close()


class Rotating:
    """A client for a group of nodes behind a load balancer: each request goes to the next node
    in turn, with one cookie jar, as a browser behind a round-robin balancer."""

    def __init__(self, bases: list[str]) -> None:
        # unsafe=True: keep cookies of an IP-address host (127.0.0.1); cookies ignore the port,
        # so the session cookie one node sets is sent to every node, as behind one host name.
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             timeout=aiohttp.ClientTimeout(total=PATIENCE))
        self.bases = bases
        self._turn = itertools.cycle(range(len(bases)))
        self.used: list[str] = []

    def request(self, method: str, path: str, **kwargs):
        base = self.bases[next(self._turn)]
        self.used.append(base)
        return self.session.request(method, base + path, **kwargs)

    async def close(self) -> None:
        await self.session.close()


@dataclass
class NodesSuite(Suite):
    """The in-process handle on the nodes' database; its clients talk to the nodes."""

    bases: list[str] = field(default_factory=list)

    async def client(self, *bases: str) -> ApiClient:
        """A client rotating over `bases` (default: every node)."""
        rotating = Rotating(list(bases or self.bases))
        self.clients.append(rotating)
        return ApiClient(rotating)


def cluster_config(workdir: Path, database_url: str, **overrides) -> Config:
    return suite_config(workdir, database_url, **overrides)


async def nodes_suite(config: Config, nodes: list[Node]) -> NodesSuite:
    """The test's handle: same database and data folder as the nodes; no demo load (done once)."""
    local = await start_suite(config, load_demo=False, app=create_core_app(config))
    return NodesSuite(local.server, local.services, bases=[node.base for node in nodes])


async def wait_for(condition, what: str):
    """Poll an async condition until it holds (an event observed, not a delay guessed)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        result = await condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {PATIENCE} s")
        await asyncio.sleep(0.05)
