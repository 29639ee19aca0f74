"""Onboarding end to end: three people sign up through the sandbox over HTTP, interleaved,
while the bot runs as its own process (long polling) on its own SQLite database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.e2e.processes import ROOT, People, bot_env, running
from tests.people import SEOKCHON_LAKE


def test_three_people_sign_up(people: People, sandbox_url: str, tmp_path: Path) -> None:
    env = bot_env(sandbox_url, tmp_path)
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    trio = [people.create("민지", "ko"), people.create("James", "en"), people.create("서연", "ko")]
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        for person in trio:
            people.say(person, "/start")
        for person in trio:
            people.press_label(
                person, "동의합니다" if person["language_code"] == "ko" else "I agree"
            )
        for person in trio:
            people.wait_for_bot(person["id"], where=lambda m: bool(m.get("reply_keyboard")))
            people.share_contact(person)
        for person, district, dong in zip(
            trio,
            ["송파구", "Songpa-gu", "송파구"],
            ["잠실동", "Jamsil-dong", "석촌동"],
            strict=True,
        ):
            people.press_label(person, district)
            people.press_label(person, dong)
        people.share_location(trio[0], *SEOKCHON_LAKE)  # 민지 verifies; the others skip
        people.press_label(trio[1], "Skip for now")
        people.press_label(trio[2], "나중에 할게요")
        for person in trio:
            ko = person["language_code"] == "ko"
            people.press_label(person, "걷기" if ko else "Walking")
            people.press_label(person, "완료" if ko else "Done")
            people.press_label(person, "저녁" if ko else "Evenings")
            people.press_label(person, "완료" if ko else "Done")
            people.press_label(person, "확인 ✅" if ko else "Confirm ✅")
        for person in trio:
            people.wait_for_bot(
                person["id"],
                where=lambda m: "환영해요" in m.get("text", "") or "Welcome" in m.get("text", ""),
            )
    database = sqlite3.connect(tmp_path / "bot.sqlite3")
    rows = database.execute(
        "SELECT u.id, r.name_ko, u.region_verified_at IS NOT NULL, u.phone_masked, u.language "
        "FROM users u JOIN regions r ON r.id = u.region_id WHERE u.registered_at IS NOT NULL "
        "ORDER BY u.id"
    ).fetchall()
    assert [(r[1], r[2], r[4]) for r in rows] == [
        ("잠실동", 1, "ko"), ("잠실동", 0, "en"), ("석촌동", 0, "ko"),
    ]  # fmt: skip
    assert all(r[3].startswith("010-****-") for r in rows)
    log = (tmp_path / "bot.log").read_text()
    for person in trio:  # the shared phone numbers never reach a log line
        shared = [m["contact"]["phone_number"] for m in people.view(person["id"])["messages"]
                  if "contact" in m]  # fmt: skip
        assert shared and all(number.lstrip("+")[-8:] not in log for number in shared)
