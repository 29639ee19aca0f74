"""Seats follow the meetup's rules (issue 21) and every seat notice is queued once (issue 22).

- Leaving: until the start only, never after checking in; the card shows "checked in" where
  the Leave button was, and a forged Leave press gets a polite refusal (`CannotLeave`).
- Joining: only people living in an enabled district, only a meetup of an enabled district,
  and (`Rules.join_same_district`, `HALSARAM_JOIN_SAME_DISTRICT`, on by default) only the
  meetup's own district; a forged Join press gets the words the real button gets.
- A host tool pressed by someone else: one answer, the refusal; no second answer, no apology.
- Natural outbox keys: a join, its leave and a promotion are told once per join of the person
  (`join:<participation>:<n>`), so a replay queues nothing twice and a real second join after
  a leave is told; the same press handled twice (a crash before its update was marked done)
  changes nothing the second time, is not refused, and shows the same confirmation.
- Reminders: one at a time, the nearest lead whose moment has come, never one for a moment
  that had passed when the person took their seat.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from telegram import Update

from bot.services import Services
from storage import meetings
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction
from storage.errors import CannotLeave, OutsideNeighbourhood
from storage.models import Meeting, OutboxMessage, Participation, Region, User
from tests.harness import BotHarness, buttons, make_settings
from tests.people import RULES, Neighbour, data_of, meetup_card, new_meetup, seat_counts
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")

APOLOGY = "문제가 생겼어요"
GANGNAM = "11680"


# --------------------------------------------------------------------------- helpers


async def neighbour_of(bot: BotHarness, name: str, dong: str) -> Neighbour:
    """A registered, verified person living in `dong` (Korean name)."""
    person = await Neighbour(bot, name).register()
    async with transaction(bot.sessions) as s:
        region = await s.scalar(select(Region).where(Region.name_ko == dong))
        assert region is not None
        await s.execute(update(User).where(User.id == person.id).values(region_id=region.id))
    return person


async def open_district(sessions: SessionFactory, code: str, enabled: bool = True) -> None:
    async with transaction(sessions) as s:
        await s.execute(update(Region).where(Region.district_code == code).values(enabled=enabled))


async def notices(sessions: SessionFactory, chat_id: int | None = None) -> list[tuple[str, str]]:
    """(key, kind) of every queued notice (to `chat_id` when given), oldest first."""
    async with sessions() as s:
        query = select(OutboxMessage.dedupe_key, OutboxMessage.payload).order_by(OutboxMessage.id)
        if chat_id is not None:
            query = query.where(OutboxMessage.chat_id == chat_id)
        return [(key, str(payload["kind"])) for key, payload in await s.execute(query)]


def answers_since(bot: BotHarness, start: int) -> list[str]:
    return [str(c.params.get("text") or "") for c in bot.calls("answerCallbackQuery")[start:]]


async def handled_twice(bot: BotHarness) -> list[list[tuple[str, str]]]:
    """Every pending update handled by the handlers, then (a crash before it was marked done:
    a new Application, nothing in memory kept) handled again; returns, per handling, the
    (method, text) of what it showed."""
    shown: list[list[tuple[str, str]]] = []
    for data in bot.emulator.pending_updates():
        for attempt in range(2):
            if attempt:
                await bot.restart()
            start = len(bot.request.calls)
            await bot.app.process_update(Update.de_json(data, bot.app.bot))
            shown.append([
                (c.method, str(c.params.get("text") or ""))
                for c in bot.request.calls[start:]
                if c.method in ("sendMessage", "editMessageText")
            ])  # fmt: skip
    return shown


# --------------------------------------------------------------------------- leaving


async def test_after_check_in_the_card_shows_checked_in_and_leave_is_refused(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host, hours=1)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    bot.clock.advance(timedelta(minutes=50))  # check-in is open
    async with transaction(bot.sessions) as s:
        await meetings.check_in(s, meeting_id, guest.id, RULES, bot.clock.now())
    await bot.run_outbox()
    heard = len(host.inbox())

    card = await meetup_card(bot, guest, meeting_id)
    assert "✅ 체크인했어요." in card["text"]
    assert "못 가요" not in [label for label, _ in buttons(card)]
    await guest.press_data(card, callbacks.encode(Action.MEETUP_LEAVE, meeting_id))
    assert guest.alert() == "이미 체크인해서 이 모임에서 나갈 수 없어요. 즐거운 시간 보내세요!"
    assert not any(APOLOGY in text for text in guest.inbox())
    async with transaction(bot.sessions) as s:
        with pytest.raises(CannotLeave) as refused:
            await meetings.leave(s, meeting_id, guest.id, bot.clock.now())
    assert refused.value.reason == "checked_in"
    assert await seat_counts(bot.sessions, meeting_id) == {"joined": 2}
    await bot.run_outbox()
    assert len(host.inbox()) == heard  # the host hears of no leave


async def test_leaving_is_possible_until_the_start_only(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    waiting = await Neighbour(bot, "서연").register()
    meeting_id = await new_meetup(bot, host, hours=1, capacity=2)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    await waiting.press(await meetup_card(bot, waiting, meeting_id), "대기 명단에 올리기")
    bot.clock.advance(timedelta(hours=1, minutes=1))  # started; nobody checked in
    leave = callbacks.encode(Action.MEETUP_LEAVE, meeting_id)
    for person in (guest, waiting):
        listing = (await person.say("/mymeetups"))[-1]
        await bot.press(person.user, listing, callbacks.encode(Action.MEETUP_VIEW, meeting_id))
        card = bot.bot_messages(person.id)[-1]
        assert "못 가요" not in [label for label, _ in buttons(card)]
        await person.press_data(card, leave)
        assert person.alert() == "모임이 이미 시작해서 나갈 수 없어요."
    assert await seat_counts(bot.sessions, meeting_id) == {"joined": 2, "waitlisted": 1}
    assert [k for _, k in await notices(bot.sessions, host.id)] == [
        "meetup_joined",
        "meetup_waitlisted",
    ]


async def test_an_account_deleted_after_check_in_still_gives_up_its_seat(
    bot: BotHarness,
) -> None:
    """Erasure is not a person's choice: `release` gives the place up whatever the rules."""
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host, hours=1)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    bot.clock.advance(timedelta(minutes=70))
    async with transaction(bot.sessions) as s:
        await meetings.check_in(s, meeting_id, guest.id, RULES, bot.clock.now())
    async with transaction(bot.sessions) as s:
        await meetings.release(s, meeting_id, guest.id, bot.clock.now())
    assert await seat_counts(bot.sessions, meeting_id) == {"joined": 1, "left": 1}


# --------------------------------------------------------------------------- neighbourhoods


async def test_a_person_of_another_district_cannot_join_by_button_or_forged_press(
    bot: BotHarness,
) -> None:
    await open_district(bot.sessions, GANGNAM)
    host = await Neighbour(bot, "지훈").register()  # 잠실동, Songpa-gu
    gangnam = await neighbour_of(bot, "강남사람", "역삼동")
    meeting_id = await new_meetup(bot, host)
    # The real button: the card reached from a mission's meetups (any district's).
    await gangnam.say("/help")
    anywhere = bot.bot_messages(gangnam.id)[-1]
    await gangnam.press_data(anywhere, callbacks.encode(Action.MEETUP_VIEW, meeting_id))
    card = bot.bot_messages(gangnam.id)[-1]
    await gangnam.press(card, "참여하기")
    real = gangnam.alert()
    await gangnam.press_data(anywhere, callbacks.encode(Action.MEETUP_JOIN, meeting_id))
    forged = gangnam.alert()
    first, then = (
        "이 모임은 그 구에 사는 이웃을 위한 모임이에요.",
        "내 동네 모임은 /meetups 에서 볼 수 있어요.",
    )
    expected = f"{first} {then}"
    assert real == forged == expected
    assert await seat_counts(bot.sessions, meeting_id) == {"joined": 1}
    assert await notices(bot.sessions, host.id) == []
    # The setting off: anyone living in an enabled district may join.
    async with transaction(bot.sessions) as s:
        seat = await meetings.join(
            s, meeting_id, gangnam.id, meetings.Rules(join_same_district=False), bot.clock.now()
        )
    assert seat.status == meetings.JOINED


async def test_a_meetup_in_a_district_not_enabled_is_joined_by_no_one(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host)
    card = await meetup_card(bot, guest, meeting_id)
    async with transaction(bot.sessions) as s:  # the meetup is in 종로구, not open
        jongno = await s.scalar(select(Region.id).where(Region.name_ko == "청운동"))
        await s.execute(update(Meeting).where(Meeting.id == meeting_id).values(region_id=jongno))
    await guest.press(card, "참여하기")
    real = guest.alert()
    await guest.press_data(card, callbacks.encode(Action.MEETUP_JOIN, meeting_id))
    assert real == guest.alert() == "아직 할사람이 열리지 않은 동네의 모임이라 참여할 수 없어요."
    for same_district in (True, False):
        async with transaction(bot.sessions) as s:
            with pytest.raises(OutsideNeighbourhood) as refused:
                await meetings.join(
                    s, meeting_id, guest.id, meetings.Rules(join_same_district=same_district),
                    bot.clock.now(),
                )  # fmt: skip
        assert refused.value.reason == "meetup"
    assert await seat_counts(bot.sessions, meeting_id) == {"joined": 1}


async def test_a_person_whose_district_closed_cannot_join(bot: BotHarness) -> None:
    await open_district(bot.sessions, GANGNAM)
    host = await neighbour_of(bot, "지훈", "역삼동")
    guest = await neighbour_of(bot, "민지", "역삼동")
    meeting_id = await new_meetup(bot, host)
    async with transaction(bot.sessions) as s:  # the meetup is in Songpa; 강남구 closes
        jamsil = await s.scalar(select(Region.id).where(Region.name_ko == "잠실동"))
        await s.execute(update(Meeting).where(Meeting.id == meeting_id).values(region_id=jamsil))
    await open_district(bot.sessions, GANGNAM, enabled=False)
    async with transaction(bot.sessions) as s:
        with pytest.raises(OutsideNeighbourhood) as refused:
            await meetings.join(
                s, meeting_id, guest.id, meetings.Rules(join_same_district=False), bot.clock.now()
            )
    assert refused.value.reason == "home"


def test_the_same_district_rule_is_a_setting(
    sessions: SessionFactory, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Services.build(make_settings(), clock, sessions).rules.join_same_district
    monkeypatch.setenv("HALSARAM_JOIN_SAME_DISTRICT", "false")
    assert not Services.build(make_settings(), clock, sessions).rules.join_same_district


# --------------------------------------------------------------------------- host tools


@pytest.mark.parametrize("tool", ["qr", "list", "msg", "close", "cancel", "cancelyes"])
async def test_someone_elses_host_tool_press_gets_one_polite_refusal(
    bot: BotHarness, tool: str
) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host, hours=0.2)  # check-in open: the QR would work
    card = await meetup_card(bot, guest, meeting_id)
    answered, said = len(bot.calls("answerCallbackQuery")), len(guest.inbox())
    await guest.press_data(card, callbacks.encode(Action.MEETUP_HOST, meeting_id, tool))
    assert answers_since(bot, answered) == ["호스트만 할 수 있어요."]
    assert guest.inbox()[said:] == []  # no second answer as a message, no apology
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None and meeting.status == "open" and not meeting.joining_closed
    replies = await guest.say("다들 오지 마세요")  # "message them" started nothing
    assert not any("보냈어요" in str(m.get("text")) for m in replies)


# --------------------------------------------------------------------------- notice keys


async def test_each_join_and_leave_is_told_once_under_its_natural_key(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    waiting = await Neighbour(bot, "서연").register()
    m = await new_meetup(bot, host, capacity=2)
    now = bot.clock.now

    async def act(operation: Any) -> Any:
        async with transaction(bot.sessions) as s:
            return await operation(s)

    await act(lambda s: meetings.join(s, m, guest.id, RULES, now(), press="p1"))
    await act(lambda s: meetings.join(s, m, waiting.id, RULES, now(), press="w1"))
    # The same press again (a replay): the same seat, nothing queued.
    again = await act(lambda s: meetings.join(s, m, guest.id, RULES, now(), press="p1"))
    assert again.status == meetings.JOINED
    bot.clock.advance(timedelta(minutes=1))
    await act(lambda s: meetings.leave(s, m, guest.id, now(), press="p2"))
    assert await act(lambda s: meetings.leave(s, m, guest.id, now(), press="p2")) is None
    bot.clock.advance(timedelta(minutes=1))
    # A real second join after the leave is told too (the waitlist moved up: the guest waits).
    second = await act(lambda s: meetings.join(s, m, guest.id, RULES, now(), press="p3"))
    assert (second.status, second.position) == (meetings.WAITLISTED, 1)
    async with bot.sessions() as s:
        mine = await meetings.participation(s, m, guest.id)
        theirs = await meetings.participation(s, m, waiting.id)
    assert mine is not None and mine.joins == 2 and theirs is not None
    assert await notices(bot.sessions) == [
        (f"join:{mine.id}:1", "meetup_joined"),
        (f"join:{theirs.id}:1", "meetup_waitlisted"),
        (f"leave:{mine.id}:1", "meetup_left"),
        (f"promoted:{theirs.id}:1", "meetup_promoted"),
        (f"join:{mine.id}:2", "meetup_waitlisted"),
    ]


async def test_host_messages_and_cancelling_are_told_once_per_occasion(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    m = await new_meetup(bot, host)
    async with transaction(bot.sessions) as s:
        await meetings.join(s, m, guest.id, RULES, bot.clock.now())
    for _ in range(2):  # the same host message (Telegram message 77) handled twice
        async with transaction(bot.sessions) as s:
            told = await meetings.message_participants(
                s, m, host.id, "입구에서 만나요", bot.clock.now(), occasion=77
            )
        assert told == 1
        bot.clock.advance(timedelta(seconds=5))
    async with transaction(bot.sessions) as s:
        assert await meetings.cancel(s, m, host.id, bot.clock.now()) == 1
    assert await notices(bot.sessions, guest.id) == [
        (f"hostmsg:{m}:{guest.id}:m77", "host_message"),
        (f"cancel:{m}:{guest.id}", "meetup_cancelled"),
    ]


# --------------------------------------------------------------------------- redelivery


async def test_a_join_handled_twice_is_one_seat_the_same_confirmation_and_one_notice(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host)
    card = await meetup_card(bot, guest, meeting_id)
    await bot.emulator.press_button(
        guest.id, guest.id, card["message_id"], data_of(card, "참여하기")
    )
    first, second = await handled_twice(bot)
    assert first == second
    assert first[0][1].startswith("참여 완료!")
    assert not any("이미 참여한" in text or APOLOGY in text for _, text in first + second)
    assert await seat_counts(bot.sessions, meeting_id) == {"joined": 2}
    async with bot.sessions() as s:
        mine = await meetings.participation(s, meeting_id, guest.id)
    assert mine is not None
    assert await notices(bot.sessions, host.id) == [(f"join:{mine.id}:1", "meetup_joined")]
    assert await bot.run_outbox() == 1


async def test_a_leave_handled_twice_frees_one_seat_and_tells_the_host_once(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    waiting = await Neighbour(bot, "서연").register()
    meeting_id = await new_meetup(bot, host, capacity=2)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    await waiting.press(await meetup_card(bot, waiting, meeting_id), "대기 명단에 올리기")
    card = await meetup_card(bot, guest, meeting_id)
    await bot.emulator.press_button(
        guest.id, guest.id, card["message_id"], data_of(card, "못 가요")
    )
    first, second = await handled_twice(bot)
    assert first == second and first[0][0] == "sendMessage"
    assert first[0][1].startswith("알겠어요, 못 오시는군요.")
    assert not any(APOLOGY in text for _, text in first + second)
    assert await seat_counts(bot.sessions, meeting_id) == {"joined": 2, "left": 1}
    kinds = Counter(k for _, k in await notices(bot.sessions))
    assert kinds == Counter(
        {"meetup_joined": 1, "meetup_waitlisted": 1, "meetup_left": 1, "meetup_promoted": 1}
    )


# --------------------------------------------------------------------------- reminders


async def reminders(sessions: SessionFactory, chat_id: int) -> list[str]:
    return [k for k, kind in await notices(sessions, chat_id) if kind == "meetup_reminder"]


async def test_joining_25_minutes_before_the_start_gives_one_reminder(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host, hours=3)
    bot.clock.advance(timedelta(minutes=60))  # two hours before: the host's first reminder
    await bot.run_meetup_clock()
    bot.clock.advance(timedelta(minutes=95))  # 25 minutes before the start
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    for _ in range(25):  # the minute job, up to the start
        await bot.run_meetup_clock()
        bot.clock.advance(timedelta(minutes=1))
    assert await reminders(bot.sessions, guest.id) == [f"remind15:{meeting_id}:{guest.id}"]
    assert await reminders(bot.sessions, host.id) == [
        f"remind120:{meeting_id}:{host.id}",
        f"remind15:{meeting_id}:{host.id}",
    ]


async def test_a_meetup_created_inside_the_window_reminds_its_host_once(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    meeting_id = await new_meetup(bot, host, hours=1)
    for _ in range(60):
        await bot.run_meetup_clock()
        bot.clock.advance(timedelta(minutes=1))
    assert await reminders(bot.sessions, host.id) == [f"remind15:{meeting_id}:{host.id}"]


async def test_a_late_job_sends_only_the_nearest_reminder(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    meeting_id = await new_meetup(bot, host, hours=3)
    bot.clock.advance(timedelta(hours=2, minutes=50))  # the job was down until 10 min before
    await bot.run_meetup_clock()
    await bot.run_meetup_clock()
    assert await reminders(bot.sessions, host.id) == [f"remind15:{meeting_id}:{host.id}"]


async def test_someone_seated_from_the_waitlist_late_is_reminded_once(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    seated = await Neighbour(bot, "민지").register()
    waiting = await Neighbour(bot, "서연").register()
    meeting_id = await new_meetup(bot, host, hours=3, capacity=2)
    await seated.press(await meetup_card(bot, seated, meeting_id), "참여하기")
    await waiting.press(await meetup_card(bot, waiting, meeting_id), "대기 명단에 올리기")
    bot.clock.advance(timedelta(minutes=155))  # 25 minutes before: a seat opens
    await seated.press(await meetup_card(bot, seated, meeting_id), "못 가요")
    for _ in range(25):
        await bot.run_meetup_clock()
        bot.clock.advance(timedelta(minutes=1))
    assert await reminders(bot.sessions, waiting.id) == [f"remind15:{meeting_id}:{waiting.id}"]
    async with bot.sessions() as s:
        rows = await s.scalars(
            select(Participation.status).where(Participation.meeting_id == meeting_id)
        )
        assert sorted(rows) == ["joined", "joined", "left"]
