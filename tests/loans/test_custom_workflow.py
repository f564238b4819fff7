"""A bank's own workflow (流程定制): edited copy via LOANCTL_WORKFLOW, loans in flight keep theirs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.workflow.definition import DEFAULT_PATH
from tests.loans.walk import Walk
from tests.suite import start_suite, suite_config

EDITED = Path(__file__).resolve().parents[1] / "workflow" / "fixtures" / "bank_edited.toml"


class EditedWalk(Walk):
    """The happy path of the edited workflow: a risk check before the committee, no compliance review."""

    async def step(self) -> str:
        if await self.stage() == "risk_check":
            await self.do("manager.ho", "risk_check_pass", {"opinion": "风险可控"})
            return await self.stage()
        return await super().step()


async def test_edited_workflow_runs_and_old_loans_keep_their_version(tmp_path, database_url):
    first = await start_suite(suite_config(tmp_path, database_url))
    try:
        old = await Walk(first).start()
        await old.apply(id_number="110101199001010001")
        await old.walk_to("review")
    finally:
        await first.close()

    # The bank switches to its edited copy and restarts: the same database, a new definition.
    edited = await start_suite(suite_config(tmp_path, database_url, workflow_path=EDITED), load_demo=False)
    try:
        new = await EditedWalk(edited).start()
        await new.apply(id_number="110101199001010002")
        seen = [await new.stage()]
        while seen[-1] != "active":
            seen.append(await new.step())
        assert "risk_check" in seen and "compliance_review" not in seen

        # The loan that started on the default definition still follows it.
        old.suite = edited
        old.clients.clear()
        seen_old = [await old.stage()]
        while seen_old[-1] != "active":
            seen_old.append(await old.step())
        assert "compliance_review" in seen_old and "risk_check" not in seen_old
    finally:
        await edited.close()


def test_broken_definition_stops_start_up_naming_the_line(tmp_path):
    broken = tmp_path / "workflow.toml"
    text = DEFAULT_PATH.read_text().replace('roles = ["reviewer"]', 'roles = ["reviewr"]', 1)
    broken.write_text(text)
    line = next(n for n, l in enumerate(text.splitlines(), 1) if '"reviewr"' in l)
    env = dict(os.environ, LOANCTL_WORKFLOW=str(broken))
    result = subprocess.run([sys.executable, "-m", "core.cli", "migrate", "--data", str(tmp_path / "data")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert f"{broken}:{line}" in result.stderr and "reviewr" in result.stderr
    assert "Traceback" not in result.stderr
