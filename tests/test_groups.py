"""Step 9: neighbourhood groups get a daily random mission at their local time, exactly once.

Group admins (checked with getChatMember) set the region and time; the bot added or removed,
and a group upgraded to a supergroup, are followed; the outbox dispatcher honours 429 and 403.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update

from sandbox.emulator import FloodLimits
from scheduler import daily
from scheduler.outbox import dispatch_once
from storage import outbox
from storage.clock import FrozenClock
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import GroupChat, OutboxMessage, Region, ScheduledSend
from tests.harness import BotHarness, buttons, make_settings
from tests.people import SEOUL, Neighbour, configure
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")


def seoul(hour: int, minute: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SEOUL)


async def run_daily(
    bot: BotHarness, sessions: SessionFactory | None = None, worker: str = "test"
) -> int:
    """One run of the daily job, as the JobQueue does every minute."""
    return await daily.post_due(
        sessions or bot.sessions,
        bot.clock,
        SEOUL,
        grace=timedelta(minutes=bot.settings.daily_grace_minutes),
        count=bot.settings.daily_missions,
        weather=daily.fixed_weather(None),
        worker=worker,
    )


class Group:
    """A sandbox group with an admin and a member, the bot added by the admin."""

    def __init__(self, bot: BotHarness, title: str) -> None:
        self.bot = bot
        self.admin = bot.user(f"{title} admin")
        self.member = bot.user(f"{title} member")
        chat = bot.emulator.create_group(
            title, [self.admin["id"], self.member["id"]], [self.admin["id"]]
        )
        self.id: int = chat["id"]

    async def add_bot(self) -> list[dict[str, Any]]:
        before = len(self.bot.emulator.transcript(self.id))
        await self.bot.emulator.add_bot_to_group(self.admin["id"], self.id)
        await self.bot.deliver()
        return self.bot.bot_messages(self.id, after=before)

    async def say(self, person: dict[str, Any], text: str) -> list[dict[str, Any]]:
        return await self.bot.act(self.id, self.bot.emulator.send_text(person["id"], text, self.id))

    async def press(self, person: dict[str, Any], message: dict[str, Any], data: str) -> None:
        await self.bot.press(person, message, data)

    async def set_region(self, dong: str = "잠실동") -> str:
        """The admin's /setregion: Songpa-gu, then the dong; returns the confirmation."""
        [ask] = await self.say(self.admin, "/setregion")
        district = next(d for _, d in buttons(ask) if d.endswith(":11710"))
        await self.press(self.admin, ask, district)
        shown = self._message(ask)
        async with self.bot.sessions() as s:
            region = await s.scalar(select(Region).where(Region.name_ko == dong))
        assert region is not None
        assert callbacks.encode(Action.GROUP_DONG, region.id) in [d for _, d in buttons(shown)]
        await self.press(self.admin, shown, callbacks.encode(Action.GROUP_DONG, region.id))
        return str(self._message(ask)["text"])

    def _message(self, message: dict[str, Any]) -> dict[str, Any]:
        return next(
            m
            for m in self.bot.emulator.transcript(self.id)
            if m["message_id"] == message["message_id"]
        )

    def posts(self) -> list[dict[str, Any]]:
        return [m for m in self.bot.bot_messages(self.id) if m["text"].startswith("☀️")]


async def test_the_bot_added_introduces_itself_once_and_an_admin_sets_the_region(
    bot: BotHarness,
) -> None:
    group = Group(bot, "Jamsil runners")
    intro = await group.add_bot()
    # my_chat_member and new_chat_members both announce it: one introduction.
    assert len(intro) == 1 and "/setregion" in intro[0]["text"]
    done = await group.set_region()
    assert "잠실동" in done and "08:00" in done
    async with bot.sessions() as s:
        row = await s.get(GroupChat, group.id)
    assert row is not None and row.present and not row.paused and row.region_id is not None
    assert bot.calls("getChatMember"), "admin rights are asked of Telegram"


async def test_non_admins_are_refused_politely(bot: BotHarness) -> None:
    group = Group(bot, "Songpa walkers")
    await group.add_bot()
    for command in ("/setregion", "/settime 07:30", "/pause", "/resume"):
        [answer] = await group.say(group.member, command)
        assert "admin" in answer["text"] or "관리자" in answer["text"]
    # A forged press of the admin's button by a member changes nothing.
    [ask] = await group.say(group.admin, "/setregion")
    async with bot.sessions() as s:
        region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
    assert region is not None
    await bot.emulator.press_button(
        group.member["id"], group.id, ask["message_id"],
        callbacks.encode(Action.GROUP_DONG, region.id), force=True,
    )  # fmt: skip
    await bot.deliver()
    async with bot.sessions() as s:
        row = await s.get(GroupChat, group.id)
    assert row is not None and row.region_id is None


async def test_daily_post_goes_out_at_each_groups_own_time(
    bot: BotHarness, clock: FrozenClock
) -> None:
    clock.set(seoul(6, 0))
    early, late = Group(bot, "Early birds"), Group(bot, "Late risers")
    for group, when in ((early, "07:00"), (late, "08:30")):
        await group.add_bot()
        await group.set_region()
        [ok] = await group.say(group.admin, f"/settime {when}")
        assert when in ok["text"]
    clock.set(seoul(6, 59))
    assert await run_daily(bot) == 0
    clock.set(seoul(7, 0))
    assert await run_daily(bot) == 1
    await bot.run_outbox()
    assert len(early.posts()) == 1 and late.posts() == []
    post = early.posts()[0]
    url = post["reply_markup"]["inline_keyboard"][1][1]["url"]
    assert url.startswith("https://t.me/") and "?start=m" in url
    clock.set(seoul(8, 30))
    assert await run_daily(bot) == 1
    assert await run_daily(bot) == 0
    await bot.run_outbox()
    assert len(early.posts()) == 1 and len(late.posts()) == 1
    # The next day, again once each.
    clock.set(seoul(8, 31, day=26))
    assert await run_daily(bot) == 2


async def test_two_schedulers_racing_post_once(
    bot: BotHarness, clock: FrozenClock, db_url: str
) -> None:
    clock.set(seoul(6, 0))
    groups = [Group(bot, f"Group {i}") for i in range(5)]
    for group in groups:
        await group.add_bot()
        await group.set_region()
    clock.set(seoul(8, 0))
    # A second process: its own engine and sessions on the same database.
    other_engine = create_engine(db_url)
    try:
        queued = await asyncio.gather(
            run_daily(bot, worker="a"),
            run_daily(bot, session_factory(other_engine), worker="b"),
        )
    finally:
        await other_engine.dispose()
    assert sum(queued) == 5
    # A restart: the job runs again at once.
    assert await run_daily(bot) == 0
    await asyncio.gather(bot.run_outbox(), bot.run_outbox())
    await bot.run_outbox()
    assert [len(g.posts()) for g in groups] == [1] * 5
    async with bot.sessions() as s:
        claims = list(await s.scalars(select(ScheduledSend)))
    assert len(claims) == 5 and all(c.done_at is not None for c in claims)


async def test_pause_and_resume(bot: BotHarness, clock: FrozenClock) -> None:
    clock.set(seoul(6, 0))
    group = Group(bot, "Pausers")
    await group.add_bot()
    await group.set_region()
    [paused] = await group.say(group.admin, "/pause")
    assert "/resume" in paused["text"]
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 0
    await group.say(group.admin, "/resume")
    assert await run_daily(bot) == 1


async def test_a_day_missed_past_the_grace_period_is_skipped_with_a_log_line(
    bot: BotHarness, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.set(seoul(6, 0))
    group = Group(bot, "Missed")
    await group.add_bot()
    await group.set_region()
    # The bot was down from 07:00 to 08:30: within the 2-hour grace, posted late.
    clock.set(seoul(8, 30))
    assert await run_daily(bot) == 1
    # Down all the next morning until 11:00: skipped, logged once, never posted.
    clock.set(seoul(11, 0, day=26))
    with caplog.at_level("INFO"):
        assert await run_daily(bot) == 0
        assert await run_daily(bot) == 0
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1
    await bot.run_outbox()
    assert len(group.posts()) == 1


async def test_bot_removed_makes_the_group_inactive(bot: BotHarness, clock: FrozenClock) -> None:
    clock.set(seoul(6, 0))
    group = Group(bot, "Leavers")
    await group.add_bot()
    await group.set_region()
    await bot.emulator.remove_bot_from_group(group.admin["id"], group.id)
    await bot.deliver()
    async with bot.sessions() as s:
        row = await s.get(GroupChat, group.id)
    assert row is not None and not row.present
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 0


async def test_a_group_upgraded_to_a_supergroup_moves_to_its_new_id(
    bot: BotHarness, clock: FrozenClock
) -> None:
    clock.set(seoul(6, 0))
    group = Group(bot, "Upgraded")
    await group.add_bot()
    await group.set_region()
    new_id = -1_009_999_000_001
    # Telegram's service message in the old group (the emulator has no upgrade itself).
    message = {
        "message_id": 999,
        "date": int(clock.now().timestamp()),
        "chat": {"id": group.id, "type": "group", "title": "Upgraded"},
        "from": group.admin,
        "migrate_to_chat_id": new_id,
    }
    await bot.app.process_update(
        Update.de_json({"update_id": 10**6, "message": message}, bot.app.bot)
    )
    async with bot.sessions() as s:
        assert await s.get(GroupChat, group.id) is None
        moved = await s.get(GroupChat, new_id)
    assert moved is not None and moved.region_id is not None and moved.present


async def test_a_403_from_a_group_or_a_person_stops_sending_to_them(
    bot: BotHarness, clock: FrozenClock
) -> None:
    clock.set(seoul(6, 0))
    group = Group(bot, "Kicked")
    await group.add_bot()
    await group.set_region()
    # The bot was removed while nobody told it (the update was lost): the send says 403.
    await bot.emulator.remove_bot_from_group(group.admin["id"], group.id)
    bot.emulator.pending_updates()
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 1
    assert await bot.run_outbox() == 0
    async with bot.sessions() as s:
        row = await s.get(GroupChat, group.id)
        sent = await s.scalar(select(OutboxMessage).where(OutboxMessage.chat_id == group.id))
    assert row is not None and not row.present
    assert sent is not None and sent.status == "failed" and "403" in (sent.last_error or "")


async def test_a_429_defers_the_chat_without_hammering(
    db_url: str, sessions: SessionFactory, clock: FrozenClock
) -> None:
    limits = FloodLimits(group_per_minute=3)
    harness = BotHarness(make_settings(database_url=db_url), sessions, clock, limits=limits)
    await harness.start()
    try:
        group = Group(harness, "Busy")
        await group.add_bot()
        async with transaction(sessions) as s:
            for i in range(6):
                await outbox.enqueue(
                    s, key=f"t:{i}", chat_id=group.id, kind="warned", values={}, now=clock.now()
                )
        before = len(harness.calls("sendMessage"))
        # The intro took one of the 3; two more go, the third gets a 429 and the rest wait.
        assert await harness.run_outbox() == 2
        calls = harness.calls("sendMessage")[before:]
        assert [c.status for c in calls] == [200, 200, 429]
        retry_after = calls[-1].response["parameters"]["retry_after"]
        # Asked again before retry_after: nothing is tried at all.
        assert await harness.run_outbox() == 0
        assert len(harness.calls("sendMessage")) == before + 3
        clock.advance(timedelta(seconds=retry_after + 1))
        assert await harness.run_outbox() >= 1
        async with sessions() as s:
            rows = list(await s.scalars(select(OutboxMessage)))
        assert all(r.attempts == 0 for r in rows), "a 429 is not a failed attempt"
    finally:
        await harness.stop()


async def test_the_mission_link_shows_the_card_or_invites_to_sign_up(
    bot: BotHarness, clock: FrozenClock
) -> None:
    clock.set(seoul(6, 0))
    group = Group(bot, "Linkers")
    await group.add_bot()
    await group.set_region()
    clock.set(seoul(8, 0))
    await run_daily(bot)
    await bot.run_outbox()
    url = group.posts()[0]["reply_markup"]["inline_keyboard"][1][1]["url"]
    payload = url.split("?start=")[1]
    stranger = bot.user("Stranger")
    [invite] = await bot.send(stranger, f"/start {payload}")
    assert "/start" in invite["text"]
    neighbour = await Neighbour(bot, "Dahye").register()
    [card] = await neighbour.say(f"/start {payload}")
    assert callbacks.encode(Action.MEETUP_NEW, int(payload[1:])) in [d for _, d in buttons(card)]


async def test_dispatcher_keeps_each_chats_order_and_records_message_ids(
    bot: BotHarness, clock: FrozenClock
) -> None:
    people = [await Neighbour(bot, f"P{i}").register() for i in range(3)]

    async with transaction(bot.sessions) as s:
        for n in range(3):
            for p in people:
                await outbox.enqueue(
                    s, key=f"o:{p.id}:{n}", chat_id=p.id, kind="host_message",
                    values={"text": f"note {n}", "title": "T"}, now=clock.now(),
                )  # fmt: skip
    assert await dispatch_once(bot.app.bot, bot.sessions, clock, SEOUL, "ko") == 9
    for p in people:
        texts = [m["text"] for m in bot.bot_messages(p.id) if "note" in m["text"]]
        assert [t[-6:] for t in texts] == ["note 0", "note 1", "note 2"]
    async with bot.sessions() as s:
        rows = list(await s.scalars(select(OutboxMessage)))
    assert all(r.status == "sent" and r.sent_message_id for r in rows)


def test_post_time_default_is_eight() -> None:
    assert make_settings().default_post_time == time(8, 0)


async def test_whoever_adds_the_bot_hears_the_chat_id_while_no_admin_group_is_set(
    bot: BotHarness,
) -> None:
    """Telegram shows a chat id nowhere; a new installation's operator needs it for
    HALSARAM_ADMIN_CHAT_ID (issue 23). Once an admin group is set, only operators hear it."""
    group = Group(bot, "할사람 운영진")
    await bot.send(group.admin, "/help")  # a bot writes only to people who wrote first
    await group.add_bot()
    [told] = [m for m in bot.bot_messages(group.admin["id"]) if "CHAT_ID" in m["text"]]
    assert str(group.id) in told["text"] and f"HALSARAM_ADMIN_CHAT_ID={group.id}" in told["text"]

    await configure(bot, admin_chat_id=group.id)
    other = Group(bot, "Jamsil runners")
    await bot.send(other.admin, "/help")
    await other.add_bot()
    assert not [m for m in bot.bot_messages(other.admin["id"]) if "CHAT_ID" in m["text"]]
