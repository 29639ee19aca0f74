"""Anonymous group admins over HTTP (issue 19, point 9): sandbox and bot as separate processes.

An admin with "Remain anonymous" posts as the group: `sender_chat` is the group and `from` the
stand-in @GroupAnonymousBot (1087968824), one user for every anonymous admin of every group
(Bot API, Message.sender_chat). The sandbox plays it (`anonymous: true` on a group message;
getChatAdministrators then shows the admin with `is_anonymous`). The bot must take them for
admins of their own group, keep their flood counts apart per group, answer `/stats` in the
admin group, and ask for `/refund` privately (it records who gave the points back).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.e2e.processes import ROOT, People, bot_env, running

BOT = [sys.executable, "-m", "bot.cli", "run"]
REFUND_ASK = "지금 그룹 이름으로 익명으로 보내고 계셔서"


def _group(people: People, title: str, admin: dict[str, Any]) -> int:
    member = people.create(f"{title} 이웃")
    group = people._call(
        "POST", "/groups", title=title, member_ids=[admin["id"], member["id"]],
        admin_ids=[admin["id"]],
    )  # fmt: skip
    return int(group["id"])


def _anonymously(people: People, admin: dict[str, Any], chat_id: int, text: str) -> int:
    sent = people._call(
        "POST", f"/chats/{chat_id}/messages", user_id=admin["id"], text=text, anonymous=True
    )
    assert sent["sender_chat"]["id"] == chat_id and sent["from"]["id"] == 1087968824
    return int(sent["message_id"])


def _answers(people: People, chat_id: int, after: int) -> list[dict[str, Any]]:
    bot_id = people.info()["bot"]["id"]
    messages = people.view(chat_id)["messages"]
    return [m for m in messages if m["from"]["id"] == bot_id and m["message_id"] > after]


def _wait_for_answers(
    people: People, chat_id: int, after: int, count: int = 1, timeout: float = 20.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _answers(people, chat_id, after)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"the bot sent {_answers(people, chat_id, after)} in {chat_id}")


def test_anonymous_admins_over_http(people: People, sandbox_url: str, tmp_path: Path) -> None:
    jihoon, sua, operator = people.create("지훈"), people.create("수아"), people.create("운영자")
    busy = _group(people, "잠실 산책 모임", jihoon)
    quiet = _group(people, "석촌 호수 모임", sua)
    admin_chat = _group(people, "할사람 운영진", operator)
    env = bot_env(
        sandbox_url, tmp_path, HALSARAM_ADMIN_CHAT_ID=str(admin_chat),
        HALSARAM_FLOOD_MAX_UPDATES="5", HALSARAM_FLOOD_WINDOW_SECONDS="120",
    )  # fmt: skip
    for command in (["db", "upgrade"], ["seed"]):  # the districts /setregion offers
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    with running(BOT, env, None, tmp_path / "bot.log"):
        for chat_id, admin in ((busy, jihoon), (quiet, sua), (admin_chat, operator)):
            people._call("POST", f"/groups/{chat_id}/bot", user_id=admin["id"])
            people.wait_for_bot(chat_id, where=lambda m: "/setregion" in m.get("text", ""))

        # An anonymous admin's /setregion: the district picker, not "for admins only".
        asked = _anonymously(people, jihoon, busy, "/setregion")
        [picker] = _wait_for_answers(people, busy, asked)
        assert "송파구" in str(picker.get("reply_markup")), picker["text"]

        # One group's anonymous admin floods; another group's is still answered.
        first = 0
        for _ in range(8):
            sent = _anonymously(people, jihoon, busy, "/help")
            first = first or sent
        _wait_for_answers(people, busy, first, count=4)
        asked = _anonymously(people, sua, quiet, "/help")
        [answer] = _wait_for_answers(people, quiet, asked)
        assert "/setregion" in answer["text"]

        # /stats in the admin group: the figures and the chart.
        asked = _anonymously(people, operator, admin_chat, "/stats")
        report, chart = _wait_for_answers(people, admin_chat, asked, count=2)
        assert report["text"].startswith("📊") and "photo" in chart

        # /refund records who gave the points back: asked for privately, nothing changes.
        asked = _anonymously(people, operator, admin_chat, "/refund CAFE-0001-AMER")
        [ask] = _wait_for_answers(people, admin_chat, asked)
        assert ask["text"].startswith(REFUND_ASK), ask["text"]
    database = sqlite3.connect(tmp_path / "bot.sqlite3")
    try:
        assert database.execute("SELECT count(*) FROM ledger_entries").fetchone() == (0,)
        stand_in = database.execute("SELECT count(*) FROM users WHERE id = 1087968824")
        assert stand_in.fetchone() == (0,)
    finally:
        database.close()
