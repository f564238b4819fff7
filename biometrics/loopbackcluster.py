"""A local Ray cluster whose every packet stays on loopback, for tests and benchmarks.

Ray replaces a loopback node address with the machine's interface address, so a cluster
started plainly would talk over that interface.  Inside a network namespace of its own that
has only `lo`, Ray has nothing but 127.0.0.1 to use: this module makes such a namespace (held
open by one `sleep` process), starts a head node and more nodes in it with `ray start`, runs
commands in it (`nsenter --net`), and stops the cluster by ending exactly the processes in that
namespace (never `ray stop`, which would end every Ray process of the user on the machine).
Needs root (or the CAP_SYS_ADMIN that `unshare -n` needs), `unshare`, `nsenter` and `ip`.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

PORT = 6379  # the namespace has its own ports: nothing else listens there
# The object store in /dev/shm, kept small: galleries are held by actors, not in the store.
OBJECT_STORE_BYTES = 200 * 1024 * 1024


class ClusterError(Exception):
    """The loopback cluster could not be started."""


class LoopbackCluster:
    def __init__(self, nodes: int = 2, cpus_per_node: int = 1, python: str | None = None) -> None:
        if nodes < 1:
            raise ValueError("a cluster needs a node")
        self.nodes = nodes
        self.cpus_per_node = cpus_per_node
        self.python = python or sys.executable
        self.ray = str(Path(self.python).with_name("ray"))
        self.address = f"127.0.0.1:{PORT}"
        self._holder: subprocess.Popen | None = None
        self._namespace = ""
        self.temp = ""

    def __enter__(self) -> "LoopbackCluster":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _in_namespace(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", f"--net=/proc/{self._holder.pid}/ns/net", *argv]

    def start(self) -> None:
        for tool in ("unshare", "nsenter", "ip"):
            if shutil.which(tool) is None:
                raise ClusterError(f"{tool} is not installed")
        # A short folder: Ray's socket paths under it must fit a Unix socket name.
        self.temp = tempfile.mkdtemp(prefix="lray", dir="/tmp")
        self._holder = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec sleep 1000000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self._holder.stdout.readline().strip()
        if line != "up":
            error = self._holder.stderr.read()
            self._holder.kill()
            raise ClusterError(f"cannot make a network namespace: {error.strip() or line}")
        self._namespace = os.readlink(f"/proc/{self._holder.pid}/ns/net")
        common = ["--num-cpus", str(self.cpus_per_node), "--disable-usage-stats",
                  "--object-store-memory", str(OBJECT_STORE_BYTES)]
        try:
            self._ray_start(["--head", f"--port={PORT}", "--include-dashboard=false",
                             f"--temp-dir={self.temp}", *common])
            for node in range(2, self.nodes + 1):
                self._ray_start([f"--address={self.address}", "--resources", json.dumps({f"node{node}": 1}), *common])
        except BaseException:
            self.stop()
            raise

    def _ray_start(self, arguments: list[str]) -> None:
        done = subprocess.run(self._in_namespace([self.ray, "start", *arguments]), capture_output=True, text=True,
                              env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
        if done.returncode != 0:
            raise ClusterError(f"ray start failed: {done.stderr[-2000:] or done.stdout[-2000:]}")

    def run(self, argv: Sequence[str], *, timeout: float | None = None, env: dict | None = None,
            cwd: str | None = None, capture_stderr: bool = True) -> subprocess.CompletedProcess:
        """A command run inside the namespace (a Ray client must run there to reach 127.0.0.1).
        Without `capture_stderr` its stderr is this process's (a long benchmark's progress)."""
        return subprocess.run(self._in_namespace(argv), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE if capture_stderr else None, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})}, cwd=cwd)

    def processes(self) -> list[int]:
        """Every process in the cluster's namespace (the holder too)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.readlink(f"/proc/{entry}/ns/net") == self._namespace:
                        found.append(int(entry))
                except OSError:
                    continue
        return found

    def stop(self) -> None:
        """Ends every process in the namespace: first asked, then killed."""
        if not self._namespace:
            if self._holder is not None:
                self._holder.kill()
            return
        for sig, patience in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            for pid in self.processes():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + patience
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.1)
        if self._holder is not None:
            self._holder.wait()
        self._namespace = ""
        shutil.rmtree(self.temp, ignore_errors=True)
