"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SessionFactory = async_sessionmaker[AsyncSession]
WRITE_OPTION = "halsaram_write"
# PostgreSQL's default, which the row locks (SELECT ... FOR UPDATE) of every write rely on.
WRITE_ISOLATION = "READ COMMITTED"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (Alembic runs synchronously)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return url  # psycopg 3 serves both the sync and the async dialect


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite with foreign keys on, WAL, and write-ready transactions."""
    if not is_sqlite(url):
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # SQLite ignores SELECT ... FOR UPDATE. A write transaction (`transaction()`) begins
        # IMMEDIATE and takes the write lock up front, so two that read-then-write (a balance,
        # a seat) serialise instead of one failing on lock upgrade. Reads begin DEFERRED and,
        # in WAL mode, never wait for writers.
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that read; `transaction()` makes one a unit of work that writes.

    On PostgreSQL a reading session runs in autocommit. Under READ COMMITTED each statement
    sees its own snapshot anyway, and most updates only read, so this saves a BEGIN and a
    ROLLBACK round trip on each of them.
    """
    if not is_sqlite(str(engine.url)):
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work that writes: commits on success, rolls back on any error.

    Reading needs no transaction of its own: `async with factory() as session`.
    """
    async with factory() as session, session.begin():
        options: dict[str, Any] = {WRITE_OPTION: True}
        if session.get_bind().dialect.name != "sqlite":
            options["isolation_level"] = WRITE_ISOLATION  # not the readers' autocommit
        await session.connection(execution_options=options)
        yield session


async def ping(session: AsyncSession) -> None:
    """One round trip to the database (the health check); raises when it cannot answer."""
    await session.execute(text("SELECT 1"))
