"""Videos as proof end to end (issue 21, "Live capture"), the bot as its own process and the
sandbox over HTTP: a round video message (recorded live in Telegram's camera) goes through the
checks to a review card marked "실시간 영상" (its frame, as a photo), an admin approves it and
the points arrive in /points; one that states more than a minute, and one over 20 MB, get a
polite refusal; a video from the gallery is taken as a file to watch, its card the video
itself with no live mark."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage import accounts, meetings
from storage.db import create_engine, session_factory, transaction
from storage.models import Mission, Region, User
from tests import video_corpus
from tests.e2e.processes import ROOT, People, bot_env, running

LIVE = "🎥 실시간 영상"
FILE = "🎞 동영상 파일"
TAKEN = "확인하고 있어요"


async def _plant(url: str, host_id: int, guest_ids: list[int], admin_id: int) -> None:
    """Registered neighbours in a meetup at 석촌호수 that started 15 minutes ago, the guests
    checked in; an admin. (Creating and checking in are covered end to end elsewhere.)"""
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    try:
        async with transaction(sessions) as s:
            region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            mission = await s.scalar(select(Mission).where(Mission.key == "seokchon-lake-loop"))
            assert region is not None and mission is not None
            for user_id in (host_id, *guest_ids, admin_id):
                await accounts.register(s, accounts.Registration(
                    user_id=user_id, language="ko", display_name=f"이웃{user_id % 100}",
                    phone_hash=f"h{user_id}", phone_masked="010-****-0000",
                    region_id=region.id, region_verified=True,
                    interests=["walking"], preferred_times=["evening"],
                ), now - timedelta(days=1))  # fmt: skip
            admin = await s.get(User, admin_id)
            assert admin is not None
            admin.is_admin = True
            start = now - timedelta(minutes=15)
            rules = meetings.Rules()
            meeting = await meetings.create(
                s, host_id=host_id, mission_id=mission.id, starts_at=start,
                place=meetings.Place("석촌호수", mission.place_lat, mission.place_lon),
                capacity=5, note=None, rules=rules, now=start - timedelta(hours=1),
            )  # fmt: skip
            for guest_id in guest_ids:
                await meetings.join(s, meeting.id, guest_id, rules, start - timedelta(minutes=50))
                await meetings.check_in(s, meeting.id, guest_id, rules, start)
    finally:
        await engine.dispose()


def _start(
    people: People, sandbox_url: str, tmp_path: Path, guests: int
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], dict[str, str]]:
    """The admin group, a planted meetup with `guests` checked-in guests, and the bot's
    environment: (admin, guests, group, env)."""
    host = people.create("지훈", "ko")
    invited = [people.create(f"손님{n}", "ko") for n in range(guests)]
    admin = people.create("관리자", "ko")
    group = people._call(
        "POST", "/groups", title="할사람 관리자", member_ids=[admin["id"]], admin_ids=[admin["id"]]
    )
    env = bot_env(sandbox_url, tmp_path, HALSARAM_ADMIN_CHAT_ID=str(group["id"]))
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run([sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
                       cwd=ROOT, check=True, capture_output=True, timeout=120)  # fmt: skip
    ids = [g["id"] for g in invited]
    asyncio.run(_plant(env["HALSARAM_DATABASE_URL"], host["id"], ids, admin["id"]))
    return admin, invited, group, env


def _approve(people: People, admin: dict[str, Any], card: dict[str, Any]) -> None:
    approve = next(b["callback_data"] for row in card["reply_markup"]["inline_keyboard"]
                   for b in row if b["text"] == "✅ 승인")  # fmt: skip
    people.press(admin, card, approve)


def test_a_video_note_goes_from_check_to_points_and_limits_are_polite(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    admin, (guest, long_one, big_one), group, env = _start(people, sandbox_url, tmp_path, 3)
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people._call("POST", f"/groups/{group['id']}/bot", user_id=admin["id"])
        for person in (guest, long_one, big_one):
            people.say(person, "/help")
            people.wait_for_bot(person["id"])

        # Stating more than a minute (a modified client: the apps stop at one) is refused.
        people.send_video_note(long_one, video_corpus.video_note(401), duration=75)
        people.wait_for_bot(long_one["id"], where=lambda m: "1분이 넘는 영상" in m.get("text", ""))
        # Over the 20 MB a bot may download: a valid MP4 padded with a `free` box.
        pad = 21 * 1024 * 1024
        big = video_corpus.video_note(402) + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8)
        people.send_video_note(big_one, big)
        people.wait_for_bot(big_one["id"], where=lambda m: "20MB가 넘는 영상" in m.get("text", ""))

        people.send_video_note(guest, video_corpus.video_note(403, seconds=3))
        [taken] = people.wait_for_bot(guest["id"], where=lambda m: TAKEN in m.get("text", ""))
        assert "실시간 인증 영상" in taken["text"]
        [card] = people.wait_for_bot(
            group["id"], where=lambda m: m.get("caption", "").startswith(LIVE), timeout=40
        )
        assert "photo" in card  # one frame of it: a round video takes no caption
        assert "텔레그램에서 바로 녹화한 영상 메시지 (3초)" in card["caption"], card["caption"]
        _approve(people, admin, card)
        people.wait_for_bot(guest["id"], where=lambda m: "승인" in m.get("text", ""), timeout=30)
        people.say(guest, "/points")
        [history] = people.wait_for_bot(
            guest["id"], where=lambda m: m.get("text", "").startswith("내 포인트")
        )
        assert "미션 보상" in history["text"]
        # Neither refused video left a card: one live card in the group, the approved one.
        live = [m for m in people.view(group["id"])["messages"]
                if m.get("caption", "").startswith(LIVE)]  # fmt: skip
        assert len(live) == 1
    log = (tmp_path / "bot.log").read_text()
    assert "손님" not in log  # no names in the log


def test_an_ordinary_video_is_a_file_to_watch_without_the_live_mark(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    admin, (guest,), group, env = _start(people, sandbox_url, tmp_path, 1)
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people._call("POST", f"/groups/{group['id']}/bot", user_id=admin["id"])
        people.say(guest, "/help")
        people.wait_for_bot(guest["id"])
        sent = people.send_video(guest, video_corpus.clip(404, size=(320, 180), seconds=2))
        [taken] = people.wait_for_bot(guest["id"], where=lambda m: TAKEN in m.get("text", ""))
        assert "실시간" not in taken["text"].split("\n")[0]
        assert "영상 메시지" in taken["text"]  # the tip: a round video is live proof
        [card] = people.wait_for_bot(group["id"], where=lambda m: "video" in m, timeout=40)
        assert card["video"]["file_unique_id"] == sent["video"]["file_unique_id"]
        assert card["caption"].startswith(FILE) and LIVE not in card["caption"]
        _approve(people, admin, card)
        people.wait_for_bot(guest["id"], where=lambda m: "승인" in m.get("text", ""), timeout=30)
