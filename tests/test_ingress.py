"""Production runtime: the webhook's secret and durable inbox, exactly-once handling, replay
after a crash, per-person ordering with cross-person concurrency, health and metrics."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import select
from telegram import Update
from telegram.error import Conflict

from bot import ingress, metrics
from bot.ingress import Inbox, PerUserProcessor
from bot.webhook import PATH, SECRET_HEADER, create_http_app
from storage import inbox
from storage.db import transaction
from storage.models import InboxUpdate
from tests.harness import BotHarness

SECRET = "right-secret"


def _text_update(update_id: int, user: dict[str, Any], text: str) -> dict[str, Any]:
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_764_000_000, "text": text,
            "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
            "from": {"id": user["id"], "is_bot": False, "first_name": user["first_name"],
                     "language_code": "en"},
            "entities": entities if text.startswith("/") else [],
        },
    }  # fmt: skip


async def _person(bot: BotHarness, name: str) -> dict[str, Any]:
    """Someone who has opened the chat (a bot may only write to people who wrote first);
    their own message is left undelivered: these tests deliver hand-made updates."""
    user = bot.user(name, language_code="en")
    await bot.emulator.send_text(user["id"], "hi")
    bot.emulator.pending_updates()
    return user


async def _settled(bot: BotHarness, update_ids: list[int]) -> None:
    """Waits until the application has handled these updates (the inbox says done)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while loop.time() < deadline:
        async with bot.sessions() as s:
            rows = (
                await s.scalars(select(InboxUpdate).where(InboxUpdate.update_id.in_(update_ids)))
            ).all()
        if len(rows) == len(update_ids) and all(r.status == "done" for r in rows):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("updates were not handled in time")


@pytest.fixture
def http(bot: BotHarness) -> httpx.AsyncClient:
    box = Inbox(bot.app, bot.sessions, bot.clock)
    app = create_http_app(box, SECRET)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot")


async def test_a_wrong_or_missing_secret_stores_nothing(
    bot: BotHarness, http: httpx.AsyncClient
) -> None:
    james = await _person(bot, "James")
    update = _text_update(500, james, "/help")
    assert (await http.post(PATH, json=update, headers={SECRET_HEADER: "wrong"})).status_code == 403
    assert (await http.post(PATH, json=update)).status_code == 403
    async with bot.sessions() as s:
        assert await inbox.unfinished(s) == []
    assert [m for m in bot.bot_messages(james["id"])] == []


async def test_a_repeated_delivery_is_handled_once(
    bot: BotHarness, http: httpx.AsyncClient
) -> None:
    james = await _person(bot, "James")
    update = _text_update(501, james, "/help")
    for _ in range(3):  # Telegram retries when it did not see our 200 in time
        response = await http.post(PATH, json=update, headers={SECRET_HEADER: SECRET})
        assert response.status_code == 200
    await _settled(bot, [501])
    await asyncio.sleep(0.05)
    assert len(bot.bot_messages(james["id"])) == 1


async def test_an_update_stored_before_a_crash_is_handled_after_restart(bot: BotHarness) -> None:
    james = await _person(bot, "James")
    # Stored by the previous process, which died before handling it.
    async with transaction(bot.sessions) as s:
        await inbox.store(s, [_text_update(777, james, "/help")], bot.clock.now())
    await bot.restart()
    box = Inbox(bot.app, bot.sessions, bot.clock)
    assert await box.replay_unfinished() == 1
    await _settled(bot, [777])
    [reply] = bot.bot_messages(james["id"])
    assert reply["text"].startswith("Here is what I can do")
    assert await box.replay_unfinished() == 0


async def test_one_persons_updates_keep_their_order_while_others_run_alongside() -> None:
    processor = PerUserProcessor(max_concurrent_updates=64)
    seen: dict[int, list[int]] = {1: [], 2: []}
    running = 0
    overlap = 0
    rng = random.Random(7)

    async def handle(user_id: int, n: int) -> None:
        nonlocal running, overlap
        running += 1
        overlap = max(overlap, running)
        await asyncio.sleep(rng.uniform(0, 0.01))
        seen[user_id].append(n)
        running -= 1

    def update(user_id: int, n: int) -> Update:
        return Update.de_json(_text_update(n, {"id": user_id, "first_name": "p"}, "hi"), None)

    async with processor:
        await asyncio.gather(
            *(
                processor.process_update(update(u, n), handle(u, n))
                for n in range(30)
                for u in (1, 2)
            )
        )
    assert seen[1] == list(range(30)) and seen[2] == list(range(30))
    assert overlap == 2  # the two people ran at the same time, each one at a time


async def test_health_and_metrics_move_with_traffic(
    bot: BotHarness, http: httpx.AsyncClient
) -> None:
    before = metrics.UPDATES.labels("message")._value.get()
    james = await _person(bot, "James")
    for n in range(3):
        await http.post(
            PATH, json=_text_update(600 + n, james, "/help"), headers={SECRET_HEADER: SECRET}
        )
    await _settled(bot, [600, 601, 602])
    private = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=metrics.create_app(bot.sessions, bot.clock, bot.app.bot)),
        base_url="http://metrics",
    )  # /healthz and /metrics: their own listener, never the webhook's
    assert (await http.get("/metrics")).status_code == 404
    health = (await private.get("/healthz")).json()
    assert health["ok"] and health["inbox"]["waiting"] == 0
    scraped = (await private.get("/metrics")).text
    line = next(
        row
        for row in scraped.splitlines()
        if row.startswith('halsaram_updates_total{type="message"}')
    )
    assert float(line.split()[-1]) == before + 3
    assert "halsaram_handler_seconds_count" in scraped and "halsaram_outbox_backlog 0.0" in scraped


class _Shared:
    """A bot whose token another process polls with for a while (409 Conflict), then not."""

    def __init__(self, conflicts: int, stop: asyncio.Event) -> None:
        self.conflicts = conflicts
        self.stop = stop
        self.offsets: list[int | None] = []
        self.accepted: list[int] = []
        self.application = self
        self.bot = self

    async def get_updates(self, *, offset: int | None, **_: Any) -> tuple[Update, ...]:
        self.offsets.append(offset)
        if len(self.offsets) <= self.conflicts:
            raise Conflict(
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running"
            )
        if self.accepted:
            self.stop.set()
            return ()
        return (Update(41), Update(42))

    async def accept(self, updates: list[Update]) -> int:
        self.accepted += [u.update_id for u in updates]
        return len(updates)


async def test_another_poller_means_waiting_growing_to_a_minute_never_a_crash(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []

    async def sleep(_stop: asyncio.Event, seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(ingress, "_sleep_or_stop", sleep)
    stop = asyncio.Event()
    shared = _Shared(conflicts=6, stop=stop)
    with caplog.at_level(logging.DEBUG, logger="bot.ingress"):
        await ingress.poll(cast(Inbox, shared), stop, ["message"])
    assert waits == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    # Nothing confirmed while shut out; then the held updates, then the offset moves on.
    assert shared.offsets == [None] * 7 + [43]
    assert shared.accepted == [41, 42]
    said = [r for r in caplog.records if "one process may take updates" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.ERROR
    assert "works again" in caplog.text


# ---------------------------------------------------------------- update ids that start again
# "If there are no new updates for at least a week, then identifier of the next update will be
# chosen randomly instead of sequentially" (Bot API, Update): after a quiet week ids may be
# ones the inbox already holds. A repeat is only the same id within `inbox.REPEAT_WINDOW`.

QUIET_WEEK = timedelta(days=8)


async def test_an_id_seen_before_a_quiet_week_is_a_new_update_a_redelivery_is_not(
    bot: BotHarness, http: httpx.AsyncClient
) -> None:
    james = await _person(bot, "James")
    headers = {SECRET_HEADER: SECRET}
    first = _text_update(600, james, "/help")
    assert (await http.post(PATH, json=first, headers=headers)).status_code == 200
    await _settled(bot, [600])
    # Telegram keeps an update up to 24 hours: a redelivery a day later is still a repeat.
    bot.clock.advance(timedelta(days=1))
    assert (await http.post(PATH, json=first, headers=headers)).status_code == 200
    await _settled(bot, [600])
    await asyncio.sleep(0.05)
    assert len(bot.bot_messages(james["id"])) == 1
    # A week later Telegram starts the ids again: 600 is someone's new message.
    bot.clock.advance(QUIET_WEEK)
    again = _text_update(600, james, "/help")
    again["message"]["message_id"] = 601
    assert (await http.post(PATH, json=again, headers=headers)).status_code == 200
    await _settled(bot, [600])
    for _ in range(2):  # and its own redelivery is dropped
        assert (await http.post(PATH, json=again, headers=headers)).status_code == 200
    await _settled(bot, [600])
    await asyncio.sleep(0.05)
    assert len(bot.bot_messages(james["id"])) == 2


async def test_a_pending_update_is_never_taken_over_by_a_new_one_with_its_id(
    bot: BotHarness,
) -> None:
    james = await _person(bot, "James")
    async with transaction(bot.sessions) as s:
        assert await inbox.store(s, [_text_update(700, james, "/help")], bot.clock.now()) == [700]
    bot.clock.advance(QUIET_WEEK)
    async with transaction(bot.sessions) as s:
        assert await inbox.store(s, [_text_update(700, james, "/start")], bot.clock.now()) == []
        [kept] = await inbox.unfinished(s)
    assert kept["message"]["text"] == "/help"


async def _poll_until_answered(bot: BotHarness, person: dict[str, Any], replies: int) -> None:
    """Runs `ingress.poll` against the emulator until `person` has `replies` answers."""
    stop = asyncio.Event()
    task = asyncio.create_task(ingress.poll(Inbox(bot.app, bot.sessions, bot.clock), stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while loop.time() < deadline:
        if len(bot.bot_messages(person["id"])) >= replies:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    assert len(bot.bot_messages(person["id"])) == replies


async def test_polling_after_a_restart_takes_what_telegram_holds_when_the_ids_jumped_down(
    bot: BotHarness,
) -> None:
    james = await _person(bot, "James")
    for _ in range(3):
        await bot.emulator.send_text(james["id"], "/help")
    await _poll_until_answered(bot, james, 3)
    # The bot is down for a quiet week; then the ids start again lower, and James writes.
    bot.clock.advance(QUIET_WEEK)
    bot.emulator.jump_update_id(2)
    for _ in range(2):
        await bot.emulator.send_text(james["id"], "/help")
    await bot.restart()
    await _poll_until_answered(bot, james, 5)
    await asyncio.sleep(0.05)
    assert len(bot.bot_messages(james["id"])) == 5
    assert bot.emulator.pending_update_count == 0
