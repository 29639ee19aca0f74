"""Issue 23, the group side of gathering (handlers/gathering.py) in process, on both databases:
the post's "🙋" count is edited in place, a tap by someone without an account opens the bot
privately (not counted), the meetup's card appears in the group with its Join button, and a
Join pressed on that card in the group confirms privately and leaves the card everyone's.
/setgather is for the group's admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from storage.clock import FrozenClock
from storage.db import transaction
from storage.models import OutboxMessage
from tests.harness import BotHarness, buttons
from tests.people import Neighbour
from tests.test_group_rights import _set_region_in, forum_group
from tests.test_groups import Group, run_daily, seoul

pytestmark = pytest.mark.usefixtures("seeded")


def _tap_data(post: dict[str, Any]) -> str:
    return next(d for label, d in buttons(post) if label.startswith("🙋"))


def _current(bot: BotHarness, chat_id: int, message: dict[str, Any]) -> dict[str, Any]:
    return next(
        m for m in bot.emulator.transcript(chat_id) if m["message_id"] == message["message_id"]
    )


async def _group_with_post(bot: BotHarness, people: list[Neighbour]) -> tuple[Group, dict]:
    group = Group(bot, "잠실 모임")
    for person in people:
        bot.emulator.add_member(group.id, person.id)
    await group.add_bot()
    await group.set_region()
    assert await run_daily(bot) == 1
    await bot.run_outbox()
    [post] = group.posts()
    return group, post


async def test_taps_gather_a_meetup_whose_card_the_group_joins(
    bot: BotHarness, clock: FrozenClock
) -> None:
    trio = [await Neighbour(bot, name).register() for name in ("지훈", "민지", "서연")]
    fourth = await Neighbour(bot, "하준").register()
    group, post = await _group_with_post(bot, [*trio, fourth])
    assert _tap_data(post)
    stranger = bot.user("낯선이")
    bot.emulator.add_member(group.id, stranger["id"])
    answers = len(bot.calls("answerCallbackQuery"))
    await bot.press(stranger, post, _tap_data(post))
    [answer] = bot.calls("answerCallbackQuery")[answers:]
    assert "?start=m" in str(answer.params.get("url")), "the bot opens on the mission"
    assert "(0/3)" in buttons(_current(bot, group.id, post))[0][0]
    for i, person in enumerate(trio):
        await bot.press(person.user, post, _tap_data(post))
        if i < 2:
            assert f"({i + 1}/3)" in buttons(_current(bot, group.id, post))[0][0]
    # The card is queued with the meetup and goes out with the outbox (issue 23).
    assert not [m for m in bot.bot_messages(group.id) if "🎉" in m["text"]]
    await bot.run_outbox()
    card = next(m for m in bot.bot_messages(group.id) if "🎉" in m["text"])
    assert "3/" in card["text"] and "지훈" in card["text"]
    assert card["reply_to_message"]["message_id"] == post["message_id"]  # under the post
    join = next(d for label, d in buttons(card) if label == "참여하기")
    before = len(bot.emulator.transcript(fourth.id))
    await bot.press(fourth.user, card, join)
    told = bot.bot_messages(fourth.id, after=before)
    assert told, "the confirmation goes to the person's private chat"
    redrawn = _current(bot, group.id, card)
    labels = [label for label, _ in buttons(redrawn)]
    assert "참여하기" in labels and "나가기" not in labels, labels
    assert "4/" in redrawn["text"]


async def test_only_admins_set_how_many_taps(bot: BotHarness) -> None:
    group = Group(bot, "잠실 모임")
    await group.add_bot()
    await group.set_region()
    [refused] = await group.say(group.member, "/setgather 4")
    assert "관리자" in refused["text"]
    [done] = await group.say(group.admin, "/setgather 4")
    assert "4명" in done["text"]
    [wrong] = await group.say(group.admin, "/setgather 40")
    assert "/setgather" in wrong["text"]


async def test_the_card_survives_a_crash_and_an_outage_and_its_join_works(
    bot: BotHarness, clock: FrozenClock
) -> None:
    """Issue 23: the card is queued with the meetup, not sent by the handler: the bot dies
    right after the commit and Telegram is unreachable at the first try; the dispatcher posts
    it later, under the post, and its Join button seats a fourth neighbour."""
    trio = [await Neighbour(bot, name).register() for name in ("지훈", "민지", "서연")]
    fourth = await Neighbour(bot, "하준").register()
    group, post = await _group_with_post(bot, [*trio, fourth])
    for person in trio:
        await bot.press(person.user, post, _tap_data(post))

    def cards() -> list[dict[str, Any]]:
        return [m for m in bot.bot_messages(group.id) if "🎉" in m.get("text", "")]

    assert cards() == []
    await bot.crash()
    bot.emulator.faults.refuse["sendMessage"] = 100  # Telegram unreachable for a while
    assert await bot.run_outbox() == 0
    bot.emulator.faults.refuse.pop("sendMessage")
    assert cards() == []
    clock.advance(timedelta(minutes=1))
    await bot.run_outbox()
    [card] = cards()
    assert card["reply_to_message"]["message_id"] == post["message_id"]
    assert "3/" in card["text"]
    await bot.press(fourth.user, card, next(d for label, d in buttons(card) if label == "참여하기"))
    assert "4/" in _current(bot, group.id, card)["text"]


async def test_in_a_forum_the_card_goes_to_the_posts_topic(
    bot: BotHarness, clock: FrozenClock
) -> None:
    """The card is queued with the topic the daily post went to (its outbox row's): there
    even when the post's message_id is unknown (its send's answer was lost), so it cannot be a
    reply to it (a reply would carry the topic)."""
    group, topic = await forum_group(bot, clock, "Forum")
    trio = [await Neighbour(bot, name).register() for name in ("지훈", "민지", "서연")]
    for person in trio:
        bot.emulator.add_member(group.id, person.id)
    [ask] = await bot.act(
        group.id, bot.emulator.send_topic_text(group.admin["id"], group.id, topic, "/setregion")
    )
    await _set_region_in(bot, group, ask)
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 1
    await bot.run_outbox()
    [post] = group.posts()
    async with transaction(bot.sessions) as s:
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key.like("daily:%"))
            .values(sent_message_id=None, last_error="unconfirmed: read timeout")
        )
    for person in trio:
        await bot.press(person.user, post, _tap_data(post))
    await bot.run_outbox()
    [card] = [m for m in bot.bot_messages(group.id) if "🎉" in m.get("text", "")]
    assert card["message_thread_id"] == topic and card["is_topic_message"] is True
    assert "reply_to_message" not in card or card["reply_to_message"].get("forum_topic_created")
