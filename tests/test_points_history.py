"""/points explains each entry (issue 23): which mission and meetup (date and place, the place
named in the reader's language), which decision paid (approved at review, or on appeal by a
second admin), which voucher an exchange bought or a refund gave back, an admin's note on an
adjustment; the "My vouchers" count leaves refunded codes out. On both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from storage import evidence, ledger, market
from storage.db import transaction
from storage.models import Evidence, MarketItem
from tests import photo_corpus as corpus
from tests.people import (
    Scene,
    evidence_rows,
    find_mission,
    run_checks,
    send_photo,
    stock_codes,
)
from ui import market as screens

pytestmark = pytest.mark.usefixtures("seeded")
RULES = evidence.EvidenceRules()


async def _photo_decided(scene: Scene, action: str, reason: str | None = None) -> int:
    bot = scene.bot
    await send_photo(bot, scene.guest, corpus.camera_jpeg(411))
    await run_checks(bot)
    [row] = [r for r in await evidence_rows(bot) if r.status == evidence.IN_REVIEW]
    async with transaction(bot.sessions) as s:
        await evidence.decide(
            s, evidence_id=row.id, reviewer_id=scene.admin.id, action=action, reason=reason,
            now=bot.clock.now(), rules=RULES,
        )  # fmt: skip
    return row.id


async def _item_id(scene: Scene, key: str) -> int:
    async with scene.bot.sessions() as s:
        found = await s.scalar(select(MarketItem.id).where(MarketItem.key == key))
    assert found is not None
    return int(found)


async def _page(scene: Scene, size: int = 8) -> market.PointsPage:
    async with scene.bot.sessions() as s:
        return await market.points(s, scene.guest.id, page=0, size=size)


async def test_each_entry_says_what_it_was_for(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    await _photo_decided(scene, evidence.APPROVE)
    await stock_codes(
        bot.sessions, "item,name_ko,name_en,cost,code\ntea,녹차,Green tea,50,TEA-000001\n"
    )
    item_id = await _item_id(scene, "tea")
    async with transaction(bot.sessions) as s:
        await market.exchange(
            s, user_id=guest.id, item_id=item_id, request="r1", now=bot.clock.now()
        )
    async with transaction(bot.sessions) as s:
        await ledger.post(
            s, user_id=guest.id, amount=5, kind=ledger.ADJUSTMENT, reference="adjust:test",
            note="sorry for the wait", actor_id=scene.admin.id, now=bot.clock.now(),
        )  # fmt: skip
    mission = await find_mission(bot.sessions)
    page = await _page(scene)
    assert [line.source.why for line in page.lines] == ["adjustment", "exchange", "review"]
    assert page.vouchers == 1
    [(text, _markup)] = [screens.points_page("en", bot.settings.zone, page)]
    lines = text.splitlines()
    assert "   ↳ note: sorry for the wait" in lines
    assert "   ↳ Green tea bought" in lines
    reward = next(line for line in lines if "approved at review" in line)
    assert reward.startswith(f"   ↳ {mission.title_en}, the meetup of ")
    assert " at Seokchon Lake: approved at review" in reward  # the stored place is 석촌호수
    korean, _ = screens.points_page("ko", bot.settings.zone, page)
    assert f"{mission.title_ko}, " in korean and " 석촌호수 모임: 검토에서 승인" in korean
    assert "녹차 교환" in korean and "메모: sorry for the wait" in korean
    # Over the bot: the guest (English) asks for /points.
    [shown] = await guest.say("/points")
    assert "Green tea bought" in shown["text"] and "Seokchon Lake" in shown["text"]


async def test_a_refund_names_the_code_and_the_voucher_count_leaves_it_out(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    await _photo_decided(scene, evidence.APPROVE)
    await stock_codes(
        bot.sessions, "item,name_ko,name_en,cost,code\ntea,녹차,Green tea,50,TEA-000002\n"
    )
    item_id = await _item_id(scene, "tea")
    async with transaction(bot.sessions) as s:
        await market.exchange(
            s, user_id=guest.id, item_id=item_id, request="r2", now=bot.clock.now()
        )
    async with transaction(bot.sessions) as s:
        await market.refund(s, "TEA-000002", scene.admin.id, bot.clock.now())
    page = await _page(scene)
    assert page.lines[0].source.why == "refund"
    assert page.vouchers == 0  # the refunded code is out of use: not counted as held
    text, markup = screens.points_page("en", bot.settings.zone, page)
    assert "   ↳ code TEA-**0002 of Green tea refunded by an admin" in text
    assert markup is None  # no "My vouchers" button for a refunded code alone
    korean, _ = screens.points_page("ko", bot.settings.zone, page)
    assert "녹차 코드 TEA-**0002: 관리자가 환불" in korean


async def test_a_reward_paid_on_appeal_says_so(scene: Scene) -> None:
    """The first review rejected the photo; a second admin approved it on appeal (what
    `storage.appeals` does: the photo turns approved, the review on record stays)."""
    bot = scene.bot
    photo = await _photo_decided(scene, evidence.REJECT, "blurry")
    async with transaction(bot.sessions) as s:
        await s.execute(update(Evidence).where(Evidence.id == photo).values(status="approved"))
        await ledger.post(
            s, user_id=scene.guest.id, amount=scene.points, kind=ledger.REWARD,
            reference=f"evidence:{photo}", now=bot.clock.now(), actor_id=scene.admin.id,
        )  # fmt: skip
    page = await _page(scene)
    assert [line.source.why for line in page.lines] == ["appeal"]
    text, _ = screens.points_page("en", bot.settings.zone, page)
    assert text.endswith(" at Seokchon Lake: approved on appeal")
    korean, _ = screens.points_page("ko", bot.settings.zone, page)
    assert korean.endswith("석촌호수 모임: 이의 신청에서 승인")


async def test_a_long_history_is_paged_and_every_line_explained(scene: Scene) -> None:
    bot = scene.bot
    async with transaction(bot.sessions) as s:
        for n in range(10):
            await ledger.post(
                s, user_id=scene.guest.id, amount=n + 1, kind=ledger.BONUS,
                reference=f"bonus:{n}", note=f"bonus {n}", now=bot.clock.now(),
            )  # fmt: skip
    first = await _page(scene)
    assert len(first.lines) == 8 and first.older
    text, markup = screens.points_page("en", bot.settings.zone, first)
    assert text.count("↳ note: bonus ") == 8 and markup is not None
