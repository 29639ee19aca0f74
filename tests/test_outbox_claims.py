"""The outbox's one-statement claim (issue 24): two claimers at once never take one row, on
SQLite and PostgreSQL, and a row a dead worker claimed is taken again after the stale-claim
delay, not before."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from storage import outbox
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction

ROWS = 40


async def _queue(sessions: SessionFactory, now: datetime, count: int = ROWS) -> list[int]:
    async with transaction(sessions) as s:
        for n in range(count):
            await outbox.enqueue(
                s, key=f"claim:{n}", chat_id=1000 + n, kind="warned", values={}, now=now
            )
    async with transaction(sessions) as s:
        claimed = await outbox.claim(s, "peek", now, limit=count)
        await outbox.release_claims(s, "peek")
    return [row.id for row in claimed]


async def _claim(sessions: SessionFactory, worker: str, now: datetime) -> list[int]:
    async with transaction(sessions) as s:
        return [row.id for row in await outbox.claim(s, worker, now, limit=ROWS)]


async def test_two_claimers_at_once_never_take_one_row(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    now = clock.now()
    every = await _queue(sessions, now)
    async with transaction(sessions) as s:
        first = [row.id for row in await outbox.claim(s, "a", now, limit=25)]
        # The second claimer runs while the first one's claim is not committed yet: on
        # PostgreSQL it skips the locked rows, on SQLite it waits for the write lock.
        second_task = asyncio.create_task(_claim(sessions, "b", now))
        await asyncio.sleep(0.3)
    second = await second_task
    assert first == sorted(first) == every[:25]  # oldest first
    assert not set(first) & set(second)
    assert sorted(first + second) == every


async def test_many_claimers_share_the_rows_out(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    now = clock.now()
    every = await _queue(sessions, now)

    async def small(worker: str) -> list[int]:
        async with transaction(sessions) as s:
            return [row.id for row in await outbox.claim(s, worker, now, limit=7)]

    taken: list[int] = []
    while len(taken) < ROWS:
        rounds = await asyncio.gather(*(small(f"w{n}") for n in range(4)))
        assert any(rounds), "rows were left unclaimed"
        taken += [row_id for ids in rounds for row_id in ids]
    assert sorted(taken) == every  # each once


async def test_a_dead_workers_claim_is_taken_over_after_the_stale_delay(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    now = clock.now()
    await _queue(sessions, now, count=3)
    stale = timedelta(seconds=30)
    assert len(await _claim(sessions, "dead", now)) == 3
    async with transaction(sessions) as s:
        early = await outbox.claim(s, "next", now + stale - timedelta(seconds=1), stale=stale)
    assert early == []
    async with transaction(sessions) as s:
        late = await outbox.claim(s, "next", now + stale + timedelta(seconds=1), stale=stale)
    assert len(late) == 3 and all(row.key.startswith("claim:") for row in late)
