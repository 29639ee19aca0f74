"""Over real HTTP: python-telegram-bot's own HTTPX transport against a sandbox that carries a
call out and never answers it. The read timeout is what the bot takes as "delivered"."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import People, bot_env, running

pytestmark = pytest.mark.e2e
APOLOGY = "Sorry, something went wrong"


def test_over_http_a_lost_answer_is_a_read_timeout_and_no_apology(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    """The real stack: python-telegram-bot's HTTPX transport times out reading the answer the
    sandbox holds back, after the reply was shown; the person sees it once, with no apology."""
    james = people.create("James", "en")
    env = bot_env(sandbox_url, tmp_path)
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people.say(james, "/help")
        people.wait_for_bot(james["id"], 1, timeout=30)
        planned = httpx.post(
            f"{sandbox_url}/sandbox/api/faults", json={"lose_responses": {"sendMessage": 1}}
        )
        assert planned.json()["result"]["lose_responses"] == {"sendMessage": 1}
        people.say(james, "/points")
        people.wait_for_bot(james["id"], 2, timeout=30)
        time.sleep(6)  # past the bot's 5 s read timeout: the failure has been handled
        people.say(james, "/help")
        people.wait_for_bot(james["id"], 3, timeout=30)
        time.sleep(0.5)  # room for a wrong second copy or apology to show
    replies = [m for m in people.view(james["id"])["messages"] if m["from"]["is_bot"]]
    assert len(replies) == 3
    assert not any(APOLOGY in (m.get("text") or "") for m in replies)
    log = (tmp_path / "bot.log").read_text()
    assert "failed: TimedOut" in log  # it did time out, and was taken as delivered
