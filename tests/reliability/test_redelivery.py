"""Every update delivered twice, as Telegram does when it missed the bot's answer: the whole
path from joining a meetup to spending the points ends as if each update came once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage import ledger
from storage.models import InboxUpdate, Participation, VoucherCode
from tests import photo_corpus as corpus
from tests.harness import BotHarness, buttons
from tests.people import (
    Neighbour,
    action_data,
    admin_group,
    assert_money_is_sound,
    balance_of,
    decode_qr,
    find_mission,
    meetup_card,
    new_meetup,
    run_checks,
    stock_codes,
)
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")
CSV = "item,name_ko,name_en,cost,code\ncoffee,아메리카노,Americano,50,CAFE-0001-AMER\n"


def _repeated(texts: list[str]) -> list[str]:
    """Bot messages that a person saw more than once."""
    return [text for text, n in Counter(texts).items() if n > 1]


async def test_every_update_twice_ends_as_if_once(bot: BotHarness, tmp_path: Path) -> None:
    await stock_codes(bot.sessions, CSV)
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "Mina", lang="en").register()
    admin, group_id = await admin_group(bot, tmp_path)
    meeting_id = await new_meetup(bot, host, hours=1)
    points = (await find_mission(bot.sessions)).points
    bot.deliveries = 2

    await guest.press(await meetup_card(bot, guest, meeting_id), "Join")
    bot.clock.advance(timedelta(minutes=55))
    await host.press(await meetup_card(bot, host, meeting_id), "📷 체크인 QR")
    payload = decode_qr(bot, bot.bot_messages(host.id)[-1]).split("start=", 1)[1]
    [checked_in] = await guest.say(f"/start {payload}")
    assert checked_in["text"].startswith("Checked in to")
    bot.clock.advance(timedelta(minutes=10))
    [got_it] = await bot.act(guest.id, bot.emulator.send_photo(guest.id, corpus.camera_jpeg(7)))
    assert got_it["text"].startswith("Got it!")
    assert await run_checks(bot) == 1
    card = [m for m in bot.bot_messages(group_id) if "photo" in m][-1]
    await bot.press(admin.user, card, action_data(card, Action.REVIEW_APPROVE))
    assert await balance_of(bot, guest.id) == points
    await bot.run_outbox()
    [listing] = await guest.say("/market")
    [confirm] = await guest.press(listing, "Americano · 50P")
    [code] = await guest.press(confirm, buttons(confirm)[0][0])
    assert "CAFE-0001-AMER" in code["text"]

    assert await balance_of(bot, guest.id) == points - 50
    await assert_money_is_sound(bot.sessions)
    async with bot.sessions() as s:
        entries = await ledger.history(s, guest.id, limit=10)
        seated = await s.scalar(
            select(func.count())
            .select_from(Participation)
            .where(
                Participation.meeting_id == meeting_id,
                Participation.checked_in_at.is_not(None),
            )
        )
        issued = await s.scalar(
            select(func.count()).select_from(VoucherCode).where(VoucherCode.issued_to == guest.id)
        )
        stored = Counter(await s.scalars(select(InboxUpdate.update_id)))
    assert len(entries) == 2 and seated == 2 and issued == 1
    assert max(stored.values()) == 1  # each update kept once, though it came twice
    for person in (guest, host):
        assert _repeated(person.inbox()) == []
