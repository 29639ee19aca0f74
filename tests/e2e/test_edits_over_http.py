"""A moving live location and an edited text get no answer (issue 19, point 3).

A live location is one message, then an `edited_message` for every move, every few seconds for
as long as it is shared (Bot API, `Location.live_period`); an edited text is an
`edited_message` too. python-telegram-bot's `MessageHandler` and `CommandHandler` take edits
for new messages, and the bot asked Telegram for every update type, so each move was answered
with another list of meetups near, and an edited command ran again. Now the bot asks for
`message`, `callback_query` and `my_chat_member` only (`bot.ingress.ALLOWED_UPDATES`) and drops
any edit that arrives all the same (`handlers/edits.py`). The sandbox moves the location and
edits the text over its user API, as separate processes over HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from bot.settings import SANDBOX_TOKEN
from tests.e2e.processes import ROOT, People, bot_env, running
from tests.people import SEOKCHON_LAKE

BOT = [sys.executable, "-m", "bot.cli", "run"]
APOLOGIES = ("죄송해요, 처리 중에 문제가 생겼어요", "Sorry, something went wrong")


def _from_bot(people: People, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in people.view(chat_id)["messages"] if m.get("from", {}).get("is_bot")]


def _asks_for(sandbox_url: str) -> list[str]:
    """The update types the bot asked for, as Telegram's getWebhookInfo shows them."""
    info = httpx.get(f"{sandbox_url}/bot{SANDBOX_TOKEN}/getWebhookInfo").json()["result"]
    return sorted(info.get("allowed_updates", ["(every type but the default's exceptions)"]))


def test_a_moving_live_location_and_an_edited_text_get_no_answer(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    env = bot_env(sandbox_url, tmp_path)
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    minji = people.create("민지")
    me = minji["id"]
    with running(BOT, env, None, tmp_path / "bot.log"):
        people.sign_up(minji, SEOKCHON_LAKE)
        before = len(_from_bot(people, me))
        asked = people.say(minji, "/help")
        help_text = people.wait_for_bot(me, before + 1)[-1]["text"]
        helps = 1

        def helped(count: int) -> None:
            """Waits for the answer to `count` /help in all: earlier updates are done by then
            (one person's updates are handled in order)."""
            people.wait_for_bot(me, count, where=lambda m: m.get("text") == help_text)

        # Out for a walk, sharing a live location for an hour: one answer, the meetups near.
        before = len(_from_bot(people, me))
        shared = people.share_location(minji, *SEOKCHON_LAKE, live_period=3600)
        people.say(minji, "/help")
        helped(helps + 1)
        assert len(_from_bot(people, me)) == before + 2  # the meetups near, then the help

        # It moves three times, and the earlier /help is corrected into /meetups.
        before = len(_from_bot(people, me))
        latitude, longitude = SEOKCHON_LAKE
        for step in (1, 2, 3):
            people.move_live_location(
                minji, shared["message_id"], latitude + step / 2000, longitude
            )
        people.edit(minji, asked["message_id"], "/meetups")
        people.say(minji, "/help")
        helped(helps + 2)
        after = _from_bot(people, me)[before:]
        assert [m["text"] for m in after] == [help_text], [m["text"][:40] for m in after]

        texts = [m.get("text", "") for m in people.view(me)["messages"]]
        assert not [t for t in texts if t.startswith(APOLOGIES)]
        refused = [a for a in people.info()["answered"] if a["status"] == 400]
        assert refused == [], refused
        assert _asks_for(sandbox_url) == ["callback_query", "message", "my_chat_member"]
