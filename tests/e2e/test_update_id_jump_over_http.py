"""Update ids that jump over HTTP (issue 19): after a week without updates Telegram picks the
next update id at random ("If there are no new updates for at least a week, then identifier of
the next update will be chosen randomly instead of sequentially", Bot API, Update). A jump up
must not stop the bot (long polling as its own process against the sandbox).

A jump down is issue 22's: see sandbox/README.md for what the sandbox does then.
"""

from __future__ import annotations

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
