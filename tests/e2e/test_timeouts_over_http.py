"""Conversations left idle end politely (issue 23), over HTTP: the sandbox and the bot as
separate processes, the bot's conversations timing out after 6 s
(`HALSARAM_CONVERSATION_TIMEOUT_MINUTES=0.1`).

민지 (Korean) and Alex (English) each start hosting a meetup and stop at the time question;
서연 (Korean) and Sam (English) each start reporting 지훈 and stop at the reason; 지훈 presses
"🕒 시간 변경" on his meetup's card and types nothing. Once the timeout has passed, each is told,
in their language, that the conversation stopped and nothing was created, sent or changed; the
question left open has lost its buttons; and what they type afterwards is not taken as an
answer. The people and 지훈's meetup (민지, Sam and 서연 joined) are planted in the bot's
database; every press and message goes over HTTP. In process, every conversation's timeout:
tests/test_conversation_timeouts.py.
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
from sqlalchemy import func, select

from storage import accounts, meetings
from storage.db import create_engine, session_factory, transaction
from storage.models import Meeting, Mission, Region, Report
from tests.conftest import _sandbox_process
from tests.e2e.processes import ROOT, People, bot_env, running
from ui import callbacks
from ui import meetups as meetups_ui
from ui.callbacks import Action
from ui.i18n import t

NAMES = {"지훈": "ko", "민지": "ko", "서연": "ko", "Alex": "en", "Sam": "en"}
TIMEOUT_MINUTES = "0.1"  # 6 s
REPORT_TIMED_OUT = (
    "I stopped the report because nothing happened for a while; nothing was sent. Send /report "
    "to start again."
)


@dataclass
class World:
    people: People
    env: dict[str, str]
    ids: dict[str, int]
    meeting_id: int


async def _plant(url: str, ids: dict[str, int]) -> int:
    """Everyone registered and verified in 잠실동; 지훈's meetup in three hours, 민지, Sam and
    서연 joined."""
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
                capacity=5, note=None, rules=meetings.Rules(), now=now,
            )  # fmt: skip
            for name in ("민지", "Sam", "서연"):
                await meetings.join(s, meeting.id, ids[name], meetings.Rules(), now)
            return meeting.id
    finally:
        await engine.dispose()


async def _counts(url: str) -> tuple[int, int, int]:
    """Meetups, reports, and how many times a meetup was moved."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            count = func.count()
            made = await s.scalar(select(count).select_from(Meeting))
            reports = await s.scalar(select(func.count()).select_from(Report))
            moved = await s.scalar(select(func.sum(Meeting.postponements)))
            return int(made or 0), int(reports or 0), int(moved or 0)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("timeouts")
    with _sandbox_process(tmp) as sandbox:
        people = People(sandbox)
        users = {name: people.create(name, lang) for name, lang in NAMES.items()}
        env = bot_env(
            sandbox, tmp, HALSARAM_CONVERSATION_TIMEOUT_MINUTES=TIMEOUT_MINUTES,
            HALSARAM_HOST_MIN_TRUST="0",
        )  # fmt: skip
        for command in (["db", "upgrade"], ["seed"]):
            subprocess.run(
                [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
                cwd=ROOT, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        ids = {name: int(user["id"]) for name, user in users.items()}
        meeting_id = asyncio.run(_plant(env["HALSARAM_DATABASE_URL"], ids))
        health = f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/healthz"
        with running([sys.executable, "-m", "bot.cli", "run"], env, health, tmp / "bot.log"):
            yield World(people, env, ids, meeting_id)


def _user(world: World, name: str) -> dict[str, Any]:
    return {"id": world.ids[name], "first_name": name}


def _bot_messages(world: World, name: str) -> list[dict[str, Any]]:
    chat = world.people.view(world.ids[name])["messages"]
    return [m for m in chat if m.get("from", {}).get("is_bot")]


def _data(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row]


def _asked(world: World, name: str, action: str) -> dict[str, Any]:
    """The newest bot message to `name` with a button for `action`, once there is one."""
    prefix = callbacks.VERSION + action + ":"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in reversed(_bot_messages(world, name)):
            if any(d.startswith(prefix) for d in _data(message)):
                return message
        time.sleep(0.1)
    raise AssertionError(f"{name} was never asked with {action!r}")


def _press(world: World, name: str, action: str) -> dict[str, Any]:
    """Presses the first button for `action` on the newest message showing one."""
    message = _asked(world, name, action)
    prefix = callbacks.VERSION + action + ":"
    data = next(d for d in _data(message) if d.startswith(prefix))
    world.people.press(_user(world, name), message, data)
    return message


def _now(world: World, name: str, message: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in _bot_messages(world, name) if m["message_id"] == message["message_id"])


def _told(world: World, name: str, text: str, timeout: float = 40) -> None:
    """Waits until the bot's newest message to `name` is `text`."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        last = _bot_messages(world, name)[-1].get("text", "")
        if last == text:
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} was told {last!r}, not {text!r}")


def test_idle_hosting_reports_and_changes_end_with_a_message_in_each_ones_language(
    world: World,
) -> None:
    people, open_questions = world.people, {}
    for name in ("민지", "Alex"):  # hosting: a mission picked, then nothing
        people.say(_user(world, name), "/host")
        _press(world, name, Action.MEETUP_NEW)
        open_questions[name] = _asked(world, name, Action.HOST_WHEN)
    for name in ("서연", "Sam"):  # a report: 지훈 picked, then nothing
        people.say(_user(world, name), "/report")
        _press(world, name, Action.REPORT_PICK)
        open_questions[name] = _asked(world, name, Action.REPORT_REASON)
    host = _user(world, "지훈")  # a change of time: the button, then nothing
    people.say(host, "/mymeetups")
    somewhere = people.wait_for_bot(world.ids["지훈"])[-1]
    view = callbacks.encode(Action.MEETUP_VIEW, world.meeting_id)
    people.press(host, somewhere, view, force=True)
    card = _asked(world, "지훈", Action.MEETUP_HOST)
    people.press(host, card, callbacks.encode(Action.MEETUP_HOST, world.meeting_id, "when"))
    open_questions["지훈"] = _asked(world, "지훈", Action.STOP)

    # The timeout passes (6 s): each is told in their language.
    _told(world, "민지", meetups_ui.hosting_timed_out("ko"))
    assert _bot_messages(world, "민지")[-1]["text"].startswith("한동안 아무 입력이 없어서")
    _told(world, "Alex", meetups_ui.hosting_timed_out("en"))
    assert _bot_messages(world, "Alex")[-1]["text"].startswith("I stopped creating the meetup")
    _told(world, "서연", t("ko", REPORT_TIMED_OUT))
    assert _bot_messages(world, "서연")[-1]["text"].startswith("한동안 아무 입력이 없어서 신고를")
    _told(world, "Sam", REPORT_TIMED_OUT)
    _told(world, "지훈", meetups_ui.change_timed_out("ko"))
    assert _bot_messages(world, "지훈")[-1]["text"].startswith("한동안 답이 없어서")
    # The questions left open have lost their buttons; the host's card keeps its tools.
    for name, question in open_questions.items():
        assert _data(_now(world, name, question)) == [], name
    assert _data(_now(world, "지훈", card)) != []

    # What they type now is no answer: nothing is created, filed or moved.
    people.say(_user(world, "민지"), "19:30")
    people.say(_user(world, "서연"), "약속 장소에서 계속 반말을 했어요")
    people.say(host, "내일 19:30")
    time.sleep(2)
    assert asyncio.run(_counts(world.env["HALSARAM_DATABASE_URL"])) == (1, 0, 0)


def test_the_bot_log_has_no_error(world: World) -> None:
    log = Path(world.env["HALSARAM_DATA_DIR"]).parent / "bot.log"
    assert " ERROR " not in log.read_text(errors="replace")
