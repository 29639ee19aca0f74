"""Check-in proves presence (issue 21), through the bot on SQLite and PostgreSQL: the typed code
rotates with the QR, the location shared after it decides (within the radius, how far, or
"unverified"), windows are judged by when the person acted, the host's list shows who is here
and how, and the same update handled twice answers as once."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram import Update

from bot.services import SERVICES_KEY
from storage import meetings
from storage.db import transaction
from storage.models import Meeting, OutboxMessage, Participation
from tests.harness import BotHarness
from tests.people import RULES, Neighbour, configure, decode_qr, meetup_card, new_meetup
from verification import geo

pytestmark = pytest.mark.usefixtures("seeded")

ASKED = "한 단계 남았어요"
DONE = '"석촌호수 한 바퀴 걷기" 체크인 완료! ✅'
SKIP = "건너뛰기 — 위치를 공유할 수 없어요"
NEAR_YOU = "열린 모임"
KM_2 = 0.018  # degrees of latitude: about 2 km
M_60 = 0.00054  # about 60 m


class Meetup:
    """A meetup starting in 10 minutes, a guest with a seat, and the host's QR on screen."""

    def __init__(self, bot: BotHarness, host: Neighbour, guest: Neighbour, meeting_id: int):
        self.bot, self.host, self.guest, self.id = bot, host, guest, meeting_id
        self.place = (0.0, 0.0)
        self.qr: dict[str, Any] = {}
        self.card: dict[str, Any] = {}

    async def show_qr(self) -> None:
        """The host presses 📷 on their card (opened once: /meetups lists no started one)."""
        self.card = self.card or await meetup_card(self.bot, self.host, self.id)
        await self.host.press(self.card, "📷 체크인 QR")
        self.qr = self.bot.bot_messages(self.host.id)[-1]

    @property
    def payload(self) -> str:
        return decode_qr(self.bot, self.qr).split("start=", 1)[1]

    @property
    def code(self) -> str:
        found = re.search(r"/checkin ([A-Z0-9]{6})", self.qr["caption"])
        assert found, self.qr["caption"]
        return found[1]

    def near(self, north_degrees: float) -> tuple[float, float]:
        return self.place[0] + north_degrees, self.place[1]


async def _meetup(bot: BotHarness, *, show: bool = True) -> Meetup:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host, hours=1)
    async with transaction(bot.sessions) as s:
        await meetings.join(s, meeting_id, guest.id, RULES, bot.clock.now())
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None
        place = (meeting.place_lat, meeting.place_lon)
    bot.clock.advance(timedelta(minutes=50))  # check-in is open: 10 minutes before the start
    scene = Meetup(bot, host, guest, meeting_id)
    scene.place = place
    if show:
        await scene.show_qr()
    return scene


async def _location(bot: BotHarness, person: Neighbour, at: tuple[float, float], **kw: Any) -> Any:
    return await bot.act(person.id, bot.emulator.share_location(person.id, *at, **kw))


async def _seat(bot: BotHarness, meeting_id: int, user_id: int) -> Participation:
    async with bot.sessions() as s:
        found = await s.scalar(
            select(Participation).where(
                Participation.meeting_id == meeting_id, Participation.user_id == user_id
            )
        )
        assert found is not None
        return found


def _keyboard(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for row in (message.get("reply_keyboard") or {}).get("keyboard", []) for b in row]


def _removes_keyboard(message: dict[str, Any]) -> bool:
    return bool((message.get("reply_keyboard") or {}).get("remove_keyboard"))


async def _host_list(scene: Meetup) -> str:
    await scene.host.press(await meetup_card(scene.bot, scene.host, scene.id), "👥 참가자")
    return str(scene.bot.bot_messages(scene.host.id)[-1]["text"])


# --------------------------------------------------------------------------- the location step


async def test_a_code_texted_to_a_friend_2_km_away_is_told_the_distance_then_unverified(
    bot: BotHarness,
) -> None:
    scene = await _meetup(bot)
    [asked] = await scene.guest.say(f"/checkin {scene.code}")
    assert ASKED in asked["text"] and "실시간 위치" in asked["text"]
    share, skip = _keyboard(asked)
    assert share.get("request_location") is True and skip["text"] == SKIP
    assert (await _seat(bot, scene.id, scene.guest.id)).checked_in_at is None

    [far] = await _location(bot, scene.guest, scene.near(KM_2))
    assert "약 2.0km" in far["text"] and "150m" in far["text"]
    assert [b["text"] for b in _keyboard(far)] == ["📍 내 위치 공유하기", SKIP]  # a retry
    assert (await _seat(bot, scene.id, scene.guest.id)).checked_in_at is None

    [done] = await bot.act(scene.guest.id, bot.emulator.press_reply_button(scene.guest.id, SKIP))
    assert done["text"].startswith(DONE) and "위치 미확인" in done["text"]
    assert _removes_keyboard(done)
    seat = await _seat(bot, scene.id, scene.guest.id)
    assert (seat.checkin_method, seat.checkin_location, seat.checkin_distance_m) == (
        "code", "unverified", None,
    )  # fmt: skip
    assert "✅ 민지 — 코드 · ⚠️ 위치 미확인" in await _host_list(scene)


async def test_with_the_location_required_the_friend_is_refused(bot: BotHarness) -> None:
    await configure(bot, checkin_location_required=True)
    scene = await _meetup(bot)
    [asked] = await scene.guest.say(f"/checkin {scene.code}")
    assert [b["text"] for b in _keyboard(asked)] == ["📍 내 위치 공유하기"]  # no skip
    [far] = await _location(bot, scene.guest, scene.near(KM_2))
    assert "약 2.0km" in far["text"] and SKIP not in far["text"]
    # The skip text typed all the same is refused: no check-in without a location.
    [refused] = await scene.guest.say(SKIP)
    assert "위치 공유가 꼭 필요해요" in refused["text"]
    assert (await _seat(bot, scene.id, scene.guest.id)).checked_in_at is None


async def test_within_150_m_checks_in_and_the_host_list_shows_it(bot: BotHarness) -> None:
    scene = await _meetup(bot)
    [asked] = await scene.guest.say(f"/start {scene.payload}")
    assert ASKED in asked["text"]
    [done] = await _location(bot, scene.guest, scene.near(M_60), live_period=900)
    assert done["text"].startswith(DONE) and "QR · 📍 60m (실시간)" in done["text"]
    assert _removes_keyboard(done)
    seat = await _seat(bot, scene.id, scene.guest.id)
    assert (seat.checkin_method, seat.checkin_location, seat.checkin_distance_m) == (
        "qr", "live", 60,
    )  # fmt: skip
    assert seat.checked_in_at == bot.clock.now() and seat.checkin_pending_until is None
    roster = await _host_list(scene)
    assert "✅ 민지 — QR · 📍 60m (실시간)" in roster
    assert "✅ 지훈 — 호스트" in roster and "도착: 2/2명" in roster
    await bot.run_outbox()
    assert sum(t.startswith("민지님이") and "체크인했어요" in t for t in scene.host.inbox()) == 1


async def test_the_location_button_counts_without_the_live_mark(bot: BotHarness) -> None:
    scene = await _meetup(bot)
    await scene.guest.say(f"/checkin {scene.code}")
    # The button shares the phone's position once (the sandbox's: by the lake).
    [done] = await bot.act(
        scene.guest.id, bot.emulator.press_reply_button(scene.guest.id, "📍 내 위치 공유하기")
    )
    assert done["text"].startswith(DONE) and "(코드 · 📍 " in done["text"]
    assert "실시간" not in done["text"]
    assert (await _seat(bot, scene.id, scene.guest.id)).checkin_location == "point"


async def test_a_location_with_no_checkin_waiting_is_an_ordinary_one(bot: BotHarness) -> None:
    scene = await _meetup(bot)
    [listing] = await _location(bot, scene.guest, scene.place)
    assert NEAR_YOU in listing["text"]
    [nothing] = await scene.guest.say(SKIP)
    assert "위치를 기다리는 체크인이 없어요" in nothing["text"] and _removes_keyboard(nothing)


async def test_the_location_step_waits_ten_minutes(bot: BotHarness) -> None:
    scene = await _meetup(bot)
    await scene.guest.say(f"/checkin {scene.code}")
    bot.clock.advance(timedelta(minutes=10, seconds=1))
    [gone] = await _location(bot, scene.guest, scene.place)
    assert "만료" in gone["text"] and _removes_keyboard(gone)
    assert (await _seat(bot, scene.id, scene.guest.id)).checked_in_at is None
    [listing] = await _location(bot, scene.guest, scene.place)  # told once
    assert NEAR_YOU in listing["text"]


async def test_the_reply_says_when_and_how_to_send_the_proof(bot: BotHarness) -> None:
    scene = await _meetup(bot)
    await scene.guest.say(f"/checkin {scene.code}")
    [done] = await _location(bot, scene.guest, scene.place)
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, scene.id)
        assert meeting is not None
    until = (meeting.ends_at + timedelta(hours=48)).astimezone(bot.settings.zone)
    when = f"{until.month}월 {until.day}일"
    assert f"지금부터 {when}" in done["text"] and f"{until:%H:%M}까지" in done["text"]
    assert "📎 → 사진" in done["text"]


# --------------------------------------------------------------------------- the code rotates


async def test_the_code_of_two_windows_ago_and_the_old_fixed_code_are_refused(
    bot: BotHarness,
) -> None:
    scene = await _meetup(bot)
    shown = scene.code
    rotation = bot.settings.checkin_rotation_seconds
    async with bot.sessions() as s:
        fixed = (await s.get(Meeting, scene.id)).checkin_code  # type: ignore[union-attr]
    assert fixed and fixed != shown
    [refused] = await scene.guest.say(f"/checkin {fixed}")
    assert "그 코드의 모임이 없어요" in refused["text"]
    bot.clock.advance(timedelta(seconds=2 * rotation))  # shown two windows ago
    [old] = await scene.guest.say(f"/checkin {shown}")
    assert "코드가 바뀌었어요" in old["text"]
    await scene.show_qr()
    fresh = scene.code
    assert fresh != shown and fresh in scene.qr["caption"]
    bot.clock.advance(timedelta(seconds=rotation))  # the previous window's code still works
    [asked] = await scene.guest.say(f"/checkin {fresh.lower()[:3]} {fresh.lower()[3:]}")
    assert ASKED in asked["text"]


# --------------------------------------------------------------------------- when they acted


async def _sent_then_handled(bot: BotHarness, person: Neighbour, text: str, later: timedelta):
    """`person` sends `text` now; the bot handles it `later` (a backlog)."""
    before = len(bot.emulator.transcript(person.id))
    await bot.emulator.send_text(person.id, text)
    bot.clock.advance(later)
    await bot.deliver()
    return bot.bot_messages(person.id, after=before)


async def test_a_checkin_sent_in_time_but_handled_after_the_window_counts(
    bot: BotHarness,
) -> None:
    scene = await _meetup(bot)
    # 29 minutes after the start (the window closes at 30), shown a fresh QR...
    bot.clock.advance(timedelta(minutes=39))
    await scene.show_qr()
    sent = bot.clock.now()
    # ...typed in time, handled four minutes later, after the window closed.
    [asked] = await _sent_then_handled(
        bot, scene.guest, f"/checkin {scene.code}", timedelta(minutes=4)
    )
    assert ASKED in asked["text"]
    seat = await _seat(bot, scene.id, scene.guest.id)
    assert seat.checkin_presented_at == sent
    [done] = await _location(bot, scene.guest, scene.place)
    assert done["text"].startswith(DONE)


async def test_a_forged_future_date_gains_nothing(bot: BotHarness) -> None:
    scene = await _meetup(bot, show=False)
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, scene.id)
        assert meeting is not None
    token = bot.app.bot_data[SERVICES_KEY].signer.issue(scene.id, meeting.starts_at)
    bot.clock.advance(timedelta(minutes=-30))  # 40 minutes before: check-in not open
    await bot.emulator.send_text(scene.guest.id, f"/start c{token}")
    [data] = bot.emulator.pending_updates()
    data["message"]["date"] = int(meeting.starts_at.timestamp())  # "sent" at the start
    before = len(bot.emulator.transcript(scene.guest.id))
    await bot.app.process_update(Update.de_json(data, bot.app.bot))
    [refused] = bot.bot_messages(scene.guest.id, after=before)
    assert ASKED not in refused["text"]
    assert (await _seat(bot, scene.id, scene.guest.id)).checkin_presented_at is None


# --------------------------------------------------------------------------- redelivery


async def _twice(bot: BotHarness, person: Neighbour, action: Any) -> tuple[list[str], list[str]]:
    """One update of `person`'s, handled twice by the handlers (a crash before it was marked
    done); the texts (and reply keyboards) each handling sent."""
    await action
    [data] = bot.emulator.pending_updates()
    shown = []
    for _ in range(2):
        before = len(bot.emulator.transcript(person.id))
        await bot.app.process_update(Update.de_json(data, bot.app.bot))
        shown.append([
            f"{m.get('text')}|{m.get('reply_keyboard')}"
            for m in bot.bot_messages(person.id, after=before)
        ])  # fmt: skip
    return shown[0], shown[1]


async def _present_count(bot: BotHarness, meeting_id: int) -> int:
    async with bot.sessions() as s:
        return int(
            await s.scalar(
                select(func.count()).select_from(Participation).where(
                    Participation.meeting_id == meeting_id,
                    Participation.checked_in_at.is_not(None),
                )
            ) or 0
        )  # fmt: skip


async def test_each_checkin_update_handled_twice_answers_as_once(bot: BotHarness) -> None:
    scene = await _meetup(bot)
    guest, emulator = scene.guest, bot.emulator
    first, second = await _twice(bot, guest, emulator.send_text(guest.id, f"/checkin {scene.code}"))
    assert first == second and ASKED in first[0]
    first, second = await _twice(bot, guest, emulator.share_location(guest.id, *scene.near(KM_2)))
    assert first == second and "약 2.0km" in first[0]
    first, second = await _twice(bot, guest, emulator.share_location(guest.id, *scene.place))
    assert first == second and first[0].startswith(DONE)
    assert await _present_count(bot, scene.id) == 2  # the host and 민지, once
    await bot.run_outbox()
    async with bot.sessions() as s:
        notices = await s.scalar(
            select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.dedupe_key.like("checkin:%"), OutboxMessage.chat_id == scene.host.id
            )
        )  # fmt: skip
    assert notices == 1
    assert sum(t.startswith("민지님이") and "체크인했어요" in t for t in scene.host.inbox()) == 1


async def test_a_skip_handled_twice_answers_as_once(bot: BotHarness) -> None:
    scene = await _meetup(bot)
    guest = scene.guest
    await guest.say(f"/checkin {scene.code}")
    first, second = await _twice(bot, guest, bot.emulator.send_text(guest.id, SKIP))
    assert first == second and first[0].startswith(DONE) and "위치 미확인" in first[0]
    assert await _present_count(bot, scene.id) == 2


# --------------------------------------------------------------------------- storage, directly


async def test_storage_judges_the_window_by_the_sending_time(bot: BotHarness) -> None:
    """The storage operation itself, with no handler: sent in time, handled after closing."""
    scene = await _meetup(bot, show=False)
    svc = bot.app.bot_data[SERVICES_KEY]
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, scene.id)
        assert meeting is not None
    sent = meeting.starts_at + timedelta(minutes=29)
    token = svc.signer.issue(scene.id, sent)
    now = sent + timedelta(hours=2)
    async with transaction(bot.sessions) as s:
        presented = await meetings.present(
            s, scene.guest.id, svc.signer, svc.rules, meetings.Presence(),
            sent_at=sent, now=now, token=token,
        )  # fmt: skip
    assert presented.answer_by == now + timedelta(minutes=10)
    async with transaction(bot.sessions) as s:
        answer = await meetings.locate(
            s, scene.guest.id, meetings.Presence(), latitude=scene.place[0],
            longitude=scene.place[1], live=False, sent_at=now, now=now, message_id=7,
        )  # fmt: skip
    assert isinstance(answer, meetings.CheckedIn) and answer.checked_in_at == now
    assert geo.distance_m(*scene.place, *scene.near(M_60)) == pytest.approx(60, abs=1)
