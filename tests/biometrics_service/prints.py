"""Real fingerprints for the tests: FVC 2002 DB1-B (10 fingers x 8 impressions, 500 dpi)."""
from __future__ import annotations

import base64
from pathlib import Path

from tests.conftest import SHARED
from tests.loans.walk import fresh_capture

FVC = SHARED / "fingerprints" / "fvc2002-db1b"


def fvc_bytes(name: str) -> bytes:
    """The file as the scanner wrote it (the same bytes every time: a replay if sent twice)."""
    return (FVC / f"{name}.tif").read_bytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def fresh(name: str) -> str:
    """The print as a new capture (new bytes, same pixels), base64."""
    return fresh_capture(name)


def available() -> bool:
    return FVC.is_dir() and (FVC / "101_1.tif").exists()


__all__ = ["FVC", "available", "b64", "fresh", "fvc_bytes", "Path"]
