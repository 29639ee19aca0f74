"""Workers at scale: two `halsaram worker` processes on one PostgreSQL send every outbox row
exactly once through the sandbox, and stop gracefully on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from storage import outbox
from storage.db import create_engine, session_factory, transaction
from storage.models import OutboxMessage
from tests.databases import fresh_pg_database, migrated
from tests.e2e.processes import People, bot_env, running

ROWS_PER_PERSON = 5


async def _enqueue(url: str, chat_ids: list[int]) -> None:
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as session:
            now = (await session.execute(select(func.now()))).scalar_one()
            for chat_id in chat_ids:
                for n in range(ROWS_PER_PERSON):
                    await outbox.enqueue(
                        session, key=f"bench:{chat_id}:{n}", chat_id=chat_id, kind="warned",
                        values={}, now=now,
                    )  # fmt: skip
    finally:
        await engine.dispose()


async def _sent(url: str) -> int:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == "sent")
                )
                or 0
            )
    finally:
        await engine.dispose()


def test_two_workers_send_each_row_once(
    people: People, sandbox_url: str, tmp_path: Path, postgresql_url: str
) -> None:
    crowd = [people.create(f"p{i}", "en") for i in range(30)]
    for person in crowd:
        people.say(person, "hi")  # a bot may only write to people who wrote first
    with fresh_pg_database() as url:
        migrated(url)
        asyncio.run(_enqueue(url, [p["id"] for p in crowd]))
        env = bot_env(sandbox_url, tmp_path, HALSARAM_DATABASE_URL=url)
        worker = [sys.executable, "-m", "bot.cli", "worker"]
        env_b = {**env, "HALSARAM_METRICS_PORT": "0"}
        with (
            running(worker, env, None, tmp_path / "worker-a.log") as a,
            running(worker, env_b, None, tmp_path / "worker-b.log") as b,
        ):
            deadline = time.monotonic() + 90
            while asyncio.run(_sent(url)) < len(crowd) * ROWS_PER_PERSON:
                assert time.monotonic() < deadline, "the workers did not send everything"
                time.sleep(0.5)
            for process in (a, b):
                process.send_signal(signal.SIGTERM)
            assert a.wait(timeout=20) == 0 and b.wait(timeout=20) == 0
    for person in crowd:
        messages = [m for m in people.view(person["id"])["messages"] if m["from"]["is_bot"]]
        assert len(messages) == ROWS_PER_PERSON, person["id"]
