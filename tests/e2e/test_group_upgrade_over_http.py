"""Issue 19, point 2 end to end: a basic group with its neighbourhood set is upgraded to a
supergroup, in both orders Telegram may send the updates in (the sandbox's
`POST /groups/{id}/upgrade` with `order`); the daily post then goes to the new chat, and the
upgrade adds no second introduction — bot and sandbox as processes.

The group is paused before the upgrade and resumed in the new chat, so the day's post is owed
after the move (the post time is the current minute, as in test_daily_post_over_http.py) and
the paused state is seen to move too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.processes import ROOT, People, bot_env, running
from ui.groups import introduction

INTRODUCTION = introduction("ko", "08:00").splitlines()[0]


def _press(people: People, user: dict[str, Any], chat_id: int, label: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in reversed(people.view(chat_id)["messages"]):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for button in (b for row in rows for b in row):
                if button["text"] == label and "callback_data" in button:
                    people.press(user, message, button["callback_data"])
                    return
        time.sleep(0.1)
    raise AssertionError(f"no button {label!r} in the group")


def _from_bot(people: People, chat_id: int, prefix: str) -> list[dict[str, Any]]:
    return [
        m
        for m in people.view(chat_id)["messages"]
        if m.get("from", {}).get("is_bot") and m.get("text", "").startswith(prefix)
    ]


def _command(people: People, admin: dict[str, Any], chat_id: int, text: str) -> None:
    """The admin sends a command in the group and the bot answers it."""
    before = len([m for m in people.view(chat_id)["messages"] if m.get("from", {}).get("is_bot")])
    people.say(admin, text, chat_id)
    people.wait_for_bot(chat_id, before + 1)


@pytest.mark.parametrize("order", ["service_first", "member_first"])
def test_an_upgraded_group_keeps_its_daily_post(
    people: People, sandbox_url: str, tmp_path: Path, order: str
) -> None:
    now = datetime.now(ZoneInfo("Asia/Seoul"))
    env = bot_env(
        sandbox_url,
        tmp_path,
        HALSARAM_DAILY_POST_TIME=f"{now:%H:%M}",
        HALSARAM_DAILY_CHECK_SECONDS="1",
    )
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    admin, member = people.create("지훈"), people.create("민지")
    group = people._call(
        "POST", "/groups", title="잠실 산책 모임", supergroup=False,
        member_ids=[admin["id"], member["id"]], admin_ids=[admin["id"]],
    )  # fmt: skip
    old_id = int(group["id"])
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people._call("POST", f"/groups/{old_id}/bot", user_id=admin["id"])
        people.wait_for_bot(old_id, where=lambda m: m.get("text", "").startswith(INTRODUCTION))
        # Paused first, so that the day's post is still owed when the group has moved.
        _command(people, admin, old_id, "/pause")
        people.say(admin, "/setregion", old_id)
        _press(people, admin, old_id, "송파구")
        _press(people, admin, old_id, "잠실동")
        people.wait_for_bot(old_id, where=lambda m: m.get("text", "").startswith("완료"))

        new = people._call("POST", f"/groups/{old_id}/upgrade", user_id=admin["id"], order=order)
        new_id = int(new["id"])
        time.sleep(2)  # the three updates handled; a paused group posts nothing
        assert not _from_bot(people, new_id, "☀️")
        _command(people, admin, new_id, "/resume")
        [post] = people.wait_for_bot(new_id, where=lambda m: m.get("text", "").startswith("☀️"))
        assert post["reply_markup"]["inline_keyboard"][1][1]["url"].startswith(
            "https://t.me/halsaram_bot?start=m"
        )
        time.sleep(3)  # several more runs of the daily job
        assert len(_from_bot(people, new_id, "☀️")) == 1
        assert not _from_bot(people, old_id, "☀️")
        # The migration never introduces the bot; my_chat_member arriving first does, once,
        # before anything says it is an upgrade.
        assert len(_from_bot(people, old_id, INTRODUCTION)) == 1
        expected = 1 if order == "member_first" else 0
        assert len(_from_bot(people, new_id, INTRODUCTION)) == expected
