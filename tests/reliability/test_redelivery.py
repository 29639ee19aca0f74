"""An update handled twice, as after a crash between handling it and marking it done: the
handlers ran, the process died before the inbox row was marked done, and the next run handled
it again from the inbox (`BotHarness.crash_before_done`; the application is rebuilt between,
so nothing in memory survives). The inbox's repeat check cannot help here: the second handling
is the replay of a row never marked done.

For each action (join, check-in, photo, approval, exchange, rating) the state ends as if the
update came once (seats, attendance, evidence rows, ledger entries and balances, voucher codes,
feedback rows), the person is shown the same thing both times (no refusal, no apology), and
every notice to someone else is queued and sent once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from storage import inbox, ledger
from storage.db import transaction
from storage.models import (
    Evidence,
    Feedback,
    LedgerEntry,
    OutboxMessage,
    Participation,
    User,
    VoucherCode,
)
from tests import photo_corpus as corpus
from tests.harness import BotHarness, Redelivery, buttons
from tests.people import (
    Neighbour,
    Scene,
    action_data,
    assert_money_is_sound,
    balance_of,
    decode_qr,
    evidence_rows,
    find_mission,
    meetup_card,
    new_meetup,
    review_card,
    run_checks,
    seat_counts,
    send_photo,
    stock_codes,
)
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")
APOLOGY = "Sorry, something went wrong"
# Two codes of one item: an exchange handled twice that charged twice would find a second code.
CSV = (
    "item,name_ko,name_en,cost,code\n"
    "coffee,아메리카노,Americano,50,CAFE-0001-AMER\n"
    "coffee,아메리카노,Americano,50,CAFE-0002-AMER\n"
)


async def twice(bot: BotHarness, action: Awaitable[Any]) -> list[Redelivery]:
    """Runs a person's action with every update it sends handled twice (a crash between
    handling and marking done); returns each update's two handlings."""
    start = len(bot.redelivered)
    bot.crash_before_done = True
    try:
        await action
    finally:
        bot.crash_before_done = False
    done = bot.redelivered[start:]
    assert done, "the action sent no update"
    return done


def shown_the_same(handled: list[Redelivery]) -> list[tuple[str, Any, str]]:
    """Each second handling showed exactly what the first did (the same confirmation, no
    refusal, no apology); returns what the last update's first handling showed."""
    for r in handled:
        first, second = r.shown(r.first), r.shown(r.second)
        assert first, f"update {r.update['update_id']} showed nothing"
        assert not any(APOLOGY in text for _, _, text in first + second)
        assert second == first, f"update {r.update['update_id']}"
    return handled[-1].shown(handled[-1].first)


def texts(shown: list[tuple[str, Any, str]]) -> list[str]:
    return [text for method, _, text in shown if method != "answerCallbackQuery"]


async def notices_to(bot: BotHarness, chat_id: int) -> Counter[str]:
    """The notices queued for `chat_id`, by kind."""
    async with bot.sessions() as s:
        rows = await s.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.chat_id == chat_id)
        )
        return Counter(str(p.get("kind")) for p in rows)


async def told_once(bot: BotHarness, person: Neighbour, starts: str) -> None:
    """When the outbox runs, `person` receives exactly one message, starting `starts`."""
    before = len(person.inbox())
    await bot.run_outbox()
    new = person.inbox()[before:]
    assert len(new) == 1 and new[0].startswith(starts), new


async def check_in(
    bot: BotHarness, host: Neighbour, guest: Neighbour, meeting_id: int
) -> list[Redelivery]:
    """The guest checks in from the host's QR: the code, then where they are (the meetup's
    place). What the guest sends goes through `twice`; returns the redeliveries. One place to
    follow changes of the check-in steps."""
    await host.press(await meetup_card(bot, host, meeting_id), "📷 체크인 QR")
    payload = decode_qr(bot, bot.bot_messages(host.id)[-1]).split("start=", 1)[1]
    place = await find_mission(bot.sessions)

    async def steps() -> None:
        await guest.say(f"/start {payload}")
        await bot.act(
            guest.id, bot.emulator.share_location(guest.id, place.place_lat, place.place_lon)
        )

    return await twice(bot, steps())


async def meetup_with_host(bot: BotHarness) -> tuple[Neighbour, Neighbour, int]:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "Mina", lang="en").register()
    return host, guest, await new_meetup(bot, host, hours=1)


# --------------------------------------------------------------------------- join


async def test_a_join_handled_twice_takes_one_seat_and_tells_the_host_once(
    bot: BotHarness,
) -> None:
    host, guest, meeting_id = await meetup_with_host(bot)
    seats = await seat_counts(bot.sessions, meeting_id)
    card = await meetup_card(bot, guest, meeting_id)

    shown = shown_the_same(await twice(bot, guest.press(card, "Join")))

    assert any(text.startswith("You're in!") for text in texts(shown))
    assert await seat_counts(bot.sessions, meeting_id) == {
        **seats,
        "joined": seats.get("joined", 0) + 1,
    }
    assert await notices_to(bot, host.id) == Counter({"meetup_joined": 1})
    await told_once(bot, host, "Mina")


# --------------------------------------------------------------------------- check-in


async def test_a_check_in_handled_twice_counts_once_and_tells_the_host_once(
    bot: BotHarness,
) -> None:
    host, guest, meeting_id = await meetup_with_host(bot)
    await guest.press(await meetup_card(bot, guest, meeting_id), "Join")
    bot.clock.advance(timedelta(minutes=55))  # check-in opens 15 minutes before the start
    await bot.run_outbox()
    before = await notices_to(bot, host.id)

    shown = shown_the_same(await check_in(bot, host, guest, meeting_id))

    assert any(text.startswith("Checked in to") for text in texts(shown))
    async with bot.sessions() as s:
        arrived = (
            await s.scalars(
                select(Participation.checked_in_at).where(
                    Participation.meeting_id == meeting_id, Participation.user_id == guest.id
                )
            )
        ).all()
    assert len(arrived) == 1 and arrived[0] is not None
    assert await notices_to(bot, host.id) - before == Counter({"checked_in": 1})
    await told_once(bot, host, "Mina")


# --------------------------------------------------------------------------- photo


async def test_a_photo_handled_twice_is_one_evidence_and_one_review_card(scene: Scene) -> None:
    bot = scene.bot
    shown = shown_the_same(await twice(bot, send_photo(bot, scene.guest, corpus.camera_jpeg(7))))
    assert any(text.startswith("Got it!") for text in texts(shown))
    [evidence] = await evidence_rows(bot)
    assert (evidence.meeting_id, evidence.user_id) == (scene.meeting_id, scene.guest.id)
    assert await run_checks(bot) == 1
    cards = [m for m in bot.bot_messages(scene.group_id) if "photo" in m or "document" in m]
    assert len(cards) == 1


# --------------------------------------------------------------------------- approval


async def test_an_approval_handled_twice_pays_once_and_tells_the_guest_once(
    scene: Scene,
) -> None:
    bot = scene.bot
    await send_photo(bot, scene.guest, corpus.camera_jpeg(7))
    assert await run_checks(bot) == 1
    await bot.run_outbox()
    card = review_card(bot, scene.group_id)
    before = await notices_to(bot, scene.guest.id)

    shown_the_same(
        await twice(
            bot, bot.press(scene.admin.user, card, action_data(card, Action.REVIEW_APPROVE))
        )
    )

    assert await balance_of(bot, scene.guest.id) == scene.points
    async with bot.sessions() as s:
        entries = await ledger.history(s, scene.guest.id, limit=10)
        [evidence] = (await s.scalars(select(Evidence))).all()
    assert [e.amount for e in entries] == [scene.points]
    assert evidence.status == "approved"
    await assert_money_is_sound(bot.sessions)
    assert await notices_to(bot, scene.guest.id) - before == Counter({"evidence_approved": 1})
    await told_once(bot, scene.guest, "Your photo for")


# --------------------------------------------------------------------------- exchange


async def test_an_exchange_handled_twice_charges_once_and_issues_one_code(
    bot: BotHarness,
) -> None:
    await stock_codes(bot.sessions, CSV)
    guest = await Neighbour(bot, "Mina", lang="en").register()
    async with transaction(bot.sessions) as s:
        await ledger.post(s, user_id=guest.id, amount=120, kind=ledger.REWARD,
                          reference="test:redelivery", now=bot.clock.now())  # fmt: skip

    async def buy() -> None:  # each step answered twice: the person goes on from the last
        listing = (await guest.say("/market"))[-1]
        confirm = (await guest.press(listing, "Americano · 50P"))[-1]
        await guest.press(confirm, "Exchange ✅")

    handled = await twice(bot, buy())
    assert len(handled) == 3  # /market, the item, the confirmation
    shown = shown_the_same(handled)

    [code] = [text for text in texts(shown) if "CAFE-" in text]
    assert "CAFE-0001-AMER" in code
    assert await balance_of(bot, guest.id) == 70
    async with bot.sessions() as s:
        issued = (
            await s.scalars(select(VoucherCode.code).where(VoucherCode.issued_to == guest.id))
        ).all()
        charges = await s.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == ledger.EXCHANGE)
        )
    assert issued == ["CAFE-0001-AMER"] and charges == 1
    await assert_money_is_sound(bot.sessions)


# --------------------------------------------------------------------------- rating


async def test_a_rating_handled_twice_is_one_rating_with_its_tag(bot: BotHarness) -> None:
    host, guest, meeting_id = await meetup_with_host(bot)
    await guest.press(await meetup_card(bot, guest, meeting_id), "Join")
    bot.clock.advance(timedelta(minutes=55))
    await check_in(bot, host, guest, meeting_id)
    bot.clock.advance(timedelta(hours=2))
    await bot.run_meetup_clock()  # the meetup ends; the attendees are asked to rate
    await bot.run_outbox()
    async with bot.sessions() as s:
        trust_before = (await s.get(User, host.id)).trust_score  # type: ignore[union-attr]
    request = next(m for m in bot.bot_messages(guest.id) if "Rate the others" in str(m))

    async def rate() -> None:  # each step answered twice: the person goes on from the last
        ask = (await guest.press(request, "Rate the others"))[-1]
        await guest.press(ask, "★★★★★")
        rated = bot.emulator.transcript(guest.id)[-1]
        await guest.press(rated, "On time")

    handled = await twice(bot, rate())
    assert len(handled) == 3  # the request, the stars, the tag
    shown_the_same(handled)

    async with bot.sessions() as s:
        [feedback] = (await s.scalars(select(Feedback))).all()
        host_row = await s.get(User, host.id)
    assert (feedback.from_user_id, feedback.to_user_id) == (guest.id, host.id)
    assert (feedback.rating, feedback.tags) == (5, ["on_time"])
    assert host_row is not None and host_row.trust_score > trust_before
    rated = bot.emulator.transcript(guest.id)[-1]
    assert rated["text"].startswith("You gave ★★★★★")
    assert "✅ On time" in [label for label, _ in buttons(rated)]


# --------------------------------------------------------------------------- host message


async def test_a_host_message_handled_twice_reaches_each_guest_once(bot: BotHarness) -> None:
    """The host's words are handled again against the step they found (the conversation
    position is written with the done mark, so a crash before it loses the step too)."""
    host, guest, meeting_id = await meetup_with_host(bot)
    await guest.press(await meetup_card(bot, guest, meeting_id), "Join")
    await bot.run_outbox()
    await host.press(await meetup_card(bot, host, meeting_id), "✉️ 메시지 보내기")

    handled = await twice(bot, host.say("입구 파란 벤치에서 만나요"))
    shown_the_same(handled)

    assert (await notices_to(bot, guest.id))["host_message"] == 1
    before = len(guest.inbox())
    await bot.run_outbox()
    [told] = guest.inbox()[before:]
    assert "입구 파란 벤치에서 만나요" in told


# --------------------------------------------------------------------------- the harness


async def test_the_harness_handles_each_update_twice(bot: BotHarness) -> None:
    """The mechanism itself: a /help handled twice answers twice, and the row is done."""
    person = await Neighbour(bot, "Mina", lang="en").register()
    [help_twice] = await twice(bot, person.say("/help"))
    assert len(texts(help_twice.shown(help_twice.first))) == 1
    assert help_twice.shown(help_twice.second) == help_twice.shown(help_twice.first)
    assert person.inbox()[-1] == person.inbox()[-2]
    async with bot.sessions() as s:
        assert await inbox.unfinished(s) == []
