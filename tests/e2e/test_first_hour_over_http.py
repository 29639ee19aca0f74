"""A neighbour's first hour (issue 23), over HTTP: the sandbox and the bot as separate
processes (one of each for the module), people acting through the sandbox's user API. Each
problem below was reproduced on the bot before its fix:

- signup: a location shared by Seokchon Lake's east lake (37.5096, 127.1054) for 석촌동 was
  answered "석촌동에서 160m 떨어진 곳이에요" with no way forward; the open 동 it fits (송파동,
  whose seeded boundary holds it) is now offered ("송파동으로 하기" / "Use 송파동") and taking
  it finishes the signup verified there;
- /meetups listed the person's own 동 only: a verified 송파동 neighbour was told "지금 우리 동네에
  열린 모임이 없어요" while a meetup was open about 500 m away in 잠실동; the whole district is
  listed now, nearest first, with the distance;
- /mymeetups listed open meetups only: it now says where the person stands in each upcoming
  one (hosting / joined / waitlisted) and how past ones went (here: attended).

The neighbours and meetups of the last two are planted in the bot's database with storage
functions (registration and hosting are tested elsewhere); every message goes over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.settings import SANDBOX_TOKEN
from storage import accounts, meetings
from storage.db import create_engine, session_factory, transaction
from storage.models import Mission, Region
from tests.e2e.processes import ROOT, People, bot_env, running
from tests.servers import free_port

LAKE_EAST = (37.5096, 127.1054)  # by Seokchon Lake's east lake: 송파동, 160 m from 석촌동
# In 송파구's polygon but in no 동's (the road between 방이동 and 오금동): 36 m from 방이동
# (tests/test_between_dongs.py finds it in the bundled GeoJSON).
GAP = (37.50998, 127.14072)
TITLE_KO, TITLE_EN = "석촌호수 한 바퀴 걷기", "Walk once round Seokchon Lake"


@dataclass(frozen=True)
class World:
    people: People
    users: dict[str, dict[str, Any]]
    database: Path
    log: Path


async def _plant(url: str, ids: dict[str, int]) -> None:
    """지훈 and 도윤 (잠실동) host by the lake, 도윤 also in 방이동; 수아 is a verified neighbour
    of 송파동; James (English, 잠실동) joined 지훈's meetup, is waitlisted on 도윤's full one,
    hosts one, and attended one yesterday."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    rules = meetings.Rules()
    try:
        async with transaction(session_factory(engine)) as s:
            dongs = {
                r.name_ko: r
                for r in await s.scalars(
                    select(Region).where(Region.name_ko.in_(["잠실동", "송파동"]))
                )
            }
            mission = await s.scalar(select(Mission).where(Mission.key == "seokchon-lake-loop"))
            assert mission is not None and len(dongs) == 2
            for name, user_id in ids.items():
                home = dongs["송파동" if name == "수아" else "잠실동"]
                await accounts.register(s, accounts.Registration(
                    user_id=user_id, language="en" if name == "James" else "ko",
                    display_name=name, phone_hash=f"h{user_id}", phone_masked="010-****-0000",
                    region_id=home.id, region_verified=True, interests=["walking"],
                    preferred_times=["evening"],
                ), now - timedelta(days=3))  # fmt: skip
            lake = meetings.Place("석촌호수", mission.place_lat, mission.place_lon)

            async def host(
                who: str, start: datetime, capacity: int = 5, place: meetings.Place = lake
            ) -> int:
                meeting = await meetings.create(
                    s, host_id=ids[who], mission_id=mission.id, starts_at=start, place=place,
                    capacity=capacity, note=None, rules=rules, now=start - timedelta(hours=2),
                )  # fmt: skip
                return meeting.id

            past = now - timedelta(days=1)
            yesterday = await host("지훈", past)
            await meetings.join(s, yesterday, ids["James"], rules, past - timedelta(hours=1))
            await meetings.check_in(s, yesterday, ids["James"], rules, past + timedelta(minutes=5))
            joined = await host("지훈", now + timedelta(hours=3))
            await meetings.join(s, joined, ids["James"], rules, now)
            full = await host("도윤", now + timedelta(hours=5), capacity=2)
            await meetings.join(s, full, ids["지훈"], rules, now)
            await meetings.join(s, full, ids["James"], rules, now)  # the waitlist
            await host("James", now + timedelta(hours=4))
            # 500 m north of 송파동's centre, inside 방이동.
            gate = meetings.Place("방이동 입구", 37.5096, 127.1136)
            await host("도윤", now + timedelta(hours=6), place=gate)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One sandbox and one bot process for the whole module, on a seeded SQLite database."""
    tmp = tmp_path_factory.mktemp("first_hour")
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    sandbox = [sys.executable, "-m", "sandbox.server", "--port", str(port), "--token",
               SANDBOX_TOKEN]  # fmt: skip
    with running(sandbox, {}, f"{sandbox_url}/healthz", tmp / "sandbox.log"):
        people = People(sandbox_url)
        users = {
            name: people.create(name, "en" if name in ("James", "Alex") else "ko")
            for name in ("지훈", "도윤", "수아", "James", "하늘", "민준", "Alex")
        }
        env = bot_env(sandbox_url, tmp)
        for command in (["db", "upgrade"], ["seed"]):
            subprocess.run([sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
                           cwd=ROOT, check=True, capture_output=True, timeout=120)  # fmt: skip
        planted = {name: users[name]["id"] for name in ("지훈", "도윤", "수아", "James")}
        asyncio.run(_plant(env["HALSARAM_DATABASE_URL"], planted))
        log = tmp / "bot.log"
        with running([sys.executable, "-m", "bot.cli", "run"], env, None, log):
            yield World(people, users, tmp / "bot.sqlite3", log)


def _reply(people: People, person: dict[str, Any], text: str) -> str:
    """The bot's first message after `text` in the person's private chat."""
    before = len([m for m in people.view(person["id"])["messages"] if m["from"].get("is_bot")])
    people.say(person, text)
    return str(people.wait_for_bot(person["id"], before + 1, timeout=60)[before].get("text", ""))


def test_a_location_by_the_lake_offers_the_nearest_dong_and_signs_up(world: World) -> None:
    people, haneul = world.people, world.users["하늘"]
    people.say(haneul, "/start")
    people.press_label(haneul, "동의합니다", timeout=60)
    people.wait_for_bot(haneul["id"], where=lambda m: bool(m.get("reply_keyboard")))
    people.share_contact(haneul)
    people.press_label(haneul, "송파구")
    people.press_label(haneul, "석촌동")
    people.wait_for_bot(haneul["id"], where=lambda m: "위치를 공유" in m.get("text", ""))
    people.share_location(haneul, *LAKE_EAST)
    [offer] = people.wait_for_bot(
        haneul["id"], where=lambda m: m.get("text", "").startswith("석촌동에서 ")
    )
    # Before: "석촌동에서 160m 떨어진 곳이에요" with only "choose another" and "skip".
    labels = [b["text"] for row in offer["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[0] == "송파동으로 하기", (offer["text"], labels)
    assert "송파동이에요" in offer["text"], offer["text"]
    people.press_label(haneul, "송파동으로 하기")
    people.wait_for_bot(
        haneul["id"], where=lambda m: m.get("text") == "확인됐어요: 송파동에 계시네요. ✅"
    )
    for label in ("걷기", "완료", "저녁", "완료", "확인 ✅"):
        people.press_label(haneul, label)
    people.wait_for_bot(haneul["id"], where=lambda m: "환영해요" in m.get("text", ""))
    row = (
        sqlite3.connect(world.database)
        .execute(
            "SELECT r.name_ko, u.region_verified_at IS NOT NULL FROM users u "
            "JOIN regions r ON r.id = u.region_id WHERE u.id = ? AND u.registered_at IS NOT NULL",
            (haneul["id"],),
        )
        .fetchone()
    )
    assert row == ("송파동", 1)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("민준", ("동의합니다", "송파구", "석촌동", "석촌동에서 ", "방이동으로 하기",
                 "확인됐어요: 방이동에 계시네요. ✅",
                 ("걷기", "완료", "저녁", "완료", "확인 ✅"), "환영해요")),
        ("Alex", ("I agree", "Songpa-gu", "Seokchon-dong", "That location is ", "Use Bangi-dong",
                  "Verified: you are in Bangi-dong. ✅",
                  ("Walking", "Done", "Evenings", "Done", "Confirm ✅"), "Welcome")),
    ],
)  # fmt: skip
def test_a_location_between_dongs_offers_the_nearest_and_signs_up(
    world: World, name: str, words: tuple[Any, ...]
) -> None:
    """Issue 23: a location in no 동 (a road between 방이동 and 오금동), shared for 석촌동, offers
    the nearest open 동 within 300 m as a button; taking it signs up verified there. Without
    the nearest-동 fallback the answer is "outside 석촌동" with only "choose another" / "skip"."""
    people, person = world.people, world.users[name]
    agree, district, dong, outside, use, verified, choices, welcome = words
    people.say(person, "/start")
    people.press_label(person, agree, timeout=60)
    people.wait_for_bot(person["id"], where=lambda m: bool(m.get("reply_keyboard")))
    people.share_contact(person)
    people.press_label(person, district)
    people.press_label(person, dong)
    people.wait_for_bot(
        person["id"], where=lambda m: "request_location" in str(m.get("reply_keyboard"))
    )
    people.share_location(person, *GAP)
    [offer] = people.wait_for_bot(
        person["id"], where=lambda m: m.get("text", "").startswith(outside)
    )
    labels = [b["text"] for row in offer["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[0] == use, (offer["text"], labels)
    people.press_label(person, use)
    people.wait_for_bot(person["id"], where=lambda m: m.get("text") == verified)
    for label in choices:
        people.press_label(person, label)
    people.wait_for_bot(person["id"], where=lambda m: welcome in m.get("text", ""))
    row = (
        sqlite3.connect(world.database)
        .execute(
            "SELECT r.name_ko, u.region_verified_at IS NOT NULL FROM users u "
            "JOIN regions r ON r.id = u.region_id WHERE u.id = ? AND u.registered_at IS NOT NULL",
            (person["id"],),
        )
        .fetchone()
    )
    assert row == ("방이동", 1)


def test_meetups_lists_a_meetup_of_another_dong_with_its_distance(world: World) -> None:
    listing = _reply(world.people, world.users["수아"], "/meetups")
    # Before: "지금 우리 동네에 열린 모임이 없어요" (only 송파동's own meetups were listed).
    assert listing.startswith("송파동에서 가까운 열린 모임:"), listing
    lines = [line for line in listing.splitlines() if line.startswith("• ")]
    # 도윤's meetup in 방이동, 500 m north of 송파동's centre, first; the lake's at 1.1 km next.
    assert lines[0].startswith(f"• {TITLE_KO} — ") and ", 방이동 입구 (500m, " in lines[0], lines
    assert len(lines) == 4 and all(" (1.1km, " in line for line in lines[1:]), lines


def test_mymeetups_says_where_one_stands_and_how_the_past_went(world: World) -> None:
    people, james, jihoon = world.people, world.users["James"], world.users["지훈"]
    mine = _reply(people, james, "/mymeetups")
    # Before: "You have no upcoming meetups", or the open meetups with no standing, no past.
    assert mine.startswith("📅 Coming up:"), mine
    lines = [line for line in mine.splitlines() if line.startswith("• ")]
    standing = [line.rsplit(" · ", 1)[-1] for line in lines]
    assert standing[:3] == ["✅ joined", "🏠 hosting", "⏳ on the waitlist"], mine
    assert all(line.startswith(f"• {TITLE_EN} — ") for line in lines), mine
    assert all(", Seokchon Lake · " in line for line in lines[:3]), mine
    past = mine.split("🗂 Past (1/1 page):\n", 1)[-1].splitlines()
    assert past == [lines[3]] and lines[3].endswith(" · 🙋 attended · no photo sent"), mine
    hosted = _reply(people, jihoon, "/mymeetups")
    assert hosted.startswith("📅 다가오는 모임:") and "🗂 지난 모임 (1/1쪽):" in hosted, hosted
    assert "석촌호수 · 🏠 호스트" in hosted and "석촌호수 · ✅ 참여" in hosted, hosted
    assert "James" not in world.log.read_text()  # no names in the log
