"""`loanctl` as a user meets it: read-only commands on a fresh or wrong data folder, help that
names what a command reads, and user errors as one line with an exit code, never a traceback."""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def loanctl(*argv: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOANCTL_")}
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "core.cli", *argv], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout)


READ_ONLY = [
    ("audit", "verify"),
    ("audit", "head"),
    ("committee", "verify-draw", "CM1-1"),
    ("archive", "verify"),
]


@pytest.mark.parametrize("command", READ_ONLY, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_read_only_commands_on_a_folder_without_a_database_create_nothing(tmp_path, command, folder):
    data = tmp_path / "data"
    if folder == "empty":
        data.mkdir()
    result = loanctl(*command, "--data", str(data), cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("loanctl: no database in "), result.stderr
    assert "Traceback" not in result.stderr
    if folder == "empty":
        assert list(data.iterdir()) == []
    else:
        assert not data.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["data"] if folder == "empty" else [])


def test_a_file_that_is_not_the_suites_database_is_named(tmp_path):
    (tmp_path / "loans.sqlite3").write_bytes(b"")
    result = loanctl("audit", "verify", "--data", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 3
    assert "holds no suite database" in result.stderr and "Traceback" not in result.stderr


def test_audit_commands_read_a_migrated_folder(tmp_path):
    assert loanctl("migrate", "--data", str(tmp_path), cwd=tmp_path).returncode == 0
    verified = loanctl("audit", "verify", "--data", str(tmp_path), cwd=tmp_path)
    assert verified.returncode == 0 and "audit chain holds: 0 records" in verified.stdout
    head = loanctl("audit", "head", "--data", str(tmp_path), cwd=tmp_path)
    assert head.returncode == 0 and "the audit chain is empty" in head.stdout
    missing = loanctl("committee", "verify-draw", "CM1-1", "--data", str(tmp_path), cwd=tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_serve_help_names_the_environment_it_reads(tmp_path):
    result = loanctl("serve", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for variable in ("LOANCTL_STEP_UP", "LOANCTL_DATABASE_URL", "LOANCTL_WORKFLOW", "LOANCTL_TLS_CERT",
                     "LOANCTL_DATA", "LOANCTL_JIT_CACHE"):
        assert variable in result.stdout
    assert "docs/running.md" in result.stdout


def test_a_mistyped_option_is_named(tmp_path):
    result = loanctl("serve", "--prot", "9000", cwd=tmp_path)
    assert result.returncode == 2
    assert "--prot" in result.stderr and "invalid choice" not in result.stderr
    unknown = loanctl("serve", "everything", cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown service 'everything'" in unknown.stderr


def test_serve_on_a_taken_port_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = loanctl("serve", "--port", str(port), "--data", str(tmp_path / "data"), cwd=tmp_path,
                         env={"LOANCTL_ARGON2_MEMORY_KIB": "8192", "LOANCTL_ARGON2_TIME_COST": "1"})
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def test_every_argument_and_command_has_help():
    undocumented = []
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {choice.dest for choice in action._choices_actions if choice.help}
                undocumented += [f"{' '.join(path)} {name}" for name in action.choices if name not in helped]
            elif not action.option_strings and not action.help:
                undocumented.append(f"{' '.join(path)} <{action.dest}>")
    assert not undocumented, undocumented
