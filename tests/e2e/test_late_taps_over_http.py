"""Late taps over HTTP (issue 19, point 1): the sandbox refuses an answer to a press that is
too old, as Telegram does ("query is too old and response timeout expired or query ID is
invalid"). A voucher bought with such a press still shows its code, once, with no apology; a
join pressed while the bot was down (the press waits in the sandbox, its answer window runs
out) still joins when the bot is back, and the host is told. No error is counted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from storage import accounts, ledger, meetings
from storage.db import create_engine, session_factory, transaction
from storage.models import Mission, Participation, Region
from tests.conftest import _sandbox_process
from tests.e2e.processes import ROOT, People, bot_env, running

TTL = 4  # seconds a press can be answered in this sandbox (Telegram: about 15)
APOLOGY = "문제가 생겼어요"
CODE = "E2E-LATE-0001"


@pytest.fixture
def quick_sandbox(tmp_path: Path) -> Iterator[str]:
    with _sandbox_process(tmp_path, "--callback-ttl", str(TTL)) as url:
        yield url


async def _plant(url: str, people: dict[str, int]) -> int:
    """Registered neighbours of 잠실동; the buyer has 800 points; the host's meetup starts in
    three hours. Returns the meetup's id."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    try:
        async with transaction(sessions) as s:
            region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            mission = await s.scalar(select(Mission).where(Mission.key == "seokchon-lake-loop"))
            assert region is not None and mission is not None
            for name, user_id in people.items():
                await accounts.register(s, accounts.Registration(
                    user_id=user_id, language="ko", display_name=name, phone_hash=f"h{user_id}",
                    phone_masked="010-****-0000", region_id=region.id, region_verified=True,
                    interests=["walking"], preferred_times=["evening"],
                ), now - timedelta(days=1))  # fmt: skip
            await ledger.post(s, user_id=people["민지"], amount=800, kind=ledger.REWARD,
                              reference="e2e:late", now=now)  # fmt: skip
            meeting = await meetings.create(
                s, host_id=people["지훈"], mission_id=mission.id,
                starts_at=now + timedelta(hours=3),
                place=meetings.Place("석촌호수", mission.place_lat, mission.place_lon),
                capacity=4, note=None, rules=meetings.Rules(), now=now,
            )  # fmt: skip
            return meeting.id
    finally:
        await engine.dispose()


async def _balance(url: str, user_id: int) -> int:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            return await ledger.balance(s, user_id)
    finally:
        await engine.dispose()


async def _seated(url: str, meeting_id: int) -> list[int]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            rows = await s.scalars(
                select(Participation.user_id).where(
                    Participation.meeting_id == meeting_id, Participation.status == "joined"
                )
            )
            return list(rows)
    finally:
        await engine.dispose()


def _errors(env: dict[str, str]) -> float:
    """The bot's `halsaram_errors_total` from its /metrics."""
    text = httpx.get(f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/metrics").text
    [line] = [ln for ln in text.splitlines() if ln.startswith("halsaram_errors_total ")]
    return float(line.split()[1])


def _button(message: dict[str, Any], label: str) -> str:
    rows = message["reply_markup"]["inline_keyboard"]
    return str(next(b["callback_data"] for row in rows for b in row if b["text"] == label))


def _answered(people: People, chat_id: int, query_id: str) -> bool:
    return any(a["callback_query_id"] == query_id for a in people.view(chat_id)["callback_answers"])


def test_late_presses_still_do_their_work(quick_sandbox: str, tmp_path: Path) -> None:
    people = People(quick_sandbox)
    host, buyer, joiner = (people.create(n, "ko") for n in ("지훈", "민지", "서연"))
    env = bot_env(quick_sandbox, tmp_path)
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run([sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
                       cwd=ROOT, check=True, capture_output=True, timeout=120)  # fmt: skip
    ids = {"지훈": host["id"], "민지": buyer["id"], "서연": joiner["id"]}
    meeting_id = asyncio.run(_plant(env["HALSARAM_DATABASE_URL"], ids))
    csv = tmp_path / "codes.csv"
    csv.write_text(f"item,name_ko,name_en,cost,code\ncoffee,아메리카노,Americano,500,{CODE}\n")
    load = [sys.executable, "-m", "bot.cli", "market", "load", str(csv)]
    subprocess.run(load, env={**os.environ, **env}, cwd=ROOT, check=True, capture_output=True)
    run = [sys.executable, "-m", "bot.cli", "run"]

    with running(run, env, None, tmp_path / "bot.log"):
        for person in (host, buyer, joiner):  # a bot may write only to people who wrote first
            people.say(person, "/help")
            people.wait_for_bot(person["id"])
        # The exchange, pressed long enough ago that Telegram no longer takes its answer.
        people.say(buyer, "/market")
        people.press_label(buyer, "아메리카노 · 500P")
        [confirm] = people.wait_for_bot(buyer["id"], where=lambda m: "교환하기" in str(m))
        late = people.press(buyer, confirm, _button(confirm, "교환하기 ✅"), age=TTL + 60)
        [code] = people.wait_for_bot(buyer["id"], where=lambda m: CODE in m.get("text", ""))
        # The join card, opened now; the bot then goes down.
        people.say(joiner, "/meetups")
        people.press_label(joiner, "석촌호수", contains=True)
        [card] = people.wait_for_bot(joiner["id"], where=lambda m: "참여하기" in str(m))
        time.sleep(1.0)  # nothing else arrives for the buyer: no apology after the code
        assert not any(APOLOGY in m.get("text", "") for m in people.view(buyer["id"])["messages"])
        assert not _answered(people, buyer["id"], late["id"])
        assert _errors(env) == 0

    # Pressed while the bot is down: Telegram keeps the press, its answer window runs out.
    join = people.press(joiner, card, _button(card, "참여하기"))
    time.sleep(TTL + 1)
    with running(run, env, None, tmp_path / "bot-again.log"):
        people.wait_for_bot(joiner["id"], where=lambda m: m.get("text", "").startswith("참여 완료"))
        people.wait_for_bot(
            host["id"], where=lambda m: "서연님이" in m.get("text", ""), timeout=30
        )  # the outbox tells the host
        assert not _answered(people, joiner["id"], join["id"])
        joiner_texts = [m.get("text", "") for m in people.view(joiner["id"])["messages"]]
        assert not any(APOLOGY in text for text in joiner_texts)
        assert _errors(env) == 0

    assert asyncio.run(_balance(env["HALSARAM_DATABASE_URL"], buyer["id"])) == 300  # once
    assert [m["message_id"] for m in people.view(buyer["id"])["messages"]
            if CODE in m.get("text", "")] == [code["message_id"]]  # fmt: skip
    seated = asyncio.run(_seated(env["HALSARAM_DATABASE_URL"], meeting_id))
    assert sorted(seated) == sorted([host["id"], joiner["id"]])  # joined once
