"""Late taps (issue 19, point 1): a press Telegram no longer lets the bot answer (made while
the bot was down, replayed at start, or waiting behind retried replies) still does its work,
and everything the person must see is a message. Every press is answered first, through
`Context.answer`; the error handler neither apologises for a late answer nor answers twice."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot import metrics
from bot.context import Context
from bot.settings import SANDBOX_TOKEN
from storage import ledger
from storage.db import transaction
from tests.harness import BotHarness
from tests.people import (
    Neighbour,
    assert_money_is_sound,
    data_of,
    meetup_card,
    new_meetup,
    seat_counts,
    stock_codes,
)

pytestmark = pytest.mark.usefixtures("seeded")
DOWN_FOR = 3600.0  # seconds the press waited in Telegram's queue
APOLOGY = "문제가 생겼어요"
CODES = "item,name_ko,name_en,cost,code\ncoffee,아메리카노,Americano,500,CAFE-0001-LATE\n"


def errors_so_far() -> float:
    return metrics.REGISTRY.get_sample_value("halsaram_errors_total") or 0.0


async def press_late(bot: BotHarness, person: Neighbour, message: dict[str, Any], data: str) -> str:
    """Presses `data` under `message` as if an hour ago, while the bot was down; the bot then
    handles it. Returns the query's id."""
    chat_id = message["chat"]["id"]
    query = await bot.emulator.press_button(
        person.id, chat_id, message["message_id"], data, age=DOWN_FOR
    )
    await bot.deliver()
    return str(query["id"])


async def test_a_voucher_bought_with_a_late_press_still_shows_its_code(bot: BotHarness) -> None:
    await stock_codes(bot.sessions, CODES)
    minji = await Neighbour(bot, "민지").register()
    async with transaction(bot.sessions) as s:
        await ledger.post(s, user_id=minji.id, amount=800, kind=ledger.REWARD,
                          reference="test:late", now=bot.clock.now())  # fmt: skip
    [listing] = await minji.say("/market")
    [confirm] = await minji.press(listing, "아메리카노 · 500P")
    errors = errors_so_far()
    query_id = await press_late(bot, minji, confirm, data_of(confirm, "교환하기 ✅"))

    assert bot.emulator.callback_answer(query_id) is None  # Telegram refused the answer
    [code] = [m for m in bot.bot_messages(minji.id) if "CAFE-0001-LATE" in m.get("text", "")]
    assert code["message_id"] > confirm["message_id"]
    assert not any(APOLOGY in text for text in minji.inbox())
    assert errors_so_far() == errors
    async with bot.sessions() as s:
        assert await ledger.balance(s, minji.id) == 300  # spent exactly once
    await assert_money_is_sound(bot.sessions)
    # Exactly one attempt to answer: answered first, never again after the work.
    answers = [c for c in bot.calls("answerCallbackQuery")
               if c.params["callback_query_id"] == query_id]  # fmt: skip
    assert len(answers) == 1 and answers[0].status == 400


async def test_a_refusal_after_a_late_press_is_a_message(bot: BotHarness) -> None:
    await stock_codes(bot.sessions, CODES)
    late, quick = await Neighbour(bot, "민지").register(), await Neighbour(bot, "지훈").register()
    for person in (late, quick):
        async with transaction(bot.sessions) as s:
            await ledger.post(s, user_id=person.id, amount=600, kind=ledger.REWARD,
                              reference=f"test:{person.id}", now=bot.clock.now())  # fmt: skip
    [listing] = await late.say("/market")
    [confirm] = await late.press(listing, "아메리카노 · 500P")
    [other] = await quick.say("/market")
    [theirs] = await quick.press(other, "아메리카노 · 500P")
    await quick.press(theirs, "교환하기 ✅")  # the last code goes
    errors = errors_so_far()
    await press_late(bot, late, confirm, data_of(confirm, "교환하기 ✅"))
    assert late.inbox()[-1] == "방금 품절됐어요. 포인트는 차감되지 않았어요."  # in the chat
    assert errors_so_far() == errors
    async with bot.sessions() as s:
        assert await ledger.balance(s, late.id) == 600


async def test_a_join_pressed_while_the_bot_was_down_still_joins_and_tells_the_host(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "James", lang="en").register()
    meeting_id = await new_meetup(bot, host)
    card = await meetup_card(bot, guest, meeting_id)
    errors = errors_so_far()
    query_id = await press_late(bot, guest, card, data_of(card, "Join"))

    assert bot.emulator.callback_answer(query_id) is None
    assert guest.inbox()[-1].startswith("You're in!")
    redrawn = next(
        m for m in bot.emulator.transcript(guest.id) if m["message_id"] == card["message_id"]
    )
    assert "Can't make it" in str(redrawn["reply_markup"])
    assert await seat_counts(bot.sessions, meeting_id) == {"joined": 2}
    await bot.run_outbox()
    assert any("James" in text for text in host.inbox())
    assert not any("Sorry, something went wrong" in text for text in guest.inbox())
    assert errors_so_far() == errors


async def test_the_error_handler_never_apologises_for_a_late_answer(bot: BotHarness) -> None:
    """A press answered the old way (directly, after the work): the late answer stops the
    handler, is logged and counted, and there is no apology for work that was done."""
    minji = await Neighbour(bot, "민지").register()
    done: list[int] = []

    async def old_style(update: Update, context: Context) -> None:
        done.append(1)  # the work, committed
        assert update.callback_query is not None
        await update.callback_query.answer()  # then the answer, too late

    bot.app.add_handler(CallbackQueryHandler(old_style, pattern="^late$"), group=-10)
    markup = {"inline_keyboard": [[{"text": "x", "callback_data": "late"}]]}
    status, sent = await bot.emulator.bot_call(
        SANDBOX_TOKEN, "sendMessage",
        {"chat_id": minji.id, "text": "?", "reply_markup": markup},
    )  # fmt: skip
    assert status == 200, sent
    before, errors = len(minji.inbox()), errors_so_far()
    await press_late(bot, minji, sent["result"], "late")
    assert done == [1]
    assert minji.inbox()[before:] == []  # no apology
    assert errors_so_far() == errors + 1


async def test_a_failure_after_the_answer_is_apologised_for_without_a_second_answer(
    bot: BotHarness,
) -> None:
    minji = await Neighbour(bot, "민지").register()

    async def broken(update: Update, context: Context) -> None:
        await context.answer()
        raise RuntimeError("the database went away")

    bot.app.add_handler(CallbackQueryHandler(broken, pattern="^broken$"), group=-10)
    markup = {"inline_keyboard": [[{"text": "x", "callback_data": "broken"}]]}
    status, sent = await bot.emulator.bot_call(
        SANDBOX_TOKEN, "sendMessage",
        {"chat_id": minji.id, "text": "?", "reply_markup": markup},
    )  # fmt: skip
    assert status == 200, sent
    calls = len(bot.calls("answerCallbackQuery"))
    await minji.press_data(sent["result"], "broken")
    assert len(bot.calls("answerCallbackQuery")) == calls + 1  # once, by the handler
    assert APOLOGY in minji.inbox()[-1]
