"""Edited messages are not new messages (issue 19, point 3): the bot asks Telegram only for the
update types it reads (`bot.ingress.ALLOWED_UPDATES`), and an edit that arrives all the same
(the in-process harness delivers every type, as an old webhook registration would) gets no
answer, costs no flood count, and never moves a conversation."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from telegram import Update

from bot import ingress
from bot.ingress import Inbox
from tests.harness import BotHarness
from tests.people import SEOKCHON_LAKE, Person, sign_up, walk_to_location

# The districts signup offers are seeded.
seeded = pytest.mark.usefixtures("seeded")


class _Telegram:
    """Just enough of an Inbox and its bot for `poll`: records each getUpdates call."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.calls: list[dict[str, Any]] = []
        self.application = self
        self.bot = self

    async def resume_offset(self) -> int | None:
        return None

    async def get_updates(self, **params: Any) -> tuple[Update, ...]:
        self.calls.append(params)
        self.stop.set()
        return ()


async def test_polling_asks_only_for_the_update_types_the_bot_reads() -> None:
    stop = asyncio.Event()
    telegram = _Telegram(stop)
    await ingress.poll(cast(Inbox, telegram), stop)
    [call] = telegram.calls
    assert call["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
    assert list(ingress.ALLOWED_UPDATES) == call["allowed_updates"]  # webhooks use it too


def _live_location_id(bot: BotHarness, user_id: int) -> int:
    shared = [m for m in bot.emulator.transcript(user_id) if "live_period" in m.get("location", {})]
    return int(shared[-1]["message_id"])


def _flood_count(bot: BotHarness, user_id: int) -> int:
    return len(bot.app.bot_data.get("flood_recent", {}).get(user_id, ()))


@seeded
async def test_a_moving_live_location_and_an_edited_command_get_no_answer(
    bot: BotHarness,
) -> None:
    p = Person(bot)
    await sign_up(p)
    shared = bot.emulator.share_location(p.id, *SEOKCHON_LAKE, live_period=3600)
    assert len(await bot.act(p.id, shared)) == 1  # its first message: the meetups near
    location_id = _live_location_id(bot, p.id)
    counted = _flood_count(bot, p.id)
    lat, lon = SEOKCHON_LAKE
    for step in (1, 2, 3):
        moved = bot.emulator.move_live_location(p.id, p.id, location_id, lat + step / 2000, lon)
        assert await bot.act(p.id, moved) == []
    said = [m for m in bot.emulator.transcript(p.id) if m.get("text") == "/start"][-1]
    edited = bot.emulator.edit_message(p.id, p.id, said["message_id"], "/meetups")
    assert await bot.act(p.id, edited) == []
    assert _flood_count(bot, p.id) == counted  # dropped before flood control counts


@seeded
async def test_moves_during_signup_do_not_answer_or_move_the_steps(bot: BotHarness) -> None:
    p = Person(bot)
    await walk_to_location(p)
    [verified, *_] = await p.location(*SEOKCHON_LAKE, live_period=900)
    assert verified["text"] == "확인됐어요: 잠실동에 계시네요. ✅"
    location_id = _live_location_id(bot, p.id)
    lat, lon = SEOKCHON_LAKE
    for step in (1, 2, 3):  # at the interests step, where text gets "use the buttons above"
        moved = bot.emulator.move_live_location(p.id, p.id, location_id, lat + step / 2000, lon)
        assert await bot.act(p.id, moved) == []
    await p.press("걷기")
    await p.press("완료")
    await p.press("저녁")
    await p.press("완료")
    welcome = await p.press("확인 ✅")
    assert any("환영해요" in m.get("text", "") for m in welcome)
