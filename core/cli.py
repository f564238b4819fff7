"""`loanctl`: run the suite and look after its data."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import importlib.util
import logging
import os
import ssl
import sys
import time
from pathlib import Path

from .config import Config, ConfigError
from .rules.rulebook import RuleTableError
from .workflow import WorkflowDefinitionError

# Command groups of the other packages, added when the package provides them.
EXTENSIONS = ("biometrics.cli", "biometrics.servicecli", "committee.cli", "recordings.cli", "core.postloan.cli")


class CommandError(Exception):
    """Stops a command with a message and exit code 2, without a traceback."""

    exit_code = 2


class NoDatabaseError(CommandError):
    """A command that only reads was pointed at a folder or URL that holds no suite database."""

    exit_code = 3


SERVICES = ("all", "core", "web", "committee", "biometrics")

# Shown by `loanctl serve --help`; docs/running.md describes each with its default.
SERVE_ENVIRONMENT = """\
settings read from the environment (all optional; docs/running.md gives every default):
  LOANCTL_DATA                data folder (default ./var)
  LOANCTL_DATABASE_URL        PostgreSQL or SQLite URL (default SQLite in the data folder)
  LOANCTL_DATABASE_REPLICA_URL
                              a PostgreSQL streaming replica for dashboards and exports
  LOANCTL_HOST, LOANCTL_PORT  address and port (default 127.0.0.1:8080)
  LOANCTL_TLS_CERT, LOANCTL_TLS_KEY
                              serve https with this certificate and key (see `loanctl tls init`)
  LOANCTL_STEP_UP             'required' (default) or 'off': fingerprint step-up on important actions
  LOANCTL_STEP_UP_SECONDS     how long a step-up holds (default 180)
  LOANCTL_WORKFLOW, LOANCTL_RULES
                              the bank's own workflow definition and rule tables (TOML)
  LOANCTL_ARCHIVE, LOANCTL_ARCHIVE_KEY
                              credit archive store (local:/path or s3://...) and signing key
  LOANCTL_BIOMETRICS_URL, LOANCTL_BIOMETRIC_KEY
                              a fingerprint service run apart, and the template master key
  LOANCTL_FINGERPRINT_THRESHOLD   match threshold (default 40)
  LOANCTL_FINGERPRINT_MODE    'exact' (default, SourceAFIS) or 'accurate' (docs/fingerprint-accuracy.md)
  LOANCTL_RAY_ADDRESS         Ray cluster holding the 1:N search's shards (default: in this process)
  LOANCTL_IDENTIFY_SHARDS     shards of each 1:N gallery (default 1)
  LOANCTL_SMS_GATEWAY         'log' (default) or an SMPP URL
  LOANCTL_REDIS_URL, LOANCTL_MEDIA_NODE_URL, LOANCTL_MEDIA_LEASE_SECONDS
                              several committee nodes on Redis (docs/deploy.md)
  LOANCTL_SESSION_IDLE_SECONDS, LOANCTL_SESSION_ABSOLUTE_SECONDS, LOANCTL_LOGIN_*,
  LOANCTL_PASSWORD_*, LOANCTL_ARGON2_*, LOANCTL_SCHEDULER_INTERVAL, LOANCTL_OUTBOX_INTERVAL,
  LOANCTL_DEMO_PASSWORD, LOANCTL_JIT_CACHE  (see docs/running.md)
"""


def _config(args: argparse.Namespace) -> Config:
    overrides = {k: getattr(args, k, None) for k in ("host", "port")}
    if getattr(args, "data", None):
        overrides["data_dir"] = Path(args.data)
    return Config.from_env(**overrides).with_secrets()


def read_only_config(args: argparse.Namespace) -> Config:
    """Settings for a command that only reads: the data folder and its key are not created."""
    overrides = {}
    if getattr(args, "data", None):
        overrides["data_dir"] = Path(args.data)
    return Config.from_env(**overrides)


async def open_existing_database(config: Config, table: str = "audit_head"):
    """The suite's database, opened only if it exists and holds the schema (`table`): a read-only
    command never creates a SQLite file or migrates anything."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError, OperationalError

    from .db import Database

    url = config.effective_database_url
    where = str(config.data_dir) if not config.database_url else make_url(url).render_as_string(hide_password=True)
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        if not path or path == ":memory:" or not Path(path).is_file():
            raise NoDatabaseError(f"no database in {where}: give the data folder of a suite that has run "
                                  "(--data DIR or $LOANCTL_DATA), or create one with `loanctl migrate`")
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            present = await connection.run_sync(lambda sync: inspect(sync).has_table(table))
    except (OperationalError, DBAPIError, OSError) as error:
        await db.close()
        raise CommandError(f"cannot open the database at {where}: {str(error).splitlines()[0]}") from None
    if not present:
        await db.close()
        raise NoDatabaseError(f"{where} holds no suite database (table {table} is missing): "
                              "run `loanctl migrate` there first")
    return db


def _ssl_context(config: Config) -> ssl.SSLContext | None:
    if not config.tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


async def _prepare(config: Config, demo: bool) -> list[str]:
    """Migrate, and load the demo organisation into an empty database."""
    from . import demo as demo_data
    from .context import Services

    services = Services.build(config)
    try:
        await services.start()
        async with services.db.unit_of_work() as session:
            if demo and await demo_data.is_empty(session):
                password = demo_data.demo_password(config.data_dir, config.demo_password)
                logins = await demo_data.load(session, services.hashing, password)
                return [f"  demo logins (password {logins.password}): " + ", ".join(logins.usernames)]
        if demo:
            password_file = config.data_dir / "demo-password.txt"
            if password_file.exists():
                return [f"  demo password: see {password_file}"]
        return []
    finally:
        await services.close()


def _compile_fingerprint_engine(service: str) -> None:
    """The first start on a machine compiles the fingerprint engine (numba) for a minute or so:
    say so and do it before listening, rather than leave a silent terminal or a slow first scan."""
    if service not in ("all", "biometrics") or importlib.util.find_spec("biometrics.warmup") is None:
        return
    from biometrics.sourceafis import jitcache

    if jitcache.is_warm():
        return
    print("compiling the fingerprint engine for this machine (first start only, about a minute)...", flush=True)
    started = time.monotonic()
    importlib.import_module("biometrics.warmup")
    print(f"  compiled in {time.monotonic() - started:.0f} s; cached in {jitcache.cache_directory()}", flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    if args.service not in SERVICES:
        raise CommandError(f"unknown service {args.service!r}: choose one of {', '.join(SERVICES)}")
    config = _config(args)
    lines = asyncio.run(_prepare(config, demo=not args.no_demo))
    _compile_fingerprint_engine(args.service)
    app = _service_app(args.service, config)
    scheme = "https" if config.tls else "http"
    host = "localhost" if config.host in ("127.0.0.1", "0.0.0.0", "::") else config.host
    print(f"Loan Acceptance Suite ({args.service}) on {scheme}://{host}:{config.port}/", flush=True)
    print(f"  data folder: {config.data_dir.resolve()}", flush=True)
    for line in lines:
        print(line, flush=True)
    try:
        web.run_app(app, host=config.host, port=config.port, ssl_context=_ssl_context(config),
                    print=None, access_log=None)
    except OSError as error:  # the port is taken or not ours to bind
        raise CommandError(f"cannot listen on {config.host}:{config.port}: {error.strerror or error}") from None
    return 0


def _service_app(service: str, config: Config):
    if service in ("all", "web"):
        from web.app import create_app
    elif service == "core":
        from .app import create_app
    else:
        module = f"{service}.app"
        if importlib.util.find_spec(module) is None:
            raise CommandError(f"the {service} service is not part of this installation")
        create_app = importlib.import_module(module).create_app
    return create_app(config)


def cmd_migrate(args: argparse.Namespace) -> int:
    asyncio.run(_prepare(_config(args), demo=False))
    print("database is at the newest schema")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from recordings import anchors

    from . import audit

    config = read_only_config(args)

    async def run():
        db = await open_existing_database(config)
        try:
            anchor = await _expected_anchor(config, args.expect_head) if args.expect_head else None
            async with db.unit_of_work(write=False) as session:
                return anchor, await audit.verify(session, (anchor.seq, anchor.hash) if anchor else None)
        finally:
            await db.close()
    try:
        anchor, (brk, count) = asyncio.run(run())
    except anchors.AnchorError as error:
        raise CommandError(str(error)) from None
    if brk is None:
        against = f"; it holds anchored record {anchor.seq}" + (f" (anchored {anchor.at})" if anchor.at else "") \
            if anchor else ""
        print(f"audit chain holds: {count} records verified{against}")
        return 0
    print(f"audit chain BROKEN at record {brk.seq} ({brk.kind}): {brk.message}", file=sys.stderr)
    return 1


async def _expected_anchor(config: Config, value: str):
    """``store``: the newest anchor in the archive store; otherwise SEQ:HASH or a file."""
    from recordings import anchors
    from recordings.blobstore import open_store
    from recordings.service import load_signer

    verifier = load_signer(config).verifier()
    if value != "store":
        return anchors.parse_expected(value, verifier)
    async with open_store(config.effective_archive_url, create=False) as store:
        anchor = await anchors.latest(store, verifier)
    if anchor is None:
        raise anchors.AnchorError(f"no audit anchor in the archive store {config.effective_archive_url}")
    return anchor


def cmd_audit_anchor(args: argparse.Namespace) -> int:
    """Write the chain head into the archive store now (signed), as the service does hourly."""
    from recordings import anchors
    from recordings.blobstore import open_store
    from recordings.service import load_signer

    config = _config(args)

    async def run():
        db = await open_existing_database(config)
        try:
            async with open_store(config.effective_archive_url) as store:
                return await anchors.write_anchor(db, store, load_signer(config))
        finally:
            await db.close()
    anchor = asyncio.run(run())
    if anchor is None:
        print("the audit chain head is anchored already (or the chain is empty)")
    else:
        print(f"anchored record {anchor.seq}\t{anchor.hash}\t{anchor.at}")
    return 0


def cmd_audit_head(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from .orm import AuditHead

    async def run():
        db = await open_existing_database(read_only_config(args))
        try:
            async with db.unit_of_work(write=False) as session:
                return (await session.execute(select(AuditHead))).scalar_one_or_none()
        finally:
            await db.close()
    head = asyncio.run(run())
    if head is None:
        print("the audit chain is empty")
    else:
        print(f"{head.seq}\t{head.hash}")
    return 0


async def _archive_digests(args: argparse.Namespace) -> list[str]:
    """Every digest the database's credit files reference (pages and records)."""
    from recordings.service import referenced_digests

    db = await open_existing_database(read_only_config(args), table="loan_documents")
    try:
        async with db.unit_of_work(write=False) as session:
            return await referenced_digests(session)
    finally:
        await db.close()


def cmd_org_init(args: argparse.Namespace) -> int:
    """First start without the demo: the head office and its first administrator."""
    from . import audit
    from .context import Services
    from .demo import is_empty
    from .orm import Office, User, UserRole
    from .passwords import check_policy

    config = _config(args)
    password = os.environ.get("LOANCTL_ADMIN_PASSWORD") or getpass.getpass("administrator password: ")
    check_policy(password, username=args.admin, min_length=config.password_min_length)

    async def run():
        services = Services.build(config)
        try:
            await services.db.migrate()
            async with services.db.unit_of_work() as session:
                if not await is_empty(session):
                    raise CommandError("the organisation already exists")
                office = Office(code=args.code, name_zh=args.name, name_en=args.name_en or args.name,
                                kind="head_office")
                session.add(office)
                await session.flush()
                office.path = f"/{office.id}/"
                user = User(username=args.admin, display_name=args.admin, office_id=office.id,
                            password_hash=services.hashing.hash(password), roles=[UserRole(role="admin")])
                session.add(user)
                await session.flush()
                actor = audit.Actor.system("loanctl")
                await audit.append(session, actor, "office.create", "office", office.id, {"code": args.code})
                await audit.append(session, actor, "user.create", "user", user.id, {"username": args.admin})
        finally:
            await services.db.close()
    asyncio.run(run())
    print(f"head office {args.code} and administrator {args.admin} created")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loanctl", description="Loan Acceptance Suite")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def with_data(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data", metavar="DIR", help="data folder (default ./var or $LOANCTL_DATA)")
        return p

    serve = with_data(commands.add_parser(
        "serve", help="run the suite (or one service) on the embedded defaults",
        epilog=SERVE_ENVIRONMENT, formatter_class=argparse.RawDescriptionHelpFormatter))
    # Checked by cmd_serve rather than by argparse `choices`, so that a mistyped option
    # (`serve --prot 9000`) is reported by name instead of as an invalid service '9000'.
    serve.add_argument("service", nargs="?", default="all", metavar="SERVICE",
                       help=f"which service to run: {', '.join(SERVICES)} (default all: the whole suite "
                            "in one process)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument("--no-demo", action="store_true", help="do not load the demo organisation")
    serve.set_defaults(run=cmd_serve)

    with_data(commands.add_parser("migrate", help="bring the database schema up to date")).set_defaults(run=cmd_migrate)

    audit_cmd = commands.add_parser("audit", help="the audit trail")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", metavar="ACTION")
    audit_sub.required = True
    verify = with_data(audit_sub.add_parser("verify", help="check the hash chain; exit 1 if broken, 3 if the folder holds no database"))
    verify.add_argument("--expect-head", metavar="HEAD_OR_FILE",
                        help="an anchor kept outside the database: SEQ:HASH, a file with it or a signed "
                             "anchor, or 'store' for the newest anchor in the archive store")
    verify.set_defaults(run=cmd_audit_verify)
    with_data(audit_sub.add_parser("anchor", help="write the chain head, signed, into the archive store now")
              ).set_defaults(run=cmd_audit_anchor)
    with_data(audit_sub.add_parser("head", help="print the chain head (sequence and hash) to anchor elsewhere")
              ).set_defaults(run=cmd_audit_head)

    org = commands.add_parser("org", help="the organisation")
    org_sub = org.add_subparsers(dest="org_command", metavar="ACTION")
    org_sub.required = True
    init = with_data(org_sub.add_parser("init", help="create the head office and the first administrator"))
    init.add_argument("--code", default="HO")
    init.add_argument("--name", required=True, help="head office name (Chinese)")
    init.add_argument("--name-en", default="")
    init.add_argument("--admin", required=True, help="administrator user name; password from "
                      "$LOANCTL_ADMIN_PASSWORD or asked")
    init.set_defaults(run=cmd_org_init)

    for name in EXTENSIONS:
        if importlib.util.find_spec(name) is not None:
            if name == "recordings.cli":
                # Verify must know what the credit files reference: a blob deleted from the
                # store is otherwise simply not there to be rehashed, and passes.
                importlib.import_module(name).register(commands, expected_digests=_archive_digests)
            else:
                importlib.import_module(name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except CommandError as error:
        print(f"loanctl: {error}", file=sys.stderr)
        return error.exit_code
    except (ConfigError, WorkflowDefinitionError, RuleTableError) as error:
        print(f"loanctl: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Through the package's own module, so that the other packages' commands (which import
    # core.cli) raise the same CommandError classes this main() catches.
    from core.cli import main as package_main

    sys.exit(package_main())
