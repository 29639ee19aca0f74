"""Admins find their way, over HTTP (issue 23): sandbox, bot and `make admin` as separate
processes. Reproduced before: a newcomer had no way to learn their id or make themselves an
admin with the running bot's settings, the admin commands were in no /help nor menu, reports
were stored with no admin group and nobody could see them (no `/reports`), and there was no
permanent ban.

A person sends `/whoami`, `make admin ID=…` (the same HALSARAM_* settings as the bot) makes
them an admin while the bot runs; their `/help` lists the admin commands and their private
command menu (BotCommandScopeChat) gets them; `/reports`, with no admin group set, shows the
open report with its buttons; "Ban for good" bans the reported person, who is told, and whose
next message gets the polite final answer.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from bot.settings import SANDBOX_TOKEN
from tests.e2e.processes import ROOT, People, bot_env, running
from tests.people import SEOKCHON_LAKE

BOT = [sys.executable, "-m", "bot.cli", "run"]


def _menu(sandbox_url: str, chat_id: int) -> list[str]:
    params: dict[str, Any] = {"scope": {"type": "chat", "chat_id": chat_id}}
    answer = httpx.post(f"{sandbox_url}/bot{SANDBOX_TOKEN}/getMyCommands", json=params).json()
    assert answer["ok"], answer
    return [c["command"] for c in answer["result"]]


def _has(text: str) -> Any:
    return lambda m: text in (m.get("text") or "")


def test_admin_tools_over_http(people: People, sandbox_url: str, tmp_path: Path) -> None:
    env = bot_env(sandbox_url, tmp_path)
    full_env = {**os.environ, **env}
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env=full_env, cwd=ROOT, check=True,
            capture_output=True, timeout=120,
        )  # fmt: skip
    operator, mina, jun = people.create("운영자"), people.create("민아"), people.create("준")
    with running(BOT, env, None, tmp_path / "bot.log"):
        people.say(operator, "/whoami")
        [told] = people.wait_for_bot(operator["id"], where=_has("make admin ID="))
        assert f"make admin ID={operator['id']}" in told["text"]
        made = subprocess.run(
            ["make", "-s", "admin", f"ID={operator['id']}"], env=full_env, cwd=ROOT,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert f"{operator['id']} is now an admin" in made.stdout

        people.say(operator, "/help")
        [listed] = people.wait_for_bot(operator["id"], where=_has("/reports"))
        for name in ("/review", "/drafts", "/stats", "/refund", "/reports", "/ban", "/unban"):
            assert name in listed["text"]
        menu = _menu(sandbox_url, operator["id"])
        assert {"review", "reports", "ban", "unban", "meetups"} <= set(menu)

        for person in (mina, jun):
            people.sign_up(person, SEOKCHON_LAKE)
        assert _menu(sandbox_url, mina["id"]) == []  # nobody else gets a chat menu
        database = sqlite3.connect(tmp_path / "bot.sqlite3")
        try:  # a report (its conversation is tested apart); no admin group is set
            database.execute(
                "INSERT INTO reports (reporter_id, reported_id, reason, details, status, "
                "created_at) VALUES (?, ?, 'spam', 'selling at every meetup', 'open', "
                "'2026-11-25 10:00:00.000000')",
                (mina["id"], jun["id"]),
            )
            database.commit()
        finally:
            database.close()

        people.say(operator, "/reports")
        people.wait_for_bot(operator["id"], where=_has("1건"))
        people.press_label(operator, "영구 이용 정지")
        people.wait_for_bot(operator["id"], where=_has("영구 이용 정지 ("))
        # A notice through the outbox: on a starved machine (CI's three workers on two cores)
        # its dispatcher once needed more than the default 20 s.
        people.wait_for_bot(jun["id"], where=_has("운영진이 계정을 영구 정지했어요"), timeout=60)
        people.say(jun, "/meetups")
        people.wait_for_bot(jun["id"], where=_has("이 요청은 도와드릴 수 없어요"))
        database = sqlite3.connect(tmp_path / "bot.sqlite3")
        try:
            row = database.execute(
                "SELECT ban_reason FROM users WHERE id = ?", (jun["id"],)
            ).fetchone()
            assert row == ("report #1: spam",)
        finally:
            database.close()
