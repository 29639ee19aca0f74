"""Two pollers on one token (issue 19, point 7): a laptop started with the production token.

Telegram lets one getUpdates call wait per token; a newer call ends the waiting one with 409
"Conflict: terminated by other getUpdates request; make sure that only one bot instance is
running" (the sandbox plays this, sandbox/api_updates.py). The bot process must survive it:
say once what it means, back off, keep trying, lose nothing, and take updates again once the
other poller stops.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from bot.settings import SANDBOX_TOKEN
from tests.e2e.processes import People, bot_env, running

BOT = [sys.executable, "-m", "bot.cli", "run"]
EXPLAINED = "one process may take updates per token"


class Competitor:
    """A second poller with the same token: getUpdates in a loop, never confirming (no
    offset), so whatever it sees stays with Telegram for the bot."""

    def __init__(self, sandbox_url: str) -> None:
        self.url = f"{sandbox_url}/bot{SANDBOX_TOKEN}/getUpdates"
        self.stop = threading.Event()
        self.calls = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Competitor:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)

    def _loop(self) -> None:
        with httpx.Client(timeout=10.0) as http:
            while not self.stop.is_set():
                # Ended early (409) whenever the bot polls in between: the loop just goes on.
                http.post(self.url, json={"timeout": 2})
                self.calls += 1
                time.sleep(0.05)


def _wait_log(bot: subprocess.Popen[bytes], log: Path, text: str, timeout: float) -> None:
    """Waits until the bot's log has `text`; fails at once if the process dies meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bot.poll() is not None:
            tail = log.read_text()[-1500:]
            raise AssertionError(f"the bot process exited ({bot.returncode}):\n{tail}")
        if text in log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in the bot's log")


def test_a_second_poller_neither_kills_the_bot_nor_loses_updates(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    with running(BOT, bot_env(sandbox_url, tmp_path), None, log) as bot:
        minji = people.create("민지", "ko")
        people.say(minji, "/help")
        [help_reply] = people.wait_for_bot(minji["id"])

        with Competitor(sandbox_url) as other:
            # The competitor's first call ends the bot's waiting poll with 409.
            _wait_log(bot, log, EXPLAINED, timeout=30)
            # Written while the bot is shut out: Telegram keeps it for the bot.
            people.say(minji, "/start")
            time.sleep(1.0)
            assert bot.poll() is None, "the bot died while the other poller ran"
        assert other.calls > 0

        # The competitor has stopped: the bot takes updates again, the held one included.
        people.wait_for_bot(
            minji["id"], where=lambda m: m["text"].startswith("안녕하세요"), timeout=90
        )
        people.say(minji, "/help")
        people.wait_for_bot(minji["id"], count=2, where=lambda m: m["text"] == help_reply["text"])
        assert bot.poll() is None
    text = log.read_text()
    assert text.count(EXPLAINED) == 1, text  # said once, not at every retry
    assert "SANDBOX-TOKEN" not in text
