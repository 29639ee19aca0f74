"""Points end to end (steps 5-8): a participant of a meetup under way sends a photo, an admin
approves it in the admin group, the points arrive, they buy a voucher in /market and see it
in /points — the bot as its own process, everyone acting through the sandbox over HTTP."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from storage import accounts, meetings
from storage.db import create_engine, session_factory, transaction
from storage.models import Mission, Region, User
from tests.e2e.processes import ROOT, People, bot_env, running


async def _plant(url: str, host_id: int, guest_id: int, admin_id: int) -> None:
    """Two registered neighbours in a meetup that started 15 minutes ago, the guest checked
    in; an admin. (Creating and checking in are covered end to end elsewhere.)"""
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    try:
        async with transaction(sessions) as s:
            region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            mission = await s.scalar(select(Mission).where(Mission.key == "seokchon-lake-loop"))
            assert region is not None and mission is not None
            for user_id, name in ((host_id, "지훈"), (guest_id, "민지"), (admin_id, "관리자")):
                await accounts.register(s, accounts.Registration(
                    user_id=user_id, language="ko", display_name=name, phone_hash=f"h{user_id}",
                    phone_masked="010-****-0000", region_id=region.id, region_verified=True,
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
            await meetings.join(s, meeting.id, guest_id, rules, start - timedelta(minutes=50))
            await meetings.check_in(s, meeting.id, guest_id, rules, start)
    finally:
        await engine.dispose()


def _photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (90, 140, 200)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_photo_approved_points_exchanged(people: People, sandbox_url: str, tmp_path: Path) -> None:
    host, guest, admin = (people.create(n, "ko") for n in ("지훈", "민지", "관리자"))
    group = people._call(
        "POST", "/groups", title="할사람 관리자", member_ids=[admin["id"]], admin_ids=[admin["id"]]
    )
    env = bot_env(sandbox_url, tmp_path, HALSARAM_ADMIN_CHAT_ID=str(group["id"]))
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run([sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
                       cwd=ROOT, check=True, capture_output=True, timeout=120)  # fmt: skip
    asyncio.run(_plant(env["HALSARAM_DATABASE_URL"], host["id"], guest["id"], admin["id"]))
    csv = tmp_path / "codes.csv"
    csv.write_text(
        "item,name_ko,name_en,cost,code\ncoffee,아메리카노,Americano,100,E2E-CAFE-0001\n"
    )
    load = [sys.executable, "-m", "bot.cli", "market", "load", str(csv)]
    subprocess.run(load, env={**os.environ, **env}, cwd=ROOT, check=True, capture_output=True)

    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people._call("POST", f"/groups/{group['id']}/bot", user_id=admin["id"])
        people.say(guest, "/help")
        people.wait_for_bot(guest["id"])
        people.send_photo(guest, _photo())
        people.wait_for_bot(guest["id"], where=lambda m: "확인하고 있어요" in m.get("text", ""))
        card = people.wait_for_bot(group["id"], where=lambda m: "photo" in m, timeout=40)[-1]
        approve = next(b["callback_data"] for row in card["reply_markup"]["inline_keyboard"]
                       for b in row if b["text"] == "✅ 승인")  # fmt: skip
        people.press(admin, card, approve)
        people.wait_for_bot(guest["id"], where=lambda m: "승인" in m.get("text", ""), timeout=30)

        people.say(guest, "/market")
        people.press_label(guest, "아메리카노 · 100P")
        people.press_label(guest, "교환하기 ✅")
        people.wait_for_bot(guest["id"], where=lambda m: "E2E-CAFE-0001" in m.get("text", ""))
        people.say(guest, "/points")
        [history] = people.wait_for_bot(
            guest["id"], where=lambda m: m.get("text", "").startswith("내 포인트")
        )
        assert "-100 · 교환 (E2E-*****0001)" in history["text"]
        assert "미션 보상" in history["text"]
        # Each entry says what it was for (issue 23): the voucher, the mission's meetup and
        # the decision that paid.
        assert "↳ 아메리카노 교환" in history["text"]
        assert "석촌호수 모임: 검토에서 승인" in history["text"]
        # The approval moved the trust score at once, and /profile explains that number as the
        # sum the join and host gates compare (issue 23).
        people.say(guest, "/profile")
        [card] = people.wait_for_bot(
            guest["id"], where=lambda m: m.get("text", "").startswith("내 프로필")
        )
        assert "신뢰 점수: 52 = 기본 50 + 2 (승인된 미션 1개)" in card["text"]
        assert "모임 참여에는 신뢰 점수 20점, 주최에는 40점이 필요해요." in card["text"]
    log = (tmp_path / "bot.log").read_text()
    assert "E2E-CAFE-0001" not in log  # a voucher code never reaches a log line
