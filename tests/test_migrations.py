"""Foundation: Alembic builds the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool

from bot.cli import main
from storage import migrate
from storage.db import sync_url
from storage.models import Base
from tests.databases import fresh_pg_database, fresh_sqlite_database


def _differences(url: str) -> list[object]:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_models_and_migrations_agree(db_url: str) -> None:
    """Autogenerate against the migrated database finds nothing to add or change."""
    assert _differences(db_url) == []
    assert migrate.current_revision(db_url) == migrate.head_revision(db_url)


def _upgrade_twice_through_cli(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALSARAM_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    tables = _tables(url)
    assert {"users", "ledger_entries", "voucher_codes", "inbox", "outbox"} <= tables
    assert main(["db", "upgrade"]) == 0
    assert _tables(url) == tables
    assert _differences(url) == []


def test_db_upgrade_on_an_empty_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fresh_sqlite_database(tmp_path / "new-dir")
    _upgrade_twice_through_cli(url, monkeypatch)


def test_db_upgrade_on_an_empty_postgresql_database(
    postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_pg_database() as url:
        _upgrade_twice_through_cli(url, monkeypatch)
