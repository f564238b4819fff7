"""Statistics off the primary: with LOANCTL_DATABASE_REPLICA_URL the dashboards and exports read
a streaming replica, while commands write the primary; without it everything reads the primary."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from core.config import Config, ConfigError
from core.context import Services
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.loans.walk import Walk
from tests.multinode.nodes import prepare_database
from tests.multinode.replica import start_replica
from tests.suite import start_suite, suite_config


def test_without_a_replica_everything_reads_the_primary(tmp_path):
    services = Services.build(Config(data_dir=tmp_path))
    assert services.reports is services.db and not services.reads_replica
    with pytest.raises(ConfigError):
        Config.from_env({"LOANCTL_DATABASE_REPLICA_URL": "sqlite+aiosqlite:///x.sqlite3"})
    assert Config.from_env({"LOANCTL_DATABASE_REPLICA_URL": "postgresql+asyncpg://r/db"}).database_replica_url


@pytest.fixture(scope="module")
def primary_and_replica(tmp_path_factory):
    """A test database on the primary (migrated, demo loaded), then a replica of the cluster."""
    workdir = tmp_path_factory.mktemp("replica")
    url, name = asyncio.run(_create_postgres_database())
    try:
        asyncio.run(prepare_database(suite_config(workdir, url)))
        replica = start_replica()
    except BaseException:
        asyncio.run(_drop_postgres_database(name))
        raise
    yield workdir, url, replica.url(name), replica
    replica.stop()
    asyncio.run(_drop_postgres_database(name))


async def _server_in_recovery(db) -> bool:
    async with db.unit_of_work(write=False) as session:
        return (await session.execute(text("SELECT pg_is_in_recovery()"))).scalar_one()


def _applications(dashboard: dict) -> int:
    return sum(row["applications"] for row in dashboard["by_stage"])


@pytest.mark.postgres
async def test_dashboards_read_the_replica_while_commands_write_the_primary(primary_and_replica):
    workdir, primary_url, replica_url, replica = primary_and_replica
    suite = await start_suite(suite_config(workdir, primary_url, step_up="off", database_replica_url=replica_url),
                              load_demo=False)
    try:
        services = suite.services
        assert services.reads_replica
        # Which server answers: the replica is in recovery (a standby), the primary is not.
        assert await _server_in_recovery(services.reports) is True
        assert await _server_in_recovery(services.db) is False

        chairman = await suite.login("chairman")
        walk = await Walk(suite).start()
        await walk.apply(id_number="330102198501015501")
        await replica.caught_up()
        before = await chairman.json("GET", "/api/insight/dashboard")
        assert _applications(before) >= 1

        # Replay paused: the primary takes new applications, the dashboard does not see them
        # (it reads the replica), then sees them once the replica has replayed them.
        await replica.execute("SELECT pg_wal_replay_pause()")
        try:
            for n in range(2):
                await (await Walk(suite).start()).apply(id_number=f"33010219850101560{n}")
            paused = await chairman.json("GET", "/api/insight/dashboard")
            assert _applications(paused) == _applications(before)
            export = await chairman.request("GET", "/api/insight/export?format=csv&table=by_stage")
            assert export.status == 200
            assert sum(int(line.split(",")[1]) for line in (await export.text()).splitlines()[1:]) == \
                _applications(before)
        finally:
            await replica.execute("SELECT pg_wal_replay_resume()")
        await replica.caught_up()
        after = await chairman.json("GET", "/api/insight/dashboard")
        assert _applications(after) == _applications(before) + 2
    finally:
        await suite.close()
