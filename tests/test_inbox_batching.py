"""Batched durable ingress (issue 24): a `getUpdates` answer is one INSERT, webhook posts that
arrive together are stored in one transaction, and handled updates are marked done by group
commit, each with its person's conversation rows. Still stored before Telegram is told, still
handled once, still replayed after a crash. Both databases."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from telegram import Update

from bot import app as bot_app
from bot import ingress
from bot.ingress import GroupCommit, Inbox
from bot.webhook import PATH, SECRET_HEADER, create_http_app
from conversations import signup
from storage import conversations, inbox
from storage.db import transaction
from storage.models import InboxUpdate
from tests.harness import BotHarness
from tests.test_ingress import _person, _settled, _text_update

SECRET = "right-secret"


@contextlib.contextmanager
def _statements(bot: BotHarness, verb: str) -> Iterator[list[str]]:
    """The SQL statements starting with `verb` on the inbox table, as they are executed."""
    seen: list[str] = []
    engine = bot.sessions.kw["bind"].sync_engine

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(verb) and " inbox" in statement.lower():
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def _rows(bot: BotHarness) -> dict[int, str]:
    async with bot.sessions() as s:
        return {r.update_id: r.status for r in (await s.scalars(select(InboxUpdate))).all()}


def _answers(bot: BotHarness, person: dict[str, Any]) -> int:
    return len(bot.bot_messages(person["id"]))


async def test_a_getupdates_answer_is_one_insert_returning_the_new_ids_in_order(
    bot: BotHarness,
) -> None:
    people = [await _person(bot, f"P{n}") for n in range(3)]
    async with transaction(bot.sessions) as s:
        await inbox.store(s, [_text_update(1002, people[0], "/help")], bot.clock.now())
    batch = [_text_update(1000 + n, people[n % 3], "/help") for n in range(6)]
    batch.append(_text_update(1004, people[1], "/help"))  # the same id twice in one answer
    with _statements(bot, "INSERT") as inserts:
        async with transaction(bot.sessions) as s:
            new = await inbox.store(s, batch, bot.clock.now())
    assert len(inserts) == 1
    assert new == [1000, 1001, 1003, 1004, 1005]  # 1002 was pending already: a repeat
    assert await _rows(bot) == {1000 + n: "pending" for n in range(6)}


async def test_a_crash_after_the_batched_insert_before_confirming_replays_each_once(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies right after the batch's INSERT committed: nothing was queued and
    Telegram was told nothing, so it hands the batch over again (with a newer update). The
    next run replays the stored ones and takes only the newer one from the redelivery."""
    people = [await _person(bot, f"P{n}") for n in range(4)]
    batch = [_text_update(1100 + n, people[n], "/help") for n in range(4)]

    class Killed(BaseException):
        pass

    real = ingress.transaction

    @contextlib.asynccontextmanager
    async def commit_then_die(sessions: Any) -> AsyncIterator[Any]:
        async with real(sessions) as session:
            yield session
        raise Killed

    monkeypatch.setattr(ingress, "transaction", commit_then_die)
    box = Inbox(bot.app, bot.sessions, bot.clock)
    with pytest.raises(Killed):
        await box.accept([Update.de_json(u, bot.app.bot) for u in batch])
    monkeypatch.setattr(ingress, "transaction", real)
    assert await _rows(bot) == {1100 + n: "pending" for n in range(4)}
    assert all(_answers(bot, p) == 0 for p in people)

    await bot.crash()
    box = Inbox(bot.app, bot.sessions, bot.clock)
    assert await box.replay_unfinished() == 4
    again = [*batch, _text_update(1104, people[0], "/help")]
    assert await box.accept([Update.de_json(u, bot.app.bot) for u in again]) == 1
    await _settled(bot, [1100, 1101, 1102, 1103, 1104])
    await asyncio.sleep(0.05)
    assert [_answers(bot, p) for p in people] == [2, 1, 1, 1]


@pytest.fixture
def http(bot: BotHarness) -> httpx.AsyncClient:
    box = Inbox(bot.app, bot.sessions, bot.clock)
    app = create_http_app(box, SECRET)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot")


async def _burst(http: httpx.AsyncClient, updates: list[dict[str, Any]]) -> list[int]:
    headers = {SECRET_HEADER: SECRET}
    answers = await asyncio.gather(*(http.post(PATH, json=u, headers=headers) for u in updates))
    return [a.status_code for a in answers]


async def test_a_webhook_burst_is_stored_together_and_each_update_handled_once(
    bot: BotHarness, http: httpx.AsyncClient
) -> None:
    people = [await _person(bot, f"P{n}") for n in range(8)]
    burst = [_text_update(1200 + n, people[n], "/help") for n in range(8)]
    # Telegram posts one update again while the first post waits (it missed our answer).
    burst += [_text_update(1203, people[3], "/help")] * 2
    with _statements(bot, "INSERT") as inserts:
        assert await _burst(http, burst) == [200] * 10
    assert len(inserts) < 8  # stored together, not one transaction a post
    await _settled(bot, [1200 + n for n in range(8)])
    await asyncio.sleep(0.05)
    assert [_answers(bot, p) for p in people] == [1] * 8


async def test_one_bad_update_in_a_webhook_burst_fails_alone(
    bot: BotHarness, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update the database refuses (played by its summary raising) fails its own post with
    500, so Telegram posts it again; the others of its batch are stored and handled."""
    people = [await _person(bot, f"P{n}") for n in range(5)]
    burst = [_text_update(1300 + n, people[n], "/help") for n in range(5)]
    real = inbox.summary

    def summary(data: dict[str, Any]) -> dict[str, Any]:
        if data["update_id"] == 1302:
            raise ValueError("refused")
        return real(data)

    monkeypatch.setattr(inbox, "summary", summary)
    with _statements(bot, "INSERT") as inserts:
        assert await _burst(http, burst) == [200, 200, 500, 200, 200]
    assert len(inserts) < 5 + 4  # the good ones were in a batch of several first
    await _settled(bot, [1300, 1301, 1303, 1304])
    await asyncio.sleep(0.05)
    assert [_answers(bot, p) for p in people] == [1, 1, 0, 1, 1]
    assert 1302 not in await _rows(bot)


async def test_handled_updates_are_marked_done_together_with_their_conversation_step(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten people start signing up at once: their updates are marked done in fewer
    transactions than updates, and each person's step is written in the same one."""
    people = [await _person(bot, f"P{n}") for n in range(10)]
    marked: dict[int, int] = {}  # update id -> the session that marked it done
    stepped: dict[int, int] = {}  # person -> the session that wrote their signup position
    real_mark, real_step = inbox.mark_done, conversations.save_conversation

    async def mark_done(session: Any, update_ids: Any, now: Any) -> None:
        marked.update(dict.fromkeys(list(update_ids), id(session)))
        await real_mark(session, update_ids, now)

    async def save_conversation(session: Any, name: str, key: Any, *rest: Any) -> None:
        if name == signup.NAME:
            stepped[int(key[-1])] = id(session)
        await real_step(session, name, key, *rest)

    monkeypatch.setattr(inbox, "mark_done", mark_done)
    monkeypatch.setattr(conversations, "save_conversation", save_conversation)
    box = Inbox(bot.app, bot.sessions, bot.clock)
    updates = [Update.de_json(_text_update(1400 + n, p, "/start"), bot.app.bot) for n, p in
               enumerate(people)]  # fmt: skip
    assert await box.accept(updates) == 10
    await _settled(bot, [1400 + n for n in range(10)])
    assert len(set(marked.values())) < 10  # fewer transactions than updates
    for n, person in enumerate(people):
        assert stepped[person["id"]] == marked[1400 + n]
    async with bot.sessions() as s:
        positions = await conversations.load_conversations(s, signup.NAME)
    assert {key[-1] for key in positions} == {p["id"] for p in people}


async def test_a_group_commit_splits_a_failed_batch_but_not_a_lost_connection() -> None:
    commits: list[list[str]] = []

    async def commit(items: list[str]) -> list[str]:
        commits.append(items)
        await asyncio.sleep(0)
        if "gone" in items:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
        if "bad" in items:
            raise ValueError("refused")
        return [item.upper() for item in items]

    group: GroupCommit[str, str] = GroupCommit(commit)
    found = await asyncio.gather(
        *(group.submit(item) for item in ["a", "b", "bad", "c"]), return_exceptions=True
    )
    assert found[:2] == ["A", "B"] and found[3] == "C"
    assert isinstance(found[2], ValueError)
    # Together first, then one by one.
    assert commits == [["a", "b", "bad", "c"], ["a"], ["b"], ["bad"], ["c"]]
    commits.clear()
    found = await asyncio.gather(
        *(group.submit(item) for item in ["y", "gone", "z"]), return_exceptions=True
    )
    assert all(isinstance(f, OperationalError) for f in found)  # each handles the outage
    assert commits == [["y", "gone", "z"]]


def test_the_http_pool_is_the_bots_concurrency_not_ptbs_256() -> None:
    both = bot_app.http_pool_size(handle_updates=True, schedule_jobs=True)
    assert both == bot_app.CONCURRENT_UPDATES + 32 + bot_app.JOB_CONNECTIONS
    assert bot_app.http_pool_size(handle_updates=True, schedule_jobs=False) == 32
    assert bot_app.http_pool_size(handle_updates=False, schedule_jobs=True) < both < 256
