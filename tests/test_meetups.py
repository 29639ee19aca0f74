"""Steps 3 and 4: hosting, listing, joining with capacity and waitlist (the last-seat race
included), host tools, reminders, closing, and check-in by signed rotating QR or typed code."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from storage import meetings
from storage.db import SessionFactory, transaction
from storage.models import Meeting, OutboxMessage, Participation, Region, User
from tests.harness import BotHarness, buttons
from tests.people import RULES, Neighbour, data_of, decode_qr, meetup_card, new_meetup, seat_counts
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")


# --------------------------------------------------------------------------- hosting


async def test_a_verified_host_creates_a_meetup_with_buttons(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    [offer] = await host.say("/host")
    await host.press(offer, "석촌호수 한 바퀴 걷기")
    when = bot.bot_messages(host.id)[-1]
    assert "언제 만날까요" in when["text"]
    assert data_of(when, "오늘 12:00")  # 09:00 now: today's later slots are offered
    await host.press(when, "오늘 12:00")
    place = bot.bot_messages(host.id)[-1]
    await host.press(place, "📍 석촌호수")
    size = bot.bot_messages(host.id)[-1]
    await host.press(size, "4")
    await host.say("빨간 모자를 쓰고 갈게요")
    summary = bot.bot_messages(host.id)[-1]
    assert "11월 25일 (수) 12:00" in summary["text"] and "빨간 모자" in summary["text"]
    created = await host.press(summary, "만들기 ✅")
    venue, card = created[-2], created[-1]
    assert venue["venue"]["title"] == "석촌호수"
    assert "1/4" in card["text"] and "📷 체크인 QR" in [b for b, _ in buttons(card)]
    async with bot.sessions() as s:
        meeting = await s.scalar(select(Meeting))
        assert meeting is not None and meeting.capacity == 4 and meeting.checkin_code
        assert meeting.ends_at - meeting.starts_at == timedelta(minutes=40)


async def test_a_typed_time_is_read_and_nonsense_is_refused(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    [offer] = await host.say("/host")
    await host.press(offer, "석촌호수 한 바퀴 걷기")
    [refused] = await host.say("25:99")
    assert "시간을 읽지 못했어요" in refused["text"]
    place = (await host.say("내일 07:30"))[-1]
    assert "📍 석촌호수" in [b for b, _ in buttons(place)]
    await host.press(place, "📍 석촌호수")
    await host.press(bot.bot_messages(host.id)[-1], "2")
    summary = (await host.press(bot.bot_messages(host.id)[-1], "건너뛰기"))[-1]
    assert "11월 26일 (목) 07:30" in summary["text"]


async def test_a_time_too_soon_is_refused_with_the_earliest_and_a_past_one_is_told_tomorrow(
    bot: BotHarness,
) -> None:
    """At 09:00, "09:05" is five minutes ahead: refused, with the earliest time that works
    (not silently moved to tomorrow); "08:30" has passed: tomorrow, and said so."""
    host = await Neighbour(bot, "지훈").register()
    [offer] = await host.say("/host")
    await host.press(offer, "석촌호수 한 바퀴 걷기")
    soon, asked = await host.say("09:05")
    assert "최소 10분 뒤" in soon["text"] and "09:11 이후" in soon["text"]
    assert "언제 만날까요" in asked["text"]
    [soon, _] = await host.say("오늘 09:05")
    assert "09:11 이후" in soon["text"]
    told, place = await host.say("08:30")
    assert told["text"] == "오늘 08:30: 이미 지난 시간이라 내일로 잡을게요 (11월 26일 (목) 08:30)."
    assert "📍 석촌호수" in [b for b, _ in buttons(place)]


async def test_the_sizes_offered_are_the_missions_and_a_forged_one_is_refused(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    [offer] = await host.say("/host")
    await host.press(offer, "석촌호수 한 바퀴 걷기")  # 👥 2-6명
    await host.press(bot.bot_messages(host.id)[-1], "오늘 12:00")
    await host.press(bot.bot_messages(host.id)[-1], "📍 석촌호수")
    size = bot.bot_messages(host.id)[-1]
    assert "2-6명" in size["text"]
    assert [label for label, _ in buttons(size)] == ["2", "3", "4", "5", "6"]
    # A modified client sends 9: the meetup is refused when it would be created.
    await host.press_data(size, callbacks.encode(Action.HOST_SIZE, 9))
    summary = (await host.press(bot.bot_messages(host.id)[-1], "건너뛰기"))[-1]
    refused = (await host.press(summary, "만들기 ✅"))[-1]
    assert "이 미션에 맞지 않는 인원이에요" in refused["text"]
    async with bot.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Meeting)) == 0


async def test_an_unverified_host_is_told_how_to_become_one(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈", verified=False).register()
    [offer] = await host.say("/host")
    await host.press(offer, "석촌호수 한 바퀴 걷기")
    assert "동네 인증" in host.alert()
    async with bot.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Meeting)) == 0


# --------------------------------------------------------------------------- joining


async def test_join_takes_a_seat_and_the_host_hears_of_it(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "James", lang="en").register()
    meeting_id = await new_meetup(bot, host)
    card = await meetup_card(bot, guest, meeting_id)
    assert "1/4 seats taken" in card["text"]
    await guest.press(card, "Join")
    assert guest.inbox()[-1].startswith("You're in! See you on Wed 25 Nov 12:00")
    refreshed = bot.emulator.transcript(guest.id)[card_index(bot, guest, card)]
    assert "2/4 seats taken" in refreshed["text"] and buttons(refreshed)[0][0] == "Can't make it"
    assert await bot.run_outbox() == 1
    assert host.inbox()[-1] == 'James님이 "석촌호수 한 바퀴 걷기" 모임에 참여했어요. (2/4명 참여)'


def card_index(bot: BotHarness, person: Neighbour, card: dict[str, Any]) -> int:
    transcript = bot.emulator.transcript(person.id)
    return next(i for i, m in enumerate(transcript) if m["message_id"] == card["message_id"])


async def test_joins_that_make_no_sense_are_refused_with_a_reason(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    stranger = await Neighbour(bot, "수아", verified=False).register()
    first = await new_meetup(bot, host, hours=3)
    other_host = await Neighbour(bot, "도윤").register()
    same_time = await new_meetup(bot, other_host, hours=3, key="ogeum-park-badminton")
    join = callbacks.encode(Action.MEETUP_JOIN, first)
    card = await meetup_card(bot, guest, first)
    await guest.press_data(card, join)
    await guest.press_data(card, join)
    assert guest.alert() == "이미 참여한 모임이에요."
    await host.press_data(card, join)
    assert host.alert() == "내가 연 모임이에요. 호스트로 이미 참여하고 있어요."
    await guest.press_data(card, callbacks.encode(Action.MEETUP_JOIN, same_time))
    assert guest.alert() == "그 시간에 이미 다른 모임이 있어요."
    await stranger.press_data(card, join)
    assert "동네 인증" in stranger.alert()
    async with transaction(bot.sessions) as s:
        await meetings.cancel(s, same_time, other_host.id, bot.clock.now())
    await guest.press_data(card, callbacks.encode(Action.MEETUP_JOIN, same_time))
    assert guest.alert() == "취소된 모임이에요."
    bot.clock.advance(timedelta(hours=4))
    newcomer = await Neighbour(bot, "하준").register()
    await newcomer.press_data(card, join)
    assert newcomer.alert() == "이미 시작한 모임이에요."
    assert await seat_counts(bot.sessions, first) == {"joined": 2}


async def test_full_means_waitlist_and_leaving_promotes_the_first(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    seated = await Neighbour(bot, "민지").register()
    first_wait = await Neighbour(bot, "서연").register()
    second_wait = await Neighbour(bot, "하준").register()
    meeting_id = await new_meetup(bot, host, capacity=2)
    for person in (seated, first_wait, second_wait):
        card = await meetup_card(bot, person, meeting_id)
        await person.press(card, "참여하기" if person is seated else "대기 명단에 올리기")
    assert second_wait.inbox()[-1].startswith("자리가 다 찼어요. 대기 2번이에요.")
    card = await meetup_card(bot, seated, meeting_id)
    await seated.press(card, "못 가요")
    assert await seat_counts(bot.sessions, meeting_id) == {"joined": 2, "waitlisted": 1, "left": 1}
    await bot.run_outbox()
    assert first_wait.inbox()[-1].startswith("자리가 났어요!")
    assert host.inbox()[-1] == '민지님이 "석촌호수 한 바퀴 걷기" 모임에서 나갔어요.'
    assert not second_wait.inbox()[-1].startswith("자리가 났어요!")


async def test_fifty_people_press_join_on_the_last_seat_at_once(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    host = await Neighbour(bot, "지훈").register()
    meeting_id = await new_meetup(bot, host, capacity=2)  # the host holds one seat: one left
    now = bot.clock.now()
    async with sessions() as s:
        jamsil = await s.scalar(select(Region.id).where(Region.name_ko == "잠실동"))
    async with transaction(sessions) as s:
        s.add_all(
            User(id=900_000 + i, display_name=f"p{i}", registered_at=now, created_at=now,
                 region_id=jamsil, region_verified_at=now, interests=[], preferred_times=[])
            for i in range(50)
        )  # fmt: skip

    async def press_join(user_id: int) -> str:
        async with transaction(sessions) as s:
            return (await meetings.join(s, meeting_id, user_id, RULES, now)).status

    results = await asyncio.gather(*(press_join(900_000 + i) for i in range(50)))
    assert sorted(results).count("joined") == 1 and results.count("waitlisted") == 49
    assert await seat_counts(sessions, meeting_id) == {"joined": 2, "waitlisted": 49}


# --------------------------------------------------------------------------- host tools


async def test_host_tools(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    late = await Neighbour(bot, "서연").register()
    meeting_id = await new_meetup(bot, host)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    card = await meetup_card(bot, host, meeting_id)
    await host.press(card, "👥 참가자")
    assert host.inbox()[-1].splitlines()[1:3] == ["• 지훈", "• 민지"]
    [question] = await host.press(card, "✉️ 메시지 보내기")
    assert [label for label, _ in buttons(question)] == ["취소"]
    [nothing_sent] = await host.press(question, "취소")
    assert nothing_sent["text"] == "알겠어요, 아무것도 보내지 않았어요."
    assert _shown_now(bot, question)["text"].endswith("\n→ 취소함 ✓")
    [question] = await host.press(card, "✉️ 메시지 보내기")
    await host.say("입구 앞 편의점에서 만나요!")
    assert host.inbox()[-1] == "참가자 1명에게 보냈어요."
    # The question shows the message's start and loses its "Cancel".
    answered = _shown_now(bot, question)
    assert answered["text"].endswith("\n→ 입구 앞 편의점에서 만나요! ✓") and not buttons(answered)
    await host.press(card, "🔒 참여 마감")
    await late.press_data(card, callbacks.encode(Action.MEETUP_JOIN, meeting_id))
    assert late.alert() == "호스트가 이 모임의 참여를 마감했어요."
    await host.press(card, "❌ 모임 취소")
    [question] = bot.bot_messages(host.id)[-1:]
    await host.press(question, "네, 취소할게요")
    await bot.run_outbox()
    told = guest.inbox()
    assert "입구 앞 편의점에서 만나요!" in told[-2]
    assert told[-1].startswith('호스트가 "석촌호수 한 바퀴 걷기"')
    await guest.press_data(card, callbacks.encode(Action.MEETUP_HOST, meeting_id, "close"))
    assert guest.alert() == "호스트만 할 수 있어요."


def _shown_now(bot: BotHarness, message: dict[str, Any]) -> dict[str, Any]:
    """`message` as the chat shows it now (edits applied)."""
    chat = bot.emulator.transcript(message["chat"]["id"])
    return next(m for m in chat if m["message_id"] == message["message_id"])


# --------------------------------------------------------------------------- check-in


async def test_scanning_the_hosts_qr_checks_people_in_once(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    waiting = await Neighbour(bot, "서연").register()
    outsider = await Neighbour(bot, "하준").register()
    meeting_id = await new_meetup(bot, host, hours=1, capacity=2)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    await waiting.press(await meetup_card(bot, waiting, meeting_id), "대기 명단에 올리기")
    card = await meetup_card(bot, host, meeting_id)
    await host.press(card, "📷 체크인 QR")
    assert host.alert().startswith("아직 체크인 시간이 아니에요")
    bot.clock.advance(timedelta(minutes=50))  # 10 minutes before the start
    await host.press(card, "📷 체크인 QR")
    qr = bot.bot_messages(host.id)[-1]
    link = decode_qr(bot, qr)
    assert link.startswith("https://t.me/halsaram_bot?start=c")
    payload = link.split("start=", 1)[1]
    assert len(payload) <= 64
    code = bot.app.bot_data["services"].signer.code(meeting_id, bot.clock.now())
    assert f"/checkin {code}" in qr["caption"]  # the typed code of this window (issue 21)

    [asked] = await guest.say(f"/start {payload}")
    assert "위치를 공유해 주세요" in asked["text"]
    done = await _at_the_venue(bot, guest, meeting_id)
    assert done["text"].startswith('"석촌호수 한 바퀴 걷기" 체크인 완료! ✅')
    [again] = await guest.say(f"/start {payload}")
    assert again["text"] == "이미 체크인했어요. ✅"
    [no_seat] = await waiting.say(f"/start {payload}")
    assert "대기 명단" in no_seat["text"]
    [not_in] = await outsider.say(f"/start {payload}")
    assert not_in["text"].startswith("이 모임의 참가자가 아니에요")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    [refused] = await outsider.say(f"/start {forged}")
    assert "유효하지 않아요" in refused["text"]
    await bot.run_outbox()
    assert host.inbox()[-1] == '민지님이 "석촌호수 한 바퀴 걷기" 모임에 체크인했어요. (2/2명 도착)'
    async with bot.sessions() as s:
        present = await s.scalar(
            select(func.count()).select_from(Participation)
            .where(Participation.meeting_id == meeting_id, Participation.checked_in_at.is_not(None))
        )  # fmt: skip
    assert present == 2  # the host, who showed the QR, and 민지


async def test_an_old_qr_stops_working_and_the_typed_code_helps(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host, hours=1)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    bot.clock.advance(timedelta(minutes=55))
    card = await meetup_card(bot, host, meeting_id)
    await host.press(card, "📷 체크인 QR")
    payload = decode_qr(bot, bot.bot_messages(host.id)[-1]).split("start=", 1)[1]
    bot.clock.advance(timedelta(minutes=7))  # beyond the current and the previous window
    [expired] = await guest.say(f"/start {payload}")
    assert "만료" in expired["text"] and "/checkin" in expired["text"]
    [wrong] = await guest.say("/checkin ZZZZZZ")
    assert wrong["text"] == "그 코드의 모임이 없어요. 확인하고 다시 입력해 주세요."
    # The code under a fresh QR (it rotates with the QR: issue 21), typed loosely.
    await host.press(card, "📷 체크인 QR")
    code = bot.app.bot_data["services"].signer.code(meeting_id, bot.clock.now())
    [typed] = await guest.say(f"/checkin {code.lower()[:3]} {code.lower()[3:]}")
    assert "위치를 공유해 주세요" in typed["text"]
    assert "체크인 완료" in (await _at_the_venue(bot, guest, meeting_id))["text"]


async def test_check_in_closes_after_the_window(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host, hours=1)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    card = await meetup_card(bot, host, meeting_id)
    bot.clock.advance(timedelta(hours=1, minutes=29))
    await host.press(card, "📷 체크인 QR")  # a minute before the window closes
    payload = decode_qr(bot, bot.bot_messages(host.id)[-1]).split("start=", 1)[1]
    bot.clock.advance(timedelta(minutes=2))  # the QR is still valid, the window is not
    [late] = await guest.say(f"/start {payload}")
    assert late["text"] == "이 모임의 체크인은 마감됐어요."


async def _at_the_venue(bot: BotHarness, person: Neighbour, meeting_id: int) -> dict[str, Any]:
    """`person` shares a location at the meeting point (the check-in's second step)."""
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None
    where = bot.emulator.share_location(person.id, meeting.place_lat, meeting.place_lon)
    [done] = await bot.act(person.id, where)
    return done


# --------------------------------------------------------------------------- the clock


async def test_reminders_go_out_once_and_the_meetup_closes(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    came = await Neighbour(bot, "민지").register()
    missed = await Neighbour(bot, "서연").register()
    meeting_id = await new_meetup(bot, host, hours=3)
    for person in (came, missed):
        await person.press(await meetup_card(bot, person, meeting_id), "참여하기")
    await bot.run_outbox()
    bot.clock.advance(timedelta(hours=1, minutes=5))  # 1 h 55 min before the start
    for _ in range(2):  # a restart or a second scheduler repeats the job
        await bot.run_meetup_clock()
    await bot.run_outbox()
    reminders = [t for t in came.inbox() if t.startswith("알림:")]
    assert len(reminders) == 1 and "석촌호수" in reminders[0]
    bot.clock.advance(timedelta(minutes=110))  # 5 minutes before the start
    async with transaction(bot.sessions) as s:
        await meetings.check_in(s, meeting_id, came.id, RULES, bot.clock.now())
    await bot.run_meetup_clock()
    await bot.run_outbox()
    assert len([t for t in came.inbox() if t.startswith("알림:")]) == 2  # 2 h and 15 min
    bot.clock.advance(timedelta(hours=1))  # the end and the check-in window have passed
    await bot.run_meetup_clock()
    await bot.run_outbox()
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None and meeting.status == "finished"
        no_show = await meetings.participation(s, meeting_id, missed.id)
        showed = await meetings.participation(s, meeting_id, came.id)
        assert no_show is not None and no_show.no_show_at is not None
        assert showed is not None and showed.no_show_at is None
        pending = await s.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
        )
    assert pending == 0
    assert "인증 사진" in came.inbox()[-1]
    assert not any("인증 사진" in t for t in missed.inbox())


async def test_a_person_who_blocked_the_bot_does_not_stall_the_outbox(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host)
    bot.emulator.block_bot(host.id)
    # The bot misses the my_chat_member (it was down and the update expired): the send's 403
    # is how it learns (tests/test_blocking.py has the update heard).
    bot.emulator.pending_updates()
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    assert await bot.run_outbox() == 0
    async with bot.sessions() as s:
        row = await s.scalar(select(OutboxMessage))
        user = await s.get(User, host.id)
    assert row is not None and row.status == "failed" and user is not None and user.blocked_bot


async def test_a_shared_location_lists_meetups_with_their_distance(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    await new_meetup(bot, host, key="ogeum-park-badminton")
    [listing] = await guest.say("/meetups")
    assert listing["text"].startswith("잠실동에서 가까운 열린 모임:")
    assert "위치를 공유" in listing["text"]
    near_lake = await bot.act(guest.id, bot.emulator.share_location(guest.id, 37.5096, 127.1027))
    # Seokchon Lake to Ogeum Park is about 2.7 km as the crow flies.
    assert near_lake[-1]["text"].startswith("지금 있는 곳에서 가까운 열린 모임:")
    assert "(2.7km, 3자리 남음)" in near_lake[-1]["text"]
    assert "2.7km" not in listing["text"]


async def test_meetups_lists_the_whole_district_nearest_first(bot: BotHarness) -> None:
    """A verified 송파동 person sees the meetups of other 동 of 송파구 too, nearest to their
    동 first, with the distance (it said "no meetups in your neighbourhood": issue 23)."""
    hosts = [await Neighbour(bot, name).register() for name in ("지훈", "도윤")]
    guest = await Neighbour(bot, "민지").register()
    far = await new_meetup(bot, hosts[0], hours=2, key="ogeum-park-badminton")
    near = await new_meetup(bot, hosts[1], hours=5)  # 석촌호수, later but nearer
    async with transaction(bot.sessions) as s:
        songpa = await s.scalar(select(Region).where(Region.name_ko == "송파동"))
        user = await s.get(User, guest.id)
        assert songpa is not None and user is not None
        user.region_id = songpa.id
    [listing] = await guest.say("/meetups")
    assert listing["text"].startswith("송파동에서 가까운 열린 모임:")
    lines = [line for line in listing["text"].splitlines() if line.startswith("• ")]
    assert [line.split(" — ")[0] for line in lines] == [
        "• 석촌호수 한 바퀴 걷기", "• 오금공원에서 배드민턴 30분"
    ]  # fmt: skip
    assert all("km" in line or "m, " in line for line in lines)
    views = [data for row in listing["reply_markup"]["inline_keyboard"] for data in row]
    assert [b["callback_data"] for b in views] == [
        callbacks.encode(Action.MEETUP_VIEW, near),
        callbacks.encode(Action.MEETUP_VIEW, far),
    ]
