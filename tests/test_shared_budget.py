"""Two processes, one budget: with Redis, Telegram's send limit holds for the bot as a whole,
not once per process (two budgets sharing Redis stand in for two worker processes)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.shared_budget import SharedBuckets
from bot.transport import SendBudget
from tests.databases import in_ci

REDIS_URL = os.environ.get("HALSARAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RATE, SENDS = 50.0, 60


@pytest.fixture
async def shared() -> AsyncIterator[tuple[SharedBuckets, SharedBuckets]]:
    try:
        probe = aioredis.Redis.from_url(REDIS_URL)
        await probe.ping()
        await probe.aclose()
    except (OSError, aioredis.RedisError) as exc:
        if in_ci():
            pytest.fail(f"Redis at {REDIS_URL} unreachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {exc}")
    prefix = f"halsaram-test:{uuid.uuid4().hex}:"
    first, second = SharedBuckets(REDIS_URL, prefix), SharedBuckets(REDIS_URL, prefix)
    yield first, second
    await first.close()
    await second.close()


async def _spend(budgets: list[SendBudget]) -> float:
    """Sends SENDS messages to different chats through the budgets; returns the seconds taken."""
    started = time.monotonic()
    await asyncio.gather(*(budgets[n % 2].acquire(1000 + n) for n in range(SENDS)))
    return time.monotonic() - started


async def test_two_processes_share_one_overall_limit(
    shared: tuple[SharedBuckets, SharedBuckets],
) -> None:
    together = [SendBudget(RATE, shared=shared[0]), SendBudget(RATE, shared=shared[1])]
    elapsed = await _spend(together)
    burst = together[0]._overall.capacity
    # Never more than the rate allows, whichever process sends: SENDS <= burst + RATE * elapsed.
    assert burst + RATE * elapsed + 1 >= SENDS
    assert elapsed >= (SENDS - burst - 1) / RATE


async def test_one_chat_is_limited_across_processes(
    shared: tuple[SharedBuckets, SharedBuckets],
) -> None:
    together = [SendBudget(1000, chat_per_second=20, shared=s) for s in shared]
    started = time.monotonic()
    await asyncio.gather(*(together[n % 2].acquire(42) for n in range(13)))
    # A private chat allows a burst of 3, then 20 a second: 13 messages need at least 0.5 s.
    assert time.monotonic() - started >= (13 - 3 - 1) / 20
