"""Issue 19, point 2: a group upgraded to a supergroup keeps its neighbourhood, in either order
of Telegram's updates (the sandbox plays both); the admin group follows its new id.

In-process: the bot against the emulator (`upgrade_group`), and `storage.groups.migrated` on
its own for the merge.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import publish_commands
from bot.services import SERVICES_KEY
from sandbox.emulator import UPGRADE_ORDERS, UpgradeOrder
from scheduler import daily
from storage import groups, outbox
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction
from storage.models import GroupChat, OutboxMessage, Region, ScheduledSend
from tests import photo_corpus as corpus
from tests.harness import BotHarness, buttons
from tests.people import SEOUL, configure, evidence_scene, run_checks, send_photo
from ui import callbacks
from ui.callbacks import Action
from ui.groups import introduction

pytestmark = pytest.mark.usefixtures("seeded")


def seoul(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour, minute, tzinfo=SEOUL)


async def run_daily(bot: BotHarness) -> int:
    return await daily.post_due(
        bot.sessions, bot.clock, SEOUL,
        grace=timedelta(minutes=bot.settings.daily_grace_minutes),
        count=bot.settings.daily_missions, weather=daily.fixed_weather(None), worker="test",
    )  # fmt: skip


INTRODUCTION = introduction("ko", "08:00").splitlines()[0]


def introductions(bot: BotHarness, *chat_ids: int) -> list[dict[str, Any]]:
    return [
        m
        for chat_id in chat_ids
        for m in bot.bot_messages(chat_id)
        if m.get("text", "").startswith(INTRODUCTION)
    ]


def posts(bot: BotHarness, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in bot.bot_messages(chat_id) if m.get("text", "").startswith("☀️")]


class BasicGroup:
    """A basic group (not yet a supergroup) with an admin; the bot added, /setregion done."""

    def __init__(self, bot: BotHarness, title: str) -> None:
        self.bot = bot
        self.admin = bot.user(f"{title} admin")
        chat = bot.emulator.create_group(
            title, [self.admin["id"]], [self.admin["id"]], supergroup=False
        )
        self.id: int = chat["id"]

    async def say(self, text: str, chat_id: int | None = None) -> list[dict[str, Any]]:
        where = chat_id or self.id
        return await self.bot.act(where, self.bot.emulator.send_text(self.admin["id"], text, where))

    async def set_up(self) -> None:
        await self.bot.emulator.add_bot_to_group(self.admin["id"], self.id)
        await self.bot.deliver()
        [ask] = await self.say("/setregion")
        district = next(d for _, d in buttons(ask) if d.endswith(":11710"))
        await self.bot.press(self.admin, ask, district)
        async with self.bot.sessions() as s:
            region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
        assert region is not None
        await self.bot.press(self.admin, ask, callbacks.encode(Action.GROUP_DONG, region.id))

    async def upgrade(self, order: UpgradeOrder) -> int:
        return await self.upgrade_as(self.bot, self.admin, self.id, order)

    @staticmethod
    async def upgrade_as(
        bot: BotHarness, admin: dict[str, Any], chat_id: int, order: UpgradeOrder
    ) -> int:
        chat = await bot.emulator.upgrade_group(admin["id"], chat_id, order=order)
        await bot.deliver()
        return int(chat["id"])


@pytest.mark.parametrize("order", UPGRADE_ORDERS)
async def test_settings_follow_the_upgrade_in_either_order(
    bot: BotHarness, clock: FrozenClock, order: UpgradeOrder
) -> None:
    clock.set(seoul(6, 0))
    group = BasicGroup(bot, "Upgraders")
    await group.set_up()
    await group.say("/settime 07:30")
    await group.say("/pause")
    new_id = await group.upgrade(order)
    async with bot.sessions() as s:
        assert await s.get(GroupChat, group.id) is None
        row = await s.get(GroupChat, new_id)
    assert row is not None and row.region_id is not None
    assert row.post_time == time(7, 30) and row.paused, "paused stays paused"
    # my_chat_member first: it introduces the bot before anyone can know it is an upgrade;
    # the migration itself never does, so the new chat has at most that one.
    expected = 1 if order == "member_first" else 0
    assert len(introductions(bot, new_id)) == expected
    assert len(introductions(bot, group.id, new_id)) == 1 + expected
    clock.set(seoul(7, 31))
    assert await run_daily(bot) == 0
    await group.say("/resume", new_id)
    assert await run_daily(bot) == 1
    await bot.run_outbox()
    assert len(posts(bot, new_id)) == 1 and not posts(bot, group.id)


async def test_a_post_waiting_for_the_old_id_goes_to_the_new_one_once(
    bot: BotHarness, clock: FrozenClock
) -> None:
    clock.set(seoul(6, 0))
    group = BasicGroup(bot, "Waiters")
    await group.set_up()
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 1  # claimed and queued for the old id, not sent yet
    new_id = await group.upgrade("member_first")
    assert await bot.run_outbox() >= 1
    assert len(posts(bot, new_id)) == 1
    assert await run_daily(bot) == 0, "the day's claim moved with the group"
    # (A 403 to the group's admin, who never wrote to the bot, is the chat id they are told
    # while no admin group is set: refused by Telegram, and not about the group.)
    failed = [
        c for c in bot.calls("sendMessage")
        if c.status != 200 and c.params.get("chat_id") != group.admin["id"]
    ]  # fmt: skip
    assert not failed, "the waiting row was retargeted before it met the old id"


async def test_a_send_refused_with_the_new_id_moves_the_group(
    bot: BotHarness, clock: FrozenClock
) -> None:
    """The upgrade's updates were lost: the old id's 400 carries the new id, and it is used."""
    clock.set(seoul(6, 0))
    group = BasicGroup(bot, "Lost updates")
    await group.set_up()
    new_id = int(
        (await bot.emulator.upgrade_group(group.admin["id"], group.id, order="service_first"))["id"]
    )
    bot.emulator.pending_updates()  # never delivered
    clock.set(seoul(8, 0))
    assert await run_daily(bot) == 1
    await bot.run_outbox()
    await bot.run_outbox()
    refused = [c for c in bot.calls("sendMessage") if c.status == 400]
    assert len(refused) == 1
    assert refused[0].response["parameters"]["migrate_to_chat_id"] == new_id
    assert len(posts(bot, new_id)) == 1
    async with bot.sessions() as s:
        assert await s.get(GroupChat, group.id) is None
        assert (await s.get(GroupChat, new_id)) is not None


# --------------------------------------------------------------------------- storage


async def _row(sessions: SessionFactory, chat_id: int, now: datetime, **values: Any) -> None:
    async with transaction(sessions) as s:
        s.add(GroupChat(chat_id=chat_id, title="t", created_at=now, **values))


async def test_merge_into_a_fresh_row_keeps_the_old_settings_and_one_claim_a_day(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    now = clock.now()
    async with sessions() as s:
        region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
    assert region is not None
    old, new = -4_000_000_001, -1_000_000_000_001
    await _row(
        sessions, old, now - timedelta(days=30), region_id=region.id, post_time=time(7, 30),
        paused=True, language="en", registered_by=5,
    )  # fmt: skip
    await _row(sessions, new, now, post_time=time(8, 0), paused=False, language="ko")
    async with transaction(sessions) as s:
        for target, slot in ((old, "2026-11-24"), (old, "2026-11-25"), (new, "2026-11-25")):
            s.add(ScheduledSend(kind=groups.DAILY, target=target, slot=slot,
                                claimed_by="w", claimed_at=now))  # fmt: skip
        await outbox.enqueue(s, key="k", chat_id=old, kind="daily_missions", values={}, now=now)
    async with transaction(sessions) as s:
        assert await groups.migrated(s, old, new, now)
    async with transaction(sessions) as s:
        assert not await groups.migrated(s, old, new, now), "the second service message"
    async with sessions() as s:
        assert await s.get(GroupChat, old) is None
        row = await s.get(GroupChat, new)
        claims = list(await s.execute(
            select(ScheduledSend.target, ScheduledSend.slot)
            .where(ScheduledSend.kind == groups.DAILY).order_by(ScheduledSend.slot)
        ))  # fmt: skip
        queued = await s.scalar(
            select(OutboxMessage.chat_id).where(OutboxMessage.dedupe_key == "k")
        )
    assert row is not None
    assert (row.region_id, row.post_time, row.paused, row.language, row.registered_by) == (
        region.id, time(7, 30), True, "en", 5,
    )  # fmt: skip
    assert row.created_at.replace(tzinfo=None) == (now - timedelta(days=30)).replace(tzinfo=None)
    assert [tuple(c) for c in claims] == [(new, "2026-11-24"), (new, "2026-11-25")]
    assert queued == new


async def test_the_upgrade_s_own_member_update_neither_wakes_nor_introduces(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    now = clock.now()
    old, new = -4_000_000_002, -1_000_000_000_002
    await _row(sessions, old, now, paused=True)
    async with transaction(sessions) as s:
        await groups.migrated(s, old, new, now)
    newcomer = groups.Newcomer(new, "t", "ko", 1, now + timedelta(seconds=2), time(8, 0))
    async with transaction(sessions) as s:
        assert not await groups.joined(s, newcomer)
    async with sessions() as s:
        row = await s.get(GroupChat, new)
    assert row is not None and row.paused
    # Much later, someone removing and adding the bot again is a real addition.
    later = groups.Newcomer(new, "t", "ko", 1, now + timedelta(hours=1), time(8, 0))
    async with transaction(sessions) as s:
        await groups.left(s, new)
        assert await groups.joined(s, later)


# --------------------------------------------------------------------------- the admin group


async def test_an_upgraded_admin_group_is_followed_not_retried_forever(
    bot: BotHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scene = await evidence_scene(bot, tmp_path)
    admin_group = scene.group_id
    bot.emulator.chats[admin_group].chat["type"] = "group"  # a basic group, as many start
    new_id = int(
        (await bot.emulator.upgrade_group(scene.admin.id, admin_group, order="member_first"))["id"]
    )
    bot.emulator.pending_updates()  # the card meets the old id first
    await send_photo(bot, scene.guest, corpus.plain_jpeg(7))
    await run_checks(bot)
    settings = bot.app.bot_data[SERVICES_KEY].settings
    assert settings.admin_chat_id == new_id
    assert any("HALSARAM_ADMIN_CHAT_ID" in r.getMessage() for r in caplog.records)
    # The card follows to the supergroup; nothing is sent to the old id again.
    await bot.run_outbox()
    cards = [m for m in bot.bot_messages(new_id) if "photo" in m or "document" in m]
    assert len(cards) == 1
    refused = [
        c for c in bot.calls("sendPhoto") + bot.calls("sendDocument") + bot.calls("sendMessage")
        if c.status == 400
    ]  # fmt: skip
    assert len(refused) == 1
    # /drafts is answered in the new chat.
    replies = await bot.act(new_id, bot.emulator.send_text(scene.admin.id, "/drafts", new_id))
    assert replies


async def test_the_admin_group_s_upgrade_message_is_followed_and_the_menu_at_start(
    bot: BotHarness, tmp_path: Path
) -> None:
    admin = bot.user("Admin Lee")
    old_id = int(bot.emulator.create_group("Admins", [admin["id"]], [admin["id"]],
                                           supergroup=False)["id"])  # fmt: skip
    await bot.emulator.add_bot_to_group(admin["id"], old_id, as_admin=True)
    await bot.deliver()
    await configure(bot, admin_chat_id=old_id, data_dir=tmp_path)
    settings = bot.app.bot_data[SERVICES_KEY].settings
    # The service message says where it went.
    new_id = await BasicGroup.upgrade_as(bot, admin, old_id, "service_first")
    assert settings.admin_chat_id == new_id
    # A process started later with the old id finds it on its first call (the menu).
    await configure(bot, admin_chat_id=old_id)
    await publish_commands(bot.app)
    assert bot.app.bot_data[SERVICES_KEY].settings.admin_chat_id == new_id
    menu = bot.emulator.my_commands({"type": "chat", "chat_id": new_id})
    assert any(c["command"] == "drafts" for c in menu)
