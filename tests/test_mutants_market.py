"""The market's details pinned down (issue 22, `make mutation`): what a refund records and which
codes it refuses, what an exchange charges and returns, what `/points` and `/vouchers` show on
each page, and which items the shelves offer. Each test kills mutants of storage/market.py that
tests/test_market.py and tests/test_vouchers.py let live; every one runs on both databases."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storage import errors, ledger, market, outbox, progress
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
    assert again.voucher_id == first.voucher_id and again.item.key == "tea"
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
