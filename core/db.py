"""The database: engine set-up for SQLite and PostgreSQL, migrations, and the unit of work."""
from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import AsyncIterator

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """One engine and its session factory; closed by the application's cleanup context."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def unit_of_work(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back on any exception.

        On SQLite a writing unit takes the write lock at BEGIN (BEGIN IMMEDIATE) so two
        writers never deadlock upgrading read locks; readers run in WAL snapshots.
        """
        async with self.sessions() as session:
            await session.connection(execution_options={"sqlite_immediate": write})
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

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


def is_conflict(error: BaseException) -> bool:
    """A transaction lost a race (serialization failure, deadlock, or a locked SQLite file)."""
    if isinstance(error, DBAPIError):
        code = getattr(getattr(error.orig, "sqlstate", None), "__str__", lambda: "")()
        if code in {"40001", "40P01"}:
            return True
        if isinstance(error, OperationalError) and "locked" in str(error.orig):
            return True
    return False

