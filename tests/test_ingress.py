"""Production runtime: the webhook's secret and durable inbox, exactly-once handling, replay
after a crash, per-person ordering with cross-person concurrency, health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from telegram import Update
from telegram.error import Conflict

from bot import ingress, metrics
from bot.ingress import DatabaseOutage, Inbox, PerUserProcessor
from bot.webhook import PATH, SECRET_HEADER, create_http_app
from storage import inbox
from storage import market as storage_market
from storage.db import transaction
from storage.models import InboxUpdate
from tests.harness import BotHarness
from tests.people import Neighbour

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


# ---------------------------------------------------------------- the database going away
# An outage is played in process: the database answers no ping (`DatabaseOutage.reachable`)
# and the storage call an update needs raises the driver's connection error, until "up".
# tests/e2e/test_db_outage_over_http.py cuts a real PostgreSQL away through a proxy.

GONE = OperationalError("SELECT ...", {}, Exception("server closed the connection unexpectedly"))
WARNED = "database unreachable"


class _Outage:
    """Switches the database away and back for the calls patched with `breaks`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.away = False
        self.monkeypatch = monkeypatch
        self.calls: defaultdict[str, int] = defaultdict(int)

        async def reachable(_self: DatabaseOutage) -> bool:
            return not self.away

        monkeypatch.setattr(DatabaseOutage, "reachable", reachable)
        monkeypatch.setattr(ingress, "OUTAGE_PROBE", (0.01, 0.02))

    def breaks(self, module: Any, name: str, *, after_commit: bool = False) -> None:
        """`module.name` raises the connection error while away."""
        real = getattr(module, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if self.away:
                raise GONE
            return await real(*args, **kwargs)

        self.monkeypatch.setattr(module, name, call)


async def _waits(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


def _points_update(update_id: int, person: Any) -> dict[str, Any]:
    return _text_update(update_id, {"id": person.id, "first_name": person.name}, "/points")


def _statuses(rows: list[InboxUpdate]) -> dict[int, str]:
    return {r.update_id: r.status for r in rows}


async def _inbox(bot: BotHarness) -> dict[int, str]:
    async with bot.sessions() as s:
        return _statuses(list((await s.scalars(select(InboxUpdate))).all()))


def _said(bot: BotHarness, chat_id: int, needle: str) -> int:
    return sum(needle in m.get("text", "") for m in bot.bot_messages(chat_id))


async def test_an_update_that_meets_the_outage_half_way_runs_again_once_it_is_back(
    bot: BotHarness, seeded: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    minji = await Neighbour(bot, "Minji", lang="en").register()
    jisoo = await _person(bot, "Jisoo")
    before = len(bot.bot_messages(minji.id))
    errors = metrics.ERRORS._value.get()
    outage = _Outage(monkeypatch)
    outage.breaks(storage_market, "points")  # /points's read, after the earlier groups ran
    box = Inbox(bot.app, bot.sessions, bot.clock)
    caplog.set_level(logging.INFO)
    outage.away = True
    await box.accept([Update.de_json(_points_update(900, minji), bot.app.bot)])
    await _waits()
    assert outage.calls["points"] == 1  # it ran, met the outage half-way, and waits
    # More while it is away: Minji's next one waits behind hers, Jisoo's does not start.
    await box.accept([
        Update.de_json(_points_update(901, minji), bot.app.bot),
        Update.de_json(_text_update(902, jisoo, "/help"), bot.app.bot),
    ])  # fmt: skip
    await _waits()
    assert outage.calls["points"] == 1
    assert await _inbox(bot) == {900: "pending", 901: "pending", 902: "pending"}
    assert len(bot.bot_messages(minji.id)) == before and bot.bot_messages(jisoo["id"]) == []

    outage.away = False
    await _settled(bot, [900, 901, 902])
    await _waits(0.1)
    assert _said(bot, minji.id, "Your points: 0") == 2  # one answer each, no apology
    assert len(bot.bot_messages(minji.id)) == before + 2
    assert _said(bot, jisoo["id"], "/help — What I can do") == 1
    assert len(bot.bot_messages(jisoo["id"])) == 1
    assert metrics.ERRORS._value.get() == errors
    warned = [r for r in caplog.records if WARNED in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert len([r for r in caplog.records if "reachable again" in r.getMessage()]) == 1
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_connection_error_while_the_database_answers_is_retried_then_apologised_for(
    bot: BotHarness, seeded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not an outage (the ping passes: a deadlock, a busy SQLite file, a bug): run again a
    couple of times, then the usual failure, never a loop."""
    minji = await Neighbour(bot, "Minji", lang="en").register()
    before = len(bot.bot_messages(minji.id))
    errors = metrics.ERRORS._value.get()
    outage = _Outage(monkeypatch)
    outage.breaks(storage_market, "points")
    outage.away = True

    async def answers(_self: DatabaseOutage) -> bool:
        return True

    monkeypatch.setattr(DatabaseOutage, "reachable", answers)
    box = Inbox(bot.app, bot.sessions, bot.clock)
    await box.accept([Update.de_json(_points_update(910, minji), bot.app.bot)])
    await _settled(bot, [910])
    assert outage.calls["points"] == 1 + ingress.RETRIES_WHILE_REACHABLE
    [apology] = bot.bot_messages(minji.id)[before:]
    assert (
        apology["text"] == "Sorry, something went wrong on my side. Please try again in a moment."
    )
    assert metrics.ERRORS._value.get() == errors + 1


async def test_the_webhook_answers_503_while_the_database_is_away_and_stores_when_back(
    bot: BotHarness,
    http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    james = await _person(bot, "James")
    outage = _Outage(monkeypatch)
    outage.breaks(inbox, "store")
    caplog.set_level(logging.DEBUG)
    headers = {SECRET_HEADER: SECRET}
    outage.away = True
    for n in range(3):  # Telegram posts each again after any answer but 2xx
        response = await http.post(
            PATH, json=_text_update(920 + n, james, "/help"), headers=headers
        )
        assert response.status_code == 503
    assert outage.calls["store"] == 1  # then the outage is known: no database call per post
    assert await _inbox(bot) == {}
    outage.away = False
    await _waits(0.2)
    for n in range(3):
        response = await http.post(
            PATH, json=_text_update(920 + n, james, "/help"), headers=headers
        )
        assert response.status_code == 200
    await _settled(bot, [920, 921, 922])
    assert _said(bot, james["id"], "/help — What I can do") == 3
    assert len(bot.bot_messages(james["id"])) == 3
    assert len([r for r in caplog.records if WARNED in r.getMessage()]) == 1
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert all(r.exc_info is None for r in caplog.records)


async def test_polling_stops_confirming_while_the_database_is_away_and_drains_when_back(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    james = await _person(bot, "James")
    outage = _Outage(monkeypatch)
    outage.breaks(inbox, "store")
    caplog.set_level(logging.INFO)
    outage.away = True
    for _ in range(3):
        await bot.emulator.send_text(james["id"], "/help")
    stop = asyncio.Event()
    task = asyncio.create_task(ingress.poll(Inbox(bot.app, bot.sessions, bot.clock), stop))
    await _waits()
    polls = [c for c in bot.request.calls if c.method == "getUpdates"]
    assert len(polls) == 1 and outage.calls["store"] == 1  # no more calls while away
    await bot.emulator.send_text(james["id"], "/help")  # and more arrive meanwhile
    await _waits()
    assert not task.done()  # the poller lives
    assert bot.emulator.pending_update_count == 4  # none confirmed
    assert len([c for c in bot.request.calls if c.method == "getUpdates"]) == 1
    outage.away = False
    for _ in range(500):
        if _said(bot, james["id"], "/help —") >= 4:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    await _waits(0.1)
    assert _said(bot, james["id"], "/help — What I can do") == 4
    assert len(bot.bot_messages(james["id"])) == 4
    assert bot.emulator.pending_update_count == 0
    assert len([r for r in caplog.records if WARNED in r.getMessage()]) == 1
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_updates_stored_by_a_commit_whose_answer_was_lost_are_handled_once(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection breaks after COMMIT went out: the store raised, but the rows are there.
    Telegram sends them again; they are no longer new, yet nothing has queued them."""
    james = await _person(bot, "James")
    real = ingress.transaction
    lost = [True]

    @contextlib.asynccontextmanager
    async def commit_then_lose(sessions: Any) -> AsyncIterator[Any]:
        async with real(sessions) as session:
            yield session
        if lost:
            lost.clear()
            raise GONE

    monkeypatch.setattr(ingress, "transaction", commit_then_lose)
    box = Inbox(bot.app, bot.sessions, bot.clock)
    updates = [Update.de_json(_text_update(930 + n, james, "/help"), bot.app.bot) for n in range(2)]
    with pytest.raises(OperationalError):
        await box.accept(updates)
    assert await _inbox(bot) == {930: "pending", 931: "pending"}  # stored after all
    assert await box.accept(updates) == 2  # delivered again: queued now
    await _settled(bot, [930, 931])
    assert await box.accept(updates) == 0  # and a third delivery is a repeat
    await _waits(0.1)
    assert len(bot.bot_messages(james["id"])) == 2


async def test_an_update_handled_as_the_database_goes_is_marked_done_later_not_run_again(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    james = await _person(bot, "James")
    outage = _Outage(monkeypatch)
    outage.breaks(inbox, "mark_done")  # handled and answered; marking it done fails
    box = Inbox(bot.app, bot.sessions, bot.clock)
    outage.away = True
    await box.accept([Update.de_json(_text_update(940, james, "/help"), bot.app.bot)])
    await _waits()
    assert await _inbox(bot) == {940: "pending"}
    assert len(bot.bot_messages(james["id"])) == 1
    outage.away = False
    await _settled(bot, [940])
    assert outage.calls["mark_done"] >= 2
    await _waits(0.1)
    assert len(bot.bot_messages(james["id"])) == 1  # answered once


async def test_stopping_while_the_database_is_away_leaves_the_update_for_the_next_run(
    bot: BotHarness, seeded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    minji = await Neighbour(bot, "Minji", lang="en").register()
    before = len(bot.bot_messages(minji.id))
    outage = _Outage(monkeypatch)
    outage.breaks(storage_market, "points")
    box = Inbox(bot.app, bot.sessions, bot.clock)
    outage.away = True
    await box.accept([Update.de_json(_points_update(950, minji), bot.app.bot)])
    await _waits()
    box.outage.stop()  # SIGTERM: bot.runtime stops the waiting first, then the application
    await asyncio.wait_for(bot.restart(), timeout=10)
    assert await _inbox(bot) == {950: "pending"}
    assert len(bot.bot_messages(minji.id)) == before  # no apology on the way out
    outage.away = False
    assert await Inbox(bot.app, bot.sessions, bot.clock).replay_unfinished() == 1
    await _settled(bot, [950])
    await _waits(0.1)
    assert _said(bot, minji.id, "Your points: 0") == 1
    assert len(bot.bot_messages(minji.id)) == before + 1
