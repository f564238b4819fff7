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
from pathlib import Path

from .config import Config, ConfigError
from .rules.rulebook import RuleTableError
from .workflow import WorkflowDefinitionError

# Command groups of the other packages, added when the package provides them.
EXTENSIONS = ("biometrics.cli", "biometrics.servicecli", "committee.cli", "recordings.cli", "core.postloan.cli")


class CommandError(Exception):
    """Stops a command with a message and exit code 2, without a traceback."""


def _config(args: argparse.Namespace) -> Config:
    overrides = {k: getattr(args, k, None) for k in ("host", "port")}
    if getattr(args, "data", None):
        overrides["data_dir"] = Path(args.data)
    return Config.from_env(**overrides).with_secrets()


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
        await services.db.close()


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    config = _config(args)
    lines = asyncio.run(_prepare(config, demo=not args.no_demo))
    app = _service_app(args.service, config)
    scheme = "https" if config.tls else "http"
    host = "localhost" if config.host in ("127.0.0.1", "0.0.0.0", "::") else config.host
    print(f"Loan Acceptance Suite ({args.service}) on {scheme}://{host}:{config.port}/", flush=True)
    print(f"  data folder: {config.data_dir.resolve()}", flush=True)
    for line in lines:
        print(line, flush=True)
    web.run_app(app, host=config.host, port=config.port, ssl_context=_ssl_context(config),
                print=None, access_log=None)
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
    from . import anchors, audit
    from .db import Database

    config = _config(args)

    async def run():
        anchor = None
        if args.expect_head:
            anchor = await _expected_anchor(config, args.expect_head)
        db = Database(config.effective_database_url)
        try:
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
    from recordings.blobstore import open_store
    from recordings.service import load_signer

    from . import anchors

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
    from recordings.blobstore import open_store
    from recordings.service import load_signer

    from . import anchors
    from .db import Database

    config = _config(args)

    async def run():
        db = Database(config.effective_database_url)
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

    from .db import Database
    from .orm import AuditHead

    async def run():
        db = Database(_config(args).effective_database_url)
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

    from .db import Database

    db = Database(_config(args).effective_database_url)
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

    serve = with_data(commands.add_parser("serve", help="run the suite (or one service) on the embedded defaults"))
    serve.add_argument("service", nargs="?", default="all", choices=("all", "core", "web", "committee", "biometrics"))
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument("--no-demo", action="store_true", help="do not load the demo organisation")
    serve.set_defaults(run=cmd_serve)

    with_data(commands.add_parser("migrate", help="bring the database schema up to date")).set_defaults(run=cmd_migrate)

    audit_cmd = commands.add_parser("audit", help="the audit trail")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", metavar="ACTION")
    audit_sub.required = True
    verify = with_data(audit_sub.add_parser("verify", help="check the hash chain; exit 1 if broken"))
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
    except (CommandError, ConfigError, WorkflowDefinitionError, RuleTableError) as error:
        print(f"loanctl: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
