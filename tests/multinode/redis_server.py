"""Debian's redis-server on a free loopback port, for the committee nodes' tests.

Started like PostgreSQL is reached: without the binary the tests skip saying why, and in CI
(REQUIRE_REDIS=1) they fail. Nothing is saved (``--save ''``, no append-only file) and the
working folder is the test's own.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import unavailable
from tests.multinode.nodes import Node, free_port
from tests.waiting import PATIENCE

REDIS_SERVER = os.environ.get("LOANCTL_REDIS_SERVER", "/usr/bin/redis-server")


@dataclass
class RedisServer(Node):
    """A redis-server process (stopped like a node: SIGTERM, then SIGKILL after the patience)."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def start_redis(workdir: Path) -> RedisServer:
    binary = shutil.which(REDIS_SERVER) or (REDIS_SERVER if Path(REDIS_SERVER).exists() else None)
    if binary is None:
        unavailable("Redis", f"{REDIS_SERVER} is not installed (apt-get install redis-server)", "REQUIRE_REDIS")
    port = free_port()
    log_path = workdir / f"redis-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
             "--dir", str(workdir)], stdout=log, stderr=subprocess.STDOUT)
    server = RedisServer("redis", port, process, log_path)
    deadline = time.monotonic() + PATIENCE
    while not server.ping():
        if process.poll() is not None:
            unavailable("Redis", f"redis-server exited with {process.returncode}: "
                                 f"{log_path.read_text(errors='replace')[-500:]}", "REQUIRE_REDIS")
        if time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"redis-server not answering within {PATIENCE} s")
        time.sleep(0.05)  # the polling interval of a readiness check, not a guess at readiness
    return server
