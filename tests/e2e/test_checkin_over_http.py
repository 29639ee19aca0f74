"""Check-in proves presence, over HTTP (issue 21): the sandbox and the bot as separate processes,
people acting through the sandbox's user API, real time.

- a code read off the host's screen and texted to a friend 2 km away: the friend is told how
  far they are, and after "I can't share" is checked in as "location unverified" (with
  HALSARAM_CHECKIN_LOCATION_REQUIRED=true: refused);
- someone at the lake (within 150 m) checks in, and the host's list shows who is here and how;
- the code of two windows ago, and the meetup's old fixed code, are refused;
- a code typed in time while the bot was down, delivered after the window closed, counts.

The people and meetups are planted in the bot's database (registration is not what is tested
here); every message and every answer goes over HTTP.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image
from sqlalchemy import select, update

from storage import accounts, meetings
from storage.db import create_engine, session_factory, transaction
from storage.models import Meeting, Mission, Participation, Region
from tests.e2e.processes import ROOT, People, bot_env, running
from ui import callbacks
from ui.callbacks import Action
from verification.checkin import TokenSigner

LAKE = (37.5096, 127.1027)  # the mission's meeting point, 석촌호수
HOME_2_KM = (LAKE[0] + 0.018, LAKE[1])  # about 2 km north
ASKED = "한 단계 남았어요"
DONE = "체크인 완료! ✅"
SKIP = "건너뛰기 — 위치를 공유할 수 없어요"
SIGNER = TokenSigner(b"e2e-secret", 180)  # bot_env's HALSARAM_SECRET_KEY


async def _plant(url: str, ids: dict[str, int], starts_in: timedelta) -> int:
    """Registered neighbours of 잠실동; 지훈 hosts a meetup starting `starts_in` from now (in
    the past: already started) that everyone else joined. Returns its id."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with transaction(session_factory(engine)) as s:
            region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            mission = await s.scalar(select(Mission).where(Mission.key == "seokchon-lake-loop"))
            assert region is not None and mission is not None
            for name, user_id in ids.items():
                await accounts.register(s, accounts.Registration(
                    user_id=user_id, language="ko", display_name=name, phone_hash=f"h{user_id}",
                    phone_masked="010-****-0000", region_id=region.id, region_verified=True,
                    interests=["walking"], preferred_times=["evening"],
                ), now - timedelta(days=1))  # fmt: skip
            meeting = await meetings.create(
                s, host_id=ids["지훈"], mission_id=mission.id, starts_at=now + timedelta(hours=3),
                place=meetings.Place("석촌호수", *LAKE), capacity=6, note=None,
                rules=meetings.Rules(), now=now,
            )  # fmt: skip
            for name, user_id in ids.items():
                if name != "지훈":
                    await meetings.join(s, meeting.id, user_id, meetings.Rules(), now)
            starts = now + starts_in
            await s.execute(
                update(Meeting)
                .where(Meeting.id == meeting.id)
                .values(starts_at=starts, ends_at=starts + timedelta(minutes=40))
            )
            return meeting.id
    finally:
        await engine.dispose()


async def _close_in(url: str, meeting_id: int, left: timedelta) -> datetime:
    """Moves the meetup's start so that its check-in window (30 minutes from the start)
    closes `left` from now; returns that moment."""
    closes = datetime.now(UTC) + left
    starts = closes - timedelta(minutes=30)
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as s:
            await s.execute(
                update(Meeting)
                .where(Meeting.id == meeting_id)
                .values(starts_at=starts, ends_at=starts + timedelta(minutes=40))
            )
    finally:
        await engine.dispose()
    return closes


async def _seat(url: str, meeting_id: int, user_id: int) -> Participation:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            found = await s.scalar(
                select(Participation).where(
                    Participation.meeting_id == meeting_id, Participation.user_id == user_id
                )
            )
            assert found is not None
            return found
    finally:
        await engine.dispose()


async def _fixed_code(url: str, meeting_id: int) -> str:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            meeting = await s.get(Meeting, meeting_id)
            assert meeting is not None and meeting.checkin_code
            return meeting.checkin_code
    finally:
        await engine.dispose()


class Chat:
    """The people over HTTP, each with a count of the bot's messages already read."""

    def __init__(self, people: People, users: dict[str, dict[str, Any]]) -> None:
        self.people, self.users = people, users
        self.read = {name: 0 for name in users}

    def _bot_messages(self, name: str) -> list[dict[str, Any]]:
        chat = self.people.view(self.users[name]["id"])["messages"]
        return [m for m in chat if m.get("from", {}).get("is_bot")]

    def next(self, name: str, where: Callable[[dict[str, Any]], bool] = lambda _m: True,
             timeout: float = 30.0) -> dict[str, Any]:  # fmt: skip
        """The first unread bot message in `name`'s chat matching `where` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = self._bot_messages(name)[self.read[name] :]
            for offset, message in enumerate(new):
                if where(message):
                    self.read[name] += offset + 1
                    return message
            time.sleep(0.1)
        raise AssertionError(f"nothing for {name}: {self._bot_messages(name)[self.read[name] :]}")

    def say(self, name: str, text: str) -> dict[str, Any]:
        """`name` sends `text`; returns the bot's answer."""
        self.people.say(self.users[name], text)
        return self.next(name)

    def share(self, name: str, at: tuple[float, float], **kw: Any) -> dict[str, Any]:
        self.people.share_location(self.users[name], *at, **kw)
        return self.next(name)

    def press_reply(self, name: str, label: str) -> dict[str, Any]:
        """`name` presses a button of the reply keyboard under their input field."""
        user = self.users[name]
        self.people._call("POST", f"/chats/{user['id']}/reply_button", user_id=user["id"],
                          text=label)  # fmt: skip
        return self.next(name)

    def qr(self, name: str, meeting_id: int) -> dict[str, Any]:
        """The host opens the meetup's card (the view button, as its list shows it) and
        presses 📷; returns the QR message."""
        user = self.users[name]
        last = self._bot_messages(name)[-1]
        view = callbacks.encode(Action.MEETUP_VIEW, meeting_id)
        self.people.press(user, last, view, force=True)
        self.next(name, lambda m: "👥" in m.get("text", ""))
        self.people.press_label(user, "📷 체크인 QR")
        return self.next(name, lambda m: "photo" in m)

    def host_list(self, name: str) -> str:
        self.people.press_label(self.users[name], "👥 참가자")
        return str(self.next(name, lambda m: m.get("text", "").startswith('"석촌호수'))["text"])


def _code(qr: dict[str, Any]) -> str:
    found = re.search(r"/checkin ([A-Z0-9]{6})", qr.get("caption", ""))
    assert found, qr
    return found[1]


def _keyboard(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_keyboard") or {}).get("keyboard", [])
    return [b["text"] for row in rows for b in row]


def _setup(sandbox_url: str, tmp: Path, **extra: str) -> tuple[dict[str, str], Chat]:
    people = People(sandbox_url)
    users = {name: people.create(name, "ko") for name in ("지훈", "민지", "친구", "서연")}
    env = bot_env(sandbox_url, tmp, **extra)
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return env, Chat(people, users)


def _run(env: dict[str, str], log: Path) -> Any:
    health = f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/healthz"
    return running([sys.executable, "-m", "bot.cli", "run"], env, health, log)


def _hello(chat: Chat) -> None:
    for name in chat.users:  # a bot may write only to people who wrote first
        chat.say(name, "/help")


def test_a_texted_code_gets_the_distance_and_the_lake_checks_in(
    sandbox_url: str, tmp_path: Path
) -> None:
    env, chat = _setup(sandbox_url, tmp_path)
    url = env["HALSARAM_DATABASE_URL"]
    ids = {name: int(user["id"]) for name, user in chat.users.items()}
    meeting_id = asyncio.run(_plant(url, ids, timedelta(minutes=10)))
    with _run(env, tmp_path / "bot.log"):
        _hello(chat)
        qr = chat.qr("지훈", meeting_id)
        code = _code(qr)
        assert code == SIGNER.code(meeting_id, datetime.now(UTC)) or code == SIGNER.code(
            meeting_id, datetime.now(UTC) - timedelta(seconds=180)
        )  # the window may just have turned

        # 민지 texts the code to a friend at home, 2 km away.
        asked = chat.say("친구", f"/checkin {code}")
        assert ASKED in asked["text"] and "실시간 위치" in asked["text"]
        assert _keyboard(asked) == ["📍 내 위치 공유하기", SKIP]
        far = chat.share("친구", HOME_2_KM)
        assert "약 2.0km" in far["text"] and _keyboard(far) == ["📍 내 위치 공유하기", SKIP]
        assert asyncio.run(_seat(url, meeting_id, ids["친구"])).checked_in_at is None
        unverified = chat.press_reply("친구", SKIP)
        assert DONE in unverified["text"] and "위치 미확인" in unverified["text"]
        assert (unverified.get("reply_keyboard") or {}).get("remove_keyboard")

        # 민지 is at the lake: the QR, then a live location.
        payload = _payload_of(chat, qr)
        assert ASKED in chat.say("민지", f"/start {payload}")["text"]
        here = chat.share("민지", (LAKE[0] + 0.0005, LAKE[1]), live_period=900)
        assert DONE in here["text"] and "QR · 📍 60m (실시간)" in here["text"]
        assert "지금부터" in here["text"] and "📎 → 사진" in here["text"]

        # The code of two windows ago, and the meetup's old fixed code: refused.
        old = SIGNER.code(meeting_id, datetime.now(UTC) - timedelta(seconds=2 * 180 + 5))
        if old != code:  # (the current one is also two windows from the one shown at worst)
            assert "코드가 바뀌었어요" in chat.say("서연", f"/checkin {old}")["text"]
        fixed = asyncio.run(_fixed_code(url, meeting_id))
        assert "그 코드의 모임이 없어요" in chat.say("서연", f"/checkin {fixed}")["text"]
        assert asyncio.run(_seat(url, meeting_id, ids["서연"])).checked_in_at is None

        roster = chat.host_list("지훈")
        assert "✅ 민지 — QR · 📍 60m (실시간)" in roster
        assert "✅ 친구 — 코드 · ⚠️ 위치 미확인" in roster
        assert "• 서연" in roster and "✅ 지훈 — 호스트" in roster
    seat = asyncio.run(_seat(url, meeting_id, ids["민지"]))
    assert (seat.checkin_method, seat.checkin_location, seat.checkin_distance_m) == (
        "qr", "live", 60,
    )  # fmt: skip


def _payload_of(chat: Chat, qr: dict[str, Any]) -> str:
    """The deep link's payload the QR image carries (read as a phone camera would)."""
    largest = max(qr["photo"], key=lambda size: size["width"])
    image = Image.open(io.BytesIO(chat.people.file(largest["file_id"])))
    [found] = zxingcpp.read_barcodes(image)
    return str(found.text).split("start=", 1)[1]


def test_a_late_delivered_check_in_counts_and_the_setting_refuses_no_location(
    sandbox_url: str, tmp_path: Path
) -> None:
    env, chat = _setup(sandbox_url, tmp_path, HALSARAM_CHECKIN_LOCATION_REQUIRED="true")
    url = env["HALSARAM_DATABASE_URL"]
    ids = {name: int(user["id"]) for name, user in chat.users.items()}
    # Started 29 minutes ago: check-in closes (30 minutes after the start) in a minute.
    meeting_id = asyncio.run(_plant(url, ids, timedelta(minutes=-29)))
    with _run(env, tmp_path / "bot.log"):
        _hello(chat)
        code = _code(chat.qr("지훈", meeting_id))
        # The friend at home: told the distance, and with the setting no way around it.
        asked = chat.say("친구", f"/checkin {code}")
        assert _keyboard(asked) == ["📍 내 위치 공유하기"]  # no skip button
        assert "약 2.0km" in chat.share("친구", HOME_2_KM)["text"]
        assert "위치 공유가 꼭 필요해요" in chat.say("친구", SKIP)["text"]
    # The bot is down; the window now closes in 4 s (moved so the test need not wait a
    # minute); 서연 types the code in time; it waits in Telegram's queue.
    closes = asyncio.run(_close_in(url, meeting_id, timedelta(seconds=4)))
    chat.people.say(chat.users["서연"], f"/checkin {code}")
    sent = datetime.now(UTC)
    assert sent < closes
    time.sleep(max(0.0, (closes - datetime.now(UTC)).total_seconds()) + 2)
    with _run(env, tmp_path / "bot-again.log"):
        asked = chat.next("서연")  # handled after the window closed: judged by when it was sent
        assert ASKED in asked["text"], asked
        done = chat.share("서연", LAKE)
        assert DONE in done["text"]
    seat = asyncio.run(_seat(url, meeting_id, ids["서연"]))
    assert seat.checked_in_at is not None and seat.checked_in_at > closes
    assert seat.checkin_presented_at is not None and seat.checkin_presented_at < closes
    assert asyncio.run(_seat(url, meeting_id, ids["친구"])).checked_in_at is None
