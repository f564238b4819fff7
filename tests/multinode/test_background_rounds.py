"""Background rounds that every core node runs must not do their work twice when two nodes run
them at the same moment (each node is a separate engine on the same PostgreSQL database)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core import deadlines
from core.db import Database
from core.orm import Loan, OutboxMessage
from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.loans.walk import Walk
from tests.suite import start_suite, suite_config

pytestmark = pytest.mark.postgres


@pytest.fixture
async def postgres_suite(tmp_path):
    url, name = await _create_postgres_database()
    running = await start_suite(suite_config(tmp_path, url, step_up="off"))  # no prints needed here
    yield running
    await running.close()
    await _drop_postgres_database(name)


async def test_deadline_warnings_are_queued_by_one_node_at_a_time(postgres_suite):
    suite = postgres_suite
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("review")
    async with suite.services.db.unit_of_work(write=False) as session:
        late = (await session.get(Loan, walk.loan_id)).due_at
    other_node = Database(suite.services.config.effective_database_url)
    try:
        async with suite.services.db.unit_of_work() as first:
            queued = await deadlines.queue_warnings(first, suite.services.workflow, now=late)
            # The second node's round starts while the first one's is still open: it must not
            # read "not yet warned" and warn the same people again.
            async with other_node.unit_of_work() as second:
                assert await deadlines.queue_warnings(second, suite.services.workflow, now=late) == 0
        assert queued >= 1
        # Its next round, after the first committed, sees the warnings and adds none.
        async with other_node.unit_of_work() as later:
            assert await deadlines.queue_warnings(later, suite.services.workflow, now=late) == 0
    finally:
        await other_node.close()
    async with suite.services.db.unit_of_work(write=False) as session:
        stored = (await session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.loan_id == walk.loan_id, OutboxMessage.template == deadlines.TEMPLATE))).scalar_one()
    assert stored == queued
