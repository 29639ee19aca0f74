"""The market's details pinned down (issue 22, `make mutation`): what a refund records and which
codes it refuses, what an exchange charges and returns, what `/points` and `/vouchers` show on
each page, and which items the shelves offer. Each test kills mutants of storage/market.py that
tests/test_market.py and tests/test_vouchers.py let live; every one runs on both databases."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from storage import entries, errors, ledger, market, outbox, progress
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction
from storage.models import LedgerEntry, MarketItem, OutboxMessage, User, VoucherCode
from tests.people import assert_money_is_sound, stock_codes

HEADER = "item,name_ko,name_en,cost,code\n"
BUYER, OTHER, ADMIN = 11, 12, 13


async def _people(sessions: SessionFactory, clock: FrozenClock) -> None:
    """Two registered people and a registered admin."""
    async with transaction(sessions) as s:
        for user_id in (BUYER, OTHER, ADMIN):
            s.add(User(id=user_id, created_at=clock.now(), registered_at=clock.now(),
                       interests=[], preferred_times=[], is_admin=user_id == ADMIN))  # fmt: skip


async def _pay(sessions: SessionFactory, clock: FrozenClock, user_id: int, amount: int,
               kind: str = ledger.REWARD) -> None:  # fmt: skip
    async with transaction(sessions) as s:
        await ledger.post(s, user_id=user_id, amount=amount, kind=kind,
                          reference=f"pay:{user_id}:{kind}:{amount}", now=clock.now())  # fmt: skip


async def _item_id(sessions: SessionFactory, key: str) -> int:
    async with sessions() as s:
        found = await s.scalar(select(MarketItem.id).where(MarketItem.key == key))
    assert found is not None
    return int(found)


async def _buy(sessions: SessionFactory, clock: FrozenClock, user_id: int, key: str,
               request: str) -> market.Purchase:  # fmt: skip
    item_id = await _item_id(sessions, key)
    async with transaction(sessions) as s:
        return await market.exchange(
            s, user_id=user_id, item_id=item_id, request=request, now=clock.now()
        )


async def _refund(sessions: SessionFactory, clock: FrozenClock, code: str,
                  admin_id: int = ADMIN) -> int:  # fmt: skip
    async with transaction(sessions) as s:
        return await market.refund(s, code, admin_id, clock.now())


# --------------------------------------------------------------------------- refunds


async def test_a_refund_returns_the_charge_and_records_who_and_which_code(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock)
    await stock_codes(
        sessions, HEADER + "cake,케이크,Cake,900,CAKE-1\ncake,케이크,Cake,900,CAKE-2\n"
    )
    await _pay(sessions, clock, BUYER, 1000)
    bought = await _buy(sessions, clock, BUYER, "cake", "r1")
    clock.advance(timedelta(hours=1))
    assert await _refund(sessions, clock, "CAKE-1") == 900
    async with sessions() as s:
        assert await ledger.balance(s, BUYER) == 1000
        entry = await s.scalar(select(LedgerEntry).where(LedgerEntry.kind == ledger.REFUND))
        assert entry is not None
        assert (entry.user_id, entry.amount, entry.balance_after) == (BUYER, 900, 1000)
        assert (entry.reference, entry.note, entry.actor_id) == (
            f"refund:{bought.voucher_id}", f"bad code {bought.voucher_id}", ADMIN,
        )  # fmt: skip
        voucher = await s.get(VoucherCode, bought.voucher_id)
        assert voucher is not None and voucher.refunded_at is not None
        assert voucher.refunded_at.replace(tzinfo=None) == clock.now().replace(tzinfo=None)
        [shelf] = await market.shelves(s)
        assert shelf.stock == 1  # the refunded code is not sold again
    with pytest.raises(errors.AlreadyRefunded):
        await _refund(sessions, clock, "CAKE-1")
    await assert_money_is_sound(sessions)


async def test_only_a_code_that_was_paid_for_is_refunded(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """Unknown codes, codes still in stock and a code given out by hand without a charge are
    `UnknownCode`: no points move."""
    await _people(sessions, clock)
    await stock_codes(
        sessions, HEADER + "cake,케이크,Cake,900,CAKE-1\ncake,케이크,Cake,900,CAKE-2\n"
    )
    async with transaction(sessions) as s:
        await s.execute(
            update(VoucherCode)
            .where(VoucherCode.code == "CAKE-2")
            .values(issued_to=BUYER, issued_at=clock.now())
        )
    for code in ("NO-SUCH-CODE", "CAKE-1", "CAKE-2"):
        with pytest.raises(errors.UnknownCode):
            await _refund(sessions, clock, code)
    async with sessions() as s:
        assert await ledger.balance(s, BUYER) == 0
        assert await s.scalar(select(LedgerEntry.id)) is None


async def test_only_an_admin_refunds(sessions: SessionFactory, clock: FrozenClock) -> None:
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + "cake,케이크,Cake,900,CAKE-1\n")
    await _pay(sessions, clock, BUYER, 900)
    await _buy(sessions, clock, BUYER, "cake", "r1")
    with pytest.raises(errors.NotAdmin):
        await _refund(sessions, clock, "CAKE-1", admin_id=BUYER)
    with pytest.raises(errors.NotRegistered):
        await _refund(sessions, clock, "CAKE-1", admin_id=999)
    async with sessions() as s:
        assert await ledger.balance(s, BUYER) == 0


async def test_an_admin_cannot_refund_their_own_code(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """The admin has seen their code: refunding it would return the points with the code
    still usable. Another admin may."""
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + "cake,케이크,Cake,900,CAKE-1\n")
    await _pay(sessions, clock, ADMIN, 900)
    await _buy(sessions, clock, ADMIN, "cake", "own")
    with pytest.raises(errors.OwnVoucher):
        await _refund(sessions, clock, "CAKE-1", admin_id=ADMIN)
    async with sessions() as s:
        assert await ledger.balance(s, ADMIN) == 0
    async with transaction(sessions) as s:
        other = await s.get(User, OTHER)
        assert other is not None
        other.is_admin = True
    assert await _refund(sessions, clock, "CAKE-1", admin_id=OTHER) == 900
    async with sessions() as s:
        assert await ledger.balance(s, ADMIN) == 900
        assert await ledger.invariant_violations(s) == []


# --------------------------------------------------------------------------- exchanges


async def test_an_exchange_charges_the_cost_once_and_returns_the_oldest_code(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + "".join(f"tea,녹차,Tea,300,TEA-{n}\n" for n in range(3)))
    await _pay(sessions, clock, BUYER, 1000)
    first = await _buy(sessions, clock, BUYER, "tea", "card-1")
    again = await _buy(sessions, clock, BUYER, "tea", "card-1")  # the same confirm card
    second = await _buy(sessions, clock, BUYER, "tea", "card-2")
    assert (first.code, first.balance_after, first.new) == ("TEA-0", 700, True)
    assert (again.code, again.balance_after, again.new) == ("TEA-0", 700, False)
    assert again.voucher_id == first.voucher_id and again.item.key == first.item.key == "tea"
    assert (second.code, second.balance_after, second.new) == ("TEA-1", 400, True)
    async with sessions() as s:
        assert await ledger.balance(s, BUYER) == 400
        charge = await s.scalar(
            select(LedgerEntry).where(LedgerEntry.reference == f"exchange:{BUYER}:card-1")
        )
        assert charge is not None
        assert (charge.amount, charge.kind, charge.note) == (-300, ledger.EXCHANGE, "tea")
        voucher = await s.get(VoucherCode, first.voucher_id)
        assert voucher is not None and voucher.ledger_entry_id == charge.id
        assert voucher.issued_to == BUYER
    await assert_money_is_sound(sessions)


async def test_an_exchange_is_refused_without_stock_points_or_item(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + "tea,녹차,Tea,300,TEA-0\ncake,케이크,Cake,900,CAKE-0\n")
    await _pay(sessions, clock, BUYER, 500)
    with pytest.raises(errors.InsufficientPoints):
        await _buy(sessions, clock, BUYER, "cake", "c1")
    await _buy(sessions, clock, BUYER, "tea", "t1")
    await _pay(sessions, clock, OTHER, 500)
    with pytest.raises(errors.OutOfStock):
        await _buy(sessions, clock, OTHER, "tea", "t2")
    async with transaction(sessions) as s:
        await s.execute(update(MarketItem).where(MarketItem.key == "cake").values(active=False))
    await _pay(sessions, clock, OTHER, 1000)
    with pytest.raises(errors.ItemUnavailable):
        await _buy(sessions, clock, OTHER, "cake", "c2")
    with pytest.raises(errors.ItemUnavailable):
        async with sessions() as s:
            await market.item(s, 424242)
    async with sessions() as s:
        assert await ledger.balance(s, BUYER) == 200
        assert await ledger.balance(s, OTHER) == 1500
    await assert_money_is_sound(sessions)


async def test_the_shelves_show_active_items_in_stock_cheapest_first(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + (
        "cake,케이크,Cake,900,CAKE-0\ncake,케이크,Cake,900,CAKE-1\n"
        "tea,녹차,Tea,300,TEA-0\ncoffee,커피,Coffee,500,COF-0\nbun,빵,Bun,300,BUN-0\n"
    ))  # fmt: skip
    await _pay(sessions, clock, BUYER, 2000)
    await _buy(sessions, clock, BUYER, "coffee", "c1")  # coffee sold out
    await _buy(sessions, clock, BUYER, "cake", "k1")
    await _refund(sessions, clock, "CAKE-0")  # out of use, not back on the shelf
    async with transaction(sessions) as s:
        await s.execute(update(MarketItem).where(MarketItem.key == "bun").values(active=False))
    async with sessions() as s:
        shown = [(shelf.item.key, shelf.stock) for shelf in await market.shelves(s)]
        everything = await market.shelves(s, include_empty=True)
        buyer_sees = await market.storefront(s, BUYER)
        admin_sees = await market.storefront(s, ADMIN)
        offer = await market.offer(s, BUYER, await _item_id(sessions, "tea"))
    assert shown == [("tea", 1), ("cake", 1)]
    assert [(shelf.item.key, shelf.stock) for shelf in everything] == [
        ("tea", 1), ("coffee", 0), ("cake", 1),
    ]  # fmt: skip
    assert [shelf.item.key for shelf in buyer_sees.shelves] == ["tea", "cake"]
    assert buyer_sees.balance == 1500  # 2000 - 500 - 900, and 900 refunded
    assert [shelf.item.key for shelf in admin_sees.shelves] == ["tea", "coffee", "cake"]
    assert admin_sees.balance == 0
    assert (offer.item.key, offer.balance) == ("tea", 1500)


# --------------------------------------------------------------------------- read models


async def test_the_points_page_shows_balance_level_and_history_by_pages(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + "tea,녹차,Tea,300,TEA-0\n")
    await _pay(sessions, clock, OTHER, 5000)  # someone else's points are not shown
    await _pay(sessions, clock, BUYER, 1000)
    await _pay(sessions, clock, BUYER, 200, ledger.BONUS)
    await _pay(sessions, clock, BUYER, 50, ledger.ADJUSTMENT)
    await _buy(sessions, clock, BUYER, "tea", "t1")
    async with sessions() as s:
        first = await market.points(s, BUYER, page=0, size=2)
        second = await market.points(s, BUYER, page=1, size=2)
        whole = await market.points(s, BUYER, page=0, size=4)
        other = await market.points(s, OTHER, page=0, size=4)
    assert (first.balance, first.earned, first.page, first.vouchers) == (950, 1200, 0, 1)
    assert first.level == progress.level_for(1200) and first.level > 0
    assert [(line.amount, line.kind, line.code) for line in first.lines] == [
        (-300, ledger.EXCHANGE, "TEA-0"), (50, ledger.ADJUSTMENT, None),
    ]  # fmt: skip
    assert first.older is True
    assert [(line.amount, line.code) for line in second.lines] == [(200, None), (1000, None)]
    assert (second.page, second.older) == (1, False)
    assert len(whole.lines) == 4 and whole.older is False  # exactly a page: nothing older
    for n in range(7):  # 11 entries: a page of ten has one older entry
        await _pay(sessions, clock, BUYER, n + 1, ledger.BONUS)
    async with sessions() as s:
        ten = await market.points(s, BUYER, page=0, size=10)
    assert len(ten.lines) == 10 and ten.older is True
    assert (other.balance, other.earned, other.vouchers, len(other.lines)) == (5000, 5000, 0, 1)
    assert other.level == progress.level_for(5000)
    with pytest.raises(errors.NotRegistered):
        async with sessions() as s:
            await market.points(s, 999, page=0, size=2)


async def test_the_vouchers_page_lists_a_persons_codes_newest_first(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + "".join(f"tea,녹차,Tea,100,TEA-{n}\n" for n in range(4)))
    await _pay(sessions, clock, BUYER, 1000)
    await _pay(sessions, clock, OTHER, 1000)
    for n in range(3):
        await _buy(sessions, clock, BUYER, "tea", f"r{n}")
        clock.advance(timedelta(minutes=1))
    await _buy(sessions, clock, OTHER, "tea", "o")
    await _refund(sessions, clock, "TEA-0")
    async with sessions() as s:
        first = await market.vouchers(s, BUYER, page=0, size=2)
        second = await market.vouchers(s, BUYER, page=1, size=2)
        exact = await market.vouchers(s, BUYER, page=0, size=3)
    assert [(v.code, v.refunded, v.name_en) for v in first.vouchers] == [
        ("TEA-2", False, "Tea"), ("TEA-1", False, "Tea"),
    ]  # fmt: skip
    assert (first.page, first.offset, first.older) == (0, 0, True)
    assert [(v.code, v.refunded, v.name_ko) for v in second.vouchers] == [("TEA-0", True, "녹차")]
    assert (second.page, second.offset, second.older) == (1, 2, False)
    assert len(exact.vouchers) == 3 and exact.older is False


async def test_codes_bought_together_keep_one_order_newest_first(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """Newest purchase first, whatever order the codes were loaded in; codes bought at the same
    moment newest code first, so pages never repeat or skip one."""
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + "tea,녹차,Tea,100,TEA-0\ntea,녹차,Tea,100,TEA-1\n"
                      "cake,케이크,Cake,100,CAKE-0\n")  # fmt: skip
    await _pay(sessions, clock, BUYER, 1000)
    await _buy(sessions, clock, BUYER, "cake", "c")  # the code loaded last, bought first
    clock.advance(timedelta(minutes=1))
    await _buy(sessions, clock, BUYER, "tea", "t0")
    await _buy(sessions, clock, BUYER, "tea", "t1")  # the same moment
    async with sessions() as s:
        page = await market.vouchers(s, BUYER, page=0, size=5)
        one_by_one = [
            (await market.vouchers(s, BUYER, page=n, size=1)).vouchers[0].code for n in range(3)
        ]
    assert [v.code for v in page.vouchers] == ["TEA-1", "TEA-0", "CAKE-0"] == one_by_one


async def test_a_code_notice_is_drawn_with_the_code_and_both_names(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + "cake,케이크,Cake,100,CAKE-0\n")
    await _pay(sessions, clock, BUYER, 100)
    bought = await _buy(sessions, clock, BUYER, "cake", "c")
    async with sessions() as s:
        assert await market.code_notice_values(s, bought.voucher_id) == {
            "code": "CAKE-0", "name_ko": "케이크", "name_en": "Cake",
        }  # fmt: skip
        assert await market.code_notice_values(s, bought.voucher_id + 1000) is None


def test_a_press_names_its_copy_of_a_code_and_an_odd_press_is_hashed() -> None:
    """Telegram's callback query ids (letters, digits, - and _, at most 40) name the copy
    as they are; anything longer or with other characters is hashed to 32 hex digits."""
    short, longest = "AbC-12_x", "a" * 40
    assert market._press_key(5, short) == "voucher:5:AbC-12_x"
    assert market._press_key(5, longest) == f"voucher:5:{longest}"
    assert market._press_key(5, "a_b") == "voucher:5:a_b"
    for odd in ("a" * 41, "a:b", "a b", "a-b:c_d"):
        hashed = hashlib.sha256(odd.encode()).hexdigest()[:32]
        assert market._press_key(5, odd) == f"voucher:5:{hashed}"


async def test_show_code_queues_a_copy_of_the_code_whatever_else_waits_to_be_sent(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + "cake,케이크,Cake,100,CAKE-0\n")
    await _pay(sessions, clock, BUYER, 100)
    bought = await _buy(sessions, clock, BUYER, "cake", "c")
    async with transaction(sessions) as s:  # the first copy went out
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key.startswith(f"voucher:{bought.voucher_id}:"))
            .values(status="sent", claimed_at=clock.now())
        )
        await outbox.enqueue(s, key="unrelated", chat_id=OTHER, kind="evidence_again",
                             values={"left": 1}, now=clock.now())  # fmt: skip
    clock.advance(timedelta(minutes=1))
    async with transaction(sessions) as s:
        key = await market.reveal(
            s, user_id=BUYER, voucher_id=bought.voucher_id, press="p1", now=clock.now()
        )
    assert key == f"voucher:{bought.voucher_id}:p1"
    async with sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
    assert row is not None and row.chat_id == BUYER and row.status == "pending"
    assert row.payload == {"kind": "voucher_issued", "voucher_id": bought.voucher_id}


async def test_a_copy_being_sent_answers_a_press_until_it_looks_lost(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """A copy a worker claimed less than `STUCK` (30 s) ago is on its way: a "show code" press
    gets that one, no second copy. Claimed 30 s ago or more, it most likely died with its
    worker: the press gets a copy of its own."""
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + "cake,케이크,Cake,100,CAKE-0\n")
    await _pay(sessions, clock, BUYER, 100)
    bought = await _buy(sessions, clock, BUYER, "cake", "c")
    first = bought.notice
    assert first is not None
    claimed = clock.now()
    async with transaction(sessions) as s:
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == first)
            .values(status="sending", claimed_by="worker", claimed_at=claimed)
        )

    async def show(press: str) -> str | None:
        async with transaction(sessions) as s:
            return await market.reveal(
                s, user_id=BUYER, voucher_id=bought.voucher_id, press=press, now=clock.now()
            )

    clock.advance(market.STUCK - timedelta(seconds=1))
    assert await show("p1") == first
    clock.advance(timedelta(seconds=1))  # exactly STUCK after the claim
    assert await show("p2") == f"voucher:{bought.voucher_id}:p2"
    async with sessions() as s:
        copies = await s.scalars(
            select(OutboxMessage.dedupe_key).where(
                OutboxMessage.dedupe_key.startswith(f"voucher:{bought.voucher_id}:")
            )
        )
        assert sorted(copies) == sorted([first, f"voucher:{bought.voucher_id}:p2"])


# ---------------------------------------------------------------- copies of a code (_send_code)
# The rules tests/test_vouchers.py checks through the bot, at the storage level (the mutation
# run leaves the bot's tests out: seconds each).


async def _press(sessions: SessionFactory, clock: FrozenClock, request: str,
                 press: str | None) -> market.Purchase:  # fmt: skip
    """One handling of a press `press` of the confirm card `request` (tea, bought by BUYER)."""
    item_id = await _item_id(sessions, "tea")
    async with transaction(sessions) as s:
        return await market.exchange(
            s, user_id=BUYER, item_id=item_id, request=request, now=clock.now(), press=press
        )


async def _copies(sessions: SessionFactory, voucher_id: int) -> dict[str, OutboxMessage]:
    async with sessions() as s:
        rows = await s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.dedupe_key.startswith(f"voucher:{voucher_id}:")
            )
        )
        return {row.dedupe_key: row for row in rows}


async def _went_out(sessions: SessionFactory, key: str, at: datetime,
                    due: datetime | None = None) -> None:  # fmt: skip
    """The copy `key` was claimed at `at` and sent (it was due at `due`, or when claimed)."""
    async with transaction(sessions) as s:
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == key)
            .values(status="sent", claimed_by="worker", claimed_at=at, not_before=due or at)
        )


async def _tea_bought(sessions: SessionFactory, clock: FrozenClock) -> None:
    await _people(sessions, clock)
    await stock_codes(sessions, HEADER + "tea,녹차,Tea,100,TEA-0\ntea,녹차,Tea,100,TEA-1\n")
    await _pay(sessions, clock, BUYER, 1000)


def _naive(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=None)


async def test_a_purchase_queues_its_copy_under_the_press_or_the_card(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """The first copy is named by the press (Telegram's callback query id), or by the confirm
    card when no press is given; it is a notice to the buyer, due at once."""
    await _tea_bought(sessions, clock)
    pressed = await _press(sessions, clock, "card-1", "q-1")
    carded = await _press(sessions, clock, "card-2", None)
    assert pressed.notice == f"voucher:{pressed.voucher_id}:q-1"
    assert carded.notice == f"voucher:{carded.voucher_id}:card-2"
    copies = await _copies(sessions, pressed.voucher_id)
    assert list(copies) == [pressed.notice]
    row = copies[pressed.notice]
    assert (row.chat_id, row.status, row.method) == (BUYER, "pending", outbox.NOTICE)
    assert row.payload == {"kind": market.CODE_NOTICE, "voucher_id": pressed.voucher_id}
    assert _naive(row.not_before) == _naive(clock.now())
    assert list(await _copies(sessions, carded.voucher_id)) == [carded.notice]


async def test_a_press_while_a_copy_waits_sends_that_copy_now(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """A copy whose send failed waits for its retry; another press (or a replay) sends that
    copy at once instead of queueing a second one. A copy already due keeps its moment."""
    await _tea_bought(sessions, clock)
    first = await _press(sessions, clock, "card", "q-1")
    assert first.notice is not None
    retry_at = clock.now() + timedelta(minutes=10)
    async with transaction(sessions) as s:
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == first.notice)
            .values(not_before=retry_at, attempts=1)
        )
        await outbox.enqueue(s, key="tomorrow", chat_id=OTHER, kind="evidence_again",
                             values={"left": 1}, now=clock.now(), not_before=retry_at)  # fmt: skip
    clock.advance(timedelta(minutes=1))
    again = await _press(sessions, clock, "card", "q-2")  # another press of the same card
    assert (again.new, again.code, again.voucher_id) == (False, first.code, first.voucher_id)
    assert again.notice == first.notice
    copies = await _copies(sessions, first.voucher_id)
    assert list(copies) == [first.notice]
    assert _naive(copies[first.notice].not_before) == _naive(clock.now())
    due = clock.now()
    clock.advance(timedelta(minutes=1))
    assert (await _press(sessions, clock, "card", None)).notice == first.notice  # the card's
    assert _naive((await _copies(sessions, first.voucher_id))[first.notice].not_before) == (
        _naive(due)
    )  # already due: left as it was
    assert (await _buy(sessions, clock, BUYER, "tea", "card")).notice == first.notice
    async with sessions() as s:  # another notice waiting for its moment is left alone
        tomorrow = await s.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == "tomorrow")
        )
    assert tomorrow is not None and _naive(tomorrow.not_before) == _naive(retry_at)


async def test_a_copy_being_sent_is_not_moved_and_answers_the_press(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _tea_bought(sessions, clock)
    first = await _press(sessions, clock, "card", "q-1")
    assert first.notice is not None
    later = clock.now() + timedelta(minutes=10)
    async with transaction(sessions) as s:
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == first.notice)
            .values(status="sending", claimed_by="w", claimed_at=clock.now(), not_before=later)
        )
    clock.advance(timedelta(seconds=1))
    assert (await _press(sessions, clock, "card", "q-2")).notice == first.notice
    row = (await _copies(sessions, first.voucher_id))[first.notice]
    assert (row.status, _naive(row.not_before)) == ("sending", _naive(later))


async def test_copies_of_another_code_do_not_answer_a_press(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """Only this code's copies count: a copy of another code waiting, or sent moments ago,
    neither answers the press nor keeps it quiet."""
    await _tea_bought(sessions, clock)
    mine = await _press(sessions, clock, "card-a", "q-1")
    assert mine.notice is not None
    await _went_out(sessions, mine.notice, clock.now() - timedelta(minutes=1))
    other = await _press(sessions, clock, "card-b", "q-2")  # another code, still waiting
    assert other.notice is not None and other.voucher_id != mine.voucher_id
    again = await _press(sessions, clock, "card-a", "q-3")
    assert again.notice == f"voucher:{mine.voucher_id}:q-3"
    await _went_out(sessions, other.notice, clock.now())  # another code's copy went out now
    await _went_out(sessions, again.notice, clock.now() - timedelta(minutes=1))
    assert (await _press(sessions, clock, "card-a", "q-4")).notice == (
        f"voucher:{mine.voucher_id}:q-4"
    )


async def test_a_burst_of_taps_gets_one_copy_and_a_later_press_its_own(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """Presses of the confirm card made within `RESEND_QUIET` (5 s) of a copy going out (due
    and claimed in that time) get no copy of their own; after that, each press gets one. "Show
    code" always gets one."""
    await _tea_bought(sessions, clock)
    first = await _press(sessions, clock, "card", "q-1")
    assert first.notice is not None
    sent = clock.now()
    await _went_out(sessions, first.notice, sent)
    clock.advance(market.RESEND_QUIET)  # exactly 5 s later: still the same burst
    quiet = await _press(sessions, clock, "card", "q-2")
    assert (quiet.notice, quiet.new, quiet.code) == (None, False, first.code)
    async with transaction(sessions) as s:
        shown = await market.reveal(
            s, user_id=BUYER, voucher_id=first.voucher_id, press="s-1", now=clock.now()
        )
    assert shown == f"voucher:{first.voucher_id}:s-1"
    assert set(await _copies(sessions, first.voucher_id)) == {first.notice, shown}
    await _went_out(sessions, shown, clock.now() - timedelta(minutes=1))
    clock.advance(timedelta(microseconds=1))
    later = await _press(sessions, clock, "card", "q-3")
    assert later.notice == f"voucher:{first.voucher_id}:q-3"
    async with transaction(sessions) as s:  # a copy that failed moments ago did not go out
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == later.notice)
            .values(status="failed", claimed_by="w", claimed_at=clock.now())
        )
    assert (await _press(sessions, clock, "card", "q-4")).notice == (
        f"voucher:{first.voucher_id}:q-4"
    )


async def test_a_copy_counts_as_just_sent_only_when_both_due_and_claimed_just_now(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _tea_bought(sessions, clock)
    first = await _press(sessions, clock, "card", "q-1")
    assert first.notice is not None
    long_ago = clock.now() - timedelta(minutes=5)
    await _went_out(sessions, first.notice, at=clock.now(), due=long_ago)  # a late retry
    assert (await _press(sessions, clock, "card", "q-2")).notice == (
        f"voucher:{first.voucher_id}:q-2"
    )
    await _went_out(sessions, f"voucher:{first.voucher_id}:q-2", at=long_ago, due=clock.now())
    await _went_out(sessions, first.notice, at=long_ago)
    assert (await _press(sessions, clock, "card", "q-3")).notice == (
        f"voucher:{first.voucher_id}:q-3"
    )


async def test_the_same_press_handled_again_sends_a_numbered_copy(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """The same update handled again after a crash shows the code again, as its first handling
    did, even moments after the first copy went out: the copies are numbered. A press's copies
    are its own: the "_" of "q_1" is no wildcard matching "qx1"."""
    await _tea_bought(sessions, clock)
    first = await _press(sessions, clock, "card", "qx1")
    key = f"voucher:{first.voucher_id}"
    assert first.notice == f"{key}:qx1"
    await _went_out(sessions, first.notice, clock.now())
    again = await _press(sessions, clock, "card", "qx1")
    assert again.notice == f"{key}:qx1:2"
    await _went_out(sessions, again.notice, clock.now())
    clock.advance(timedelta(minutes=1))
    other = await _press(sessions, clock, "card", "q_1")
    assert other.notice == f"{key}:q_1"
    await _went_out(sessions, other.notice, clock.now())
    assert (await _press(sessions, clock, "card", "q_1")).notice == f"{key}:q_1:2"
    await _went_out(sessions, f"{key}:q_1:2", clock.now())
    assert (await _press(sessions, clock, "card", "qx1")).notice == f"{key}:qx1:3"
    assert set(await _copies(sessions, first.voucher_id)) == {
        f"{key}:qx1", f"{key}:qx1:2", f"{key}:q_1", f"{key}:q_1:2", f"{key}:qx1:3",
    }  # fmt: skip


async def test_only_someone_who_may_act_exchanges(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """A suspended person is refused an exchange, with the action named, until the moment the
    suspension ends; nothing is charged."""
    await _tea_bought(sessions, clock)
    until = clock.now() + timedelta(hours=1)
    async with transaction(sessions) as s:
        buyer = await s.get(User, BUYER)
        assert buyer is not None
        buyer.suspended_until = until
    with pytest.raises(errors.Suspended) as refused:
        await _press(sessions, clock, "card", "q-1")
    assert refused.value.reason == "exchange" and refused.value.until == until
    clock.advance(timedelta(hours=1) - timedelta(seconds=1))
    with pytest.raises(errors.Suspended):
        await _press(sessions, clock, "card", "q-1")
    clock.advance(timedelta(seconds=1))  # the moment it ends
    assert (await _press(sessions, clock, "card", "q-1")).new is True
    async with sessions() as s:
        assert await ledger.balance(s, BUYER) == 900


async def test_show_code_is_refused_for_a_code_not_ones_own_or_refunded(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _tea_bought(sessions, clock)
    mine = await _press(sessions, clock, "card-1", "q-1")
    refunded = await _press(sessions, clock, "card-2", "q-2")
    await _refund(sessions, clock, refunded.code)

    async def show(user_id: int, voucher_id: int) -> str | None:
        async with transaction(sessions) as s:
            return await market.reveal(
                s, user_id=user_id, voucher_id=voucher_id, press="s", now=clock.now()
            )

    with pytest.raises(errors.UnknownCode):
        await show(OTHER, mine.voucher_id)  # someone else's code
    with pytest.raises(errors.UnknownCode):
        await show(BUYER, mine.voucher_id + 1000)
    with pytest.raises(errors.AlreadyRefunded):
        await show(BUYER, refunded.voucher_id)
    with pytest.raises(errors.NotRegistered):
        await show(999, mine.voucher_id)
    assert mine.notice is not None
    await _went_out(sessions, mine.notice, clock.now())
    assert await show(BUYER, mine.voucher_id) == f"voucher:{mine.voucher_id}:s"
    assert set(await _copies(sessions, mine.voucher_id)) == {
        mine.notice,
        f"voucher:{mine.voucher_id}:s",
    }


async def test_each_code_and_history_line_carries_its_id_and_moment(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _tea_bought(sessions, clock)
    paid_at = clock.now()
    clock.advance(timedelta(minutes=3))
    bought = await _press(sessions, clock, "card", "q")
    async with sessions() as s:
        [voucher] = (await market.vouchers(s, BUYER, page=0, size=5)).vouchers
        page = await market.points(s, BUYER, page=0, size=5)
    assert (voucher.id, voucher.code) == (bought.voucher_id, "TEA-0")
    assert _naive(voucher.issued_at) == _naive(clock.now())
    assert [(line.amount, _naive(line.at)) for line in page.lines] == [
        (-100, _naive(clock.now())), (1000, _naive(paid_at)),
    ]  # fmt: skip
    assert [(line.source.why, line.source.code) for line in page.lines] == [
        (entries.EXCHANGE, "TEA-0"), (entries.OTHER, None),
    ]  # fmt: skip
    assert page.vouchers == 1
    await _refund(sessions, clock, "TEA-0")
    async with sessions() as s:  # a refunded code is no longer held (/vouchers still lists it)
        assert (await market.points(s, BUYER, page=0, size=5)).vouchers == 0
        assert len((await market.vouchers(s, BUYER, page=0, size=5)).vouchers) == 1


async def test_a_replayed_charge_without_its_code_is_refused_not_answered(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """Broken books (a charge of a confirm card with no code tied to it, which the invariant
    check reports) are refused by name on a replay, never answered with another code."""
    await _tea_bought(sessions, clock)
    async with transaction(sessions) as s:
        await ledger.post(
            s, user_id=BUYER, amount=-100, kind=ledger.EXCHANGE,
            reference=f"exchange:{BUYER}:card", now=clock.now(),
        )  # fmt: skip
    with pytest.raises(errors.MarketError) as refused:
        await _press(sessions, clock, "card", "q")
    assert type(refused.value) is errors.MarketError
    assert refused.value.reason == "a charge without a code"
    async with sessions() as s:
        assert await ledger.balance(s, BUYER) == 900
        assert await s.scalar(select(VoucherCode.id).where(VoucherCode.issued_to == BUYER)) is None


# --------------------------------------------------------------------------- loading codes


async def test_loading_creates_and_updates_items_and_skips_known_codes(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """Items are made from the first row naming them and updated by every later one (names
    and cost); a code known from the database or earlier in the same file is a duplicate,
    listed in file order; blanks around values are dropped."""
    first = await stock_codes(sessions, HEADER + "tea,녹차,Tea,300,TEA-0\n")
    again = await stock_codes(
        sessions,
        HEADER
        + " tea , 말차,Matcha,350, TEA-1 \n"
        + "cake,케이크,Cake,900,CAKE-0\n"
        + "tea,말차,Matcha,1,TEA-0\n"
        + "cake,치즈케이크,Cheesecake,1000,CAKE-0\n",
    )
    assert (first.added, first.duplicates, first.items) == (1, [], 1)
    assert (again.added, again.duplicates, again.items) == (2, ["TEA-0", "CAKE-0"], 2)
    async with sessions() as s:
        items = {i.key: i for i in await s.scalars(select(MarketItem))}
        codes = dict((await s.execute(select(VoucherCode.code, VoucherCode.item_id))).all())
    assert set(items) == {"tea", "cake"}
    tea, cake = items["tea"], items["cake"]
    assert (tea.name_ko, tea.name_en, tea.cost, tea.active) == ("말차", "Matcha", 1, True)
    assert (cake.name_ko, cake.name_en, cake.cost) == ("치즈케이크", "Cheesecake", 1000)
    assert codes == {"TEA-0": tea.id, "TEA-1": tea.id, "CAKE-0": cake.id}


async def test_a_file_that_cannot_be_loaded_says_why_and_loads_nothing(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    refusals = {
        "item,name_ko,name_en,code\ntea,녹차,Tea,TEA-0\n": "CSV lacks columns: cost",
        "item,name_en\n": "CSV lacks columns: code, cost, name_ko",
        "": "CSV lacks columns: code, cost, item, name_en, name_ko",
        HEADER + "tea,녹차,Tea,300,TEA-0\n ,녹차,Tea,300,TEA-1\n": (
            "line 3: item and code are required"
        ),
        HEADER + "tea,녹차,Tea,300, \n": "line 2: item and code are required",
        HEADER + "tea,녹차,Tea,300,TEA-0\ntea,녹차,Tea,0,TEA-1\n": "line 3: cost must be positive",
        HEADER + "tea,녹차,Tea,-5,TEA-0\n": "line 2: cost must be positive",
    }
    for text, reason in refusals.items():
        with pytest.raises(ValueError) as refused:
            await stock_codes(sessions, text)
        assert str(refused.value) == reason
    async with sessions() as s:
        assert await s.scalar(select(MarketItem.id)) is None
        assert await s.scalar(select(VoucherCode.id)) is None
    loaded = await stock_codes(sessions, HEADER + "tea,녹차,Tea,1,TEA-0\n")  # 1 is positive
    assert (loaded.added, loaded.items) == (1, 1)
