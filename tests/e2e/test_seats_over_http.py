"""Seats follow the meetup's rules, over HTTP (issue 21; the reminder: issue 22): the sandbox
and the bot as separate processes, people acting through the sandbox's user API, real time.

- after check-in the card shows "checked in" and no Leave; a forged Leave press is refused
  politely, the seat stays and the host hears of no leave;
- a person of 강남구 (open) cannot join a 송파구 meetup, with the card's real Join button;
- a forged Join press for a meetup in a district that is not open is refused;
- someone else pressing a host tool gets one answer, the refusal: no second one, no apology;
- joining about 25 minutes before the start (reminders at 120 and 25 minutes) gives host and
  participant one reminder each, not the same one twice.

The people and meetups are planted in the bot's database (registration is not what is
tested here); every press and every answer goes over HTTP.
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

import pytest
from sqlalchemy import func, select, update

from storage import accounts, meetings
from storage.db import create_engine, session_factory, transaction
from storage.models import Meeting, Mission, OutboxMessage, Participation, Region
from tests.conftest import _sandbox_process
from tests.e2e.processes import ROOT, People, bot_env, running
from ui import callbacks
from ui.callbacks import Action

APOLOGY = "문제가 생겼어요"
GANGNAM, SONGPA = "11680", "11710"
NOT_HOST = "호스트만 할 수 있어요."


@dataclass
class World:
    people: People
    env: dict[str, str]
    url: str  # the bot's database
    ids: dict[str, int]  # people by name
    meetups: dict[str, int]  # meetups by role


async def _plant(url: str, ids: dict[str, int]) -> dict[str, int]:
    """Registered neighbours (강남사람 in 역삼동, the others in 잠실동) and the meetups: one
    starting in 10 minutes with 민지 checked in, one in three hours, one in 종로구 (not open)."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with transaction(session_factory(engine)) as s:
            jamsil = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            yeoksam = await s.scalar(select(Region).where(Region.name_ko == "역삼동"))
            jongno = await s.scalar(select(Region.id).where(Region.name_ko == "청운동"))
            mission = await s.scalar(select(Mission).where(Mission.key == "seokchon-lake-loop"))
            assert jamsil and yeoksam and jongno and mission and yeoksam.enabled
            for name, user_id in ids.items():
                home = yeoksam if name == "강남사람" else jamsil
                await accounts.register(s, accounts.Registration(
                    user_id=user_id, language="ko", display_name=name, phone_hash=f"h{user_id}",
                    phone_masked="010-****-0000", region_id=home.id, region_verified=True,
                    interests=["walking"], preferred_times=["evening"],
                ), now - timedelta(days=1))  # fmt: skip

            async def meetup(host: str, starts_in: timedelta) -> int:
                meeting = await meetings.create(
                    s, host_id=ids[host], mission_id=mission.id, starts_at=now + starts_in,
                    place=meetings.Place("석촌호수", mission.place_lat, mission.place_lon),
                    capacity=4, note=None, rules=meetings.Rules(), now=now,
                )  # fmt: skip
                return meeting.id

            found = {
                "soon": await meetup("지훈", timedelta(minutes=10)),
                "later": await meetup("지훈", timedelta(hours=3)),
                "closed": await meetup("지훈", timedelta(hours=5)),
            }
            await s.execute(
                update(Meeting).where(Meeting.id == found["closed"]).values(region_id=jongno)
            )
            await meetings.join(s, found["soon"], ids["민지"], meetings.Rules(), now)
            await meetings.check_in(s, found["soon"], ids["민지"], meetings.Rules(), now)
            return found
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One sandbox and one bot for the module (starting them is the slow part)."""
    tmp = tmp_path_factory.mktemp("seats")
    with _sandbox_process(tmp) as sandbox:
        people = People(sandbox)
        names = ("지훈", "민지", "강남사람", "도윤", "서연")
        users = {name: people.create(name, "ko") for name in names}
        env = bot_env(
            sandbox, tmp,
            HALSARAM_ENABLED_DISTRICTS=f"{SONGPA},{GANGNAM}",
            HALSARAM_REMINDER_MINUTES="120,25",
            HALSARAM_MEETUP_CLOCK_SECONDS="2",
        )  # fmt: skip
        for command in (["db", "upgrade"], ["seed"]):
            subprocess.run(
                [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
                cwd=ROOT, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        ids = {name: int(user["id"]) for name, user in users.items()}
        url = env["HALSARAM_DATABASE_URL"]
        planted = asyncio.run(_plant(url, ids))
        health = f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/healthz"
        command = [sys.executable, "-m", "bot.cli", "run"]
        with running(command, env, health, tmp / "bot.log"):
            yield World(people, env, url, ids, planted)


def _user(world: World, name: str) -> dict[str, Any]:
    return {"id": world.ids[name], "first_name": name}


def _texts(world: World, name: str) -> list[str]:
    chat = world.people.view(world.ids[name])["messages"]
    return [m.get("text", "") for m in chat if m.get("from", {}).get("is_bot")]


def _answers(world: World, name: str) -> list[dict[str, Any]]:
    return list(world.people.view(world.ids[name])["callback_answers"])


def _labels(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


def _any_message(world: World, name: str) -> dict[str, Any]:
    """A bot message in the person's chat to press a forged button on (after /help)."""
    chat = world.ids[name]
    before = len(world.people.wait_for_bot(chat, 0))
    world.people.say(_user(world, name), "/help")
    return world.people.wait_for_bot(chat, before + 1)[-1]


def _open_card(world: World, name: str, meeting_id: int) -> dict[str, Any]:
    """The meetup's card, opened with the view button (forged where no list shows it)."""
    people, chat = world.people, world.ids[name]
    before = len(people.view(chat)["messages"])
    people.press(_user(world, name), _any_message(world, name),
                 callbacks.encode(Action.MEETUP_VIEW, meeting_id), force=True)  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = people.view(chat)["messages"][before:]
        cards = [m for m in new if m.get("from", {}).get("is_bot") and "👥" in m.get("text", "")]
        if cards:
            return cards[-1]
        time.sleep(0.1)
    raise AssertionError("no card")


def _told_after(world: World, name: str, count: int, timeout: float = 20) -> list[str]:
    """The bot's texts in the chat once it has sent more than `count`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = _texts(world, name)
        if len(texts) > count:
            time.sleep(1.0)  # anything else it would send with it
            return _texts(world, name)[count:]
        time.sleep(0.1)
    raise AssertionError(f"the bot told {name} nothing new")


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


async def _notice_kinds(url: str, chat_id: int) -> list[str]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            rows = await s.scalars(
                select(OutboxMessage.payload).where(OutboxMessage.chat_id == chat_id)
            )
            return [str(p["kind"]) for p in rows]
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- the tests


def test_after_check_in_there_is_no_leave_and_a_forged_one_is_refused(world: World) -> None:
    people, guest = world.people, _user(world, "민지")
    meeting_id = world.meetups["soon"]
    card = _open_card(world, "민지", meeting_id)
    assert "✅ 체크인했어요." in card["text"]
    assert "못 가요" not in _labels(card)
    said = len(_texts(world, "민지"))
    people.press(guest, card, callbacks.encode(Action.MEETUP_LEAVE, meeting_id), force=True)
    told = _told_after(world, "민지", said)
    assert told == ["이미 체크인해서 이 모임에서 나갈 수 없어요. 즐거운 시간 보내세요!"]
    assert asyncio.run(_seats(world.url, meeting_id)) == {"joined": 2}
    time.sleep(3)  # the outbox runs every 2 seconds
    assert "meetup_left" not in asyncio.run(_notice_kinds(world.url, world.ids["지훈"]))
    assert not any("나갔어요" in text for text in _texts(world, "지훈"))


def test_a_person_of_gangnam_cannot_join_a_songpa_meetup(world: World) -> None:
    people, person = world.people, _user(world, "강남사람")
    meeting_id = world.meetups["later"]
    card = _open_card(world, "강남사람", meeting_id)
    said = len(_texts(world, "강남사람"))
    rows = card["reply_markup"]["inline_keyboard"]
    [join] = [b["callback_data"] for row in rows for b in row if b["text"] == "참여하기"]
    people.press(person, card, join)  # the real button
    told = _told_after(world, "강남사람", said)
    assert told == [
        "이 모임은 그 구에 사는 이웃을 위한 모임이에요. 내 동네 모임은 /meetups 에서 볼 수 있어요."
    ]
    assert asyncio.run(_seats(world.url, meeting_id)) == {"joined": 1}


def test_a_forged_join_for_a_meetup_in_a_district_not_open_is_refused(world: World) -> None:
    people, guest = world.people, _user(world, "민지")
    meeting_id = world.meetups["closed"]
    somewhere = _any_message(world, "민지")
    said = len(_texts(world, "민지"))
    people.press(guest, somewhere, callbacks.encode(Action.MEETUP_JOIN, meeting_id), force=True)
    told = _told_after(world, "민지", said)
    assert told == ["아직 할사람이 열리지 않은 동네의 모임이라 참여할 수 없어요."]
    assert asyncio.run(_seats(world.url, meeting_id)) == {"joined": 1}


def test_someone_elses_host_tool_press_gets_one_polite_refusal(world: World) -> None:
    people, guest = world.people, _user(world, "민지")
    meeting_id = world.meetups["later"]
    somewhere = _any_message(world, "민지")
    said, answered = len(_texts(world, "민지")), len(_answers(world, "민지"))
    for tool in ("close", "cancelyes", "qr"):
        data = callbacks.encode(Action.MEETUP_HOST, meeting_id, tool)
        query = people.press(guest, somewhere, data, force=True)
        deadline = time.monotonic() + 20
        while not any(a["callback_query_id"] == query["id"] for a in _answers(world, "민지")):
            assert time.monotonic() < deadline, "the press was never answered"
            time.sleep(0.1)
    time.sleep(2)  # a second answer, as a message, would have come by now
    answers = _answers(world, "민지")[answered:]
    assert [(a["text"], a["show_alert"]) for a in answers] == [(NOT_HOST, True)] * 3
    new = _texts(world, "민지")[said:]
    assert new == [], new  # no refusal repeated as a message, no apology
    assert asyncio.run(_seats(world.url, meeting_id)) == {"joined": 1}


def test_joining_25_minutes_before_the_start_gives_one_reminder(world: World) -> None:
    people = world.people
    host, guest = _user(world, "도윤"), _user(world, "서연")
    # The meetup starts 25 minutes and 15 seconds from now: the 25-minute reminder's moment
    # comes 15 seconds after the join, the two-hour one has long passed.
    starts = datetime.now(UTC) + timedelta(minutes=25, seconds=15)
    meeting_id = asyncio.run(_host(world.url, world.ids["도윤"], starts))
    people.say(host, "/help")
    card = _open_card(world, "서연", meeting_id)
    said = len(_texts(world, "서연"))
    people.press(guest, card, callbacks.encode(Action.MEETUP_JOIN, meeting_id))
    assert _told_after(world, "서연", said)[0].startswith("참여 완료!")
    # The meetup clock runs every 2 s here (every minute by default) and queues every reminder
    # due in one run: once both have theirs, a second copy would be there too or come with the
    # outbox's next round (every 2 s).
    deadline = time.monotonic() + (starts - datetime.now(UTC)).total_seconds() - 25 * 60 + 30
    while time.monotonic() < deadline and not all(
        any(t.startswith("알림:") for t in _texts(world, name)) for name in ("서연", "도윤")
    ):
        time.sleep(0.5)
    time.sleep(5)
    for name in ("서연", "도윤"):
        reminders = [t for t in _texts(world, name) if t.startswith("알림:")]
        assert len(reminders) == 1, (name, reminders)


async def _host(url: str, host_id: int, starts_at: datetime) -> int:
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with transaction(session_factory(engine)) as s:
            mission = await s.scalar(select(Mission).where(Mission.key == "ogeum-park-badminton"))
            assert mission is not None
            meeting = await meetings.create(
                s, host_id=host_id, mission_id=mission.id, starts_at=starts_at,
                place=meetings.Place("오금공원", mission.place_lat, mission.place_lon),
                capacity=4, note=None, rules=meetings.Rules(), now=now,
            )  # fmt: skip
            return meeting.id
    finally:
        await engine.dispose()


def test_the_bot_log_has_no_error(world: World) -> None:
    """Refusals are no failures: nothing above a warning was logged."""
    log = Path(world.env["HALSARAM_DATA_DIR"]).parent / "bot.log"
    assert " ERROR " not in log.read_text(errors="replace")
