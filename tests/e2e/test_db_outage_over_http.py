"""The database unreachable under a running bot, while updates arrive (issue 22).

The bot runs as its own process against the sandbox, on PostgreSQL reached through a proxy
(`tests.faultproxy`) that goes down (every open connection cut, new ones refused, as when the
server is gone) and comes back. People write before, while and after it is down: /help (no
state), /points (a registered person's balance) and a signup step (the terms' "I agree"
pressed while the database is away). The bot must stay up, confirm nothing it could not store
(Telegram keeps those: the sandbox still holds them), handle every update once the database is
back with exactly its own answer (counted by content, no apology), and say so in the log once
(one warning, one "back" line, no traceback), in polling and in webhook mode. The webhook
answers 503 meanwhile (Telegram posts again), and 400 to an update_id out of range.

PostgreSQL only: a SQLite file does not go away. These run in `make test` (seconds, not a
server restart); tests/reliability/test_postgres_restart.py restarts the real server.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select

from bot.webhook import PATH, SECRET_HEADER
from storage import accounts
from storage.clock import SystemClock
from storage.db import create_engine, session_factory, transaction
from storage.models import Region
from storage.seed import seed_all
from tests.databases import _libpq, delete_all_sql
from tests.e2e.processes import People, bot_env, running, wait_for
from tests.faultproxy import fault_proxy
from tests.servers import free_port

BOT = [sys.executable, "-m", "bot.cli", "run"]
HELP = "/help — What I can do"
POINTS = "Your points: 0"
TERMS = "Before we start:"
CONTACT = "Please share your phone number"
APOLOGY = "Sorry, something went wrong"
OUTAGE_WARNING = "database unreachable"
BACK = "database reachable again"
SECRET = "outage-secret"
DOWN_FOR = 2.0  # seconds the database stays away while people write


async def prepare(url: str, registered: int) -> None:
    """Neighbourhoods and missions, and one registered person (for /points)."""
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        async with transaction(sessions) as s:
            await seed_all(s, SystemClock())
        async with transaction(sessions) as s:
            region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            assert region is not None
            await accounts.register(s, accounts.Registration(
                user_id=registered, language="en", display_name="Minji", phone_hash="h-minji",
                phone_masked="010-****-0000", region_id=region.id, region_verified=True,
                interests=["walking"], preferred_times=["evening"],
            ), datetime.now(UTC))  # fmt: skip
    finally:
        await engine.dispose()


@contextmanager
def prepared(url: str, registered: int) -> Iterator[str]:
    """The test run's PostgreSQL database (migrated once per run), emptied, seeded and with
    one registered person; emptied again afterwards."""
    _empty(url)
    try:
        asyncio.run(prepare(url, registered))
        yield url
    finally:
        _empty(url)


def _empty(url: str) -> None:
    with psycopg.connect(_libpq(url), autocommit=True) as db:
        for statement in delete_all_sql():
            db.execute(statement)


def bot_texts(people: People, person: dict[str, Any]) -> list[str]:
    messages = people.view(person["id"])["messages"]
    return [m.get("text", "") for m in messages if m.get("from", {}).get("is_bot")]


def said(people: People, person: dict[str, Any], needle: str) -> int:
    return sum(needle in text for text in bot_texts(people, person))


def eventually(what: str, check: Callable[[], bool], timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def unhandled(url: str) -> int:
    with psycopg.connect(_libpq(url)) as db:
        row = db.execute("SELECT count(*) FROM inbox WHERE status <> 'done'").fetchone()
    assert row is not None
    return int(row[0])


def errors_total(metrics_port: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    [line] = [ln for ln in text.splitlines() if ln.startswith("halsaram_errors_total ")]
    return float(line.split()[-1])


def _junk_is_400(hook: str) -> None:
    """update_id out of range or not a whole number: 400 from the running server, never a
    500 (PostgreSQL's BIGINT would overflow) and no traceback in its log."""
    message = '{"message_id": 1, "date": 1795568700, "chat": {"id": 1, "type": "private"}}'
    for update_id in ("1e23", str(2**63), "7.5", '"7"'):
        body = f'{{"update_id": {update_id}, "message": {message}}}'
        answer = httpx.post(
            f"{hook}{PATH}", content=body, timeout=10,
            headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"},
        )  # fmt: skip
        assert answer.status_code == 400, (update_id, answer.status_code)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_updates_sent_while_the_database_is_down_are_each_answered_once_when_it_is_back(
    mode: str, local_webhook_sandbox_url: str, tmp_path: Path, postgresql_url: str
) -> None:
    sandbox = local_webhook_sandbox_url
    people = People(sandbox)
    jisoo, minji, hana = (people.create(name, "en") for name in ("Jisoo", "Minji", "Hana"))
    extra: dict[str, str] = {}
    if mode == "webhook":
        port = free_port()
        extra = {"HALSARAM_WEBHOOK_URL": f"http://127.0.0.1:{port}",
                 "HALSARAM_WEBHOOK_PORT": str(port), "HALSARAM_WEBHOOK_SECRET": SECRET}  # fmt: skip
    log = tmp_path / "bot.log"
    with prepared(postgresql_url, minji["id"]) as url, fault_proxy(url) as proxy:
        env = bot_env(sandbox, tmp_path, HALSARAM_DATABASE_URL=proxy.url(url), **extra)
        with running(BOT, env, None, log) as bot:
            wait_for(f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/healthz", bot)
            # Before: each answered once.
            people.say(jisoo, "/help")
            people.say(minji, "/points")
            people.say(hana, "/start")
            people.wait_for_bot(jisoo["id"], where=lambda m: HELP in m.get("text", ""))
            people.wait_for_bot(minji["id"], where=lambda m: POINTS in m.get("text", ""))
            people.wait_for_bot(hana["id"], where=lambda m: TERMS in m.get("text", ""))

            # A burst still in flight as the database goes away.
            for _ in range(3):
                people.say(jisoo, "/help")
            assert proxy.down() > 0
            # While it is away: no state, a balance, a signup step.
            people.say(jisoo, "/help")
            people.say(minji, "/points")
            people.press_label(hana, "I agree")
            time.sleep(DOWN_FOR)
            assert bot.poll() is None, "the bot process died"
            # Not confirmed to Telegram: it still holds at least what was sent while down
            # (polling: no offset past them; webhook: no 2xx for them).
            assert people.info()["pending_update_count"] >= 3
            for person in (jisoo, minji, hana):
                assert said(people, person, APOLOGY) == 0
            assert said(people, minji, POINTS) == 1 and said(people, hana, CONTACT) == 0

            proxy.up()
            eventually("Jisoo's five answers", lambda: said(people, jisoo, HELP) >= 5)
            eventually("Minji's second balance", lambda: said(people, minji, POINTS) >= 2)
            eventually("Hana's next step", lambda: said(people, hana, CONTACT) >= 1)
            eventually("Telegram holds nothing", lambda: not people.info()["pending_update_count"])
            eventually("every stored update handled", lambda: unhandled(url) == 0)
            time.sleep(0.5)  # an answer sent twice would show by now
            assert said(people, jisoo, HELP) == 5
            assert said(people, minji, POINTS) == 2
            assert said(people, hana, TERMS) == 1 and said(people, hana, CONTACT) == 1
            for person in (jisoo, minji, hana):
                assert said(people, person, APOLOGY) == 0, bot_texts(people, person)
            if mode == "webhook":
                _junk_is_400(extra["HALSARAM_WEBHOOK_URL"])
            assert errors_total(env["HALSARAM_METRICS_PORT"]) == 0
            assert bot.poll() is None
    logged = log.read_text()
    assert logged.count(OUTAGE_WARNING) == 1, logged
    assert logged.count(BACK) == 1, logged
    assert "Traceback" not in logged and "ERROR" not in logged, logged
    assert "still running" not in logged, logged
