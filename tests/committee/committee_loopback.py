"""Loopback host candidates for tests that run every peer on 127.0.0.1.

aioice leaves 127.0.0.1 out when it gathers host candidates, so two aiortc peers
on one machine would pair over whatever other interface exists (or not at all).
Tests replace aioice's address discovery with the loopback address only.
"""

from __future__ import annotations

from typing import Callable

import aioice.ice

LOOPBACK_ADDRESSES = ["127.0.0.1"]


def loopback_host_addresses(use_ipv4: bool = True, use_ipv6: bool = False) -> list[str]:
    return list(LOOPBACK_ADDRESSES) if use_ipv4 else []


def use_loopback_host_candidates() -> Callable[[], None]:
    """Make aioice gather host candidates on 127.0.0.1 only; returns an undo."""
    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = loopback_host_addresses

    def undo() -> None:
        aioice.ice.get_host_addresses = original

    return undo
