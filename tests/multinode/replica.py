"""A PostgreSQL streaming replica of the test server, for the statistics-off-the-primary tests.

`pg_basebackup` copies the running cluster (127.0.0.1:5432, the CI's and this machine's) into a
temporary folder, writing the standby settings (-R); the server binaries of the same major
version start it as a hot standby on another loopback port, streaming from the primary. The
cluster's default pg_hba.conf on Debian allows replication from 127.0.0.1 with a password
(.ci/run makes sure of it). PostgreSQL refuses to run as root: as root the commands run as the
`postgres` user.
"""
from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_ADMIN_URL, unavailable
from tests.multinode.nodes import free_port, wait_for
from tests.waiting import PATIENCE


def _admin() -> str:
    return POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")


@dataclass
class Replica:
    folder: Path
    port: int
    bindir: Path
    as_user: list[str]

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str) -> str:
        primary = make_url(POSTGRES_ADMIN_URL)
        return primary.set(host="127.0.0.1", port=self.port, database=database).render_as_string(hide_password=False)

    def admin_dsn(self) -> str:
        return self.url("postgres").replace("postgresql+asyncpg://", "postgresql://")

    async def execute(self, sql: str):
        connection = await asyncpg.connect(self.admin_dsn(), timeout=PATIENCE)
        try:
            return await connection.fetchval(sql)
        finally:
            await connection.close()

    async def caught_up(self) -> None:
        """Wait until the replica has replayed everything the primary had written when called."""
        primary = await asyncpg.connect(_admin(), timeout=PATIENCE)
        try:
            target = await primary.fetchval("SELECT pg_current_wal_lsn()::text")
        finally:
            await primary.close()

        async def replayed() -> bool:
            return await self.execute(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
        await wait_for(replayed, "the replica replays the primary's WAL")

    def stop(self) -> None:
        subprocess.run(self.as_user + [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                                       "-w", "stop"], capture_output=True, timeout=PATIENCE)
        shutil.rmtree(self.folder, ignore_errors=True)


# A hot standby needs these at least as high as on its primary: copied from the primary.
_AT_LEAST_PRIMARY = ("max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions",
                     "max_locks_per_transaction")


async def _primary_settings() -> tuple[int, dict[str, str]]:
    try:
        connection = await asyncpg.connect(_admin(), timeout=30)
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        unavailable("PostgreSQL", f"cannot connect: {error}", "REQUIRE_POSTGRES")
    try:
        major = int(await connection.fetchval("SHOW server_version_num")) // 10000
        return major, {name: await connection.fetchval(f"SHOW {name}") for name in _AT_LEAST_PRIMARY}
    finally:
        await connection.close()


def start_replica() -> Replica:
    """Base-backup the primary into a temporary cluster and start it streaming, on a free port."""
    major, settings = asyncio.run(_primary_settings())
    bindir = Path(f"/usr/lib/postgresql/{major}/bin")
    if not (bindir / "pg_basebackup").exists():
        unavailable("PostgreSQL server binaries", f"{bindir} has no pg_basebackup", "REQUIRE_POSTGRES")
    folder = Path(tempfile.mkdtemp(prefix="loanctl-replica-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(folder, postgres.pw_uid, postgres.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    primary = make_url(POSTGRES_ADMIN_URL)
    env = {**os.environ, "PGPASSWORD": primary.password or ""}
    replica = Replica(folder, free_port(), bindir, as_user)
    try:
        backup = subprocess.run(as_user + [
            str(bindir / "pg_basebackup"), "-h", primary.host or "127.0.0.1", "-p", str(primary.port or 5432),
            "-U", primary.username or "postgres", "-D", str(replica.data), "-X", "stream", "-R",
            "--checkpoint=fast", "--no-password"], env=env, capture_output=True, text=True, timeout=PATIENCE)
        if backup.returncode != 0:
            raise AssertionError(f"pg_basebackup failed: {backup.stderr}")
        # Debian keeps the configuration outside the data folder (/etc/postgresql), so the copy
        # has none: a minimal one of its own, local to this test.
        (replica.data / "postgresql.conf").write_text(
            f"listen_addresses = '127.0.0.1'\nport = {replica.port}\nunix_socket_directories = '{folder}'\n"
            "hot_standby = on\nshared_buffers = 16MB\nfsync = off\n"
            + "".join(f"{name} = {value}\n" for name, value in settings.items()))
        (replica.data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 scram-sha-256\n")
        (replica.data / "pg_ident.conf").write_text("")
        for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
            if as_user:
                shutil.chown(replica.data / name, "postgres", "postgres")
        started = subprocess.run(as_user + [
            str(bindir / "pg_ctl"), "-D", str(replica.data), "-l", str(folder / "replica.log"), "-w",
            "-t", str(int(PATIENCE)), "start"], env=env, capture_output=True, text=True, timeout=PATIENCE + 30)
        if started.returncode != 0:
            log = (folder / "replica.log").read_text(errors="replace") if (folder / "replica.log").exists() else ""
            raise AssertionError(f"the replica did not start: {started.stdout}{started.stderr}\n{log[-3000:]}")
    except BaseException:
        replica.stop()
        raise
    return replica
