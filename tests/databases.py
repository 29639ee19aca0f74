"""Test databases: SQLite always, PostgreSQL on this machine and in CI.

Each test run migrates a database of its own (a fresh SQLite file; a fresh PostgreSQL database
named for the run), so parallel runs never collide; each test then starts from empty tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from storage import migrate
from storage.models import Base

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_base_url() -> str:
    return os.environ.get("HALSARAM_TEST_PG_URL", DEFAULT_PG_URL)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_unreachable_reason() -> str | None:
    try:
        with psycopg.connect(_libpq(pg_base_url()), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {make_url(pg_base_url()).render_as_string()} unreachable: {exc}"


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """Creates a database for this run, yields its URL, drops it afterwards."""
    base = pg_base_url()
    name = f"halsaram_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(base), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(base), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_sqlite_database(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'halsaram-test.sqlite3'}"


def migrated(url: str) -> str:
    migrate.upgrade(url)
    return url


def delete_all_sql() -> list[str]:
    """Statements emptying every table, children first (foreign keys stay on)."""
    return [f"DELETE FROM {table.name}" for table in reversed(Base.metadata.sorted_tables)]
