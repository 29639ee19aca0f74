"""Issue 23 end to end: three people tap "🙋" on a group's daily post, a meetup appears, they
are seated, and the group sees its card — bot and sandbox as processes, over HTTP.

The post goes out as in test_daily_post_over_http.py (the default post time set to the
current minute in Seoul, the job checking every second). The cut-off for taps is set to 23:59
(`HALSARAM_GATHER_CUTOFF`, a real operator setting) so the test runs whatever the hour; the
default is 17:00. A second tap by the same person changes nothing (counted once).
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

from tests.e2e.processes import ROOT, People, bot_env, running
from tests.people import SEOKCHON_LAKE


def _press(people: People, user: dict[str, Any], chat_id: int, label: str) -> None:
    """Presses the newest button whose label starts with `label` in a chat."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in reversed(people.view(chat_id)["messages"]):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for button in (b for row in rows for b in row):
                if button["text"].startswith(label) and "callback_data" in button:
                    people.press(user, message, button["callback_data"])
                    return
        time.sleep(0.1)
    raise AssertionError(f"no button {label!r} in chat {chat_id}")


def _post(people: People, chat_id: int) -> dict[str, Any]:
    [post] = [
        m
        for m in people.view(chat_id)["messages"]
        if m.get("from", {}).get("is_bot") and m.get("text", "").startswith("☀️")
    ]
    return post


def _tap_button(post: dict[str, Any]) -> dict[str, Any]:
    rows = post["reply_markup"]["inline_keyboard"]
    return next(b for row in rows for b in row if b["text"].startswith("🙋"))


def _wait(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_three_taps_in_a_group_make_a_meetup(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    now = datetime.now(ZoneInfo("Asia/Seoul"))
    env = bot_env(
        sandbox_url,
        tmp_path,
        HALSARAM_DAILY_POST_TIME=f"{now:%H:%M}",
        HALSARAM_DAILY_CHECK_SECONDS="1",
        HALSARAM_GATHER_CUTOFF="23:59",
    )
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    jihun, minji, seoyeon = (people.create(n) for n in ("지훈", "민지", "서연"))
    trio = (jihun, minji, seoyeon)
    group = people._call(
        "POST", "/groups", title="잠실 산책 모임",
        member_ids=[p["id"] for p in trio], admin_ids=[jihun["id"]],
    )  # fmt: skip
    chat_id = int(group["id"])
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        for person in trio:
            people.sign_up(person, SEOKCHON_LAKE)
        people._call("POST", f"/groups/{chat_id}/bot", user_id=jihun["id"])
        people.wait_for_bot(chat_id, where=lambda m: "/setregion" in m.get("text", ""))
        people.say(jihun, "/setregion", chat_id)
        _press(people, jihun, chat_id, "송파구")
        _press(people, jihun, chat_id, "잠실동")
        people.wait_for_bot(chat_id, where=lambda m: m.get("text", "").startswith("☀️"))

        post = _post(people, chat_id)
        assert _tap_button(post)["text"].endswith("(0/3)")
        # 지훈 taps twice: counted once.
        for _ in range(2):
            people.press(jihun, post, _tap_button(post)["callback_data"])
            _wait(lambda: _tap_button(_post(people, chat_id))["text"].endswith("(1/3)"))
        time.sleep(1)
        assert _tap_button(_post(people, chat_id))["text"].endswith("(1/3)")
        people.press(minji, post, _tap_button(post)["callback_data"])
        _wait(lambda: _tap_button(_post(people, chat_id))["text"].endswith("(2/3)"))
        # "Who?" names who tapped: display names only.
        _press(people, seoyeon, chat_id, "👀")
        _wait(lambda: any(
            "지훈" in (a.get("text") or "") and "민지" in (a.get("text") or "")
            for a in people.view(chat_id).get("callback_answers", [])
        ))  # fmt: skip
        people.press(seoyeon, post, _tap_button(post)["callback_data"])

        # The group sees the meetup's card with its Join button, under the post.
        [card] = people.wait_for_bot(chat_id, where=lambda m: "🎉" in m.get("text", ""))
        assert "3/6" in card["text"] and "지훈" in card["text"]  # seated, and the host
        labels = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
        assert "참여하기" in labels or any("참여" in label for label in labels)
        assert "✅" in _post(people, chat_id)["text"]
        # The host and the two others hear of it privately.
        people.wait_for_bot(jihun["id"], where=lambda m: "주최자" in m.get("text", ""))
        for person in (minji, seoyeon):
            people.wait_for_bot(person["id"], where=lambda m: "자리를 잡아" in m.get("text", ""))
        # One meetup: a fourth press by 지훈 makes nothing more.
        people.press(jihun, post, _tap_button(post)["callback_data"])
        time.sleep(2)
        cards = [m for m in people.view(chat_id)["messages"] if "🎉" in m.get("text", "")]
        assert len(cards) == 1
