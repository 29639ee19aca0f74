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

import pytest

from tests.e2e.processes import People, bot_env, running

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("crowd_size", "messages", "kills"),
    [
        (12, 5, 1),
        pytest.param(40, 10, 3, marks=pytest.mark.reliability, id="heavy"),
    ],
)
def test_no_update_is_lost_when_the_bot_is_killed(
    people: People, sandbox_url: str, tmp_path: Path, crowd_size: int, messages: int, kills: int
) -> None:
    crowd = [people.create(f"p{i}", "en") for i in range(crowd_size)]
    env = bot_env(sandbox_url, tmp_path)
    bot = [sys.executable, "-m", "bot.cli", "run"]
    health = f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/healthz"
    people.say(crowd[0], "/help")
    sent = 1
    for run in range(kills):
        with running(bot, env, health, tmp_path / f"bot-{run}.log") as process:
            people.wait_for_bot(crowd[0]["id"], timeout=30)
            for _ in range(messages // kills):
                for person in crowd:
                    people.say(person, "/help")
                    sent += 1
            time.sleep(0.3)
            process.send_signal(signal.SIGKILL)  # mid-traffic, no chance to clean up
            process.wait(timeout=10)
    with running(bot, env, None, tmp_path / "bot-last.log"):
        for person in crowd:
            expected = (messages // kills) * kills + (1 if person is crowd[0] else 0)
            replies = people.wait_for_bot(person["id"], expected, timeout=90)
            assert len(replies) >= expected
    database = sqlite3.connect(tmp_path / "bot.sqlite3")
    statuses = dict(
        database.execute("SELECT status, COUNT(*) FROM inbox GROUP BY status").fetchall()
    )
    assert statuses == {"done": sent}
