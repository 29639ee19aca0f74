"""Fixtures shared by every test: databases on both backends, a clock, the bot harness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import SANDBOX_TOKEN, Settings
from storage.clock import FrozenClock
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.seed import seed_all
from tests.databases import (
    delete_all_sql,
    fresh_pg_database,
    fresh_sqlite_database,
    in_ci,
    migrated,
    pg_unreachable_reason,
)
from tests.harness import BotHarness

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return migrated(fresh_sqlite_database(tmp_path_factory.mktemp("sqlite")))


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    reason = pg_unreachable_reason()
    if reason is not None:
        if in_ci():
            pytest.fail(f"{reason} (CI never skips PostgreSQL tests)")
        pytest.skip(reason)
    with fresh_pg_database() as url:
        yield migrated(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once per database backend."""
    return str(request.getfixturevalue(f"{request.param}_url"))


async def _empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for statement in delete_all_sql():
            await conn.exec_driver_sql(statement)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    await _empty(engine)
    yield engine
    await _empty(engine)
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return session_factory(engine)


@pytest.fixture
def clock() -> FrozenClock:
    """Wednesday 25 November 2026, 09:00 in Seoul."""
    return FrozenClock(datetime(2026, 11, 25, 9, 0, tzinfo=SEOUL))


def make_settings(**overrides: object) -> Settings:
    """Settings that ignore the machine's environment and `.env`."""
    values: dict[str, object] = {
        "telegram_token": SANDBOX_TOKEN,
        "secret_key": "test-secret",
        # Tests act much faster than people; the flood-control test sets its own limit.
        "flood_max_updates": 1000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture
async def seeded(sessions: SessionFactory, clock: FrozenClock) -> None:
    """Seoul neighbourhoods (Songpa-gu open) and the demo catalogue."""
    async with transaction(sessions) as session:
        await seed_all(session, clock)


@pytest.fixture
async def bot(
    db_url: str, sessions: SessionFactory, clock: FrozenClock
) -> AsyncIterator[BotHarness]:
    harness = BotHarness(make_settings(database_url=db_url), sessions, clock)
    await harness.start()
    yield harness
    await harness.stop()
