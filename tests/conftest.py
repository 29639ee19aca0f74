"""Fixtures shared by the tests: databases on both backends, a clock, the bot harness, the
evidence scene, a moto S3 server, the fake AI judge, and the sandbox as its own process."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import SANDBOX_TOKEN
from storage.clock import FrozenClock
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.files import S3Config
from storage.seed import seed_all
from tests.databases import (
    delete_all_sql,
    fresh_pg_database,
    fresh_sqlite_database,
    in_ci,
    migrated,
    pg_unreachable_reason,
)
from tests.e2e.processes import People, running
from tests.harness import BotHarness, make_settings
from tests.people import SEOUL, Scene, evidence_scene
from tests.servers import FakeJudge, free_port, judge_app, local_server


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


@pytest.fixture
async def scene(bot: BotHarness, tmp_path: Path) -> Scene:
    """A meetup in progress with a checked-in guest, and an admin group with the bot in it."""
    return await evidence_scene(bot, tmp_path)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Config]:
    """A moto S3 server on a free port (real HTTP, not mocks of boto3), with one bucket."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    config = S3Config(
        bucket="halsaram-test", prefix="evidence/", endpoint_url=f"http://127.0.0.1:{port}",
        region="us-east-1", access_key_id="test", secret_access_key="test",
    )  # fmt: skip
    boto3.client(
        "s3", endpoint_url=config.endpoint_url, region_name=config.region,
        aws_access_key_id="test", aws_secret_access_key="test",
    ).create_bucket(Bucket=config.bucket)  # fmt: skip
    yield config
    server.stop()


@pytest.fixture
async def fake_judge() -> AsyncIterator[tuple[FakeJudge, str]]:
    """A local OpenAI-compatible server on a free port; yields it and its base URL."""
    fake = FakeJudge()
    async with local_server(judge_app(fake)) as base:
        yield fake, f"{base}/v1"
        fake.release.set()  # a request held back to test the timeout may now finish


@contextmanager
def _sandbox_process(tmp_path: Path, *options: str) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "sandbox.server", "--port", str(port), "--token", SANDBOX_TOKEN]
    with running([*args, *options], {}, f"{url}/healthz", tmp_path / "sandbox.log"):
        yield url


@pytest.fixture
def sandbox_url(tmp_path: Path) -> Iterator[str]:
    """The sandbox (`python -m sandbox.server`) as its own process on a free port."""
    with _sandbox_process(tmp_path) as url:
        yield url


@pytest.fixture
def local_webhook_sandbox_url(tmp_path: Path) -> Iterator[str]:
    """The same, with the test flag that lets setWebhook take an http:// loopback URL (a bot's
    webhook on a free local port); Telegram, and the sandbox by default, refuse one."""
    with _sandbox_process(tmp_path, "--local-http-webhooks") as url:
        yield url


@pytest.fixture
def people(sandbox_url: str) -> People:
    """People acting over HTTP against the sandbox process."""
    return People(sandbox_url)
