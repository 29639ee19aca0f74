"""Step 2, missions: `/missions` by points, paging and filters in one message, the mission card
with its place on a map, and "recommended for you" with its reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from storage.db import SessionFactory, transaction
from storage.models import Meeting, Mission, Participation
from tests.harness import BotHarness, buttons
from tests.people import AUTUMN_POINTS, Person, data_of, points_in, sign_up
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")


def latest(bot: BotHarness, message: dict[str, Any]) -> dict[str, Any]:
    """The message as the person sees it now (edits applied)."""
    chat = message["chat"]["id"]
    return next(
        m for m in bot.emulator.transcript(chat) if m["message_id"] == message["message_id"]
    )


async def mission_id(sessions: SessionFactory, key: str) -> int:
    async with sessions() as s:
        found = await s.scalar(select(Mission.id).where(Mission.key == key))
    assert found is not None
    return found


async def test_missions_need_an_account(bot: BotHarness) -> None:
    p = Person(bot, "James", "en")
    [reply] = await p.say("/missions")
    assert (
        reply["text"] == "You need an account for this. Send /start to sign up; it takes a minute."
    )


async def test_missions_are_sorted_by_points_and_paged_in_one_message(bot: BotHarness) -> None:
    p = Person(bot)
    await sign_up(p)
    [listing] = await p.say("/missions")
    assert listing["text"].startswith("🎯 송파구 미션")
    assert "1/2쪽" in listing["text"]
    assert points_in(listing["text"]) == AUTUMN_POINTS[:5]
    assert "잠실한강공원 플로깅" in listing["text"]
    labels = [label for label, _ in buttons(listing)]
    assert labels[:5] == ["1", "2", "3", "4", "5"] and "다음 ▶" in labels
    assert "◀ 이전" not in labels and "✅ 전체" in labels and "⭐ 맞춤 추천" in labels

    assert await p.press("다음 ▶", listing) == []  # no new message: the list is edited
    page2 = latest(bot, listing)
    assert page2["edited"] and "2/2쪽" in page2["text"]
    assert points_in(page2["text"]) == AUTUMN_POINTS[5:]
    assert "장미광장" not in page2["text"]  # out of season
    assert "다음 ▶" not in [label for label, _ in buttons(page2)]
    await p.press("◀ 이전", page2)
    assert points_in(latest(bot, listing)["text"]) == AUTUMN_POINTS[:5]
    assert [m for m in bot.bot_messages(p.id) if m["text"].startswith("🎯")] == [
        latest(bot, listing)
    ]


async def test_category_filter(bot: BotHarness) -> None:
    p = Person(bot)
    await sign_up(p)
    [listing] = await p.say("/missions")
    await p.press("배드민턴", listing)
    filtered = latest(bot, listing)
    assert "배드민턴" in filtered["text"] and points_in(filtered["text"]) == [130]
    assert "오금공원에서 배드민턴 30분" in filtered["text"]
    assert "✅ 배드민턴" in [label for label, _ in buttons(filtered)]
    await p.press("사진", filtered)
    photos = latest(bot, listing)
    assert points_in(photos["text"]) == [120]  # the rose garden waits for spring
    await p.press("전체", photos)
    assert points_in(latest(bot, listing)["text"]) == AUTUMN_POINTS[:5]
    # A forged category is refused without touching the list.
    forged = "1ol:secret:0"
    await bot.emulator.press_button(p.id, p.id, listing["message_id"], forged, force=True)
    await bot.deliver()
    assert p.answers()[-1] == "더 이상 쓸 수 없는 버튼이에요. /missions 로 다시 확인해 주세요."


async def test_mission_card_shows_the_place_and_links_to_meetups(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    p = Person(bot)
    await sign_up(p)
    [listing] = await p.say("/missions")
    card, venue = await p.press("1", listing)
    assert card["text"].startswith("잠실한강공원 플로깅\n\n한강변을 걸으며")
    for line in ("📍 잠실한강공원", "🏆 200포인트", "⏱ 45분", "👥 2-10명", "📸 인증:"):
        assert line in card["text"], line
    plogging = await mission_id(sessions, "hangang-plogging")
    assert buttons(card) == [
        ("🙋 모임 만들기", callbacks.encode(Action.MEETUP_NEW, plogging)),
        ("👀 모임 보기", callbacks.encode(Action.MEETUPS_OF, plogging)),
    ]
    assert venue["venue"]["title"] == "잠실한강공원"
    assert venue["venue"]["address"] == "서울 송파구 잠실동"
    assert venue["location"] == {"latitude": 37.518, "longitude": 127.083}
    [sent] = bot.calls("sendVenue")
    assert sent.params["chat_id"] == p.id


async def test_english_card(bot: BotHarness) -> None:
    p = Person(bot, "민지")
    await sign_up(p)
    await p.say("/language")
    await p.press("English")
    [listing] = await p.say("/missions")
    assert listing["text"].startswith("🎯 Missions in Songpa-gu, most points first (All, page 1/2)")
    card, venue = await p.press("2", listing)
    assert card["text"].startswith("Run 3 km along Seongnaecheon")
    assert "⏱ 30 min" in card["text"] and "🕒 Good for: Mornings, Evenings" in card["text"]
    assert venue["venue"]["address"] == "Bangi-dong, Songpa-gu, Seoul"


async def test_drafts_and_retired_missions_stay_hidden(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    p = Person(bot)
    await sign_up(p)
    async with transaction(sessions) as s:
        top = await s.scalar(select(Mission).where(Mission.key == "hangang-plogging"))
        assert top is not None
        top.status = "draft"
    [listing] = await p.say("/missions")
    assert "플로깅" not in listing["text"] and points_in(listing["text"])[0] == 150
    # An old card's button, or a forged id, for a mission no longer published.
    forged = callbacks.encode(Action.MISSION_SHOW, top.id)
    await bot.emulator.press_button(p.id, p.id, listing["message_id"], forged, force=True)
    await bot.deliver()
    assert (
        p.answers()[-1]
        == "더 이상 진행하지 않는 미션이에요. /missions 에서 지금 미션을 볼 수 있어요."
    )


async def test_recommendations_are_ranked_for_the_person_and_explained(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    p = Person(bot)
    await sign_up(p)  # likes walking and badminton, evenings; lives in Jamsil-dong
    [listing] = await p.say("/missions")
    await p.press("⭐ 맞춤 추천", listing)
    ranked = latest(bot, listing)
    assert ranked["text"].startswith("⭐ 맞춤 추천")
    lines = ranked["text"].split("\n")
    # 9 am: a walk they like, close by, that suits the morning comes first, with why.
    assert lines[2].startswith("1. 석촌호수 한 바퀴 걷기")
    assert lines[4] == "    💡 걷기에 관심이 있으시고, 지금(오전 9시) 하기 좋은 미션이에요"
    assert "💡 배드민턴에 관심이 있으셔서 추천해요" in ranked["text"]
    assert "◀ 전체 미션" in [label for label, _ in buttons(ranked)]

    # Done two days ago in a meetup: not suggested again within a week.
    seokchon = await mission_id(sessions, "seokchon-lake-loop")
    now = bot.clock.now()
    async with transaction(sessions) as s:
        meeting = Meeting(
            mission_id=seokchon, host_id=p.id, starts_at=now - timedelta(days=2),
            ends_at=now - timedelta(days=2, hours=-1), place_name="석촌호수",
            place_lat=37.5096, place_lon=127.1027, capacity=4, created_at=now,
        )  # fmt: skip
        s.add(meeting)
        await s.flush()
        s.add(Participation(meeting_id=meeting.id, user_id=p.id, joined_at=now))
    await p.press("◀ 전체 미션", ranked)
    await p.press("⭐ 맞춤 추천", latest(bot, listing))
    again = latest(bot, listing)["text"]
    assert "석촌호수 한 바퀴" not in again and again.split("\n")[2].startswith("1. ")

    # In the evening, their preferred time, the badminton mission they like climbs to the top.
    bot.clock.advance(timedelta(hours=10))
    await p.press("◀ 전체 미션", latest(bot, listing))
    await p.press("⭐ 맞춤 추천", latest(bot, listing))
    evening = latest(bot, listing)["text"].split("\n")
    assert evening[2].startswith("1. 오금공원에서 배드민턴 30분")
    assert evening[4] == "    💡 배드민턴에 관심이 있으시고, 지금(오후 7시) 하기 좋은 미션이에요"


async def test_a_list_button_pressed_after_deleting_the_account_invites_again(
    bot: BotHarness,
) -> None:
    p = Person(bot)
    await sign_up(p)
    [listing] = await p.say("/missions")
    [question] = await p.say("/deleteme")
    await p.press("네, 삭제할게요", question)
    reply = await p.press("다음 ▶", listing)
    assert reply[-1]["text"].startswith("계정이 있어야 쓸 수 있어요.")
    assert data_of(latest(bot, listing), "다음 ▶")  # the list itself is unchanged
