from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from committee_loopback import use_loopback_host_candidates  # noqa: E402


@pytest.fixture(autouse=True)
def loopback_ice():
    undo = use_loopback_host_candidates()
    yield
    undo()
