from __future__ import annotations

from pathlib import Path

import pytest

from core.rules import RuleBook
from core.workflow import Definition, load_definition

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def definition() -> Definition:
    return load_definition(Path(__file__).resolve().parents[2] / "core" / "workflow" / "default.toml")


@pytest.fixture(scope="session")
def rules() -> RuleBook:
    return RuleBook.load(Path(__file__).resolve().parents[2] / "core" / "rules" / "default.toml")


@pytest.fixture(scope="session")
def bank_definition() -> Definition:
    return load_definition(FIXTURES / "bank_edited.toml")
