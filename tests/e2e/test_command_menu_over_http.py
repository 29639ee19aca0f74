"""Issue 19, point 11, end to end: the bot process publishes its command menu per scope and
language (private chats, group members, group admins, the admin group) over HTTP, and a group
admin's /help names the commands as `/name@bot`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bot.settings import SANDBOX_TOKEN
from tests.e2e.processes import People, bot_env, running

GROUP_ADMIN = ["help", "setregion", "settime", "setgather", "pause", "resume"]
ADMIN_GROUP = ["help", "drafts", "stats", "reports"]


def _commands(sandbox_url: str, scope: dict[str, Any], code: str | None) -> list[str]:
    params: dict[str, Any] = {"scope": scope, **({"language_code": code} if code else {})}
    answer = httpx.post(f"{sandbox_url}/bot{SANDBOX_TOKEN}/getMyCommands", json=params).json()
    assert answer["ok"], answer
    return [c["command"] for c in answer["result"]]


def test_menus_per_scope_and_language(people: People, sandbox_url: str, tmp_path: Path) -> None:
    operator, neighbour = people.create("운영자"), people.create("James", "en")
    admins = people._call(
        "POST", "/groups", title="할사람 운영", member_ids=[operator["id"]],
        admin_ids=[operator["id"]],
    )  # fmt: skip
    people._call("POST", f"/groups/{admins['id']}/bot", user_id=operator["id"])
    group = people._call(
        "POST", "/groups", title="잠실 산책 모임", member_ids=[operator["id"], neighbour["id"]],
        admin_ids=[operator["id"]],
    )  # fmt: skip
    env = bot_env(sandbox_url, tmp_path, HALSARAM_ADMIN_CHAT_ID=str(admins["id"]))
    admin_chat = {"type": "chat", "chat_id": admins["id"]}
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        deadline = time.monotonic() + 30
        while not _commands(sandbox_url, admin_chat, "en"):  # the last list published
            assert time.monotonic() < deadline, "no menu for the admin group"
            time.sleep(0.2)
        for code in (None, "en"):
            private = _commands(sandbox_url, {"type": "all_private_chats"}, code)
            assert len(private) == 19 and {"privacy", "mydata", "deleteme"} <= set(private)
            assert _commands(sandbox_url, {"type": "all_group_chats"}, code) == ["help"]
            admins_menu = _commands(sandbox_url, {"type": "all_chat_administrators"}, code)
            assert admins_menu == GROUP_ADMIN
            assert _commands(sandbox_url, admin_chat, code) == ADMIN_GROUP

        people._call("POST", f"/groups/{group['id']}/bot", user_id=operator["id"])
        [intro] = people.wait_for_bot(
            group["id"], where=lambda m: "/setregion" in m.get("text", "")
        )
        assert "/setregion@halsaram_bot" in intro["text"]
        people.say(operator, "/help", group["id"])
        people.wait_for_bot(
            group["id"], where=lambda m: "/settime@halsaram_bot" in m.get("text", "")
        )
