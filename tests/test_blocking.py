"""A person blocking the bot (issue 19, point 10): Telegram's my_chat_member in their private
chat marks them, unblocking or writing again clears the mark, and the outbox skips their
notices while they are marked instead of collecting 403s."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage import delivery, outbox, users
from storage.db import transaction
from storage.models import OutboxMessage, User
from tests.harness import BotHarness
from tests.people import Neighbour, meetup_card, new_meetup

pytestmark = pytest.mark.usefixtures("seeded")


async def _marked(bot: BotHarness, user_id: int) -> bool:
    async with bot.sessions() as s:
        user = await s.get(User, user_id)
        assert user is not None
        return user.blocked_bot


async def test_storage_marks_and_clears_a_person(bot: BotHarness) -> None:
    person = await Neighbour(bot, "민지").register()
    async with transaction(bot.sessions) as s:
        assert not await users.back_in_touch(s, person.id)  # never marked: nothing written
        await users.blocked_the_bot(s, person.id)
        await users.blocked_the_bot(s, 424242)  # nobody: nothing to mark
    assert await _marked(bot, person.id)
    async with transaction(bot.sessions) as s:
        assert await users.back_in_touch(s, person.id)
        assert not await users.back_in_touch(s, person.id)
        assert not await users.back_in_touch(s, 424242)
    assert not await _marked(bot, person.id)


async def test_claimed_rows_to_a_blocked_person_are_skipped(bot: BotHarness) -> None:
    gone = await Neighbour(bot, "지훈").register()
    here = await Neighbour(bot, "민지").register()
    now = bot.clock.now()
    async with transaction(bot.sessions) as s:
        await users.blocked_the_bot(s, gone.id)
        for n, chat_id in enumerate((gone.id, here.id, -100123)):
            await outbox.enqueue(
                s, key=f"t:{n}", chat_id=chat_id, kind="warned", values={}, now=now
            )
    async with transaction(bot.sessions) as s:
        claimed = await outbox.claim(s, "test", now)
        kept = await delivery.skip_blocked(s, claimed)
    assert [r.chat_id for r in kept] == [here.id, -100123]
    async with bot.sessions() as s:
        rows = {r.chat_id: r for r in await s.scalars(select(OutboxMessage))}
    assert (rows[gone.id].status, rows[gone.id].last_error) == ("skipped", "blocked_bot")
    assert rows[here.id].status == rows[-100123].status == "sending"


async def test_blocked_host_gets_no_notice_until_they_unblock(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    first = await Neighbour(bot, "민지").register()
    second = await Neighbour(bot, "서연").register()
    meeting_id = await new_meetup(bot, host)
    await bot.act(host.id, _block(bot, host.id))
    assert await _marked(bot, host.id)

    await first.press(await meetup_card(bot, first, meeting_id), "참여하기")
    assert await bot.run_outbox() == 0
    assert bot.emulator.answered["sendMessage", 403] == 0  # not even tried
    async with bot.sessions() as s:
        [row] = await s.scalars(select(OutboxMessage))
    assert row.status == "skipped"

    await bot.act(host.id, _unblock(bot, host.id))
    assert not await _marked(bot, host.id)
    before = len(bot.bot_messages(host.id))
    await second.press(await meetup_card(bot, second, meeting_id), "참여하기")
    assert await bot.run_outbox() == 1
    [notice] = bot.bot_messages(host.id)[before:]
    assert "서연" in notice["text"]


async def test_writing_again_clears_the_mark(bot: BotHarness) -> None:
    """A person marked by a 403 whose unblocking the bot never saw is back when they write."""
    person = await Neighbour(bot, "민지").register()
    async with transaction(bot.sessions) as s:
        await users.blocked_the_bot(s, person.id)
    await person.say("/help")
    assert not await _marked(bot, person.id)


async def _block(bot: BotHarness, user_id: int) -> None:
    bot.emulator.block_bot(user_id)


async def _unblock(bot: BotHarness, user_id: int) -> None:
    bot.emulator.unblock_bot(user_id)


async def test_a_reminder_to_a_blocked_guest_is_skipped_and_the_next_one_arrives(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host, hours=3)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    await bot.run_outbox()
    await bot.act(guest.id, _block(bot, guest.id))
    bot.clock.advance(timedelta(hours=1, minutes=5))  # the 2 h reminder
    await bot.run_meetup_clock()
    await bot.run_outbox()
    assert not [t for t in guest.inbox() if t.startswith("알림:")]
    assert bot.emulator.answered["sendMessage", 403] == 0
    async with bot.sessions() as s:
        kinds = {
            (r.payload["kind"], r.status)
            for r in await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == guest.id))
        }
    assert ("meetup_reminder", "skipped") in kinds
    await bot.act(guest.id, _unblock(bot, guest.id))
    bot.clock.advance(timedelta(minutes=110))  # the 15 min reminder
    await bot.run_meetup_clock()
    await bot.run_outbox()
    assert len([t for t in guest.inbox() if t.startswith("알림:")]) == 1
