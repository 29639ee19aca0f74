"""Beyond: figures for operators. A seeded fortnight gives exact numbers in `/stats`, in
`halsaram stats --json`, and in the weekly chart sent once to the admin group."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime, timedelta

import pytest
from PIL import Image

from scheduler.outbox import WORKER
from scheduler.stats import send_weekly
from storage import evidence, meetings, stats
from storage.db import transaction
from storage.market import load_csv
from storage.users import grant_admin
from tests.harness import BotHarness
from tests.people import RULES, SEOUL, Neighbour, configure, new_meetup

pytestmark = pytest.mark.usefixtures("seeded")
VOUCHERS = """item,name_ko,name_en,cost,code
coffee,커피,Coffee,300,STATS-1
coffee,커피,Coffee,300,STATS-2
"""


async def _photo(bot: BotHarness, meeting_id: int, person: Neighbour, n: int) -> int:
    async with transaction(bot.sessions) as s:
        row = await evidence.submit(
            s, user_id=person.id, meeting_id=meeting_id,
            upload=evidence.Upload(f"file-{n}", f"unique-{n}", False),
            now=bot.clock.now(), rules=evidence.EvidenceRules(),
        )  # fmt: skip
        return row.id


async def _checked(bot: BotHarness, evidence_id: int, flags: list[str]) -> None:
    async with transaction(bot.sessions) as s:
        await evidence.claim_for_checking(s, bot.clock.now())
        await evidence.record_checks(
            s, evidence_id, evidence.CheckResult(None, None, None, None, None, {}, flags)
        )


async def _fortnight(bot: BotHarness) -> Neighbour:
    """Last week: 4 signups, a meetup held (3 seated, 2 came, 1 no-show), one cancelled, two
    photos (one a duplicate, approved after 30 minutes; one waiting). This week: 1 signup.
    Two voucher codes of 300 points in stock. Returns the admin."""
    bot.clock.set(datetime(2026, 11, 18, 9, 0, tzinfo=SEOUL))
    admin = await Neighbour(bot, "Admin", lang="en").register()
    async with transaction(bot.sessions) as s:
        await grant_admin(s, admin.id, bot.clock)
    host = await Neighbour(bot, "지훈").register()
    came = await Neighbour(bot, "민지").register()
    absent = await Neighbour(bot, "서연").register()
    held = await new_meetup(bot, host, hours=1)
    dropped = await new_meetup(bot, host, hours=3, key="olympic-park-lone-tree")
    async with transaction(bot.sessions) as s:
        await meetings.cancel(s, dropped, host.id, bot.clock.now())
        for person in (came, absent):
            await meetings.join(s, held, person.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(minutes=55))
    async with transaction(bot.sessions) as s:
        await meetings.open_checkin(s, held, host.id, RULES, bot.clock.now())
        await meetings.check_in(s, held, came.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(minutes=10))
    approved = await _photo(bot, held, came, 1)
    waiting = await _photo(bot, held, host, 2)
    await _checked(bot, approved, ["duplicate"])
    await _checked(bot, waiting, [])
    bot.clock.advance(timedelta(minutes=30))
    async with transaction(bot.sessions) as s:
        await evidence.decide(
            s, evidence_id=approved, reviewer_id=admin.id, action=evidence.APPROVE, reason=None,
            now=bot.clock.now(), rules=evidence.EvidenceRules(),
        )  # fmt: skip
    bot.clock.advance(timedelta(hours=1))
    async with transaction(bot.sessions) as s:
        assert await meetings.finish_due(s, RULES, bot.clock.now()) == [held]
        await load_csv(s, VOUCHERS)
    bot.clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=SEOUL))
    await Neighbour(bot, "하준").register()
    bot.clock.advance(timedelta(minutes=1))
    return admin


EXPECTED_TOTAL = {
    "signups": 5, "verified": 5, "meetups_created": 2, "meetups_held": 1,
    "meetups_cancelled": 1, "seats": 3, "checked_in": 2, "no_shows": 1, "photos": 2,
    "duplicates": 1, "decided": 1, "approved": 1, "points_issued": 100,
    "checkin_rate": 2 / 3, "approval_rate": 1.0, "median_decision_minutes": 30.0,
}  # fmt: skip


async def test_figures_of_a_seeded_fortnight_are_exact(bot: BotHarness) -> None:
    await _fortnight(bot)
    async with bot.sessions() as s:
        report = await stats.report(s, until=bot.clock.now(), zone=SEOUL, weeks=2)
    data = report.as_json()
    assert data["weeks"] == ["2026-11-16", "2026-11-23"]
    assert data["total"] == EXPECTED_TOTAL
    assert data["by_week"]["2026-11-23"]["signups"] == 1
    assert data["by_week"]["2026-11-16"]["signups"] == 4
    assert list(data["by_region"]) == ["Jamsil-dong"]
    snapshot = {k: data[k] for k in ("pending", "points_outstanding", "voucher_codes")}
    assert snapshot == {"pending": 1, "points_outstanding": 100, "voucher_codes": 2}
    assert (data["voucher_value"], data["liability_gap"]) == (600, 0)


async def test_stats_command_for_admins_only(bot: BotHarness) -> None:
    admin = await _fortnight(bot)
    stranger = await Neighbour(bot, "Stranger", lang="en").register()
    [refused] = await stranger.say("/stats")
    assert refused["text"] == "Sorry, this command is for admins."
    bot.clock.advance(timedelta(minutes=1))
    text, chart = await admin.say("/stats")
    lines = text["text"].splitlines()
    assert lines[:6] == [
        "📊 Figures from Monday 2026-11-02 to Sunday 2026-11-29",
        "👋 Signups: 6 · verified neighbourhoods: 6",  # the stranger signed up just now
        "🗓 Meetups: 2 created, 1 held, 1 cancelled",
        "✅ Check-in rate: 67% (2/3) · no-shows: 1",
        "📸 Photos: 2 sent, 1 waiting now, median 30 min to a decision, 100% approved (1/1), "
        "1 duplicate caught",
        "⭐ Points: 100 issued; 100 held by people against 600 in voucher stock (2 codes)",
    ]
    assert "11/16: 4 signups, 1/2 meetups held, check-in 67%, 1/1 photo approved, 100 P" in lines
    assert "11/23: 2 signups, 0/0 meetups held, check-in -, 0/0 photos approved, 0 P" in lines
    assert any(line.startswith("Jamsil-dong: 6 signups") for line in lines)
    assert "photo" in chart
    png = bot.calls("sendPhoto")[-1].files["photo"][1]
    assert Image.open(io.BytesIO(png)).size == (900, 520)


async def test_cli_prints_the_same_figures(
    bot: BotHarness,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    await _fortnight(bot)
    monkeypatch.setenv("HALSARAM_DATABASE_URL", db_url)
    args = ["stats", "--until", "2026-11-25", "--weeks", "2", "--json"]
    assert await asyncio.to_thread(main, args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == EXPECTED_TOTAL and data["pending"] == 1
    assert await asyncio.to_thread(main, ["stats", "--until", "2026-11-25"]) == 0
    assert "🗓 Meetups: 2 created, 1 held, 1 cancelled" in capsys.readouterr().out


async def test_the_weekly_chart_goes_to_the_admin_group_once(bot: BotHarness) -> None:
    admin = await _fortnight(bot)
    group = bot.emulator.create_group("Halsaram admins", [admin.id], admin_ids=[admin.id])
    await bot.emulator.add_bot_to_group(admin.id, group["id"], as_admin=True)
    await bot.deliver()
    await configure(bot, admin_chat_id=group["id"], default_language="en")
    settings = bot.app.bot_data["services"].settings
    bot.clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=SEOUL))  # Monday: last week is over
    assert await send_weekly(bot.app.bot, bot.sessions, bot.clock, settings, WORKER)
    assert not await send_weekly(bot.app.bot, bot.sessions, bot.clock, settings, WORKER)
    [chart] = [m for m in bot.bot_messages(group["id"]) if "photo" in m]
    assert chart["caption"].startswith("📊 Figures from Monday 2026-11-23 to Sunday 2026-11-29")
    assert "👋 Signups: 1 · verified neighbourhoods: 1" in chart["caption"]


async def test_no_weekly_report_for_the_first_partial_week_nor_an_empty_one(
    bot: BotHarness,
) -> None:
    """The service began on Wednesday 18 November: that week is not reported (it said
    "2026-11-16 ~ 2026-11-16" with half a week in it), nor a week where nothing happened
    (issue 23); the whole week between is."""
    admin = await _fortnight(bot)
    group = bot.emulator.create_group("Halsaram admins", [admin.id], admin_ids=[admin.id])
    await bot.emulator.add_bot_to_group(admin.id, group["id"], as_admin=True)
    await bot.deliver()
    await configure(bot, admin_chat_id=group["id"], default_language="en")
    settings = bot.app.bot_data["services"].settings
    for monday, sent in ((23, False), (30, True)):
        bot.clock.set(datetime(2026, 11, monday, 10, 0, tzinfo=SEOUL))
        assert await send_weekly(bot.app.bot, bot.sessions, bot.clock, settings, WORKER) is sent
    bot.clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=SEOUL))  # the week of 30 Nov: nothing
    assert not await send_weekly(bot.app.bot, bot.sessions, bot.clock, settings, WORKER)
    [chart] = [m for m in bot.bot_messages(group["id"]) if "photo" in m]
    assert "2026-11-23" in chart["caption"]
