"""Every message has an answer (issue 23), over HTTP: the sandbox and the bot as separate
processes, people acting through the sandbox's user API. Each case was reproduced with no
answer at all (or "unknown command" for /cancel):

- "안녕하세요" from a neighbour: greeted back with the main commands and buttons;
- a pasted link: "I can't open links", with the commands;
- the code under the host's QR typed on its own (lower case, a space in it) by a guest whose
  check-in is open: handled as `/checkin CODE` (the location is asked next);
- `/cancel` with nothing running: "nothing to cancel";
- "안녕하세요" from someone without an account: pointed to /start;
- a video from someone with no meetup waiting for proof: answered (this one already was).

The people and the meetup are planted in the bot's database (registration and hosting are
tested elsewhere); every message and every answer goes over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage import accounts, meetings
from storage.db import create_engine, session_factory, transaction
from storage.models import Mission, Region
from tests import video_corpus
from tests.e2e.processes import ROOT, People, bot_env, running
from verification.checkin import TokenSigner

SIGNER = TokenSigner(b"e2e-secret", 180)  # bot_env's HALSARAM_SECRET_KEY, default rotation
ASKED = "한 단계 남았어요"  # /checkin's answer: share your location next


async def _plant(url: str, ids: dict[str, int]) -> int:
    """Registered neighbours of 잠실동; 지훈 hosts a meetup starting in 10 minutes (check-in
    open) that 민지 joined; 수아 has no meetup. Returns the meetup's id."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    rules = meetings.Rules()
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
            start = now + timedelta(minutes=10)
            meeting = await meetings.create(
                s, host_id=ids["지훈"], mission_id=mission.id, starts_at=start,
                place=meetings.Place("석촌호수", mission.place_lat, mission.place_lon),
                capacity=5, note=None, rules=rules, now=start - timedelta(hours=1),
            )  # fmt: skip
            await meetings.join(s, meeting.id, ids["민지"], rules, start - timedelta(minutes=50))
            return meeting.id
    finally:
        await engine.dispose()


def _answer(
    people: People, person: dict[str, Any], send: Callable[[], object], timeout: float = 10.0
) -> dict[str, Any]:
    """What the bot answered to `send()`: its first message after it in the person's chat
    (an empty message when none came in `timeout` seconds)."""
    before = len([m for m in people.view(person["id"])["messages"] if m["from"].get("is_bot")])
    send()
    try:
        found = people.wait_for_bot(person["id"], before + 1, timeout=timeout)
    except AssertionError:
        return {"text": ""}
    return found[before]


def _labels(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


def test_every_message_gets_an_answer(people: People, sandbox_url: str, tmp_path: Path) -> None:
    users = {name: people.create(name, "ko") for name in ("지훈", "민지", "수아")}
    stranger = people.create("준호", "ko")
    env = bot_env(sandbox_url, tmp_path)
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run([sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
                       cwd=ROOT, check=True, capture_output=True, timeout=120)  # fmt: skip
    ids = {name: user["id"] for name, user in users.items()}
    meeting_id = asyncio.run(_plant(env["HALSARAM_DATABASE_URL"], ids))
    sua, minji = users["수아"], users["민지"]
    got: dict[str, dict[str, Any]] = {}
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        # The bot is up once it answers /help (every case below then gets the same wait).
        people.say(sua, "/help")
        people.wait_for_bot(sua["id"], timeout=60)
        got["greeting"] = _answer(people, sua, lambda: people.say(sua, "안녕하세요"))
        got["link"] = _answer(people, sua, lambda: people.say(sua, "https://youtu.be/abc123 봐요"))
        code = SIGNER.code(meeting_id, datetime.now(UTC))
        typed = f"{code[:3].lower()} {code[3:].lower()}"
        got["code"] = _answer(people, minji, lambda: people.say(minji, typed))
        got["cancel"] = _answer(people, sua, lambda: people.say(sua, "/cancel"))
        got["stranger"] = _answer(people, stranger, lambda: people.say(stranger, "안녕하세요"))
        clip = video_corpus.clip(405, size=(320, 180), seconds=2)
        got["video"] = _answer(people, sua, lambda: people.send_video(sua, clip))
    text = {case: str(message.get("text", "")) for case, message in got.items()}
    expected = {
        "greeting": text["greeting"].startswith("안녕하세요, 수아님! 👋")
        and "\n/missions — " in text["greeting"]
        and "\n/meetups — " in text["greeting"]
        and _labels(got["greeting"]) == ["🔍 미션 보기", "어떻게 하나요?"],
        "link": text["link"].startswith("보내 주신 링크는 열 수 없어요."),
        "code": ASKED in text["code"],
        "cancel": text["cancel"] == "취소할 것이 없어요. 지금 진행 중인 일이 없어요.",
        "stranger": "/start" in text["stranger"] and "가입" in text["stranger"],
        "video": "/meetups" in text["video"],
    }
    # Every case is tried before any is judged, so a failure lists each one that fails.
    assert all(expected.values()), {case: text[case] for case, ok in expected.items() if not ok}
    log = (tmp_path / "bot.log").read_text()
    assert "안녕하세요" not in log and "수아" not in log  # no texts or names in the log
