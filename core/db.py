"""The database: engine set-up for SQLite and PostgreSQL, migrations, and the unit of work."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from pathlib import Path
from typing import AsyncIterator

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Connecting to a server that does not answer must fail fast: a request waits this long at most.
CONNECT_TIMEOUT_SECONDS = 5
# SQLSTATEs of a server that is gone, going, or refusing connections (classes 08 and 57P, 53300).
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}

log = logging.getLogger(__name__)


class DatabaseUnavailable(Exception):
    """The database cannot be reached now; the request may be retried later (503)."""

    retry_after = 5


class Database:
    """One engine and its session factory; closed by the application's cleanup context."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True,
                          connect_args={"timeout": CONNECT_TIMEOUT_SECONDS})
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.available = True

    @contextlib.asynccontextmanager
    async def unit_of_work(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back on any exception.

        On SQLite a writing unit takes the write lock at BEGIN (BEGIN IMMEDIATE) so two
        writers never deadlock upgrading read locks; readers run in WAL snapshots.
        A database that cannot be reached raises DatabaseUnavailable (answered 503).
        """
        async with self.sessions() as session:
            try:
                await session.connection(execution_options={"sqlite_immediate": write})
            except (OSError, asyncio.TimeoutError, DBAPIError) as error:
                # Connecting (or the pool's pre-ping) failed: the driver's own errors, e.g.
                # ConnectionRefusedError, come through unwrapped here.
                if isinstance(error, DBAPIError) and not is_unavailable(error):
                    raise
                raise self._unavailable(error) from error
            try:
                yield session
                await session.commit()
            except BaseException as error:
                if isinstance(error, DatabaseUnavailable):
                    with contextlib.suppress(Exception):
                        await session.rollback()
                    raise
                if is_unavailable(error):
                    with contextlib.suppress(Exception):
                        await session.rollback()  # on a dead connection this fails as well
                    raise self._unavailable(error) from error
                await session.rollback()
                raise
        if not self.available:
            self.available = True
            log.info("database reachable again")

    def _unavailable(self, error: BaseException) -> DatabaseUnavailable:
        """One log line per outage, not one traceback per request."""
        if self.available:
            self.available = False
            log.warning("database unreachable (%s); answering 503 until it is back", _describe(error))
        return DatabaseUnavailable(_describe(error))

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        async with self.engine.begin() as connection:
            def upgrade(sync_connection) -> None:
                cfg.attributes["connection"] = sync_connection
                command.upgrade(cfg, "head")
            await connection.run_sync(upgrade)

    async def close(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", True)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


async def try_exclusive(session: AsyncSession, job: str) -> bool:
    """Whether this transaction may run `job`, a round that must not run twice at once when
    several core nodes share the database (each node's background loop starts the same round).

    PostgreSQL: a transaction-level advisory lock, released at commit, rollback or when a killed
    node's connection drops, so a crashed node never keeps the job; `False` means another node
    holds it right now and this round is skipped (that node is doing the work). SQLite serves one
    node and a writing unit already holds the file's write lock (BEGIN IMMEDIATE): always `True`.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    key = int.from_bytes(hashlib.sha256(f"loanctl:{job}".encode()).digest()[:8], "big", signed=True)
    return bool((await session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})).scalar())


def is_unavailable(error: BaseException) -> bool:
    """The database connection broke or could not be made (not a problem with the query)."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        code = str(getattr(cause, "sqlstate", "") or "")
        if code.startswith("08") or code in _UNAVAILABLE_SQLSTATES:
            return True
        name = type(cause).__name__
        if isinstance(cause, (OSError, asyncio.TimeoutError)) or name in (
                "ConnectionDoesNotExistError", "ClientCannotConnectError", "CannotConnectNowError"):
            return True
        if name == "InterfaceError" and "connection is closed" in str(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _describe(error: BaseException) -> str:
    """A short, credential-free description for the log."""
    root = getattr(error, "orig", None) or error
    return f"{type(root).__name__}: {str(root).splitlines()[0][:200] if str(root) else ''}"


def is_conflict(error: BaseException) -> bool:
    """A transaction lost a race (serialization failure, deadlock, or a locked SQLite file)."""
    if isinstance(error, DBAPIError):
        code = getattr(getattr(error.orig, "sqlstate", None), "__str__", lambda: "")()
        if code in {"40001", "40P01"}:
            return True
        if isinstance(error, OperationalError) and "locked" in str(error.orig):
            return True
    return False

