"""`loanctl archive ...`: commands for the archive's storage.

``loanctl archive verify [--store URL] [--expected FILE]`` rehashes every stored
blob and lists what is missing or altered; exit code 0 only when all is intact.
``loanctl archive keygen`` prints a new Ed25519 key for signing credit-file indexes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable, Iterable, TextIO

from .blobstore import InvalidDigest, StoreConfigError, check_digest, open_store

STORE_ENV = "LOANCTL_ARCHIVE_STORE"

ExpectedDigests = Callable[[argparse.Namespace], Awaitable[Iterable[str]]]
"""Supplied by the core: the digests its credit files reference (from the database)."""


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self.last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        fraction = done / total if total else 1.0
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        rate = done / max(now - self.started, 1e-9)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} {fraction:6.1%} {rate:,.0f}/s")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def default_store_url(args: argparse.Namespace) -> str:
    if getattr(args, "store", None):
        return args.store
    if os.environ.get(STORE_ENV):
        return os.environ[STORE_ENV]
    if os.environ.get("LOANCTL_ARCHIVE"):  # the name the server reads (core.config)
        return os.environ["LOANCTL_ARCHIVE"]
    data = getattr(args, "data", None) or os.environ.get("LOANCTL_DATA", "var")
    return f"local:{Path(data) / 'archive'}"


def read_expected(path: Path) -> list[str]:
    digests = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            digests.append(check_digest(line.split()[0].lower()))
        except InvalidDigest:
            raise InvalidDigest(f"{path}:{number}: not a SHA-256 digest: {line!r}") from None
    return digests


async def verify_store(
    url: str, expected: Iterable[str], *, out: TextIO, progress: Callable[[int, int], None] | None
) -> int:
    async with open_store(url, create=False) as store:
        report = await store.verify(expected, progress=progress)
    for digest in report.missing:
        print(f"MISSING  {digest}", file=out)
    for digest in report.altered:
        print(f"ALTERED  {digest}", file=out)
    for name in report.foreign:
        print(f"FOREIGN  {name}", file=out)
    state = "intact" if report.intact else "NOT INTACT"
    print(
        f"{report.checked} blobs ({report.bytes_checked:,} bytes) rehashed; {len(report.missing)} missing, "
        f"{len(report.altered)} altered, {len(report.foreign)} foreign: {state}",
        file=out,
    )
    return 0 if report.intact else 1


def make_verify_command(expected_digests: ExpectedDigests | None) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        url = default_store_url(args)
        # The database's references are read first and apart from the store: a folder without a
        # database is the caller's error to report (its own message and exit code), not a store
        # that "cannot be read".
        referenced = [check_digest(d) for d in asyncio.run(expected_digests(args))] if expected_digests else None

        async def main() -> int:
            expected: list[str] = []
            if args.expected:
                expected += read_expected(Path(args.expected))
            if referenced is not None:
                print(f"{len(referenced)} digests referenced by the database", file=sys.stdout)
                expected += referenced
            progress = None if args.quiet else ProgressBar("verifying")
            return await verify_store(url, expected, out=sys.stdout, progress=progress)

        try:
            return asyncio.run(main())
        except (StoreConfigError, InvalidDigest, OSError) as exc:
            print(f"loanctl archive verify: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # e.g. botocore: no such bucket, bad credentials
            print(f"loanctl archive verify: cannot read {url}: {exc}", file=sys.stderr)
            return 2

    return run


def cmd_keygen(args: argparse.Namespace) -> int:
    from .creditfile import IndexSigner, generate_signing_key

    pem = generate_signing_key()
    print(pem, end="")
    print("public key (publish it to auditors):\n" + IndexSigner.from_config(pem).public_key_pem(), file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction, *, expected_digests: ExpectedDigests | None = None) -> None:
    """Add the ``archive`` command group to ``loanctl``'s subparsers."""
    archive = subparsers.add_parser("archive", help="the credit archive's storage")
    commands = archive.add_subparsers(dest="archive_command", metavar="ACTION")
    commands.required = True

    verify = commands.add_parser(
        "verify", help="rehash every stored file; list missing and altered ones; exit 1 unless all is intact"
    )
    verify.add_argument("--store", metavar="URL",
                        help=f"local:/path or s3://bucket?endpoint=... (default ${STORE_ENV} or local:<data>/archive)")
    verify.add_argument("--data", metavar="DIR", help="data folder (default ./var or $LOANCTL_DATA)")
    verify.add_argument("--expected", metavar="FILE", help="digests that must be present, one per line")
    verify.add_argument("--quiet", action="store_true", help="no progress bar")
    verify.set_defaults(run=make_verify_command(expected_digests))

    keygen = commands.add_parser("keygen", help="print a new Ed25519 key for signing credit-file indexes")
    keygen.set_defaults(run=cmd_keygen)
