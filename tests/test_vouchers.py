"""Vouchers are never lost (issue 21) and an exchange handled twice acts once (issue 22).

The message carrying a code is an outbox notice written in the exchange's transaction, sent at
once by the handler and retried by the dispatcher until Telegram takes it, always protected
(no forwarding, no saving); another press of the same card sends the same code again, never a
second charge; "My vouchers" (/vouchers, and a button under /points) lists the person's codes
and shows each again on request. On SQLite and PostgreSQL; the HTTP version of the hostile case
is tests/e2e/test_vouchers_over_http.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from storage import errors, ledger, market
from storage import outbox as rows
from storage.db import SessionFactory, transaction
from storage.models import LedgerEntry, OutboxMessage, User, VoucherCode
from tests.harness import BotHarness, buttons
from tests.people import Neighbour, assert_money_is_sound, data_of, stock_codes
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")
APOLOGY = "문제가 생겼어요"
CODE, OTHER = "CAFE-0001-AMER", "CAFE-0002-AMER"
CSV = (
    "item,name_ko,name_en,cost,code\n"
    f"coffee,아메리카노,Americano,500,{CODE}\n"
    f"coffee,아메리카노,Americano,500,{OTHER}\n"
)


async def _buyer(bot: BotHarness, points: int = 1200, name: str = "민지") -> Neighbour:
    await stock_codes(bot.sessions, CSV)
    person = await Neighbour(bot, name).register()
    async with transaction(bot.sessions) as s:
        await ledger.post(s, user_id=person.id, amount=points, kind=ledger.REWARD,
                          reference=f"test:{person.id}", now=bot.clock.now())  # fmt: skip
    return person


async def _confirm_card(person: Neighbour) -> dict[str, Any]:
    [listing] = await person.say("/market")
    [confirm] = await person.press(listing, "아메리카노 · 500P")
    return confirm


def _codes(bot: BotHarness, person: Neighbour) -> list[dict[str, Any]]:
    """The bot's messages to `person` that carry a voucher code."""
    return [m for m in bot.bot_messages(person.id) if "CAFE-" in m.get("text", "")]


async def _press_at_once(bot: BotHarness, person: Neighbour, card: dict[str, Any], times: int):
    """`times` presses of Exchange on one card, all made before the bot answers any."""
    data = data_of(card, "교환하기 ✅")
    for _ in range(times):
        await bot.emulator.press_button(person.id, person.id, card["message_id"], data, force=True)
    await bot.deliver()


async def assert_every_code_reaches_its_owner(sessions: SessionFactory) -> None:
    """The invariant of issue 21: every issued code has a code notice to its owner, sent or
    still waiting to go out (never failed, never given up)."""
    async with sessions() as s:
        issued = (await s.execute(
            select(VoucherCode.id, VoucherCode.issued_to).where(VoucherCode.issued_to.is_not(None))
        )).all()  # fmt: skip
        notices = (await s.scalars(select(OutboxMessage))).all()
    for voucher_id, owner in issued:
        copies = [
            n for n in notices
            if n.payload.get("kind") == market.CODE_NOTICE
            and n.payload.get("voucher_id") == voucher_id
        ]  # fmt: skip
        assert copies, f"voucher {voucher_id} has no notice"
        assert all(n.chat_id == owner for n in copies)
        assert any(n.status in ("sent", "pending", "sending") for n in copies), copies


async def test_the_code_is_a_protected_outbox_notice_sent_at_once(bot: BotHarness) -> None:
    person = await _buyer(bot)
    card = await _confirm_card(person)
    await person.press(card, "교환하기 ✅")
    [message] = _codes(bot, person)  # without running the dispatcher: the handler sent it
    assert CODE in message["text"] and message["has_protected_content"] is True
    async with bot.sessions() as s:
        [notice] = (await s.scalars(select(OutboxMessage))).all()
    assert notice.payload == {"kind": "voucher_issued", "voucher_id": notice.payload["voucher_id"]}
    assert notice.status == "sent" and notice.sent_message_id == message["message_id"]
    assert CODE not in str(notice.payload)  # the outbox keeps the voucher's id, not its code
    assert await bot.run_outbox() == 0  # nothing left for the dispatcher
    await assert_money_is_sound(bot.sessions)
    await assert_every_code_reaches_its_owner(bot.sessions)


async def test_a_failed_send_of_the_code_is_retried_without_an_apology(bot: BotHarness) -> None:
    person = await _buyer(bot)
    card = await _confirm_card(person)
    bot.emulator.faults.refuse["sendMessage"] = 1  # the code's first send never reaches Telegram
    await person.press(card, "교환하기 ✅")
    assert not any(APOLOGY in text for text in person.inbox())
    assert _codes(bot, person) == []
    assert await bot.run_outbox() == 1  # the dispatcher's next round
    [message] = _codes(bot, person)
    assert CODE in message["text"] and message["has_protected_content"] is True
    async with bot.sessions() as s:
        assert await ledger.balance(s, person.id) == 700
    await assert_money_is_sound(bot.sessions)
    await assert_every_code_reaches_its_owner(bot.sessions)


async def test_a_lost_answer_sends_the_code_again(bot: BotHarness) -> None:
    """A send whose answer timed out is taken as delivered for other notices; a code is sent
    again (twice costs nothing, lost costs the points)."""
    person = await _buyer(bot)
    card = await _confirm_card(person)
    bot.emulator.faults.lose_responses["sendMessage"] = 1
    await person.press(card, "교환하기 ✅")
    assert await bot.run_outbox() == 1
    assert [CODE in m["text"] for m in _codes(bot, person)] == [True, True]
    assert not any(APOLOGY in text for text in person.inbox())
    await assert_money_is_sound(bot.sessions)


async def test_twenty_presses_at_once_with_the_first_send_failing(bot: BotHarness) -> None:
    person = await _buyer(bot)
    card = await _confirm_card(person)
    bot.emulator.faults.refuse["sendMessage"] = 1
    await _press_at_once(bot, person, card, 20)
    # The second press sent the code the first one could not; the burst gets one message.
    [message] = _codes(bot, person)
    assert CODE in message["text"] and message["has_protected_content"] is True
    assert not any(APOLOGY in text for text in person.inbox())
    assert await bot.run_outbox() == 0
    async with bot.sessions() as s:
        assert await ledger.balance(s, person.id) == 700
        charges = await s.scalar(select(func.count()).where(LedgerEntry.kind == ledger.EXCHANGE))
        sold = select(VoucherCode.code).where(VoucherCode.issued_to.is_not(None))
        issued = (await s.scalars(sold)).all()
    assert charges == 1 and issued == [CODE]
    await assert_money_is_sound(bot.sessions)
    await assert_every_code_reaches_its_owner(bot.sessions)
    # And the list shows it, with its full code on request.
    [listing] = await person.say("/vouchers")
    assert "CAFE******AMER" in listing["text"] and CODE not in listing["text"]
    [shown] = (await person.press(listing, "1. 아메리카노 코드 보기"))[-1:]
    assert shown["text"].count(CODE) == 1 and shown["has_protected_content"] is True


async def test_a_repeat_press_sends_the_same_code_again_and_charges_nothing(
    bot: BotHarness,
) -> None:
    person = await _buyer(bot)
    card = await _confirm_card(person)
    await person.press(card, "교환하기 ✅")
    bot.clock.advance(market.RESEND_QUIET + timedelta(seconds=1))
    await person.press_data(card, data_of(card, "교환하기 ✅"))  # the card's button, again
    first, again = _codes(bot, person)
    assert first["text"] == again["text"] and CODE in again["text"]
    assert again["has_protected_content"] is True
    assert not any(APOLOGY in text for text in person.inbox())
    async with bot.sessions() as s:
        assert await ledger.balance(s, person.id) == 700
    await assert_money_is_sound(bot.sessions)


async def test_an_exchange_handled_twice_shows_the_same_code_once_charged(
    bot: BotHarness,
) -> None:
    """Issue 22: the process dies between handling the press and marking it done; the next run
    handles it again: the same code message again, no refusal, no apology, one charge."""
    person = await _buyer(bot)
    card = await _confirm_card(person)
    bot.crash_before_done = True
    await person.press(card, "교환하기 ✅")
    bot.crash_before_done = False
    [handled] = bot.redelivered
    first = [c.params["text"] for c in handled.first if c.method == "sendMessage"]
    second = [c.params["text"] for c in handled.second if c.method == "sendMessage"]
    assert first == second and len(first) == 1 and CODE in first[0]
    assert not any(APOLOGY in text for text in person.inbox())
    async with bot.sessions() as s:
        assert await ledger.balance(s, person.id) == 700
        issued = await s.scalar(select(func.count()).where(VoucherCode.issued_to == person.id))
    assert issued == 1
    await assert_money_is_sound(bot.sessions)


async def test_a_crash_before_the_code_went_out_still_delivers_it(bot: BotHarness) -> None:
    """The first handling committed the exchange and its send failed; the process died; the
    next run handles the press again and the code goes out (today it was lost: an apology,
    then the repeat recognised and nothing sent)."""
    person = await _buyer(bot)
    card = await _confirm_card(person)
    bot.emulator.faults.refuse["sendMessage"] = 1
    bot.crash_before_done = True
    await person.press(card, "교환하기 ✅")
    bot.crash_before_done = False
    [message] = _codes(bot, person)
    assert CODE in message["text"] and message["has_protected_content"] is True
    assert not any(APOLOGY in text for text in person.inbox())
    await assert_money_is_sound(bot.sessions)
    await assert_every_code_reaches_its_owner(bot.sessions)


async def test_a_copy_stuck_with_a_dead_worker_does_not_hold_back_a_repeat_press(
    bot: BotHarness,
) -> None:
    person = await _buyer(bot)
    card = await _confirm_card(person)
    await person.press(card, "교환하기 ✅")
    async with transaction(bot.sessions) as s:  # as if a worker died between claim and send
        [notice] = (await s.scalars(select(OutboxMessage))).all()
        notice.status, notice.claimed_by = "sending", "dead-worker"
    bot.clock.advance(market.STUCK + timedelta(seconds=1))
    await person.press_data(card, data_of(card, "교환하기 ✅"))
    assert len(_codes(bot, person)) == 2  # the press's own copy, not a wait for the stale one


async def test_my_vouchers_lists_the_codes_and_shows_each_on_request(bot: BotHarness) -> None:
    person = await _buyer(bot, points=1000)
    for _ in range(2):
        await person.press(await _confirm_card(person), "교환하기 ✅")
        bot.clock.advance(timedelta(minutes=1))
    admin = await Neighbour(bot, "관리자").register()
    async with transaction(bot.sessions) as s:
        (await s.get(User, admin.id)).is_admin = True  # type: ignore[union-attr]
    await admin.say(f"/refund {CODE}")

    [points] = await person.say("/points")
    [listing] = await person.press(points, "🎁 내 쿠폰")  # a new message under /points
    assert listing["message_id"] > points["message_id"]
    text = listing["text"]
    assert text.startswith("🎁 내 쿠폰")
    assert "1. 아메리카노" in text and "CAFE******AMER" in text
    assert "(환불됨)" in text and CODE not in text and OTHER not in text
    # Newest first; the refunded code has no button.
    assert [label for label, _ in buttons(listing)] == ["1. 아메리카노 코드 보기"]
    [shown] = (await person.press(listing, "1. 아메리카노 코드 보기"))[-1:]
    assert OTHER in shown["text"] and shown["has_protected_content"] is True
    [again] = await person.say("/vouchers")
    assert again["text"] == text


async def test_the_list_pages_and_is_polite_when_empty(bot: BotHarness) -> None:
    codes = "".join(f"tea,녹차,Green tea,10,TEA-{n:04d}-GREEN\n" for n in range(10))
    await stock_codes(bot.sessions, "item,name_ko,name_en,cost,code\n" + codes)
    person = await Neighbour(bot, "민지").register()
    [empty] = await person.say("/vouchers")
    assert "아직 쿠폰이 없어요" in empty["text"] and not buttons(empty)
    [points] = await person.say("/points")
    assert "🎁 내 쿠폰" not in [label for label, _ in buttons(points)]
    async with transaction(bot.sessions) as s:
        await ledger.post(s, user_id=person.id, amount=100, kind=ledger.REWARD,
                          reference="test:tea", now=bot.clock.now())  # fmt: skip
        [shelf] = await market.shelves(s)
        for n in range(10):
            at = bot.clock.now() + timedelta(minutes=n)
            await market.exchange(
                s, user_id=person.id, item_id=shelf.item.id, request=f"r{n}", now=at
            )
    [first] = await person.say("/vouchers")
    assert "1. 녹차" in first["text"] and "8. 녹차" in first["text"] and "9." not in first["text"]
    await person.press(first, "이전 »")
    second = bot.bot_messages(person.id)[-1]  # the same message, edited
    assert second["message_id"] == first["message_id"]
    assert "9. 녹차" in second["text"] and "10. 녹차" in second["text"]
    assert "TEA-0000-GREEN" not in second["text"]


async def test_someone_elses_code_is_not_shown(bot: BotHarness) -> None:
    owner = await _buyer(bot)
    await owner.press(await _confirm_card(owner), "교환하기 ✅")
    thief = await Neighbour(bot, "도둑").register()
    async with bot.sessions() as s:
        voucher_id = await s.scalar(select(VoucherCode.id).where(VoucherCode.code == CODE))
    assert voucher_id is not None
    async with bot.sessions() as s:
        before = await s.scalar(select(func.count()).select_from(OutboxMessage))
    for forged in (voucher_id, 999_999, 0):
        [listing] = await thief.say("/vouchers")
        await thief.press_data(listing, callbacks.encode(Action.VOUCHER_SHOW, forged))
        assert thief.inbox()[-1] == "그런 발급 코드가 없어요."
    assert not any("CAFE-" in text for text in thief.inbox())
    assert not any(APOLOGY in text for text in thief.inbox())
    async with bot.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == before


async def test_a_code_is_retried_until_delivered_never_given_up(bot: BotHarness) -> None:
    person = await _buyer(bot)
    card = await _confirm_card(person)
    failures = rows.MAX_ATTEMPTS + 3
    bot.emulator.faults.refuse["sendMessage"] = failures + 1  # the handler's send and more
    await person.press(card, "교환하기 ✅")
    for _ in range(failures):
        assert await bot.run_outbox() == 0
        bot.clock.advance(timedelta(minutes=11))  # past the longest backoff
    async with bot.sessions() as s:
        [notice] = (await s.scalars(select(OutboxMessage))).all()
    assert notice.status == "pending" and notice.attempts == rows.MAX_ATTEMPTS - 1
    assert await bot.run_outbox() == 1
    [message] = _codes(bot, person)
    assert CODE in message["text"] and message["has_protected_content"] is True


async def test_the_exchange_and_its_notice_commit_or_roll_back_together(
    sessions: SessionFactory, clock: Any
) -> None:
    await stock_codes(sessions, CSV)
    async with transaction(sessions) as s:
        s.add(User(id=8100, created_at=clock.now(), registered_at=clock.now(), interests=[],
                   preferred_times=[]))  # fmt: skip
        await ledger.post(s, user_id=8100, amount=500, kind=ledger.REWARD, reference="t",
                          now=clock.now())  # fmt: skip
    async with sessions() as s:
        [shelf] = await market.shelves(s)

    class Crash(Exception):
        pass

    with pytest.raises(Crash):
        async with transaction(sessions) as s:
            await market.exchange(s, user_id=8100, item_id=shelf.item.id, request="a",
                                  now=clock.now())  # fmt: skip
            raise Crash  # the process dies before the commit
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert await ledger.balance(s, 8100) == 500
    with pytest.raises(errors.InsufficientPoints):
        async with transaction(sessions) as s:
            await market.exchange(s, user_id=8100, item_id=shelf.item.id, request="b",
                                  now=clock.now())  # fmt: skip
            await market.exchange(s, user_id=8100, item_id=shelf.item.id, request="c",
                                  now=clock.now())  # fmt: skip
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    async with transaction(sessions) as s:
        bought = await market.exchange(s, user_id=8100, item_id=shelf.item.id, request="d",
                                       now=clock.now())  # fmt: skip
    assert bought.notice == f"voucher:{bought.voucher_id}:d"
    await assert_money_is_sound(sessions)
    await assert_every_code_reaches_its_owner(sessions)
