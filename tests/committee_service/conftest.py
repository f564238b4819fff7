from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "committee"))

from committee_loopback import use_loopback_host_candidates  # noqa: E402


@pytest.fixture(autouse=True)
def loopback_ice():
    undo = use_loopback_host_candidates()
    yield
    undo()


@pytest.fixture
async def suite(tmp_path):
    """The web app (with the committee media server in it), demo organisation, SQLite, no
    step-up (the fingerprint step of a vote has its own test)."""
    from tests.suite import start_suite, suite_config

    running = await start_suite(suite_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'loans.sqlite3'}",
                                             step_up="off"))
    yield running
    await running.close()


@pytest.fixture
async def reconnect_suite(tmp_path, database_url, monkeypatch):
    """The suite on SQLite and PostgreSQL with short media limits (a dead path is found in
    3 s): the reconnection tests are quicker; the detection is the same as with the defaults."""
    from tests.suite import start_suite, suite_config

    monkeypatch.setenv("LOANCTL_MEDIA_DISCONNECTED_GRACE", "1")
    monkeypatch.setenv("LOANCTL_MEDIA_PACKET_TIMEOUT", "3")
    running = await start_suite(suite_config(tmp_path, database_url, step_up="off"))
    yield running
    await running.close()
