"""Admins find their way (issue 23): `/reports` lists the open reports, paged, each a card with
the buttons the admin group's cards have; a permanent ban with a reason (`/ban`, `/unban`, or
Ban for good on a report card) after which the person gets a polite final message on anything
they send, may not join, host or exchange, and keeps their points, frozen. In process, on both
databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage import errors, ledger, market, meetings, moderation
from storage.db import transaction
from storage.models import Report, User
from tests.harness import BotHarness, buttons
from tests.people import Neighbour, new_admin, new_meetup
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")
RULES = meetings.Rules()


async def _reports(bot: BotHarness, reporter: Neighbour, about: Neighbour, n: int) -> list[int]:
    """`n` open reports by `reporter` about `about` (rows: the conversation is tested apart)."""
    ids = []
    async with transaction(bot.sessions) as s:
        for i in range(n):
            row = Report(
                reporter_id=reporter.id, reported_id=about.id, reason="spam",
                details=f"report {i + 1}", created_at=bot.clock.now(),
            )  # fmt: skip
            s.add(row)
            await s.flush()
            ids.append(row.id)
    return ids


async def _status(bot: BotHarness, report_id: int) -> tuple[str, str | None]:
    async with bot.sessions() as s:
        row = await s.get(Report, report_id)
        assert row is not None
        return row.status, row.action


async def _user(bot: BotHarness, user_id: int) -> User:
    async with bot.sessions() as s:
        found = await s.get(User, user_id)
        assert found is not None
        return found


async def test_reports_lists_the_open_ones_paged_with_their_buttons(bot: BotHarness) -> None:
    admin = await new_admin(bot, "Admin Kim")
    mina = await Neighbour(bot, "Mina", lang="en").register()
    jun = await Neighbour(bot, "Jun", lang="en").register()
    ids = await _reports(bot, mina, jun, 7)
    shown = await admin.say("/reports")
    cards = [m for m in shown if m.get("text", "").startswith("Report #")]
    assert [c["text"].split()[1] for c in cards] == [f"#{i}" for i in ids[:5]]
    header = shown[-1]
    assert header["text"] == "7 open reports, oldest first (page 1/2):"
    warn = callbacks.encode(Action.MODERATE, ids[0], "warn")
    assert warn in [d for _, d in buttons(cards[0])]
    assert callbacks.encode(Action.MODERATE, ids[0], "ban") in [d for _, d in buttons(cards[0])]
    # The same buttons decide, here as in the admin group.
    await admin.press_data(cards[0], warn)
    assert await _status(bot, ids[0]) == ("actioned", "warn")
    later = await admin.press_data(header, callbacks.encode(Action.REPORTS_PAGE, 1))
    page2 = [m["text"] for m in later if m.get("text", "").startswith("Report #")]
    # One decided: six open, #2 to #6 on the first page, #7 alone on the second.
    assert page2[-1].split()[1] == f"#{ids[6]}" and page2[-2].split()[1] == f"#{ids[4]}"
    assert later[-1]["text"] == "6 open reports, oldest first (page 2/2):"
    # Anyone else: refused, nothing listed.
    [refused] = await mina.say("/reports")
    assert "Report #" not in refused["text"] and "admin" in refused["text"].lower()


async def test_a_ban_closes_the_account_for_good_and_keeps_the_points(bot: BotHarness) -> None:
    admin = await new_admin(bot, "Admin Kim")
    host = await Neighbour(bot, "지훈").register()
    jun = await Neighbour(bot, "Jun", lang="en").register()
    meeting_id = await new_meetup(bot, host)
    async with transaction(bot.sessions) as s:
        await ledger.post(
            s, user_id=jun.id, amount=500, kind=ledger.BONUS, reference="bonus:jun",
            now=bot.clock.now(), note="welcome",
        )  # fmt: skip
    [usage] = await admin.say("/ban")
    assert "/ban 123456789" in usage["text"]
    [done] = await admin.say(f"/ban {jun.id} spamming every meetup")
    assert done["text"].startswith(f"Banned Jun ({jun.id}) for good: spamming every meetup.")
    banned = await _user(bot, jun.id)
    assert banned.ban_reason == "spamming every meetup"
    await bot.run_outbox()
    assert any("closed your account for good" in text for text in jun.inbox())

    # Any interaction: the polite final message, nothing else.
    [final] = await jun.say("/meetups")
    assert "closed by the moderators" in final["text"]
    assert await jun.say("/missions") == []  # told once a minute, not each time
    # Data rights stay open.
    privacy = await jun.say("/privacy")
    assert privacy and "closed by the moderators" not in privacy[-1]["text"]
    # Storage refuses joining, hosting's gate and exchanging; the points stay, frozen.
    async with transaction(bot.sessions) as s:
        with pytest.raises(errors.Banned):
            await meetings.join(s, meeting_id, jun.id, RULES, bot.clock.now())
    async with transaction(bot.sessions) as s:
        with pytest.raises(errors.Banned):
            await market.exchange(s, user_id=jun.id, item_id=1, request="r1", now=bot.clock.now())
    async with bot.sessions() as s:
        assert await ledger.balance(s, jun.id) == 500

    # Lifted: the person may act again (the gate asks the database again at once).
    [lifted] = await admin.say(f"/unban {jun.id}")
    assert "may use Halsaram again" in lifted["text"]
    bot.clock.advance(timedelta(minutes=2))
    answer = await jun.say("/meetups")
    assert answer and "closed by the moderators" not in answer[-1]["text"]


async def test_a_ban_is_refused_for_oneself_an_admin_an_unknown_id_and_twice(
    bot: BotHarness,
) -> None:
    admin = await new_admin(bot, "Admin Kim")
    other_admin = await new_admin(bot, "Admin Lee")
    jun = await Neighbour(bot, "Jun", lang="en").register()
    for target, why in ((admin.id, "self"), (other_admin.id, "admin"), (999_999_999, "unknown")):
        async with transaction(bot.sessions) as s:
            with pytest.raises(errors.CannotBan, match=why):
                await moderation.ban(s, target, admin.id, "because")
    async with transaction(bot.sessions) as s:
        await moderation.ban(s, jun.id, admin.id, "because")
    async with transaction(bot.sessions) as s:
        with pytest.raises(errors.CannotBan, match="banned"):
            await moderation.ban(s, jun.id, admin.id, "again")
    async with transaction(bot.sessions) as s:  # not an admin
        with pytest.raises(errors.NotAdmin):
            await moderation.ban(s, admin.id, jun.id, "revenge")
    assert (await _user(bot, admin.id)).suspended_until is None
    assert (await _user(bot, other_admin.id)).suspended_until is None


async def test_ban_for_good_on_a_report_card(bot: BotHarness) -> None:
    admin = await new_admin(bot, "Admin Kim")
    mina = await Neighbour(bot, "Mina", lang="en").register()
    jun = await Neighbour(bot, "Jun", lang="en").register()
    [report_id] = await _reports(bot, mina, jun, 1)
    shown = await admin.say("/reports")
    [card] = [m for m in shown if m.get("text", "").startswith("Report #")]
    await admin.press_data(card, callbacks.encode(Action.MODERATE, report_id, "ban"))
    assert await _status(bot, report_id) == ("actioned", "ban")
    banned = await _user(bot, jun.id)
    assert moderation.is_banned(banned) and banned.ban_reason == f"report #{report_id}: spam"
    # A report about an admin: no ban from a card, the report stays open.
    [about_admin] = await _reports(bot, mina, admin, 1)
    other = await new_admin(bot, "Admin Lee")
    async with transaction(bot.sessions) as s:
        with pytest.raises(errors.CannotBan, match="admin"):
            await moderation.decide(s, about_admin, "ban", other.id, bot.clock.now())
    assert await _status(bot, about_admin) == ("open", None)
    async with bot.sessions() as s:
        assert (await s.scalar(select(User.suspended_until).where(User.id == admin.id))) is None


async def test_a_ban_made_elsewhere_reaches_the_gate_at_once(bot: BotHarness) -> None:
    """A ban written by another process (a second bot, the CLI) stops the person's very next
    update: the gate reads the person's flags with each update (issue 24), not a minute-old
    memory of them."""
    admin = await new_admin(bot, "Admin Kim")
    jun = await Neighbour(bot, "Jun", lang="en").register()
    before = await jun.say("/meetups")  # the gate has just seen Jun unbanned
    assert before and "closed by the moderators" not in before[-1]["text"]
    async with transaction(bot.sessions) as s:
        await moderation.ban(s, jun.id, admin.id, "spam", bot.clock.now())
    [final] = await jun.say("/missions")
    assert "closed by the moderators" in final["text"]
