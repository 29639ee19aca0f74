"""Sends whose answer never came back although Telegram carried them out, and sends that never
reached Telegram: the person sees each message once, nothing is lost, nothing is done twice.

The emulator plays the faults behind the same transport the bot uses: a lost answer reaches
the bot as python-telegram-bot's `TimedOut` caused by a read timeout, a refused call as a
`NetworkError` caused by a connection error.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import OutboxMessage
from tests.harness import BotHarness
from tests.people import Neighbour, meetup_card, new_meetup, seat_counts

pytestmark = pytest.mark.usefixtures("seeded")
APOLOGY = "Sorry, something went wrong"


async def _rows(bot: BotHarness) -> list[OutboxMessage]:
    async with bot.sessions() as s:
        return list(await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def _a_guest_joined(bot: BotHarness) -> tuple[Neighbour, int]:
    """James joined 지훈's meetup; the host's notice waits in the outbox. Returns the host and
    how many messages they had before it."""
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "James", lang="en").register()
    meeting_id = await new_meetup(bot, host)
    await guest.press(await meetup_card(bot, guest, meeting_id), "Join")
    return host, len(host.inbox())


async def test_a_reply_whose_answer_was_lost_is_seen_once_and_the_seat_taken_once(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "James", lang="en").register()
    meeting_id = await new_meetup(bot, host)
    card = await meetup_card(bot, guest, meeting_id)
    bot.emulator.faults.lose_responses["sendMessage"] = 1
    await guest.press(card, "Join")
    said = guest.inbox()
    assert said[-1].startswith("You're in!")
    assert not any(APOLOGY in text for text in said)  # no false alarm: it did work
    # The spinner made them tap again: the same seat, no second confirmation, only the
    # refusal (a message: the press was answered before the work).
    await guest.press_data(card, card["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    [again] = guest.inbox()[len(said) :]
    assert guest.inbox()[: len(said)] == said and "already" in again
    assert "already" in guest.alert()
    assert await seat_counts(bot.sessions, meeting_id) == {"joined": 2}


async def test_a_notice_whose_answer_was_lost_is_not_sent_again(bot: BotHarness) -> None:
    host, before = await _a_guest_joined(bot)
    bot.emulator.faults.lose_responses["sendMessage"] = 1
    assert await bot.run_outbox() == 1
    bot.clock.advance(timedelta(hours=1))  # long past any retry or stale-claim delay
    assert await bot.run_outbox() == 0
    joined = [text for text in host.inbox()[before:] if "James" in text]
    assert len(joined) == 1
    [row] = await _rows(bot)
    assert row.status == "sent" and row.sent_message_id is None
    assert row.last_error == "unconfirmed: read timeout"


async def test_a_notice_that_never_reached_telegram_goes_out_later(bot: BotHarness) -> None:
    host, before = await _a_guest_joined(bot)
    bot.emulator.faults.refuse["sendMessage"] = 1
    assert await bot.run_outbox() == 0
    [waiting] = await _rows(bot)
    assert waiting.status == "pending" and waiting.attempts == 1
    assert host.inbox()[before:] == []
    bot.clock.advance(timedelta(minutes=1))
    assert await bot.run_outbox() == 1
    assert len([text for text in host.inbox()[before:] if "James" in text]) == 1
    [sent] = await _rows(bot)
    assert sent.status == "sent" and sent.sent_message_id is not None


async def test_a_refused_reply_gets_an_apology_and_the_action_can_be_repeated(
    bot: BotHarness,
) -> None:
    james = await Neighbour(bot, "James", lang="en").register()
    bot.emulator.faults.refuse["sendMessage"] = 1
    [apology] = await james.say("/points")  # the reply never arrived; the apology did
    assert APOLOGY in apology["text"]
    [reply] = await james.say("/points")
    assert "points" in reply["text"]
