"""Issue 19, points 4 and 6 end to end, bot and sandbox as processes: an admin promoting,
demoting and restricting the bot after /pause keeps the group paused, with one introduction
(removing and adding it again introduces it again); a read-only group's daily post is refused
once and its admin told once, privately; a forum's /setregion sent in a topic makes the daily
post land in that topic; a closed General topic refuses the post and the admin is told once.

The post time is the current minute (as in test_daily_post_over_http.py): a post is due as soon
as the group's neighbourhood is set. Where the bot must not be able to post, the group is made
read-only (or its General topic closed) while the /setregion picker is open: its buttons only
edit, so the region is set and the post refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e.processes import ROOT, People, bot_env, running
from ui.groups import introduction

INTRODUCTION = introduction("ko", "08:00").splitlines()[0]


@contextmanager
def bot_running(sandbox_url: str, tmp_path: Path) -> Iterator[None]:
    now = datetime.now(ZoneInfo("Asia/Seoul"))
    env = bot_env(
        sandbox_url, tmp_path,
        HALSARAM_DAILY_POST_TIME=f"{now:%H:%M}", HALSARAM_DAILY_CHECK_SECONDS="1",
    )  # fmt: skip
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        yield


def group_of(people: People, title: str) -> tuple[dict[str, Any], int]:
    """A supergroup with an admin (who has started the bot privately, so that a private word
    can reach them) and a member; returns the admin and the chat id."""
    admin, member = people.create("지훈"), people.create("민지")
    chat = people._call(
        "POST", "/groups", title=title,
        member_ids=[admin["id"], member["id"]], admin_ids=[admin["id"]],
    )  # fmt: skip
    return admin, int(chat["id"])


def start_privately(people: People, admin: dict[str, Any]) -> None:
    people.say(admin, "/start")
    people.wait_for_bot(admin["id"])


def add_bot(people: People, admin: dict[str, Any], chat_id: int, count: int = 1) -> None:
    people._call("POST", f"/groups/{chat_id}/bot", user_id=admin["id"])
    people.wait_for_bot(chat_id, count, where=_starts(INTRODUCTION))


def _starts(prefix: str) -> Any:
    return lambda m: m.get("text", "").startswith(prefix)


def from_bot(people: People, chat_id: int, prefix: str) -> list[dict[str, Any]]:
    return [
        m
        for m in people.view(chat_id)["messages"]
        if m.get("from", {}).get("is_bot") and m.get("text", "").startswith(prefix)
    ]


def press(people: People, user: dict[str, Any], chat_id: int, label: str) -> None:
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


def command(people: People, admin: dict[str, Any], chat_id: int, text: str) -> None:
    """The admin sends a command in the group and the bot answers it."""
    before = len([m for m in people.view(chat_id)["messages"] if m.get("from", {}).get("is_bot")])
    people.say(admin, text, chat_id)
    people.wait_for_bot(chat_id, before + 1)


def open_picker(people: People, admin: dict[str, Any], chat_id: int, thread: int | None) -> None:
    """/setregion (in a forum topic when `thread`), until the district buttons show."""
    if thread is None:
        people.say(admin, "/setregion", chat_id)
    else:
        people._call(
            "POST", f"/chats/{chat_id}/topics/{thread}/messages",
            user_id=admin["id"], text="/setregion",
        )  # fmt: skip
    people.wait_for_bot(chat_id, where=lambda m: bool(m.get("reply_markup")))


def choose_jamsil(people: People, admin: dict[str, Any], chat_id: int) -> None:
    press(people, admin, chat_id, "송파구")
    press(people, admin, chat_id, "잠실동")
    people.wait_for_bot(chat_id, where=_starts("완료"))


def told(people: People, admin: dict[str, Any], title: str) -> list[dict[str, Any]]:
    """The bot's private words to the admin naming the group (its title in quotes), beside
    the one that gives the group's chat id when the bot is added (ui/groups.py)."""
    return [
        m
        for m in people.view(admin["id"])["messages"]
        if f'"{title}"' in (text := m.get("text", "")) and "HALSARAM_ADMIN_CHAT_ID" not in text
    ]


def wait_told(people: People, admin: dict[str, Any], title: str) -> None:
    deadline = time.monotonic() + 20
    while not told(people, admin, title):
        assert time.monotonic() < deadline, "the admin was never told"
        time.sleep(0.2)


def refused_sends(people: People) -> int:
    return sum(
        a["count"] for a in people.info()["answered"]
        if a["method"] == "sendMessage" and a["status"] == 400
    )  # fmt: skip


def test_status_changes_after_pause_keep_it_paused_and_re_adding_introduces_again(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    admin, chat_id = group_of(people, "잠실 산책 모임")
    with bot_running(sandbox_url, tmp_path):
        add_bot(people, admin, chat_id)
        command(people, admin, chat_id, "/pause")
        open_picker(people, admin, chat_id, None)
        choose_jamsil(people, admin, chat_id)
        base = f"/groups/{chat_id}/bot"
        for path, body in (
            ("/promote", {}),
            ("/demote", {}),
            ("/restrict", {"can_send_messages": True}),
            ("/unrestrict", {}),
        ):
            people._call("POST", base + path, user_id=admin["id"], **body)
        time.sleep(3)  # the changes handled, several runs of the daily job
        assert len(from_bot(people, chat_id, INTRODUCTION)) == 1
        assert not from_bot(people, chat_id, "☀️"), "a paused group got a post"
        # Removed and added again: a second introduction, saying the posts are still paused.
        people._call("POST", f"{base}/remove", user_id=admin["id"])
        add_bot(people, admin, chat_id, count=2)
        [_, again] = from_bot(people, chat_id, INTRODUCTION)
        assert "/resume" in again["text"].split("\n\n")[-1]
        time.sleep(2)
        assert not from_bot(people, chat_id, "☀️")
        command(people, admin, chat_id, "/resume")
        people.wait_for_bot(chat_id, where=_starts("☀️"))


def test_a_read_only_group_is_refused_once_and_its_admin_told_once(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    title = "잠실 공지방"
    admin, chat_id = group_of(people, title)
    with bot_running(sandbox_url, tmp_path):
        start_privately(people, admin)
        add_bot(people, admin, chat_id)
        open_picker(people, admin, chat_id, None)
        people._call(
            "POST", f"/groups/{chat_id}/permissions", user_id=admin["id"], can_send_messages=False
        )
        choose_jamsil(people, admin, chat_id)
        wait_told(people, admin, title)
        time.sleep(4)  # several more runs of the daily job and the outbox
        assert len(told(people, admin, title)) == 1
        assert refused_sends(people) == 1
        assert not from_bot(people, chat_id, "☀️")


def test_setregion_in_a_forum_topic_posts_in_that_topic(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    admin, chat_id = group_of(people, "잠실 주민 포럼")
    with bot_running(sandbox_url, tmp_path):
        people._call("POST", f"/groups/{chat_id}/topics/enable", user_id=admin["id"])
        add_bot(people, admin, chat_id)
        topic = people._call(
            "POST", f"/groups/{chat_id}/topics", user_id=admin["id"], name="오늘의 미션"
        )
        thread = int(topic["message_thread_id"])
        open_picker(people, admin, chat_id, thread)
        choose_jamsil(people, admin, chat_id)
        [post] = people.wait_for_bot(chat_id, where=_starts("☀️"))
        assert post.get("message_thread_id") == thread and post.get("is_topic_message") is True


def test_a_closed_general_topic_tells_the_admin_once(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    title = "잠실 닫힌 포럼"
    admin, chat_id = group_of(people, title)
    with bot_running(sandbox_url, tmp_path):
        start_privately(people, admin)
        people._call("POST", f"/groups/{chat_id}/topics/enable", user_id=admin["id"])
        add_bot(people, admin, chat_id)
        open_picker(people, admin, chat_id, None)  # in the General topic
        people._call("POST", f"/groups/{chat_id}/topics/general/close", user_id=admin["id"])
        choose_jamsil(people, admin, chat_id)
        wait_told(people, admin, title)
        time.sleep(4)
        assert len(told(people, admin, title)) == 1
        assert refused_sends(people) == 1
        assert not from_bot(people, chat_id, "☀️")
