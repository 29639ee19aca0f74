"""The outbox dispatcher's drain and group commit (issue 24).

- `dispatch` keeps claiming while batches come back full and stops at the first short one,
  serving more chats than it has senders, each chat's notices in order;
- deliveries are recorded by group commit, and a sender sends nothing more before its own is
  on record: a crash while a commit hangs leaves at most one delivery per sender unrecorded,
  and those (Telegram accepted them) are exactly what goes out again after the stale delay;
  nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler import outbox as dispatcher
from storage import outbox
from storage.db import transaction
from storage.models import OutboxMessage
from tests.harness import BotHarness

SEOUL_LANG = "ko"


async def _people(bot: BotHarness, count: int) -> list[int]:
    """People who wrote to the bot once (so it may write to them); their updates are never
    handled: only the outbox writes to them here."""
    ids = []
    for n in range(count):
        user = bot.emulator.add_user(f"P{n}")
        await bot.emulator.send_text(user["id"], "hi")
        ids.append(int(user["id"]))
    return ids


async def _queue(bot: BotHarness, rows: Sequence[tuple[str, int]]) -> None:
    async with transaction(bot.sessions) as s:
        for key, chat_id in rows:
            await outbox.enqueue(
                s, key=key, chat_id=chat_id, kind="warned", values={}, now=bot.clock.now()
            )


def _received(bot: BotHarness, chat_ids: Sequence[int]) -> Counter[int]:
    return Counter({chat: len(bot.bot_messages(chat)) for chat in chat_ids})


async def _dispatch(bot: BotHarness, **kwargs: Any) -> int:
    svc = bot.app.bot_data["services"]
    return await dispatcher.dispatch(
        bot.app.bot, bot.sessions, bot.clock, svc.settings.zone, SEOUL_LANG, **kwargs
    )


async def _statuses(bot: BotHarness) -> Counter[str]:
    async with bot.sessions() as s:
        return Counter(await s.scalars(select(OutboxMessage.status)))


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rows each claim returned, in order."""
    sizes: list[int] = []
    real = outbox.claim

    async def counted(*args: Any, **kwargs: Any) -> list[outbox.Claimed]:
        found = await real(*args, **kwargs)
        sizes.append(len(found))
        return found

    monkeypatch.setattr(outbox, "claim", counted)
    return sizes


async def test_the_drain_claims_while_batches_come_back_full(
    bot: BotHarness, claims: list[int]
) -> None:
    people = await _people(bot, 23)  # more chats than senders (dispatcher.CONCURRENCY)
    await _queue(bot, [(f"n:{chat}", chat) for chat in people])
    assert await _dispatch(bot, batch=5) == 23
    assert claims == [5, 5, 5, 5, 3]  # the short batch ends it
    assert _received(bot, people) == Counter(dict.fromkeys(people, 1))
    assert await _statuses(bot) == {"sent": 23}


async def test_the_drain_stops_at_an_empty_claim_and_one_batch_stays_one(
    bot: BotHarness, claims: list[int]
) -> None:
    people = await _people(bot, 10)
    await _queue(bot, [(f"n:{chat}", chat) for chat in people])
    svc = bot.app.bot_data["services"]
    once = await dispatcher.dispatch_once(
        bot.app.bot, bot.sessions, bot.clock, svc.settings.zone, SEOUL_LANG, batch=5
    )
    assert (once, claims) == (5, [5])
    assert await _dispatch(bot, batch=5) == 5
    assert claims == [5, 5, 0]  # full, so one more look: empty
    assert await _dispatch(bot, batch=5) == 0
    assert claims == [5, 5, 0, 0]


async def test_a_chat_keeps_its_order_across_batches(bot: BotHarness) -> None:
    [person, other] = await _people(bot, 2)
    rows = [(f"a:{n}", person) for n in range(7)] + [(f"b:{n}", other) for n in range(3)]
    await _queue(bot, rows)
    assert await _dispatch(bot, batch=3) == 10
    async with bot.sessions() as s:
        sent = list(
            await s.scalars(
                select(OutboxMessage.sent_message_id)
                .where(OutboxMessage.chat_id == person)
                .order_by(OutboxMessage.id)
            )
        )
    ids = [message_id or 0 for message_id in sent]
    assert len(ids) == 7 and 0 not in ids and ids == sorted(ids)  # queued order is sent order


async def test_the_drain_stops_claiming_when_told_to(bot: BotHarness, claims: list[int]) -> None:
    people = await _people(bot, 12)
    await _queue(bot, [(f"n:{chat}", chat) for chat in people])
    assert await _dispatch(bot, batch=4, keep_going=lambda: False) == 4
    assert claims == [4]  # what it claimed is sent; no more is claimed
    assert await _statuses(bot) == {"sent": 4, "pending": 8}


async def test_a_crash_while_a_commit_hangs_resends_only_what_was_not_on_record(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await _people(bot, 30)
    await _queue(bot, [(f"n:{chat}", chat) for chat in people])
    real = outbox.record_sent
    commits = 0
    hung = asyncio.Event()

    async def hangs_after_the_first(session: AsyncSession, sent: Sequence[outbox.Sent]) -> None:
        nonlocal commits
        commits += 1
        if commits > 1:
            hung.set()
            await asyncio.Event().wait()  # the database never answers: the process dies here
        await real(session, sent)

    monkeypatch.setattr(outbox, "record_sent", hangs_after_the_first)
    run = asyncio.create_task(_dispatch(bot, batch=30))
    await hung.wait()
    accepted = _received(bot, people)
    still = 0
    while still < 20:  # every sender runs on until it waits for its own commit
        await asyncio.sleep(0.01)
        now = _received(bot, people)
        still = still + 1 if now == accepted else 0
        accepted = now
    run.cancel()  # the crash
    with pytest.raises(asyncio.CancelledError):
        await run
    monkeypatch.setattr(outbox, "record_sent", real)

    statuses = await _statuses(bot)
    unrecorded = sum(accepted.values()) - statuses["sent"]
    assert 0 < unrecorded <= dispatcher.CONCURRENCY  # one per sender at most
    assert statuses["pending"] + statuses["sending"] == 30 - statuses["sent"]

    bot.clock.advance(outbox.STALE_CLAIM + timedelta(seconds=1))
    await _dispatch(bot)
    received = _received(bot, people)
    assert min(received.values()) == 1  # nothing lost
    twice = [chat for chat, n in received.items() if n > 1]
    assert len(twice) == unrecorded  # exactly the deliveries the crash left off the record
    assert max(received.values()) == 2
    assert await _statuses(bot) == {"sent": 30}
