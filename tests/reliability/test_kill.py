"""Reliability: the bot killed with SIGKILL under traffic and started again loses no update.

Updates are stored before Telegram's offset is confirmed and handled from the inbox after a
restart, so every message gets its answer. Handling is at least once: an update handled
just before the kill, but not yet marked done, is handled again — which is why every state
change is idempotent (seats, check-ins, points); a repeated /help answer is the only trace.
"""

from __future__ import annotations

import signal
import sqlite3
import sys
import time
from pathlib import Path

from tests.e2e.processes import People, bot_env, running

PEOPLE, MESSAGES = 12, 5


def test_no_update_is_lost_when_the_bot_is_killed(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    crowd = [people.create(f"p{i}", "en") for i in range(PEOPLE)]
    env = bot_env(sandbox_url, tmp_path)
    bot = [sys.executable, "-m", "bot.cli", "run"]
    with running(bot, env, None, tmp_path / "bot-1.log") as first:
        people.say(crowd[0], "/help")
        people.wait_for_bot(crowd[0]["id"], timeout=30)
        for n in range(MESSAGES):
            for person in crowd:
                people.say(person, "/help")
            if n == 1:
                time.sleep(0.3)
                first.send_signal(signal.SIGKILL)  # mid-traffic, no chance to clean up
        first.wait(timeout=10)
    with running(bot, env, None, tmp_path / "bot-2.log"):
        for person in crowd:
            expected = MESSAGES + (1 if person is crowd[0] else 0)
            replies = people.wait_for_bot(person["id"], expected, timeout=60)
            assert len(replies) >= expected
    database = sqlite3.connect(tmp_path / "bot.sqlite3")
    statuses = dict(
        database.execute("SELECT status, COUNT(*) FROM inbox GROUP BY status").fetchall()
    )
    assert statuses == {"done": PEOPLE * MESSAGES + 1}
