"""Meetups can change (issue 23), on SQLite and PostgreSQL.

- The host moves the start (validated as when hosting); everyone holding a place is told and
  asked to confirm by the deadline (two hours after the notice, or one hour before the new
  start when earlier, at least half the time left); a place not confirmed is released by the
  meetup clock and the waitlist moves up (the unconfirmed waiting are released first).
- "Still coming" keeps the place; again changes nothing; after the deadline it is refused.
- "Can't make it" (leave) until the start, then "Come back" while a seat is free.
- Only the host moves the start or edits the note; the note's holders are told once per
  message of the host.
- Reminders follow the new time: none for the old one, one for the new one even when the old
  one was reminded already.
- Through the bot: the host's "🕒 Change time" and "📝 Edit note", the notice's "Still
  coming", and someone else's press of the host's buttons refused with nothing changed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from storage import meetings
from storage.db import transaction
from storage.errors import (
    CannotChange,
    CannotLeave,
    InvalidTime,
    MeetupNotOpen,
    NothingToConfirm,
    NotHost,
)
from storage.models import Meeting, OutboxMessage, Participation
from tests.harness import BotHarness, buttons
from tests.people import RULES, Neighbour, meetup_card, new_meetup, seat_counts
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")


async def _people(bot: BotHarness, *names: str) -> list[Neighbour]:
    return [await Neighbour(bot, name).register() for name in names]


async def _join(bot: BotHarness, meeting_id: int, *people: Neighbour) -> None:
    for person in people:
        async with transaction(bot.sessions) as s:
            await meetings.join(s, meeting_id, person.id, RULES, bot.clock.now())
        bot.clock.advance(timedelta(seconds=1))


async def _status(bot: BotHarness, meeting_id: int, person: Neighbour) -> str:
    async with bot.sessions() as s:
        mine = await meetings.participation(s, meeting_id, person.id)
        assert mine is not None
        return mine.status


async def _keys(bot: BotHarness, prefix: str) -> list[str]:
    async with bot.sessions() as s:
        rows = await s.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.startswith(prefix))
        )
        return sorted(rows)


async def _postpone(bot: BotHarness, meeting_id: int, host: Neighbour, hours: float) -> Any:
    async with transaction(bot.sessions) as s:
        return await meetings.postpone(
            s, meeting_id, host.id, bot.clock.now() + timedelta(hours=hours), bot.clock.now()
        )


async def _confirm(bot: BotHarness, meeting_id: int, person: Neighbour) -> meetings.Seat:
    async with transaction(bot.sessions) as s:
        return await meetings.confirm(s, meeting_id, person.id, bot.clock.now())


def _now(bot: BotHarness, message: dict[str, Any]) -> dict[str, Any]:
    """`message` as the chat shows it now (edits applied)."""
    chat = bot.emulator.transcript(message["chat"]["id"])
    return next(m for m in chat if m["message_id"] == message["message_id"])


async def _release(bot: BotHarness) -> int:
    async with transaction(bot.sessions) as s:
        return await meetings.release_unconfirmed(s, bot.clock.now())


# --------------------------------------------------------------------------- the deadline


def test_the_deadline_is_two_hours_or_an_hour_before_the_start_or_half_the_time_left() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    hours = [meetings.confirm_deadline(now, now + timedelta(hours=h)) - now for h in (10, 3, 1.5)]
    assert hours == [timedelta(hours=2), timedelta(hours=2), timedelta(minutes=45)]
    assert meetings.confirm_deadline(now, now + timedelta(minutes=40)) - now == timedelta(
        minutes=20
    )


# --------------------------------------------------------------------------- moving the start


async def test_a_move_releases_the_unconfirmed_at_the_deadline_and_the_waitlist_moves_up(
    bot: BotHarness,
) -> None:
    """Capacity 3: 민지 and 서연 seated, 도윤 and 하준 waiting. After the move 민지 and 하준
    confirm; at the deadline 서연 (seated) and 도윤 (waiting) are released, and the freed
    seat goes to 하준, the first waiting who confirmed."""
    host, minji, seoyeon, doyun, hajun = await _people(bot, "지훈", "민지", "서연", "도윤", "하준")
    meeting_id = await new_meetup(bot, host, hours=3, capacity=3)
    await _join(bot, meeting_id, minji, seoyeon, doyun, hajun)
    moved = await _postpone(bot, meeting_id, host, 5)
    assert moved.told == 4 and moved.confirm_by == bot.clock.now() + timedelta(hours=2)
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None and meeting.postponements == 1
        assert meeting.ends_at - meeting.starts_at == timedelta(minutes=40)  # same length
    assert len(await _keys(bot, f"postponed:{meeting_id}:")) == 4
    assert (await _confirm(bot, meeting_id, minji)).status == "joined"
    assert (await _confirm(bot, meeting_id, hajun)).position == 2  # behind 도윤, for now
    bot.clock.advance(timedelta(hours=1, minutes=59))
    assert await _release(bot) == 0  # not yet
    bot.clock.advance(timedelta(minutes=1))
    assert await _release(bot) == 2
    assert await _release(bot) == 0  # once
    assert [await _status(bot, meeting_id, p) for p in (minji, seoyeon, doyun, hajun)] == [
        "joined",
        "left",
        "left",
        "joined",
    ]
    assert await _keys(bot, f"released:{meeting_id}:") == sorted(
        f"released:{meeting_id}:{p.id}:1" for p in (seoyeon, doyun)
    )
    assert await _keys(bot, f"unconfirmed:{meeting_id}:") == [f"unconfirmed:{meeting_id}:1"]
    assert len(await _keys(bot, "promoted:")) == 1
    async with bot.sessions() as s:
        rows = await s.scalars(select(Participation).where(Participation.confirm_by.is_not(None)))
        assert list(rows) == []


async def test_still_coming_keeps_the_place_once_and_is_refused_after_the_deadline(
    bot: BotHarness,
) -> None:
    host, minji, seoyeon = await _people(bot, "지훈", "민지", "서연")
    meeting_id = await new_meetup(bot, host, hours=3)
    await _join(bot, meeting_id, minji, seoyeon)
    await _postpone(bot, meeting_id, host, 4)
    first = await _confirm(bot, meeting_id, minji)
    again = await _confirm(bot, meeting_id, minji)  # a second press: the same answer
    assert (first.status, again.status) == ("joined", "joined")
    bot.clock.advance(timedelta(hours=2, seconds=1))
    with pytest.raises(NothingToConfirm) as late:
        await _confirm(bot, meeting_id, seoyeon)  # the clock has not run yet
    assert late.value.reason == "late"
    assert await _status(bot, meeting_id, seoyeon) == "joined"  # nothing lost by the refusal
    await _release(bot)
    with pytest.raises(NothingToConfirm) as gone:
        await _confirm(bot, meeting_id, seoyeon)
    assert gone.value.reason == "left"
    assert await seat_counts(bot.sessions, meeting_id) == {"joined": 2, "left": 1}


async def test_a_move_is_validated_as_when_hosting(bot: BotHarness) -> None:
    host, minji = await _people(bot, "지훈", "민지")
    meeting_id = await new_meetup(bot, host, hours=3)
    await _join(bot, meeting_id, minji)
    with pytest.raises(InvalidTime) as soon:
        await _postpone(bot, meeting_id, host, 0.1)  # six minutes ahead
    assert soon.value.reason == "past"
    with pytest.raises(InvalidTime) as far:
        await _postpone(bot, meeting_id, host, 24 * 15)
    assert far.value.reason == "too_far"
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None
        starts_at = meeting.starts_at
    with pytest.raises(CannotChange) as same:
        async with transaction(bot.sessions) as s:
            await meetings.postpone(s, meeting_id, host.id, starts_at, bot.clock.now())
    assert same.value.reason == "same_time"
    assert await _keys(bot, "postponed:") == []


async def test_only_the_host_moves_the_start_or_edits_the_note(bot: BotHarness) -> None:
    host, minji, seoyeon = await _people(bot, "지훈", "민지", "서연")
    meeting_id = await new_meetup(bot, host, hours=3)
    await _join(bot, meeting_id, minji, seoyeon)
    with pytest.raises(NotHost):
        await _postpone(bot, meeting_id, minji, 5)
    with pytest.raises(NotHost):
        async with transaction(bot.sessions) as s:
            await meetings.edit_note(
                s, meeting_id, minji.id, "제가 바꿀게요", bot.clock.now(), occasion=1
            )
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None and meeting.note is None and meeting.postponements == 0
    assert await _keys(bot, "postponed:") == [] and await _keys(bot, "note:") == []
    for _ in range(2):  # the same message of the host handled twice: told once
        async with transaction(bot.sessions) as s:
            told = await meetings.edit_note(
                s, meeting_id, host.id, "빨간 모자", bot.clock.now(), occasion=7
            )
        assert told == 2
    assert len(await _keys(bot, f"note:{meeting_id}:")) == 2


async def test_no_move_after_the_start_nor_after_a_check_in(bot: BotHarness) -> None:
    host, minji = await _people(bot, "지훈", "민지")
    meeting_id = await new_meetup(bot, host, hours=0.2)
    await _join(bot, meeting_id, minji)
    async with transaction(bot.sessions) as s:
        await meetings.check_in(s, meeting_id, minji.id, RULES, bot.clock.now())
    with pytest.raises(CannotChange) as checked:
        await _postpone(bot, meeting_id, host, 3)
    assert checked.value.reason == "checked_in"
    bot.clock.advance(timedelta(minutes=13))
    with pytest.raises(MeetupNotOpen) as started:
        await _postpone(bot, meeting_id, host, 3)
    assert started.value.reason == "started"


# --------------------------------------------------------------------------- can't make it


async def test_cant_make_it_until_the_start_then_come_back_while_a_seat_is_free(
    bot: BotHarness,
) -> None:
    host, minji, seoyeon = await _people(bot, "지훈", "민지", "서연")
    meeting_id = await new_meetup(bot, host, hours=3, capacity=2)
    await _join(bot, meeting_id, minji)
    async with transaction(bot.sessions) as s:
        await meetings.leave(s, meeting_id, minji.id, bot.clock.now())
    card = await meetup_card(bot, minji, meeting_id)
    assert "다시 참여하기" in [label for label, _ in buttons(card)]
    await _join(bot, meeting_id, minji)  # come back: the seat is free
    assert await _status(bot, meeting_id, minji) == "joined"
    async with transaction(bot.sessions) as s:
        await meetings.leave(s, meeting_id, minji.id, bot.clock.now())
    await _join(bot, meeting_id, seoyeon)  # the seat is taken meanwhile
    card = await meetup_card(bot, minji, meeting_id)
    assert "다시 참여하기" not in [label for label, _ in buttons(card)]
    await _join(bot, meeting_id, minji)
    assert await _status(bot, meeting_id, minji) == "waitlisted"
    bot.clock.advance(timedelta(hours=3))
    with pytest.raises(CannotLeave) as started:
        async with transaction(bot.sessions) as s:
            await meetings.leave(s, meeting_id, seoyeon.id, bot.clock.now())
    assert started.value.reason == "started"


# --------------------------------------------------------------------------- reminders


async def test_reminders_follow_the_new_time(bot: BotHarness) -> None:
    """Reminded two hours before the old start (still in the outbox), then moved three hours
    later: the waiting reminder is not sent, nothing more for the old time, and the two-hour
    reminder again before the new one."""
    host, minji = await _people(bot, "지훈", "민지")
    meeting_id = await new_meetup(bot, host, hours=3)
    await _join(bot, meeting_id, minji)
    leads = (timedelta(minutes=120), timedelta(minutes=15))
    bot.clock.advance(timedelta(hours=1))

    async def remind() -> int:
        async with transaction(bot.sessions) as s:
            return await meetings.queue_reminders(s, bot.clock.now(), leads)

    assert await remind() == 2  # host and guest, for the old time, not sent yet
    await _postpone(bot, meeting_id, host, 5)  # from 12:00 to 15:00
    async with bot.sessions() as s:
        old = await s.scalars(
            select(OutboxMessage.status).where(OutboxMessage.dedupe_key.startswith("remind"))
        )
        assert list(old) == ["skipped", "skipped"]  # the old time's are not sent
    await _confirm(bot, meeting_id, minji)
    bot.clock.advance(timedelta(minutes=105))  # the old time's 15-minute moment
    assert await remind() == 0
    bot.clock.advance(timedelta(hours=1, minutes=15))  # two hours before the new start
    assert await remind() == 2
    assert await remind() == 0
    keys = await _keys(bot, "remind120:")
    assert sorted(k.split(":", 2)[2] for k in keys if k.endswith(":p1")) == sorted(
        [f"{host.id}:p1", f"{minji.id}:p1"]
    )


# --------------------------------------------------------------------------- through the bot


async def test_the_host_moves_the_start_and_the_guest_confirms_from_the_notice(
    bot: BotHarness,
) -> None:
    host, minji = await _people(bot, "지훈", "민지")
    meeting_id = await new_meetup(bot, host, hours=3)
    await _join(bot, meeting_id, minji)
    card = await meetup_card(bot, host, meeting_id)
    [question] = await host.press(card, "🕒 시간 변경")
    assert "새 시간을 입력해 주세요" in question["text"]
    assert [label for label, _ in buttons(question)] == ["취소"]
    [refused] = await host.say("25:99")
    assert "시간을 읽지 못했어요" in refused["text"]
    assert buttons(_now(bot, question)) != []  # asked again: the question stays open
    [done] = await host.say("15:00")
    assert "11월 25일 (수) 15:00" in done["text"] and "1명" in done["text"]
    # The question shows the new time and loses its "Cancel"; the card keeps its tools.
    answered = _now(bot, question)
    assert answered["text"].endswith("\n→ 오늘 15:00 ✓") and buttons(answered) == []
    assert "📝 메모 수정" in [label for label, _ in buttons(_now(bot, card))]
    await bot.run_outbox()
    notice = bot.bot_messages(minji.id)[-1]
    assert "12:00" in notice["text"] and "15:00" in notice["text"]
    await minji.press(notice, "✅ 갈게요")
    assert "자리를 지켰어요" in minji.inbox()[-1]
    assert buttons(bot.bot_messages(minji.id)[-2]) == []  # the notice's buttons closed
    async with bot.sessions() as s:
        mine = await meetings.participation(s, meeting_id, minji.id)
        assert mine is not None and mine.confirm_by is None
    [question] = await host.press(card, "📝 메모 수정")
    await host.say("빨간 모자를 쓰고 갈게요")
    assert "1명에게 알렸어요" in host.inbox()[-1]
    answered = _now(bot, question)
    assert answered["text"].endswith("\n→ 빨간 모자를 쓰고 갈게요 ✓") and buttons(answered) == []
    await bot.run_outbox()
    assert "빨간 모자" in minji.inbox()[-1]


async def test_cancelled_changes_show_so_and_an_earlier_question_loses_its_button(
    bot: BotHarness,
) -> None:
    """ "Cancel" under the question and /cancel both leave the meetup as it is and the question
    showing "Cancelled" without buttons; a change started again closes the one left open."""
    host, minji = await _people(bot, "지훈", "민지")
    meeting_id = await new_meetup(bot, host, hours=3)
    await _join(bot, meeting_id, minji)
    card = await meetup_card(bot, host, meeting_id)
    [first] = await host.press(card, "🕒 시간 변경")
    [second] = await host.press(card, "📝 메모 수정")  # the time question no longer applies
    assert buttons(_now(bot, first)) == [] and "→" not in _now(bot, first)["text"]
    [told] = await host.press(second, "취소")
    assert told["text"] == "아무것도 바꾸지 않았어요."
    cancelled = _now(bot, second)
    assert cancelled["text"].endswith("\n→ 취소함 ✓") and buttons(cancelled) == []
    [third] = await host.press(card, "🕒 시간 변경")
    [told] = await host.say("/cancel")
    assert told["text"] == "아무것도 바꾸지 않았어요."
    assert _now(bot, third)["text"].endswith("\n→ 취소함 ✓") and buttons(_now(bot, third)) == []
    await host.say("17:00")  # the conversation is over: not a new time
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None and meeting.postponements == 0 and meeting.note is None


async def test_someone_elses_press_of_the_change_buttons_is_refused(bot: BotHarness) -> None:
    host, minji = await _people(bot, "지훈", "민지")
    meeting_id = await new_meetup(bot, host, hours=3)
    await _join(bot, meeting_id, minji)
    card = await meetup_card(bot, minji, meeting_id)
    for tool in ("when", "note"):
        await minji.press_data(card, callbacks.encode(Action.MEETUP_HOST, meeting_id, tool))
        assert minji.alert() == "호스트만 할 수 있어요."
    await minji.say("17:00")  # no conversation took it: an ordinary message
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None and meeting.postponements == 0 and meeting.note is None


async def test_the_latest_question_gets_the_answer_when_the_host_switches_tools(
    bot: BotHarness,
) -> None:
    """ "Message them", then "Change time" before writing anything: the time typed is the new
    time, not a message to everyone; and the other way round, the message goes as a message
    and the time question left behind takes no later text."""
    host, minji = await _people(bot, "지훈", "민지")
    meeting_id = await new_meetup(bot, host, hours=3)
    await _join(bot, meeting_id, minji)
    card = await meetup_card(bot, host, meeting_id)
    await host.press(card, "✉️ 메시지 보내기")
    await host.press(card, "🕒 시간 변경")
    [done] = await host.say("15:00")
    assert "15:00" in done["text"]
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None and meeting.postponements == 1
    assert await _keys(bot, "hostmsg") == []  # nothing went to everyone

    await host.press(card, "🕒 시간 변경")
    await host.press(card, "✉️ 메시지 보내기")
    [sent] = await host.say("16:00에 봐요")
    assert "1명" in sent["text"] and len(await _keys(bot, "hostmsg")) == 1
    await host.say("17:00")  # neither question is open: not a new time
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None and meeting.postponements == 1
