"""Update ids that jump over HTTP (issue 19): after a week without updates Telegram picks the
next update id at random ("If there are no new updates for at least a week, then identifier of
the next update will be chosen randomly instead of sequentially", Bot API, Update). A jump up
must not stop the bot (long polling as its own process against the sandbox).

A jump down (issue 22) brings ids the bot has stored before. The bot must neither confirm the
new updates away unread (polling resumes where Telegram stands, not after the highest id
stored) nor drop them as repeats (a repeat is the same id within a couple of days,
`storage.inbox.REPEAT_WINDOW`). The quiet week is stood in for twice: the sandbox's jump, and
the inbox rows made three days older (past that window, short of the retention job's week).
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bot.settings import SANDBOX_TOKEN
from tests.e2e.processes import People, bot_env, running

BOT = [sys.executable, "-m", "bot.cli", "run"]


def _jump(people: People, to: int) -> None:
    """Jumps once the bot has confirmed every update (a quiet week leaves none waiting)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = people.http.post("/updates/jump", json={"to": to}).json()
        if answer["ok"]:
            assert answer["result"] == {"next_update_id": to}
            return
        time.sleep(0.1)
    raise AssertionError(f"updates never drained: {answer}")


def _helps(people: People, person: dict[str, Any]) -> int:
    messages = people.view(person["id"])["messages"]
    return sum("/help — What I can do" in m.get("text", "") for m in messages)


def test_the_bot_keeps_answering_after_the_ids_jump_up(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    minji = people.create("Minji", "en")
    with running(BOT, bot_env(sandbox_url, tmp_path), None, tmp_path / "bot.log"):
        for round_, jump_to in enumerate((None, 1_000_000, 2_000_000_000), start=1):
            if jump_to is not None:
                _jump(people, jump_to)
            people.say(minji, "/help")
            people.wait_for_bot(minji["id"], round_, where=lambda m: "/help —" in m["text"])
            assert _helps(people, minji) == round_
        # The bot's last confirmed offset is past the new ids: nothing is left at Telegram.
        deadline = time.monotonic() + 10
        while people.info()["pending_update_count"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert people.info()["pending_update_count"] == 0
        pending = httpx.get(f"{sandbox_url}/bot{SANDBOX_TOKEN}/getWebhookInfo").json()
        assert pending["result"]["pending_update_count"] == 0


def _a_quiet_week(database: Path) -> None:
    """What the bot stored is three days older, as after a week without updates."""
    with sqlite3.connect(database, timeout=10) as db:
        db.execute(
            "UPDATE inbox SET received_at = datetime(received_at, '-3 days'), "
            "handled_at = datetime(handled_at, '-3 days')"
        )


def _all_handled(database: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sqlite3.connect(database, timeout=10) as db:
            [(waiting,)] = db.execute("SELECT count(*) FROM inbox WHERE status != 'done'")
        if not waiting:
            return
        time.sleep(0.1)
    raise AssertionError(f"{waiting} updates never handled")


def _write(people: People, persons: list[dict[str, Any]], times: int) -> None:
    for _ in range(times):
        for person in persons:
            people.say(person, "/help")


def _answered(people: People, persons: list[dict[str, Any]], count: int, db: Path) -> None:
    """Each person has exactly `count` answers: none lost, none twice."""
    for person in persons:
        people.wait_for_bot(person["id"], count, where=lambda m: "/help —" in m["text"])
    _all_handled(db)
    assert [_helps(people, person) for person in persons] == [count] * len(persons)


def test_ids_that_jump_down_while_the_bot_runs_are_all_answered_once(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    persons = [people.create("Minji", "en"), people.create("Jisoo", "en")]
    database = tmp_path / "bot.sqlite3"
    with running(BOT, bot_env(sandbox_url, tmp_path), None, tmp_path / "bot.log"):
        _write(people, persons, 3)  # update ids 1-6
        _answered(people, persons, 3, database)
        _a_quiet_week(database)
        _jump(people, 2)
        _write(people, persons, 2)  # ids 2-5 again, new messages
        _answered(people, persons, 5, database)


def test_ids_that_jump_down_while_the_bot_is_down_are_all_answered_once(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    persons = [people.create("Minji", "en"), people.create("Jisoo", "en")]
    database = tmp_path / "bot.sqlite3"
    env = bot_env(sandbox_url, tmp_path)
    with running(BOT, env, None, tmp_path / "bot.log"):
        _write(people, persons, 3)  # update ids 1-6
        _answered(people, persons, 3, database)
        _jump(people, 2)  # the bot confirmed ids 1-6 (its offset 7) before it stopped
    _a_quiet_week(database)
    _write(people, persons, 2)  # ids 2-5 while the bot is down
    with running(BOT, env, None, tmp_path / "bot2.log"):
        _answered(people, persons, 5, database)
    assert people.info()["pending_update_count"] == 0
