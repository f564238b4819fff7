"""Schemathesis over the published OpenAPI document (issue 13, item 19), on both databases:
generated requests against the running suite on loopback, signed in as the chairman (who can
read everything). Checks: no 5xx, no status and no content type the document does not list,
405s with Allow. Bounded: a few examples per operation and a time budget per database.
Nothing is clamped: out-of-range integers, non-ASCII digit ids, NUL characters and lone
surrogates are generated as they come and must each get a documented 4xx."""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path



ROOT = Path(__file__).resolve().parents[2]
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,unsupported_method"
MAX_EXAMPLES = 5
SECONDS_PER_DATABASE = 40
# Not fuzzed: signing in and out (would end the session the run uses) and the tus uploads,
# whose bodies and headers are bytes on purpose (tests/archive/test_tus.py covers them).
EXCLUDED = r"^/api/(session|uploads/)"


def schemathesis_cli() -> str:
    # schemathesis is a test dependency of the project (pyproject.toml): missing is a broken
    # install, a failure rather than a skip.
    cli = shutil.which("st", path=str(Path(sys.executable).parent))
    assert cli is not None, "the st command of schemathesis is not installed (pip install -e '.[test]')"
    return cli


async def test_generated_requests_get_documented_answers_and_no_server_error(suite, tmp_path):
    cli = schemathesis_cli()
    chairman = await suite.login("chairman")
    cookies = "; ".join(f"{c.key}={c.value}" for c in chairman.client.session.cookie_jar)
    process = await asyncio.create_subprocess_exec(
        cli, "run", str(suite.server.make_url("/api/openapi.json")),
        "-H", f"Cookie: {cookies}", "-H", f"X-CSRF-Token: {chairman.csrf}",
        "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--max-time", str(SECONDS_PER_DATABASE),
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--seed", "13", "--no-shrink",
        "--exclude-path-regex", EXCLUDED, "--continue-on-failure", "--request-timeout", "30",
        "--report", "junit", "--report-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")})
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert "Tested:" in text, text[-4000:]  # it ran over the operations
    failures = text.split("WARNINGS")[0].split("FAILURES")[-1]
    findings = [line for line in failures.splitlines() if not line.lstrip().startswith(("curl ", "st replay"))]
    assert process.returncode == 0, "\n".join(findings)[-10000:]
