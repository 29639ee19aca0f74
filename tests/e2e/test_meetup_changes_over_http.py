"""Meetups can change, over HTTP (issue 23): the sandbox and the bot as separate processes,
people acting through the sandbox's user API, in Korean and English.

지훈 hosts a meetup for three (지훈, 민지, Alex seated; Sam then 서연 waiting). He presses
"🕒 시간 변경" on his card and types the new time; everyone holding a place hears of it in
their language with a "still coming" button. 민지 and Sam confirm from the notice; Alex and
서연 do not. Once the deadline has passed (moved into the past in the bot's database: the
real one is two hours away) the meetup clock releases Alex's seat and 서연's waitlist place,
tells them, seats Sam (the first waiting who confirmed) and tells the host. Alex's late
"Still coming" is refused politely with nothing changed.

The people and the meetup are planted in the bot's database; every press and answer goes over
HTTP.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from storage import accounts, meetings
from storage.db import create_engine, session_factory, transaction
from storage.models import Mission, Participation, Region
from tests.conftest import _sandbox_process
from tests.e2e.processes import ROOT, People, bot_env, running
from ui import callbacks
from ui.callbacks import Action

SEOUL = ZoneInfo("Asia/Seoul")
NAMES = {"지훈": "ko", "민지": "ko", "Alex": "en", "Sam": "en", "서연": "ko"}


@dataclass
class World:
    people: People
    env: dict[str, str]
    url: str
    ids: dict[str, int]
    meeting_id: int


async def _plant(url: str, ids: dict[str, int]) -> int:
    """Everyone registered in 잠실동; 지훈's meetup in three hours for three, 민지 and Alex
    seated, Sam then 서연 on the waitlist."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with transaction(session_factory(engine)) as s:
            jamsil = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            mission = await s.scalar(select(Mission).where(Mission.key == "seokchon-lake-loop"))
            assert jamsil and mission
            for name, user_id in ids.items():
                await accounts.register(s, accounts.Registration(
                    user_id=user_id, language=NAMES[name], display_name=name,
                    phone_hash=f"h{user_id}", phone_masked="010-****-0000", region_id=jamsil.id,
                    region_verified=True, interests=["walking"], preferred_times=["evening"],
                ), now - timedelta(days=1))  # fmt: skip
            meeting = await meetings.create(
                s, host_id=ids["지훈"], mission_id=mission.id, starts_at=now + timedelta(hours=3),
                place=meetings.Place("석촌호수", mission.place_lat, mission.place_lon),
                capacity=3, note=None, rules=meetings.Rules(), now=now,
            )  # fmt: skip
            for offset, name in enumerate(("민지", "Alex", "Sam", "서연")):
                later = now + timedelta(seconds=offset)
                await meetings.join(s, meeting.id, ids[name], meetings.Rules(), later)
            return meeting.id
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("changes")
    with _sandbox_process(tmp) as sandbox:
        people = People(sandbox)
        users = {name: people.create(name, lang) for name, lang in NAMES.items()}
        env = bot_env(sandbox, tmp, HALSARAM_MEETUP_CLOCK_SECONDS="2")
        for command in (["db", "upgrade"], ["seed"]):
            subprocess.run(
                [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
                cwd=ROOT, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        ids = {name: int(user["id"]) for name, user in users.items()}
        url = env["HALSARAM_DATABASE_URL"]
        meeting_id = asyncio.run(_plant(url, ids))
        for name in ids:  # a bot writes only to people who wrote to it first
            people.say({"id": ids[name], "first_name": name}, "/help")
        health = f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/healthz"
        with running([sys.executable, "-m", "bot.cli", "run"], env, health, tmp / "bot.log"):
            for name in ids:
                people.wait_for_bot(ids[name])
            yield World(people, env, url, ids, meeting_id)


def _user(world: World, name: str) -> dict[str, Any]:
    return {"id": world.ids[name], "first_name": name}


def _bot_messages(world: World, name: str) -> list[dict[str, Any]]:
    chat = world.people.view(world.ids[name])["messages"]
    return [m for m in chat if m.get("from", {}).get("is_bot")]


def _texts(world: World, name: str) -> list[str]:
    return [m.get("text", "") for m in _bot_messages(world, name)]


def _wait_text(world: World, name: str, part: str, timeout: float = 30) -> dict[str, Any]:
    """The newest bot message to `name` containing `part`, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in _bot_messages(world, name) if part in m.get("text", "")]
        if found:
            return found[-1]
        time.sleep(0.2)
    raise AssertionError(f"{name} was never told {part!r}: {_texts(world, name)[-3:]}")


def _answered(world: World, name: str, question: str, answer: str) -> None:
    """Waits until the newest question containing `question` shows `answer`, no buttons."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        asked = [m for m in _bot_messages(world, name) if question in m.get("text", "")]
        if asked[-1]["text"].endswith(f"\n→ {answer} ✓") and not _labels(asked[-1]):
            return
        time.sleep(0.2)
    raise AssertionError(f"{question!r} does not show {answer!r}: {asked[-1]}")


def _labels(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


def _data(message: dict[str, Any], label: str) -> str:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    [data] = [b["callback_data"] for row in rows for b in row if b["text"] == label]
    return str(data)


async def _seats(url: str, meeting_id: int) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            rows = await s.execute(
                select(Participation.status, func.count())
                .where(Participation.meeting_id == meeting_id)
                .group_by(Participation.status)
            )
            return {status: n for status, n in rows}
    finally:
        await engine.dispose()


async def _deadline_passes(url: str, meeting_id: int) -> int:
    """The confirmation deadline moved one second into the past (it is two hours away)."""
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as s:
            result = await s.execute(
                update(Participation)
                .where(
                    Participation.meeting_id == meeting_id, Participation.confirm_by.is_not(None)
                )
                .values(confirm_by=datetime.now(UTC) - timedelta(seconds=1))
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


def test_the_host_moves_the_start_one_confirms_one_is_released_the_waitlist_moves_up(
    world: World,
) -> None:
    people, meeting_id = world.people, world.meeting_id
    host = _user(world, "지훈")
    # The host's card, opened with the view button, and its real "🕒 시간 변경".
    somewhere = _bot_messages(world, "지훈")[-1]
    people.press(host, somewhere, callbacks.encode(Action.MEETUP_VIEW, meeting_id), force=True)
    card = _wait_text(world, "지훈", "👥")
    assert "🕒 시간 변경" in _labels(card) and "📝 메모 수정" in _labels(card)
    people.press(host, card, _data(card, "🕒 시간 변경"))
    assert _labels(_wait_text(world, "지훈", "새 시간을 입력해 주세요")) == ["취소"]
    new = (datetime.now(SEOUL) + timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    day = "내일 " if new.date() > datetime.now(SEOUL).date() else ""
    people.say(host, f"{day}{new:%H:%M}")
    moved = _wait_text(world, "지훈", "옮겼어요")
    assert "4명에게" in moved["text"] and f"{new:%H:%M}" in moved["text"]
    # The question shows the new time and loses its "취소".
    _answered(world, "지훈", "새 시간을 입력해 주세요", f"{day or '오늘 '}{new:%H:%M}")

    # Everyone holding a place hears it in their language, with "still coming".
    minji = _wait_text(world, "민지", "모임 시간을")
    assert "✅ 갈게요" in _labels(minji) and f"{new:%H:%M}" in minji["text"]
    sam = _wait_text(world, "Sam", "The host moved")
    assert "✅ Still coming" in _labels(sam)
    alex = _wait_text(world, "Alex", "The host moved")
    _wait_text(world, "서연", "모임 시간을")
    people.press(_user(world, "민지"), minji, _data(minji, "✅ 갈게요"))
    assert "자리를 지켰어요" in _wait_text(world, "민지", "좋아요")["text"]
    people.press(_user(world, "Sam"), sam, _data(sam, "✅ Still coming"))
    assert "waitlist place is kept (number 1)" in _wait_text(world, "Sam", "Great")["text"]

    # The deadline passes: the clock (every 2 s here) releases Alex and 서연, seats Sam.
    assert asyncio.run(_deadline_passes(world.url, meeting_id)) == 2
    released = _wait_text(world, "Alex", "You did not confirm the new time")
    assert "join again while a seat is free" in released["text"]
    _wait_text(world, "서연", "확인하지 않아서")
    assert "you are now in" in _wait_text(world, "Sam", "A seat opened up")["text"]
    summary = _wait_text(world, "지훈", "확인 시간이 끝났어요")
    assert "2개를 비웠고" in summary["text"] and "대기자 1명" in summary["text"]
    assert asyncio.run(_seats(world.url, meeting_id)) == {"joined": 3, "left": 2}

    # Alex's "Still coming", pressed late on the notice: a polite refusal, nothing changed.
    said = len(_texts(world, "Alex"))
    people.press(_user(world, "Alex"), alex, _data(alex, "✅ Still coming"))
    deadline = time.monotonic() + 20
    while len(_texts(world, "Alex")) == said and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _texts(world, "Alex")[said:] == [
        "You no longer hold a place in this meetup. You can join again from the card while a "
        "seat is free."
    ]
    assert asyncio.run(_seats(world.url, meeting_id)) == {"joined": 3, "left": 2}


def test_the_host_edits_the_note_and_those_holding_a_place_hear_it(world: World) -> None:
    people, host = world.people, _user(world, "지훈")
    card = _wait_text(world, "지훈", "👥")
    people.press(host, card, _data(card, "📝 메모 수정"))
    assert _labels(_wait_text(world, "지훈", "메모를 입력해 주세요")) == ["취소"]
    people.say(host, "빨간 모자를 쓰고 갈게요")
    assert "2명에게 알렸어요" in _wait_text(world, "지훈", "메모를 바꿨어요")["text"]
    _answered(world, "지훈", "메모를 입력해 주세요", "빨간 모자를 쓰고 갈게요")
    assert "빨간 모자" in _wait_text(world, "민지", "메모를 바꿨어요")["text"]
    assert "빨간 모자" in _wait_text(world, "Sam", "changed the note")["text"]


def test_the_bot_log_has_no_error(world: World) -> None:
    log = Path(world.env["HALSARAM_DATA_DIR"]).parent / "bot.log"
    assert " ERROR " not in log.read_text(errors="replace")
