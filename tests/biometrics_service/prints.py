"""Real fingerprints for the tests: FVC 2002 DB1-B (10 fingers x 8 impressions, 500 dpi)."""
from __future__ import annotations

import base64

from tests.fingerprint_data import fvc_path
from tests.loans.walk import fresh_capture


def fvc_bytes(name: str) -> bytes:
    """The stored file of one impression (the same bytes every time: a replay if sent twice)."""
    return fvc_path(name).read_bytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def fresh(name: str) -> str:
    """The print as a new capture (new bytes, same pixels), base64."""
    return fresh_capture(name)


__all__ = ["b64", "fresh", "fvc_bytes"]
