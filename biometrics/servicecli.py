"""`loanctl biometrics …`: looking after the fingerprint service's keys.

`rotate-key` re-encrypts every subject's templates (and kept images) under fresh data keys
wrapped by a new master key, in one transaction. With the key in the data folder the new key
replaces it there; with LOANCTL_BIOMETRIC_KEY the new key is read from --new-key-file and the
operator then puts it in the configuration.
"""
from __future__ import annotations

import argparse
import asyncio
import os

from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("biometrics", help="the fingerprint service's data and keys")
    commands = group.add_subparsers(dest="biometrics_command", metavar="ACTION")
    commands.required = True
    rotate = commands.add_parser("rotate-key", help="re-encrypt all biometric data under a new master key")
    rotate.add_argument("--data", metavar="DIR", help="data folder (default ./var or $LOANCTL_DATA)")
    rotate.add_argument("--new-key-file", type=Path, metavar="FILE",
                        help="the new master key (64 hex characters); required when LOANCTL_BIOMETRIC_KEY is set")
    rotate.set_defaults(run=cmd_rotate_key)
    staff = commands.add_parser("enroll-staff", help="enroll a staff member's finger at the server (the first "
                                "administrator's prints; later enrollments are vouched for in the web page)")
    staff.add_argument("username", help="the staff member's user name")
    staff.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="scanner files, one impression each")
    staff.add_argument("--finger", type=int, required=True, help="ISO finger position 1..10")
    staff.add_argument("--dpi", type=float, default=500.0)
    staff.add_argument("--data", metavar="DIR", help="data folder (default ./var or $LOANCTL_DATA)")
    staff.set_defaults(run=cmd_enroll_staff)

    migrate = commands.add_parser(
        "migrate-templates", help="add templates of the deployment's mode (LOANCTL_FINGERPRINT_MODE) to every "
        "enrolled print whose image is kept; the others wait for re-enrollment (prints one JSON object)")
    migrate.add_argument("--data", metavar="DIR", help="data folder (default ./var or $LOANCTL_DATA)")
    migrate.set_defaults(run=cmd_migrate_templates)

    bench = commands.add_parser("bench-identify", help="1:N search speed over a synthetic gallery (prints one JSON object)")
    bench.add_argument("--gallery", type=_positive, required=True, metavar="N", help="templates in the gallery")
    bench.add_argument("--shards", type=_positive, default=1, metavar="S", help="gallery shards (default 1)")
    bench.add_argument("--probes", type=_positive, default=10, metavar="P", help="probes, one per finger (default 10)")
    bench.add_argument("--prints", type=Path, metavar="DIR",
                       help="FVC-named prints (default the repository's tests/data/fingerprints/fvc2002-db1b)")
    bench.add_argument("--ray-address", metavar="ADDR", default=os.environ.get("LOANCTL_RAY_ADDRESS", ""),
                       help="Ray cluster holding the shards (default $LOANCTL_RAY_ADDRESS; none: in-process)")
    bench.add_argument("--fingers", type=_positive, metavar="F", help="use the prints of the first F fingers only")
    bench.add_argument("--exhaustive-limit", type=_positive, default=20_000, metavar="N",
                       help="up to this gallery size, rescore everything with the 1:1 kernel to check rank 1")
    bench.add_argument("--exhaustive", action="store_true",
                       help="score every candidate exactly only (no screened or pre-filtered search beside it)")
    # Defaults are compact.Screening's (not imported here: it loads numba).
    bench.add_argument("--screen-roots", type=_positive, metavar="K",
                       help="two-stage search: roots found per candidate in the screen (default: Screening.roots)")
    bench.add_argument("--screen-stride", type=_positive, metavar="S",
                       help="two-stage search: of those, every S-th is crawled (default: Screening.stride)")
    bench.add_argument("--screen-keep", type=_positive, metavar="N",
                       help="two-stage search: candidates scored exactly after the screen, at least "
                            "(default: Screening.keep, or Screening.fraction of the shard if more)")
    # Defaults are edgeindex.Prefilter's.
    bench.add_argument("--prefilter-keep", type=_positive, metavar="N",
                       help="pre-filtered search: candidates scored exactly after the edge-index votes, at least "
                            "(default: Prefilter.keep, or Prefilter.fraction of the shard if more)")
    bench.add_argument("--prefilter-fraction", type=float, metavar="F",
                       help="pre-filtered search: fraction of the shard scored exactly (default: Prefilter.fraction)")
    bench.set_defaults(run=cmd_bench_identify)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def cmd_bench_identify(args: argparse.Namespace) -> int:
    import json

    from core.cli import CommandError

    from .cli import ProgressBar
    from .identifybench import BenchError, default_prints, run
    from .sourceafis.compact import Screening
    from .sourceafis.edgeindex import Prefilter

    settings = {"roots": args.screen_roots, "stride": args.screen_stride, "keep": args.screen_keep}
    prefiltering = {"keep": args.prefilter_keep, "fraction": args.prefilter_fraction}
    try:
        screening = Screening(**{name: value for name, value in settings.items() if value is not None})
        prefilter = Prefilter(**{name: value for name, value in prefiltering.items() if value is not None})
    except ValueError as error:
        raise CommandError(str(error)) from None
    # A million templates take minutes to build and search: progress on stderr, a line per tenth.
    progress = ProgressBar("building", args.gallery, lines=10)
    try:
        result = run(args.prints or default_prints(), args.gallery, shards=args.shards, probes=args.probes,
                     exhaustive_limit=args.exhaustive_limit, fingers=args.fingers, ray_address=args.ray_address,
                     screening=None if args.exhaustive else screening,
                     prefilter=None if args.exhaustive else prefilter, progress=progress.update)
    except BenchError as error:
        raise CommandError(str(error)) from None
    finally:
        progress.close()
    print(json.dumps(result))
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    from core.cli import CommandError
    from core.config import Config
    from core.db import Database

    from .keyring import Keyring
    from .keys import BiometricKeyError, MasterKey, master_key_path, write_key_file
    from .service import rotate_keys

    config = Config.from_env(data_dir=Path(args.data) if args.data else None)
    try:
        keyring = Keyring.load(config.biometric_key, config.data_dir, os.environ.get("LOANCTL_BIOMETRIC_KEY_OLD", ""))
        if config.biometric_key:
            if args.new_key_file is None:
                raise CommandError("LOANCTL_BIOMETRIC_KEY is set: give the new key with --new-key-file")
            new_key = MasterKey.from_hex(args.new_key_file.read_text())
        elif args.new_key_file is not None:
            new_key = MasterKey.from_hex(args.new_key_file.read_text())
        else:
            new_key = MasterKey.generate()
    except (BiometricKeyError, OSError) as error:
        raise CommandError(str(error)) from None
    if new_key.key_id == keyring.current.key_id:
        raise CommandError("the new key is the current key")
    path = master_key_path(config.data_dir)
    staged = path.with_suffix(".next")
    if not config.biometric_key:
        # The new key is on disk before any row depends on it: a crash at any point leaves a
        # key that opens every row (the service also reads .next and .previous).
        write_key_file(staged, new_key, replace=True)

    async def run() -> int:
        db = Database(config.effective_database_url)
        try:
            await db.migrate()
            async with db.unit_of_work() as session:
                return await rotate_keys(session, keyring, new_key)
        finally:
            await db.close()

    try:
        count = asyncio.run(run())
    except BiometricKeyError as error:
        raise CommandError(str(error)) from None
    if config.biometric_key:
        print(f"re-encrypted the data of {count} subjects under key {new_key.key_id}; "
              f"now set LOANCTL_BIOMETRIC_KEY to the contents of {args.new_key_file} and restart the services")
        return 0
    previous = path.with_suffix(".previous")
    os.replace(path, previous)
    os.replace(staged, path)
    previous.unlink()
    print(f"re-encrypted the data of {count} subjects under key {new_key.key_id} ({path})")
    return 0




def cmd_enroll_staff(args: argparse.Namespace) -> int:
    """At the server, with the database and the master key: nobody is needed to vouch (whoever
    runs this already holds everything), and it is audited and notified like any enrollment."""
    import getpass

    from sqlalchemy import func, select

    from core.cli import CommandError
    from core.config import Config
    from core.db import Database
    from core.errors import ServiceError
    from core.orm import User

    from .engine import MatchingPool
    from .keyring import Keyring
    from .service import BiometricService, CaptureInput, Settings
    from .stepup import enroll_at_console

    config = Config.from_env(data_dir=Path(args.data) if args.data else None)
    try:
        captures = [CaptureInput(path.read_bytes(), args.dpi, "console") for path in args.images]
    except (OSError, ServiceError) as error:
        raise CommandError(getattr(error, "message", str(error))) from None

    async def run() -> list[dict]:
        db = Database(config.effective_database_url)
        pool = MatchingPool()
        pool.start()
        try:
            await db.migrate()
            async with db.unit_of_work(write=False) as session:
                user = (await session.execute(select(User).where(
                    func.lower(User.username) == args.username.lower()))).scalar_one_or_none()
            if user is None:
                raise CommandError(f"no user named {args.username}")
            service = BiometricService(db, Keyring.load(config.biometric_key, config.data_dir), pool,
                                       Settings.from_config(config))
            return [await enroll_at_console(service, db, user.id, args.finger, capture, operator=getpass.getuser())
                    for capture in captures]
        finally:
            await pool.close()
            await db.close()

    try:
        results = asyncio.run(run())
    except ServiceError as error:
        raise CommandError(error.message) from None
    for result in results:
        print(f"enrolled finger {result['finger']} of {args.username}: {result['minutiae']} minutiae")
    return 0


def cmd_migrate_templates(args: argparse.Namespace) -> int:
    """At the server, with the database and the master key, like rotate-key. Run again at any
    time: captures that already have a template of the mode are skipped."""
    import getpass
    import json

    from core.cli import CommandError
    from core.config import Config
    from core.db import Database
    from core.errors import ServiceError

    from .engine import MatchingPool
    from .keyring import Keyring
    from .keys import BiometricKeyError
    from .service import BiometricService, Settings

    config = Config.from_env(data_dir=Path(args.data) if args.data else None)

    async def run() -> dict:
        db = Database(config.effective_database_url)
        pool = MatchingPool()
        pool.start()
        try:
            await db.migrate()
            service = BiometricService(db, Keyring.load(config.biometric_key, config.data_dir), pool,
                                       Settings.from_config(config))
            return await service.migrate_templates(operator=getpass.getuser())
        finally:
            await pool.close()
            await db.close()

    try:
        result = asyncio.run(run())
    except (ServiceError, BiometricKeyError) as error:
        raise CommandError(getattr(error, "message", str(error))) from None
    print(json.dumps({"mode": config.fingerprint_mode, **result}))
    return 0
