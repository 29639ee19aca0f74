"""Issue 19, points 4 and 6, in process: the bot's status in a group (promoted, demoted,
restricted) is no addition, and a pause is the admin's alone; a group where the bot cannot
post (read-only, restricted, a closed forum topic) stops its daily posts and its admin is told
once; /setregion in a forum topic sends the daily post to that topic.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from storage.clock import FrozenClock
from storage.models import GroupChat, OutboxMessage, Region
from tests.harness import BotHarness, buttons
from tests.test_groups import Group, run_daily, seoul
from ui import callbacks
from ui.callbacks import Action
from ui.groups import introduction, still_paused

pytestmark = pytest.mark.usefixtures("seeded")

INTRODUCTION = introduction("ko", "08:00").splitlines()[0]
STILL_PAUSED = still_paused("ko").split("/")[0]


def introductions(bot: BotHarness, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in bot.bot_messages(chat_id) if m["text"].startswith(INTRODUCTION)]


async def row(bot: BotHarness, chat_id: int) -> GroupChat:
    async with bot.sessions() as s:
        found = await s.get(GroupChat, chat_id)
    assert found is not None
    return found


async def ready(bot: BotHarness, clock: FrozenClock, title: str) -> Group:
    """A group with the bot, its region set at 06:00; its admin has started the bot privately
    (so a private word can reach them)."""
    clock.set(seoul(6, 0))
    group = Group(bot, title)
    await bot.send(group.admin, "/start")
    await group.add_bot()
    await group.set_region()
    return group


def told(bot: BotHarness, person: dict[str, Any], title: str) -> list[dict[str, Any]]:
    """The bot's private words to a person naming the group (its title in quotes), but for
    the chat id told to whoever added the bot (no admin group is set in these tests)."""
    return [
        m for m in bot.bot_messages(person["id"])
        if f'"{title}"' in m.get("text", "") and "HALSARAM_ADMIN_CHAT_ID" not in m["text"]
    ]  # fmt: skip


# --------------------------------------------------------------------------- point 4


async def test_promote_demote_restrict_after_pause_keep_it_paused_without_a_second_hello(
    bot: BotHarness, clock: FrozenClock
) -> None:
    group = await ready(bot, clock, "Pausers")
    await group.say(group.admin, "/pause")
    emu, admin = bot.emulator, group.admin["id"]
    for change in (
        emu.promote_bot(admin, group.id),
        emu.demote_bot(admin, group.id),
        emu.restrict_bot(admin, group.id, can_send_messages=True),
        emu.unrestrict_bot(admin, group.id),
    ):
        await change
        await bot.deliver()
    assert len(introductions(bot, group.id)) == 1
    state = await row(bot, group.id)
    assert state.paused and state.present and state.cannot_post is None
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 0
    await group.say(group.admin, "/resume")
    assert await run_daily(bot) == 1


async def test_removed_and_added_again_introduces_again_and_a_pause_stays(
    bot: BotHarness, clock: FrozenClock
) -> None:
    group = await ready(bot, clock, "Returners")
    await bot.emulator.remove_bot_from_group(group.admin["id"], group.id)
    await bot.deliver()
    assert not (await row(bot, group.id)).present
    again = await group.add_bot()
    assert [m["text"].startswith(INTRODUCTION) for m in again] == [True]
    assert STILL_PAUSED not in again[0]["text"]
    # Paused, then removed and added again: still paused, and the introduction says so.
    await group.say(group.admin, "/pause")
    await bot.emulator.remove_bot_from_group(group.admin["id"], group.id)
    await bot.deliver()
    [hello] = await group.add_bot()
    assert hello["text"].startswith(INTRODUCTION) and STILL_PAUSED in hello["text"]
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 0


# --------------------------------------------------------------------------- point 6


async def test_a_read_only_group_is_paused_for_rights_and_its_admin_told_once(
    bot: BotHarness, clock: FrozenClock
) -> None:
    group = await ready(bot, clock, "Read only")
    bot.emulator.set_group_permissions(group.admin["id"], group.id, can_send_messages=False)
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 1
    await bot.run_outbox()  # refused: not enough rights
    assert (await row(bot, group.id)).cannot_post == "no_rights"
    await bot.run_outbox()  # the private word to the admin
    assert len(told(bot, group.admin, "Read only")) == 1
    # The next days: nothing queued, nothing refused, nobody told again.
    for day in (26, 27):
        clock.set(seoul(8, 0, day=day))
        assert await run_daily(bot) == 0
        await bot.run_outbox()
    assert len(told(bot, group.admin, "Read only")) == 1
    async with bot.sessions() as s:
        refused = list(
            await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == group.id))
        )
    assert [r.status for r in refused] == ["failed"]
    # The admin lets members write again and says /resume: posts resume the next day.
    bot.emulator.set_group_permissions(group.admin["id"], group.id, can_send_messages=True)
    await group.say(group.admin, "/resume")
    clock.set(seoul(8, 0, day=28))
    assert await run_daily(bot) == 1
    await bot.run_outbox()
    assert len(group.posts()) == 1


async def test_resume_in_a_still_read_only_group_tells_the_admin_again(
    bot: BotHarness, clock: FrozenClock
) -> None:
    group = await ready(bot, clock, "Still read only")
    bot.emulator.set_group_permissions(group.admin["id"], group.id, can_send_messages=False)
    clock.set(seoul(8, 0))
    await run_daily(bot)
    await bot.run_outbox()
    await bot.run_outbox()
    # /resume cannot be answered there: no apology, the group is marked again, one more word.
    clock.set(seoul(9, 0))
    answers = await group.say(group.admin, "/resume")
    assert answers == []
    assert (await row(bot, group.id)).cannot_post == "no_rights"
    await bot.run_outbox()
    assert len(told(bot, group.admin, "Still read only")) == 2


async def test_restricted_without_send_rights_stops_and_granting_them_resumes(
    bot: BotHarness, clock: FrozenClock
) -> None:
    group = await ready(bot, clock, "Restricted")
    await bot.emulator.restrict_bot(group.admin["id"], group.id, can_send_messages=False)
    await bot.deliver()
    assert (await row(bot, group.id)).cannot_post == "no_rights"
    await bot.run_outbox()
    assert len(told(bot, group.admin, "Restricted")) == 1
    assert len(introductions(bot, group.id)) == 1
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 0
    await bot.emulator.restrict_bot(group.admin["id"], group.id, can_send_messages=True)
    await bot.deliver()
    assert (await row(bot, group.id)).cannot_post is None
    assert await run_daily(bot) == 1
    await bot.run_outbox()
    assert len(group.posts()) == 1


async def _set_region_in(bot: BotHarness, group: Group, ask: dict[str, Any]) -> None:
    district = next(d for _, d in buttons(ask) if d.endswith(":11710"))
    await group.press(group.admin, ask, district)
    async with bot.sessions() as s:
        region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
    assert region is not None
    await group.press(group.admin, ask, callbacks.encode(Action.GROUP_DONG, region.id))


async def forum_group(bot: BotHarness, clock: FrozenClock, title: str) -> tuple[Group, int]:
    clock.set(seoul(6, 0))
    group = Group(bot, title)
    await bot.send(group.admin, "/start")
    bot.emulator.enable_topics(group.admin["id"], group.id)
    await group.add_bot()
    topic = await bot.emulator.create_topic(group.admin["id"], group.id, "오늘의 미션")
    await bot.deliver()
    return group, int(topic["message_thread_id"])


async def test_setregion_in_a_forum_topic_posts_there(bot: BotHarness, clock: FrozenClock) -> None:
    group, topic = await forum_group(bot, clock, "Forum")
    [ask] = await bot.act(
        group.id, bot.emulator.send_topic_text(group.admin["id"], group.id, topic, "/setregion")
    )
    assert ask["message_thread_id"] == topic, "the picker answers in the topic"
    await _set_region_in(bot, group, ask)
    assert (await row(bot, group.id)).thread_id == topic
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 1
    await bot.run_outbox()
    [post] = group.posts()
    assert post["message_thread_id"] == topic and post["is_topic_message"] is True


async def test_a_closed_general_topic_tells_the_admin_once_and_resume_in_a_topic_fixes_it(
    bot: BotHarness, clock: FrozenClock
) -> None:
    group, topic = await forum_group(bot, clock, "Closed forum")
    await group.set_region()  # in the General topic
    assert (await row(bot, group.id)).thread_id is None
    await bot.emulator.close_topic(group.admin["id"], group.id, None)
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 1
    await bot.run_outbox()
    await bot.run_outbox()
    assert (await row(bot, group.id)).cannot_post == "topic_closed"
    assert len(told(bot, group.admin, "Closed forum")) == 1
    clock.set(seoul(8, 0, day=26))
    assert await run_daily(bot) == 0
    await bot.run_outbox()
    assert len(told(bot, group.admin, "Closed forum")) == 1
    # /resume in a topic: the posts go there from the next day.
    await bot.act(
        group.id, bot.emulator.send_topic_text(group.admin["id"], group.id, topic, "/resume")
    )
    state = await row(bot, group.id)
    assert state.cannot_post is None and state.thread_id == topic
    clock.set(seoul(8, 0, day=27))
    assert await run_daily(bot) == 1
    await bot.run_outbox()
    [post] = group.posts()
    assert post["message_thread_id"] == topic
