"""Migration 0007 (issue 19, point 4): `group_chats.active` splits into `paused` and `present`.

`active = false` could mean "the admin paused the posts" or "the bot was removed"; it becomes
paused AND absent, so nothing is posted and only the admin's /resume restarts the posts (see
the revision's docstring). Downgrading folds the states back into `active`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, text

from alembic import command
from storage import migrate
from storage.db import sync_url
from tests.databases import fresh_pg_database, fresh_sqlite_database

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield fresh_sqlite_database(tmp_path)
        return
    request.getfixturevalue("postgresql_url")  # skips (or fails in CI) without PostgreSQL
    with fresh_pg_database() as url:
        yield url


def _run(url: str, statement: str, **values: object) -> list[tuple[object, ...]]:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), values)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def test_active_becomes_paused_and_present_and_back(empty_url: str) -> None:
    migrate.upgrade(empty_url, "0006")
    for chat_id, active in ((-1, True), (-2, False)):
        _run(
            empty_url,
            "INSERT INTO group_chats (chat_id, title, post_time, language, active, created_at)"
            " VALUES (:chat_id, 't', '08:00:00', 'ko', :active, :now)",
            chat_id=chat_id, active=active, now=NOW,
        )  # fmt: skip
    migrate.upgrade(empty_url)
    rows = _run(
        empty_url,
        "SELECT chat_id, paused, present, cannot_post, thread_id FROM group_chats"
        " ORDER BY chat_id DESC",
    )
    assert [(c, bool(p), bool(h), r, t) for c, p, h, r, t in rows] == [
        (-1, False, True, None, None),
        (-2, True, False, None, None),
    ]
    # Posting now means present, not paused and allowed to post; a refusal folds into inactive.
    _run(empty_url, "UPDATE group_chats SET cannot_post = 'no_rights' WHERE chat_id = -1")
    command.downgrade(migrate.alembic_config(empty_url), "0006")
    back = _run(empty_url, "SELECT chat_id, active FROM group_chats ORDER BY chat_id DESC")
    assert [(c, bool(a)) for c, a in back] == [(-1, False), (-2, False)]
