"""Evidence belongs to the people who were there (issue 21), end to end: the bot as its own
process, people acting through the sandbox over HTTP, in Korean.

- a photo sent right after check-in (QR, then the location at the lake), before the start, is
  taken;
- the host who never checked in is refused and told how to check in (showing the QR), then
  taken once they did;
- the same bytes sent again after a rejection are refused as the same photo (no new card, no
  try used);
- the same bytes sent by another person for another meetup are refused, and paid once;
- an admin's own photo cannot be approved by that admin.

Accounts and meetups are planted in the database (signing up and creating a meetup are covered
end to end elsewhere); everything a person does here goes through the bot.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import zxingcpp
from PIL import Image
from sqlalchemy import select

from storage import accounts, ledger, meetings
from storage.db import create_engine, session_factory, transaction
from storage.models import Evidence, LedgerEntry, Mission, Region, User
from tests.e2e.processes import ROOT, People, bot_env, running
from tests.people import SEOKCHON_LAKE

SEOUL = ZoneInfo("Asia/Seoul")
TAKEN = "확인하고 있어요"  # "Got it! … is being checked"
NOTHING_WAITING = "지금 사진이나 영상을 기다리는 미션이 없어요"
POINTS = 100  # the lake walk's points in the seeded catalogue


@dataclass
class Meetup:
    """A meetup to plant: its host, when it starts (minutes from now), who joined, who is
    checked in (the moment they are planted)."""

    host: int
    starts_in: float
    joined: list[int] = field(default_factory=list)
    checked_in: list[int] = field(default_factory=list)


async def _plant(url: str, people: dict[int, str], admins: list[int], plan: list[Meetup]) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    try:
        async with transaction(sessions) as s:
            region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            mission = await s.scalar(select(Mission).where(Mission.key == "seokchon-lake-loop"))
            assert region is not None and mission is not None
            for user_id, name in people.items():
                await accounts.register(s, accounts.Registration(
                    user_id=user_id, language="ko", display_name=name, phone_hash=f"h{user_id}",
                    phone_masked="010-****-0000", region_id=region.id, region_verified=True,
                    interests=["walking"], preferred_times=["evening"],
                ), now - timedelta(days=1))  # fmt: skip
            for admin_id in admins:
                admin = await s.get(User, admin_id)
                assert admin is not None
                admin.is_admin = True
            rules = meetings.Rules()
            for item in plan:
                start = now + timedelta(minutes=item.starts_in)
                meeting = await meetings.create(
                    s, host_id=item.host, mission_id=mission.id, starts_at=start,
                    place=meetings.Place("석촌호수", mission.place_lat, mission.place_lon),
                    capacity=5, note=None, rules=rules, now=start - timedelta(hours=1),
                )  # fmt: skip
                for guest_id in item.joined:
                    await meetings.join(
                        s, meeting.id, guest_id, rules, start - timedelta(minutes=50)
                    )
                for guest_id in item.checked_in:
                    seat = await meetings.participation(s, meeting.id, guest_id)
                    assert seat is not None
                    seat.checked_in_at = min(now, start + timedelta(minutes=1))
    finally:
        await engine.dispose()


def _setup(
    people: People, sandbox_url: str, tmp_path: Path, names: list[str], admins: list[int],
    plan: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, str]]:  # fmt: skip
    """Creates the people (in order of `names`), an admin group with the admins (indexes into
    `names`; none: no group), the database with the meetups `plan(ids)` gives; returns
    people, group, env."""
    created = [people.create(name, "ko") for name in names]
    admin_ids = [created[i]["id"] for i in admins]
    group: dict[str, Any] = {}
    extra: dict[str, str] = {}
    if admin_ids:
        group = people._call(
            "POST", "/groups", title="할사람 관리자", member_ids=admin_ids, admin_ids=admin_ids
        )
        extra["HALSARAM_ADMIN_CHAT_ID"] = str(group["id"])
    env = bot_env(sandbox_url, tmp_path, **extra)
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run([sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
                       cwd=ROOT, check=True, capture_output=True, timeout=120)  # fmt: skip
    ids = [p["id"] for p in created]
    by_id = {p["id"]: p["first_name"] for p in created}
    asyncio.run(_plant(env["HALSARAM_DATABASE_URL"], by_id, admin_ids, plan(ids)))
    return created, group, env


def _picture(seed: int) -> bytes:
    """A photo of its own: a few coloured blocks on a background, as a JPEG."""
    image = Image.new("RGB", (800, 600), (40 + seed % 200, 90, 160))
    for n in range(6):
        x, y = (seed * 37 + n * 131) % 700, (seed * 53 + n * 97) % 500
        image.paste((200, (seed * n * 29) % 255, 60), (x, y, x + 90, y + 70))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _texts(people: People, chat_id: int) -> list[str]:
    return [m.get("text", "") for m in people.view(chat_id)["messages"] if m["from"]["is_bot"]]


def _cards(people: People, group: dict[str, Any]) -> list[dict[str, Any]]:
    messages = people.view(group["id"])["messages"]
    return [m for m in messages if m["from"]["is_bot"] and ("photo" in m or "document" in m)]


def _button(card: dict[str, Any], label: str) -> str:
    rows = (card.get("reply_markup") or {}).get("inline_keyboard", [])
    return next(b["callback_data"] for row in rows for b in row if b["text"] == label)


def _card(people: People, group: dict[str, Any], count: int = 1) -> dict[str, Any]:
    """The newest review card, once the group holds `count` of them."""
    people.wait_for_bot(group["id"], count, where=lambda m: "photo" in m, timeout=40)
    return _cards(people, group)[-1]


def _card_with(people: People, group: dict[str, Any], label: str) -> dict[str, Any]:
    """The newest card once it shows a button labelled `label` (edits arrive a moment later)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        card = _cards(people, group)[-1]
        rows = (card.get("reply_markup") or {}).get("inline_keyboard", [])
        if any(b["text"] == label for row in rows for b in row):
            return card
        time.sleep(0.1)
    raise AssertionError(f"no button {label!r} on the card")


def _show_qr(people: People, host: dict[str, Any], starts: datetime) -> str:
    """The host opens their meetup from /mymeetups and shows the check-in QR: its payload."""
    people.say(host, "/mymeetups")
    people.press_label(host, f"{starts.astimezone(SEOUL):%H:%M}", contains=True)
    people.press_label(host, "📷 체크인 QR")
    [qr] = people.wait_for_bot(host["id"], where=lambda m: "photo" in m)
    largest = max(qr["photo"], key=lambda size: size["width"])
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(people.file(largest["file_id"]))))
    return str(code.text).split("start=", 1)[1]


def _stays_quiet(people: People, chat_id: int, count: int, seconds: float = 3.0) -> None:
    """No more bot messages than `count` arrive in the chat for a while (the jobs run every
    few seconds)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sent = [m for m in people.view(chat_id)["messages"] if m["from"]["is_bot"]]
        assert len(sent) <= count, sent[count:]
        time.sleep(0.2)


async def _money(url: str) -> tuple[dict[int, int], int, int]:
    """Balances by person, ledger entries, evidence rows."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            entries = list(await s.scalars(select(LedgerEntry)))
            balances = {e.user_id: await ledger.balance(s, e.user_id) for e in entries}
            rows = len(list(await s.scalars(select(Evidence.id))))
            return balances, len(entries), rows
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- from check-in on


def test_a_photo_right_after_check_in_is_taken(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    (host, guest), _group, env = _setup(
        people, sandbox_url, tmp_path, ["지훈", "민지"], [],
        lambda ids: [Meetup(ids[0], 12, joined=[ids[1]])],
    )  # fmt: skip
    starts = datetime.now(UTC) + timedelta(minutes=12)
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        payload = _show_qr(people, host, starts)
        people.say(guest, f"/start {payload}")
        people.wait_for_bot(guest["id"], where=lambda m: "위치를 공유해" in m.get("text", ""))
        people.share_location(guest, *SEOKCHON_LAKE)
        people.wait_for_bot(guest["id"], where=lambda m: "체크인 완료" in m.get("text", ""))
        people.send_photo(guest, _picture(1))  # still before the start
        people.wait_for_bot(guest["id"], where=lambda m: TAKEN in m.get("text", ""))
        assert not any(NOTHING_WAITING in text for text in _texts(people, guest["id"]))


def test_the_host_who_never_checked_in_is_refused_and_told_how(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    (host, _guest), _group, env = _setup(
        people, sandbox_url, tmp_path, ["지훈", "민지"], [],
        lambda ids: [Meetup(ids[0], -5, joined=[ids[1]], checked_in=[ids[1]])],
    )  # fmt: skip
    starts = datetime.now(UTC) - timedelta(minutes=5)
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people.say(host, "/help")
        people.wait_for_bot(host["id"])
        people.send_photo(host, _picture(2))
        [refused] = people.wait_for_bot(
            host["id"], where=lambda m: "체크인하지 않아서" in m.get("text", "")
        )
        assert "체크인 QR을 띄우면" in refused["text"] and "/mymeetups" in refused["text"]
        assert not any(TAKEN in text for text in _texts(people, host["id"]))

        _show_qr(people, host, starts)  # the host checks in by showing the QR
        people.send_photo(host, _picture(3))
        people.wait_for_bot(host["id"], where=lambda m: TAKEN in m.get("text", ""))
    assert asyncio.run(_money(env["HALSARAM_DATABASE_URL"]))[2] == 1


# --------------------------------------------------------------------------- copies


def test_the_same_bytes_after_a_rejection_are_refused_as_the_same_photo(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    (_host, guest, admin), group, env = _setup(
        people, sandbox_url, tmp_path, ["지훈", "민지", "관리자"], [2],
        lambda ids: [Meetup(ids[0], -15, joined=[ids[1]], checked_in=[ids[1]])],
    )  # fmt: skip
    picture = _picture(4)
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people._call("POST", f"/groups/{group['id']}/bot", user_id=admin["id"])
        people.say(guest, "/help")
        people.wait_for_bot(guest["id"])
        people.send_photo(guest, picture)
        card = _card(people, group)
        people.press(admin, card, _button(card, "❌ 반려"))
        card = _card_with(people, group, "흐릿함")  # the card's buttons became the reasons
        people.press(admin, card, _button(card, "흐릿함"))
        people.wait_for_bot(guest["id"], where=lambda m: "사진이 흐릿해요" in m.get("text", ""))

        people.send_photo(guest, picture)  # the very same bytes, in a new message
        people.wait_for_bot(guest["id"], 2, where=lambda m: TAKEN in m.get("text", ""))
        [told] = people.wait_for_bot(
            guest["id"], where=lambda m: "반려된 사진과 똑같은 사진" in m.get("text", ""),
            timeout=40,
        )  # fmt: skip
        assert "남은 기회 2번" in told["text"]
        _stays_quiet(people, group["id"], len(people.view(group["id"])["messages"]))
        assert len(_cards(people, group)) == 1  # no second card: nobody had to look


def test_the_same_bytes_for_another_meetup_are_refused_and_paid_once(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    (_h1, first, _h2, second, admin), group, env = _setup(
        people, sandbox_url, tmp_path, ["지훈", "민지", "서준", "하은", "관리자"], [4],
        lambda ids: [
            Meetup(ids[0], -15, joined=[ids[1]], checked_in=[ids[1]]),
            Meetup(ids[2], -20, joined=[ids[3]], checked_in=[ids[3]]),
        ],
    )  # fmt: skip
    picture = _picture(5)
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people._call("POST", f"/groups/{group['id']}/bot", user_id=admin["id"])
        for person in (first, second):
            people.say(person, "/help")
            people.wait_for_bot(person["id"])
        people.send_photo(first, picture)
        card = _card(people, group)
        people.press(admin, card, _button(card, "✅ 승인"))
        people.wait_for_bot(first["id"], where=lambda m: "승인" in m.get("text", ""), timeout=30)

        people.send_photo(second, picture)  # the same bytes, another person, another meetup
        people.wait_for_bot(second["id"], where=lambda m: TAKEN in m.get("text", ""))
        [told] = people.wait_for_bot(
            second["id"], where=lambda m: "이미 인증으로 승인된 사진과 같아서" in m.get("text", ""),
            timeout=40,
        )  # fmt: skip
        assert "남은 기회 3번" in told["text"]
        _stays_quiet(people, group["id"], len(people.view(group["id"])["messages"]))
        assert len(_cards(people, group)) == 1
    balances, entries, rows = asyncio.run(_money(env["HALSARAM_DATABASE_URL"]))
    assert entries == 1 and rows == 2
    assert balances == {first["id"]: POINTS}


# --------------------------------------------------------------------------- impartiality


def test_an_admins_own_photo_cannot_be_approved_by_that_admin(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    (_host, admin), group, env = _setup(
        people, sandbox_url, tmp_path, ["지훈", "관리자"], [1],
        lambda ids: [Meetup(ids[0], -15, joined=[ids[1]], checked_in=[ids[1]])],
    )  # fmt: skip
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people._call("POST", f"/groups/{group['id']}/bot", user_id=admin["id"])
        people.say(admin, "/help")
        people.wait_for_bot(admin["id"])
        people.send_photo(admin, _picture(6))
        card = _card(people, group)
        people.press(admin, card, _button(card, "✅ 승인"))
        people.wait_for_bot(
            group["id"], where=lambda m: "내가 보낸 사진이에요" in m.get("text", "")
        )
        card = _cards(people, group)[-1]
        assert _button(card, "✅ 승인")  # still waiting for another admin
        assert "승인:" not in card["caption"]
    balances, entries, _rows = asyncio.run(_money(env["HALSARAM_DATABASE_URL"]))
    assert entries == 0 and balances == {}
