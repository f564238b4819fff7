"""Post-loan tests drive the scheduler with a controlled clock, so the app's own background
pass (which runs on the real clock) is switched off for them."""
import pytest


@pytest.fixture(autouse=True)
def no_background_scheduler(monkeypatch):
    monkeypatch.setenv("LOANCTL_SCHEDULER_INTERVAL", "0")
