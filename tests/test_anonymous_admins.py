"""Anonymous group admins (issue 19, point 9), in process.

An admin with "Remain anonymous" posts as the group: `sender_chat` is the group and `from` the
stand-in @GroupAnonymousBot, one user for every anonymous admin of every group. The bot
recognises them as admins of that group (sender_chat, confirmed by getChatAdministrators),
counts their floods and orders their updates per group, answers the admin group's read-only
commands for them, asks them to send a command that records who acted privately, and never
takes the stand-in for a person.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from telegram import Update
from telegram.constants import ChatID

from bot.ingress import ordering_key
from storage import ledger, market
from storage.db import transaction
from storage.models import GroupChat, PersistedData, User
from tests.harness import BotHarness, make_settings
from tests.people import Neighbour, configure, new_admin, stock_codes

pytestmark = pytest.mark.usefixtures("seeded")
STAND_IN = int(ChatID.ANONYMOUS_ADMIN)
ASK_KO = (
    "지금 그룹 이름으로 익명으로 보내고 계셔서 텔레그램이 어느 관리자님인지 알려 주지 않아요. "
    "/refund 는 누가 했는지 기록해야 해요. 저와의 개인 채팅에서 /refund 를 보내 주세요."
)
CSV = "item,name_ko,name_en,cost,code\ncoffee,아메리카노,Americano,500,CAFE-0001-AMER\n"


def from_bot(bot: BotHarness, chat_id: int, after: int = 0) -> list[dict[str, Any]]:
    """The bot's own messages (the stand-in is a bot too, but not ours)."""
    me = bot.emulator.bot_user["id"]
    return [m for m in bot.emulator.transcript(chat_id)[after:] if m["from"]["id"] == me]


async def anonymous_group(bot: BotHarness, title: str, admin_id: int | None = None) -> int:
    """A supergroup with the bot, whose admin remains anonymous."""
    admin = admin_id or int(bot.user(f"{title} 관리자")["id"])
    member = int(bot.user(f"{title} 이웃")["id"])
    chat_id = int(bot.emulator.create_group(title, [admin, member], [admin])["id"])
    await bot.emulator.add_bot_to_group(admin, chat_id)
    await bot.deliver()
    bot.emulator.remain_anonymous(admin, chat_id)
    return chat_id


async def say(bot: BotHarness, chat_id: int, text: str) -> list[dict[str, Any]]:
    """The group's anonymous admin writes; returns the bot's answers."""
    admin = bot.emulator.chats[chat_id].anonymous_admins[0]
    before = len(bot.emulator.transcript(chat_id))
    await bot.emulator.send_text(admin, text, chat_id)
    await bot.deliver()
    return from_bot(bot, chat_id, before)


async def test_an_anonymous_admin_sets_the_region(bot: BotHarness) -> None:
    chat_id = await anonymous_group(bot, "잠실 산책 모임")
    [picker] = await say(bot, chat_id, "/setregion")
    assert "송파구" in str(picker["reply_markup"])
    # Recognised by sender_chat, confirmed with the administrator list; never getChatMember
    # for the stand-in.
    assert [c.params["chat_id"] for c in bot.calls("getChatAdministrators")] == [chat_id]
    assert not [c for c in bot.calls("getChatMember") if c.params["user_id"] == STAND_IN]
    [help_text] = await say(bot, chat_id, "/help")
    assert "/setregion" in help_text["text"]


async def test_a_chat_speaking_as_another_chat_is_no_admin(bot: BotHarness) -> None:
    """sender_chat that is not this group (a linked channel, a person writing as a channel)."""
    chat_id = await anonymous_group(bot, "잠실 산책 모임")
    admin = bot.emulator.chats[chat_id].anonymous_admins[0]
    sent = await bot.emulator.send_text(admin, "/setregion", chat_id)
    raw = {**sent, "sender_chat": {"id": -1009999, "type": "channel", "title": "채널"}}
    before = len(bot.emulator.transcript(chat_id))
    await bot.app.process_update(
        Update.de_json({"update_id": 9_000_001, "message": raw}, bot.app.bot)
    )
    [refused] = from_bot(bot, chat_id, before)
    assert "관리자" in refused["text"] and "reply_markup" not in refused
    bot.emulator.pending_updates()


async def test_sent_as_the_group_needs_an_anonymous_admin_in_its_list(bot: BotHarness) -> None:
    """A message "sent as the group" while its administrator list shows nobody anonymous (a
    forged update) is refused: sender_chat alone is not enough."""
    chat_id = await anonymous_group(bot, "잠실 산책 모임")
    admin = bot.emulator.chats[chat_id].anonymous_admins[0]
    sent = await bot.emulator.send_text(admin, "/setregion", chat_id)
    bot.emulator.pending_updates()
    bot.emulator.remain_anonymous(admin, chat_id, anonymous=False)
    before = len(bot.emulator.transcript(chat_id))
    update = Update.de_json({"update_id": 9_000_002, "message": sent}, bot.app.bot)
    await bot.app.process_update(update)
    [refused] = from_bot(bot, chat_id, before)
    assert "관리자" in refused["text"] and "reply_markup" not in refused


async def test_anonymous_admins_of_two_groups_do_not_throttle_each_other(
    bot: BotHarness,
) -> None:
    bot.settings = make_settings(database_url=bot.settings.database_url, flood_max_updates=5)
    await bot.restart()
    busy = await anonymous_group(bot, "잠실 산책 모임")
    quiet = await anonymous_group(bot, "석촌 호수 모임")
    for _ in range(8):
        await bot.emulator.send_text(bot.emulator.chats[busy].anonymous_admins[0], "/help", busy)
    await bot.deliver()
    assert len(from_bot(bot, busy)) == 1 + 5  # the introduction, then five answers
    answers = await say(bot, quiet, "/help")
    assert len(answers) == 1 and "/setregion" in answers[0]["text"]
    counts = bot.app.bot_data["flood_recent"]
    assert STAND_IN not in counts and len(counts[busy]) == 8 and len(counts[quiet]) == 1


def test_ordering_is_per_group_for_anonymous_admins() -> None:
    def message(chat_id: int, sender_chat: bool) -> Update:
        chat = {"id": chat_id, "type": "supergroup", "title": "g"}
        raw: dict[str, Any] = {
            "message_id": 1, "date": 0, "chat": chat, "text": "/help",
            "from": {"id": STAND_IN, "is_bot": True, "first_name": "Group"},
        }  # fmt: skip
        if sender_chat:
            raw["sender_chat"] = chat
        return Update.de_json({"update_id": 1, "message": raw}, None)

    assert ordering_key(message(-1001, True)) == -1001
    assert ordering_key(message(-1002, True)) == -1002
    press = Update.de_json(
        {"update_id": 2, "callback_query": {
            "id": "1", "chat_instance": "1", "data": "x",
            "from": {"id": 42, "is_bot": False, "first_name": "지훈"},
        }},
        None,
    )  # fmt: skip
    assert ordering_key(press) == 42


async def test_stats_and_drafts_in_the_admin_group(bot: BotHarness) -> None:
    operator = await new_admin(bot, "Operator")
    admin_chat = await anonymous_group(bot, "Halsaram admins", operator.id)
    await configure(bot, admin_chat_id=admin_chat, default_language="en")
    report, chart = await say(bot, admin_chat, "/stats")
    assert report["text"].startswith("📊") and "photo" in chart
    [drafts] = await say(bot, admin_chat, "/drafts")
    assert drafts["text"].startswith("No drafts are waiting.")
    # An anonymous admin of any other group is nobody's operator.
    other = await anonymous_group(bot, "잠실 산책 모임")
    [refused] = await say(bot, other, "/stats")
    assert refused["text"] == "Sorry, this command is for admins."


async def test_refund_by_an_anonymous_admin_asks_to_write_privately(bot: BotHarness) -> None:
    await stock_codes(bot.sessions, CSV)
    buyer = await Neighbour(bot, "민지").register()
    operator = await Neighbour(bot, "관리자").register()
    async with transaction(bot.sessions) as s:
        (await s.get(User, operator.id)).is_admin = True  # type: ignore[union-attr]
        await ledger.post(s, user_id=buyer.id, amount=500, kind=ledger.REWARD,
                          reference="test", now=bot.clock.now())  # fmt: skip
        [shelf] = await market.shelves(s)
        bought = await market.exchange(s, user_id=buyer.id, item_id=shelf.item.id,
                                       request="r1", now=bot.clock.now())  # fmt: skip
    admin_chat = await anonymous_group(bot, "할사람 운영진", operator.id)
    await configure(bot, admin_chat_id=admin_chat)
    [ask] = await say(bot, admin_chat, f"/refund {bought.code}")
    assert ask["text"] == ASK_KO
    async with bot.sessions() as s:
        assert await ledger.balance(s, buyer.id) == 0  # nothing given back
    # The same operator in a private chat: done.
    [done] = await operator.say(f"/refund {bought.code}")
    assert done["text"] == "500포인트를 환불했어요."
    # Another group's anonymous admin gets nothing (not the operators' place).
    other = await anonymous_group(bot, "잠실 산책 모임")
    assert await say(bot, other, f"/refund {bought.code}") == []


async def test_the_stand_in_is_no_person(bot: BotHarness) -> None:
    chat_id = await anonymous_group(bot, "잠실 산책 모임")
    for text in ("/setregion", "/help", "/language", "/stats", "/drafts"):
        await say(bot, chat_id, text)
    await bot.app.update_persistence()
    async with bot.sessions() as s:
        assert await s.get(User, STAND_IN) is None
        kept = select(func.count()).select_from(PersistedData)
        assert await s.scalar(kept.where(PersistedData.key == str(STAND_IN))) == 0


async def test_a_row_made_by_an_anonymous_admin_names_nobody(bot: BotHarness) -> None:
    """The stand-in is no one to tell later (e.g. that the bot cannot post): not recorded."""
    chat_id = await anonymous_group(bot, "잠실 산책 모임")
    async with transaction(bot.sessions) as s:  # a group the bot kept no row for
        await s.delete(await s.get(GroupChat, chat_id))
    await say(bot, chat_id, "/settime 19:30")
    async with bot.sessions() as s:
        group = await s.get(GroupChat, chat_id)
        assert group is not None and group.registered_by is None
