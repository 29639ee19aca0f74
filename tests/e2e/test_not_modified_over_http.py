"""A double tap that edits a message into what it already shows (issue 19, point 8).

Telegram refuses such an edit with 400 "Bad Request: message is not modified: specified new
message content and reply markup are exactly the same as a current content and reply markup
of the message" (the sandbox answers the same, sandbox/api_messages.py). Nothing failed: the
person sees what they asked for. So no apology (in a group it would be public), no error
counted. Real clients send the second press of a double tap before the first press's edit
arrives; the sandbox plays that with a forced press of the button the message showed.
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


def _shown(people: People, chat_id: int, where: Any, timeout: float = 20.0) -> dict[str, Any]:
    """The newest bot message in the chat matching `where` (edits applied)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(people.view(chat_id)["messages"]):
            if message.get("from", {}).get("is_bot") and where(message):
                return dict(message)
        time.sleep(0.1)
    raise AssertionError(f"no such bot message in chat {chat_id}")


def _data(message: dict[str, Any], label: str) -> str:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return next(str(b["callback_data"]) for row in rows for b in row if b["text"] == label)


def _apologies(people: People, chat_id: int) -> list[str]:
    texts = [m.get("text", "") for m in people.view(chat_id)["messages"]]
    return [text for text in texts if text.startswith(APOLOGIES)]


def test_a_double_tap_that_changes_nothing_gets_no_apology(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    env = bot_env(sandbox_url, tmp_path, HALSARAM_LOG_LEVEL="DEBUG")
    for command in (["db", "upgrade"], ["seed"]):  # the districts /setregion offers
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    admin = people.create("지훈")
    group = people._call(
        "POST", "/groups", title="잠실 산책 모임", member_ids=[admin["id"]], admin_ids=[admin["id"]]
    )
    chat_id = int(group["id"])
    log = tmp_path / "bot.log"
    with running(BOT, env, None, log):
        people._call("POST", f"/groups/{chat_id}/bot", user_id=admin["id"])
        people.wait_for_bot(chat_id, where=lambda m: "/setregion" in m.get("text", ""))

        # Group settings: 송파구 tapped twice; the second press redraws the same dong picker.
        people.say(admin, "/setregion", chat_id)
        picker = _shown(people, chat_id, lambda m: "송파구" in str(m.get("reply_markup")))
        songpa = _data(picker, "송파구")
        people.press(admin, picker, songpa)
        _shown(people, chat_id, lambda m: "잠실동" in str(m.get("reply_markup")))
        people.press(admin, picker, songpa, force=True)
        # The admin's next update is handled after the double tap (one person, in order), so
        # an apology would be in the chat by the time this answer is.
        people.say(admin, "/setregion", chat_id)
        people.wait_for_bot(
            chat_id, where=lambda m: m["message_id"] > picker["message_id"]
            and m.get("text") == picker["text"],
        )  # fmt: skip

        # Profile: "English" tapped twice; the second press sets the same text again.
        people.say(admin, "/language")
        menu = _shown(people, admin["id"], lambda m: "English" in str(m.get("reply_markup")))
        english = _data(menu, "English")
        people.press(admin, menu, english)
        _shown(people, admin["id"], lambda m: m.get("text") == "Language set to English.")
        people.press(admin, menu, english, force=True)
        people.say(admin, "/help")
        people.wait_for_bot(admin["id"], where=lambda m: "/help" in m.get("text", ""))

        assert _apologies(people, chat_id) == []
        assert _apologies(people, admin["id"]) == []
        assert len(people.view(chat_id)["callback_answers"]) == 2  # no spinner left either
        metrics = httpx.get(f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/metrics").text
        assert "halsaram_errors_total 0.0" in metrics
    text = log.read_text()
    assert "failed: BadRequest" not in text
    # The group picker's second press reached an edit Telegram refused, and the error handler
    # ignored it; the language menu's redraw after a committed change suppresses a refused
    # edit itself (a failed redraw never turns a done change into an apology).
    assert text.count("the edit changed nothing") == 1, text[-3000:]
