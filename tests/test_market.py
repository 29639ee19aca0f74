"""Step 8: points and the market. Exchanges charge once and give exactly one code, under
double taps and real concurrency, on both databases; refunds return points once."""

from __future__ import annotations

import asyncio

import pytest

from storage import errors, ledger, market
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction
from storage.models import User
from tests.harness import BotHarness, buttons
from tests.people import Neighbour, assert_money_is_sound, data_of, stock_codes
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")
HEADER = "item,name_ko,name_en,cost,code\n"
CSV = "item,name_ko,name_en,cost,code\n" + "".join(
    f"coffee,아메리카노,Americano,500,CAFE-{n:04d}-AMER\n" for n in range(3)
)


async def _pay(sessions: SessionFactory, clock: FrozenClock, user_id: int, amount: int) -> None:
    async with transaction(sessions) as s:
        await ledger.post(s, user_id=user_id, amount=amount, kind=ledger.REWARD,
                          reference=f"test:{user_id}:{amount}", now=clock.now())  # fmt: skip


async def test_loading_codes_refuses_duplicates(sessions: SessionFactory) -> None:
    first = await stock_codes(sessions, CSV)
    again = await stock_codes(sessions, CSV + "coffee,아메리카노,Americano,500,CAFE-9999-AMER\n")
    assert (first.added, first.duplicates) == (3, [])
    assert again.added == 1 and len(again.duplicates) == 3
    async with sessions() as s:
        [shelf] = await market.shelves(s)
    assert shelf.stock == 4 and shelf.item.cost == 500


async def test_loading_counts_the_items_of_the_file_not_of_the_catalogue(
    sessions: SessionFactory,
) -> None:
    """`halsaram market load` said "loaded 2 codes for 3 items" for a one-item file."""
    await stock_codes(sessions, HEADER + "tea,녹차,Green tea,200,TEA-1\ncake,케이크,Cake,900,C-1\n")
    loaded = await stock_codes(
        sessions, HEADER + "coffee,커피,Coffee,300,A-1\ncoffee,커피,Coffee,300,A-2\n"
    )
    assert (loaded.added, loaded.items) == (2, 1)


async def test_exchange_in_chat_gives_one_protected_code(bot: BotHarness) -> None:
    await stock_codes(bot.sessions, CSV)
    minji = await Neighbour(bot, "민지").register()
    await _pay(bot.sessions, bot.clock, minji.id, 1200)
    [listing] = await minji.say("/market")
    assert "1200" in listing["text"] and "아메리카노: 500포인트 (3개 남음)" in listing["text"]
    [confirm] = await minji.press(listing, "아메리카노 · 500P")
    assert "남은 포인트는 700" in confirm["text"]
    [code] = await minji.press(confirm, "교환하기 ✅")
    assert "CAFE-0000-AMER" in code["text"]
    sent = [c for c in bot.calls("sendMessage") if "CAFE-0000-AMER" in c.params["text"]]
    assert sent[0].params["protect_content"] is True
    [history] = await minji.say("/points")
    assert history["text"].startswith("내 포인트: 700")
    assert "-500 · 교환 (CAFE******AMER)" in history["text"]
    assert "CAFE-0000-AMER" not in history["text"]
    await assert_money_is_sound(bot.sessions)


async def test_refusals_charge_nothing(bot: BotHarness) -> None:
    await stock_codes(
        bot.sessions, "item,name_ko,name_en,cost,code\ncake,케이크,Cake,900,CAKE-0001-XXXX\n"
    )
    poor = await Neighbour(bot, "민지").register()
    rich = await Neighbour(bot, "지훈").register()
    await _pay(bot.sessions, bot.clock, poor.id, 300)
    await _pay(bot.sessions, bot.clock, rich.id, 2000)
    [listing] = await poor.say("/market")
    [too_dear] = await poor.press(listing, "케이크 · 900P")
    assert "보유 포인트는 300" in too_dear["text"] and not buttons(too_dear)
    # The rich one's confirm card, pressed twice at once: one purchase.
    [listing] = await rich.say("/market")
    [confirm] = await rich.press(listing, "케이크 · 900P")
    buy = data_of(confirm, "교환하기 ✅")
    for _ in range(2):
        await bot.emulator.press_button(rich.id, rich.id, confirm["message_id"], buy, force=True)
    await bot.deliver()
    codes = [m for m in bot.bot_messages(rich.id) if "CAKE-0001-XXXX" in m.get("text", "")]
    assert len(codes) == 1
    # Sold out for the next buyer, who is charged nothing.
    await _pay(bot.sessions, bot.clock, poor.id, 1000)
    other = callbacks.encode(Action.MARKET_BUY, confirm_item_id(buy), "othernonce")
    await bot.emulator.press_button(poor.id, poor.id, confirm["message_id"], other, force=True)
    await bot.deliver()
    assert poor.alert() == "방금 품절됐어요. 포인트는 차감되지 않았어요."
    async with bot.sessions() as s:
        assert await ledger.balance(s, rich.id) == 1100
        assert await ledger.balance(s, poor.id) == 1300
    await assert_money_is_sound(bot.sessions)


def confirm_item_id(data: str) -> int:
    return callbacks.decode(data).int_arg(0)


async def test_64_buyers_for_the_last_10_codes(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    codes = "".join(f"tea,녹차,Green tea,100,TEA-{n:04d}-GREEN\n" for n in range(10))
    await stock_codes(sessions, "item,name_ko,name_en,cost,code\n" + codes)
    async with transaction(sessions) as s:
        s.add_all(User(id=7000 + i, created_at=clock.now(), registered_at=clock.now(),
                       interests=[], preferred_times=[]) for i in range(64))  # fmt: skip
    for i in range(64):
        await _pay(sessions, clock, 7000 + i, 100 if i % 8 else 50)  # every 8th cannot afford
    async with sessions() as s:
        [shelf] = await market.shelves(s)

    async def buy(user_id: int) -> str:
        try:
            async with transaction(sessions) as s:
                purchase = await market.exchange(
                    s, user_id=user_id, item_id=shelf.item.id, request="once", now=clock.now()
                )
            return purchase.code
        except errors.OutOfStock:
            return "sold out"
        except errors.InsufficientPoints:
            return "poor"

    results = await asyncio.gather(*(buy(7000 + i) for i in range(64)))
    sold = [r for r in results if r.startswith("TEA-")]
    assert len(sold) == len(set(sold)) == 10
    assert results.count("poor") + results.count("sold out") == 54
    await assert_money_is_sound(sessions)


async def test_one_person_tapping_twenty_times_at_once(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await stock_codes(sessions, CSV)
    async with transaction(sessions) as s:
        s.add(User(id=8000, created_at=clock.now(), registered_at=clock.now(), interests=[],
                   preferred_times=[]))  # fmt: skip
    await _pay(sessions, clock, 8000, 1000)
    async with sessions() as s:
        [shelf] = await market.shelves(s)

    async def tap() -> str:
        for _ in range(2):  # what the handler does: a lost race is retried as a replay
            try:
                async with transaction(sessions) as s:
                    purchase = await market.exchange(
                        s, user_id=8000, item_id=shelf.item.id, request="same-card", now=clock.now()
                    )
                return purchase.code
            except errors.ReferenceConflict:
                continue
        return "lost"

    results = await asyncio.gather(*(tap() for _ in range(20)))
    assert len(set(results)) == 1 and results[0].startswith("CAFE-")
    async with sessions() as s:
        assert await ledger.balance(s, 8000) == 500
    await assert_money_is_sound(sessions)


async def test_an_admin_refunds_a_bad_code_once(bot: BotHarness) -> None:
    await stock_codes(bot.sessions, CSV)
    buyer = await Neighbour(bot, "민지").register()
    admin = await Neighbour(bot, "관리자").register()
    async with transaction(bot.sessions) as s:
        (await s.get(User, admin.id)).is_admin = True  # type: ignore[union-attr]
    await _pay(bot.sessions, bot.clock, buyer.id, 500)
    async with transaction(bot.sessions) as s:
        [shelf] = await market.shelves(s)
        bought = await market.exchange(s, user_id=buyer.id, item_id=shelf.item.id,
                                       request="r1", now=bot.clock.now())  # fmt: skip
    [denied] = await buyer.say(f"/refund {bought.code}")
    assert denied["text"] == "관리자만 할 수 있어요."
    [done] = await admin.say(f"/refund {bought.code}")
    [again] = await admin.say(f"/refund {bought.code}")
    assert done["text"] == "500포인트를 환불했어요." and again["text"] == "이미 환불된 코드예요."
    async with bot.sessions() as s:
        assert await ledger.balance(s, buyer.id) == 500
        [shelf] = await market.shelves(s)
        assert shelf.stock == 2  # the bad code is out of use
    await assert_money_is_sound(bot.sessions)


async def test_operators_load_codes_from_the_command_line(
    db_url: str, sessions: SessionFactory, tmp_path: object, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from pathlib import Path

    from bot.cli import main

    csv_file = Path(str(tmp_path)) / "codes.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    monkeypatch.setenv("HALSARAM_DATABASE_URL", db_url)
    assert await asyncio.to_thread(main, ["market", "load", str(csv_file)]) == 0
    assert await asyncio.to_thread(main, ["market", "load", str(csv_file)]) == 0
    assert await asyncio.to_thread(main, ["market", "load", str(csv_file) + ".missing"]) == 2
    out = capsys.readouterr()
    assert "loaded 3 codes for 1 item" in out.out and "refused 3 duplicates" in out.out
    assert "1 items" not in out.out
    assert "cannot read" in out.err
    async with sessions() as s:
        [shelf] = await market.shelves(s)
    assert shelf.stock == 3
