"""How long a test waits for something that must happen.

Tests wait on events (a condition polled, a selector, a socket event), never on a guessed delay;
the limit only decides when a wait that will never end is called a failure. So the limit is
generous: a machine at load 16 must give the same verdict as an idle one, and a passing test
pays nothing for it. `LOANCTL_TEST_PATIENCE` (seconds) changes it.
"""
from __future__ import annotations

import os

PATIENCE = float(os.environ.get("LOANCTL_TEST_PATIENCE", "120"))
# Playwright counts in milliseconds.
BROWSER_PATIENCE_MS = PATIENCE * 1000


def limit(seconds: float) -> float:
    """The limit for a wait a test would give `seconds`: never below the suite's patience."""
    return max(seconds, PATIENCE)
