"""Photos end to end (issue 19, point 12), the bot as its own process and the sandbox over
HTTP: an iPhone original sent as a file arrives as an `image/heic` document — it is taken,
its EXIF time and place are checked, and the admins' review card shows it as a JPEG photo;
a compressed photo (EXIF gone, as Telegram's are) is taken with the tip to send the
original as a file (📎 → 파일)."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import select

from storage import accounts, meetings
from storage.db import create_engine, session_factory, transaction
from storage.models import Mission, Region, User
from tests import photo_corpus as corpus
from tests.e2e.processes import ROOT, People, bot_env, running

TIP = "원본을 파일로 보내 주세요(📎 → 파일)"


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
                capacity=4, note=None, rules=rules, now=start - timedelta(hours=1),
            )  # fmt: skip
            for guest_id in guest_ids:
                await meetings.join(s, meeting.id, guest_id, rules, start - timedelta(minutes=50))
                await meetings.check_in(s, meeting.id, guest_id, rules, start)
    finally:
        await engine.dispose()


def _send_file(people: People, user: dict[str, object], data: bytes, name: str) -> None:
    """📎 → 파일 on an iPhone: the original, typed `image/heic` by the app."""
    response = people.http.post(
        f"/chats/{user['id']}/document",
        data={"user_id": str(user["id"])},
        files={"file": (name, data, "image/heic")},
    )
    assert response.json()["ok"], response.text


def test_heic_file_checked_and_shown_compressed_photo_tipped(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    host, iphone, android, admin = (
        people.create(n, "ko") for n in ("지훈", "민지", "서연", "관리자")
    )
    group = people._call(
        "POST", "/groups", title="할사람 관리자", member_ids=[admin["id"]], admin_ids=[admin["id"]]
    )
    env = bot_env(sandbox_url, tmp_path, HALSARAM_ADMIN_CHAT_ID=str(group["id"]))
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run([sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
                       cwd=ROOT, check=True, capture_output=True, timeout=120)  # fmt: skip
    guests = [iphone["id"], android["id"]]
    asyncio.run(_plant(env["HALSARAM_DATABASE_URL"], host["id"], guests, admin["id"]))
    # Taken a minute ago at the lake, as the phone's clock (Seoul, no zone) writes it.
    taken = datetime.now(ZoneInfo("Asia/Seoul")).replace(tzinfo=None) - timedelta(minutes=1)
    original = corpus.iphone_heic(131, size=(1600, 1200), taken=taken, gps=corpus.SEOKCHON_LAKE)

    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people._call("POST", f"/groups/{group['id']}/bot", user_id=admin["id"])
        for guest in (iphone, android):
            people.say(guest, "/help")
            people.wait_for_bot(guest["id"])

        _send_file(people, iphone, original, "IMG_4031.HEIC")
        [taken_in] = people.wait_for_bot(
            iphone["id"], where=lambda m: "확인하고 있어요" in m.get("text", "")
        )
        assert TIP not in taken_in["text"]  # the original already

        people.send_photo(android, corpus.plain_jpeg(132))
        [tipped] = people.wait_for_bot(
            android["id"], where=lambda m: "확인하고 있어요" in m.get("text", "")
        )
        assert TIP in tipped["text"]

        [card] = people.wait_for_bot(
            group["id"], where=lambda m: "원본 파일(HEIF)" in m.get("caption", ""), timeout=40
        )
        assert "photo" in card and "document" not in card  # a picture Telegram can show
        largest = max(card["photo"], key=lambda size: size["width"])
        with Image.open(io.BytesIO(people.file(largest["file_id"]))) as image:
            assert image.format == "JPEG" and image.size == (1600, 1200)
        assert "모임 시간 중" in card["caption"], card["caption"]  # the EXIF time was read
        assert "모임 장소에서" in card["caption"], card["caption"]  # and the GPS position
        people.wait_for_bot(
            group["id"], where=lambda m: "압축된 사진으로 확인했어요" in m.get("caption", ""),
            timeout=40,
        )  # fmt: skip
    log = (tmp_path / "bot.log").read_text()
    assert "민지" not in log and "서연" not in log
