"""`loanctl committee verify-draw MEETING` and `loanctl tls init --hosts a,b`."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from .draw import DrawRecord, verify_draw


def _config(args: argparse.Namespace):
    from core.cli import _config as core_config

    return core_config(args)


async def check_meeting(config, reference: str) -> tuple[str, list[str], DrawRecord]:
    """(meeting code, problems, record): re-derive the panel from the stored record and check
    the stored commitment and pool agree with it. Only reads: a folder without a database is an
    error, never a new database."""
    from core.cli import open_existing_database

    from .service import meeting_by_code

    db = await open_existing_database(config, table="committee_meetings")
    try:
        async with db.unit_of_work(write=False) as session:
            meeting = await meeting_by_code(session, reference)
            code, commitment, pool, text = meeting.code, meeting.seed_commitment, meeting.pool, meeting.draw_record
    finally:
        await db.close()
    try:
        record = DrawRecord.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as error:
        return code, [f"the stored draw record cannot be read: {error}"], None
    problems = list(verify_draw(record).problems)
    if record.meeting_id != code:
        problems.append(f"the record is for meeting {record.meeting_id!r}, not {code!r}")
    if record.seed_commitment != commitment:
        problems.append("the record's seed commitment differs from the one published when the meeting was called")
    if list(record.pool) != json.loads(pool):
        problems.append("the record's pool differs from the pool frozen when the meeting was called")
    return code, problems, record


def cmd_verify_draw(args: argparse.Namespace) -> int:
    from core.errors import NotFound

    from core.cli import read_only_config

    try:
        code, problems, record = asyncio.run(check_meeting(read_only_config(args), args.meeting))
    except NotFound as error:
        print(f"loanctl: {error}", file=sys.stderr)
        return 2
    if problems:
        print(f"meeting {code}: the draw does NOT match its record", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"meeting {code}: the draw matches its record ({record.procedure})")
    print(f"  seed commitment {record.seed_commitment}")
    print(f"  pool of {len(record.pool)} (hash {record.pool_hash}), {len(record.exclusions)} excluded")
    for exclusion in record.exclusions:
        print(f"    excluded {exclusion.member_id}: {exclusion.reason}")
    print(f"  panel: {', '.join(record.current_panel)}")
    for r in record.replacements:
        print(f"  replaced {r.absent} by {r.replacement} at {r.at}: {r.reason}")
    return 0


def cmd_tls_init(args: argparse.Namespace) -> int:
    from .tls import TlsSetupError, init_tls, trust_steps

    directory = Path(args.out) if args.out else _config(args).data_dir / "tls"
    try:
        files = init_tls(directory, args.hosts.split(","), force=args.force, new_ca=args.new_ca)
    except TlsSetupError as error:
        print(f"loanctl: {error}", file=sys.stderr)
        return 2
    print(trust_steps(files))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    committee = subparsers.add_parser("committee", help="committee meetings")
    commands = committee.add_subparsers(dest="committee_command", metavar="ACTION")
    commands.required = True
    verify = commands.add_parser("verify-draw", help="re-derive a meeting's panel from its stored draw record; "
                                                     "exit 1 on a mismatch")
    verify.add_argument("meeting", metavar="MEETING", help="meeting code (e.g. CM12-1) or number")
    verify.add_argument("--data", metavar="DIR", help="data folder (default ./var or $LOANCTL_DATA)")
    verify.set_defaults(run=cmd_verify_draw)

    tls = subparsers.add_parser("tls", help="certificates for https")
    tls_commands = tls.add_subparsers(dest="tls_command", metavar="ACTION")
    tls_commands.required = True
    init = tls_commands.add_parser("init", help="make a private CA and a server certificate for the given hosts")
    init.add_argument("--hosts", required=True, help="comma-separated host names and IP addresses")
    init.add_argument("--out", metavar="DIR", help="where to write (default <data>/tls)")
    init.add_argument("--data", metavar="DIR", help="data folder (default ./var or $LOANCTL_DATA)")
    init.add_argument("--force", action="store_true", help="replace the server certificate (the CA is kept)")
    init.add_argument("--new-ca", action="store_true", help="make a new CA too (members must trust it again)")
    init.set_defaults(run=cmd_tls_init)
