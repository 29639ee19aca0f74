"""A reply to a command that a cleanup bot already deleted (issue 19, point 5).

Many groups run a bot that deletes commands as they arrive. In a group python-telegram-bot's
`Message.reply_text` quotes the command (`reply_parameters`), and Telegram refuses a reply to
a message that is gone with 400 "Bad Request: message to be replied not found" unless the
send allows it (`allow_sending_without_reply`): the answer was lost and a public apology
followed. The sandbox plays the cleanup bot (`POST /sandbox/api/groups/{id}/cleanup`: every
command is deleted as it arrives, after the bot's update is queued), so the bot always answers
a command that is gone; its answers must still arrive, just not as quotes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.processes import ROOT, People, bot_env, running

BOT = [sys.executable, "-m", "bot.cli", "run"]
APOLOGIES = ("죄송해요, 처리 중에 문제가 생겼어요", "Sorry, something went wrong")


def _next_bot_message(
    people: People, chat_id: int, after: int, timeout: float = 20.0
) -> dict[str, Any]:
    """The bot's first message in the chat after message `after`: its answer, or an apology."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in people.view(chat_id)["messages"]:
            if message.get("from", {}).get("is_bot") and message["message_id"] > after:
                return dict(message)
        time.sleep(0.1)
    raise AssertionError(f"the bot sent nothing in chat {chat_id} after message {after}")


def _say(people: People, user: dict[str, Any], text: str, chat_id: int) -> int:
    """Sends `text`; returns its message_id (the message itself is gone at once)."""
    sent = people._call("POST", f"/chats/{chat_id}/messages", user_id=user["id"], text=text)
    return int(sent["message_id"])


def test_replies_to_deleted_commands_still_arrive(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    env = bot_env(sandbox_url, tmp_path)
    for command in (["db", "upgrade"], ["seed"]):  # the districts /setregion offers
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    admin, james = people.create("지훈"), people.create("James", "en")
    group = people._call(
        "POST", "/groups", title="잠실 산책 모임",
        member_ids=[admin["id"], james["id"]], admin_ids=[admin["id"]],
    )  # fmt: skip
    chat_id = int(group["id"])
    log = tmp_path / "bot.log"
    with running(BOT, env, None, log):
        people._call("POST", f"/groups/{chat_id}/bot", user_id=admin["id"])
        people.wait_for_bot(chat_id, where=lambda m: "/setregion" in m.get("text", ""))
        people._call("POST", f"/groups/{chat_id}/cleanup", commands=True)

        # A member's /help: the command is deleted before the bot can answer it.
        asked = _say(people, james, "/help", chat_id)
        answer = _next_bot_message(people, chat_id, asked)
        assert answer["text"].startswith("Here is what I can do:"), answer["text"]
        assert "reply_to_message" not in answer  # nothing left to quote

        # An admin's /setregion: the district picker arrives all the same.
        asked = _say(people, admin, "/setregion", chat_id)
        picker = _next_bot_message(people, chat_id, asked)
        assert "송파구" in str(picker.get("reply_markup")), picker.get("text")

        messages = people.view(chat_id)["messages"]
        assert not [m for m in messages if m.get("text", "").startswith(APOLOGIES)]
        assert not [m for m in messages if m.get("text") in ("/help", "/setregion")]
        refused = [a for a in people.info()["answered"] if a["status"] == 400]
        assert refused == [], refused  # no send was ever refused
        metrics = httpx.get(f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/metrics").text
        assert "halsaram_errors_total 0.0" in metrics
    assert "message to be replied not found" not in log.read_text()
