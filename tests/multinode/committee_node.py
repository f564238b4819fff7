"""`loanctl serve committee` for the multi-node tests, with ICE host candidates on loopback.

Every peer of these tests runs on 127.0.0.1, and aioice leaves 127.0.0.1 out of its host
candidates (tests/committee/committee_loopback.py): the node process makes the same test-only
adjustment the in-process committee tests make, then runs the real command line.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "committee"))

from committee_loopback import use_loopback_host_candidates  # noqa: E402

if __name__ == "__main__":
    use_loopback_host_candidates()
    from core.cli import main

    sys.exit(main(["serve", "committee", *sys.argv[1:]]))
