"""Step 2, review: generated missions land as drafts (`halsaram missions generate`), admins
publish, re-price or discard them from cards in the admin group, and nobody else can."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.cli import main
from missions.categories import INTERESTS
from missions.draft import POINTS_MAX, POINTS_MIN
from storage.db import SessionFactory, transaction
from storage.models import Mission, Region
from storage.users import grant_admin
from tests.harness import BotHarness, buttons
from tests.people import Person, data_of, sign_up, store_drafts
from ui.i18n import t
from verification import geo

pytestmark = pytest.mark.usefixtures("seeded")


async def status_of(sessions: SessionFactory, mission_id: int) -> tuple[str, int]:
    async with sessions() as s:
        mission = await s.get(Mission, mission_id)
        assert mission is not None
        return mission.status, mission.points


class AdminGroup:
    """The admin group: one admin, one member who is not, and the bot."""

    def __init__(self, bot: BotHarness) -> None:
        self.bot = bot
        self.admin = bot.user("Admin", language_code="ko")
        self.member = bot.user("Member", language_code="ko")
        chat = bot.emulator.create_group("할사람 운영", [self.member["id"]], [self.admin["id"]])
        self.id: int = chat["id"]
        bot.settings.admin_chat_id = self.id

    async def join(self) -> None:
        await self.bot.act(self.id, self.bot.emulator.add_bot_to_group(self.admin["id"], self.id))
        async with transaction(self.bot.sessions) as s:
            await grant_admin(s, self.admin["id"], self.bot.clock)

    async def say(self, user: dict[str, Any], text: str) -> list[dict[str, Any]]:
        return await self.bot.act(self.id, self.bot.emulator.send_text(user["id"], text, self.id))

    async def press(self, user: dict[str, Any], card: dict[str, Any], label: str) -> str:
        """Presses a button (forced: a forwarded card is pressable by anyone) and returns what
        the presser was told: the answer's text, or the message after a press answered first
        ("" when the redrawn card says it all)."""
        data = data_of(card, label)
        before = len(self.bot.bot_messages(self.id))
        await self.bot.emulator.press_button(
            user["id"], self.id, card["message_id"], data, force=True
        )
        await self.bot.deliver()
        answer = str(self.bot.calls("answerCallbackQuery")[-1].params.get("text", ""))
        after = [m.get("text", "") for m in self.bot.bot_messages(self.id)[before:]]
        return answer or (after[-1] if after else "")

    def now(self, card: dict[str, Any]) -> dict[str, Any]:
        return next(
            m
            for m in self.bot.emulator.transcript(self.id)
            if m["message_id"] == card["message_id"]
        )


async def test_an_admin_publishes_a_draft_and_people_see_it(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    [draft] = await store_drafts(sessions, 1, bot.clock.now())
    group = AdminGroup(bot)
    await group.join()
    p = Person(bot)
    await sign_up(p)
    [listing] = await p.say("/missions")
    assert draft.title_ko not in listing["text"]

    [card] = await group.say(group.admin, "/drafts")
    assert card["text"].startswith(f"미션 #{draft.id} (rules)\n{draft.title_ko}\n{draft.title_en}")
    assert "📝 검토를 기다리는 초안" in card["text"]
    labels = [label for label, _ in buttons(card)]
    assert labels[:2] == ["✅ 게시", "🗑 버리기"] and "+10" in labels
    # Answered at once; the redrawn card says what was decided (no toast repeats it).
    assert await group.press(group.admin, card, "✅ 게시") == ""
    published = group.now(card)
    assert "✅ 게시됨" in published["text"] and buttons(published) == []
    assert (await status_of(sessions, draft.id))[0] == "published"

    [listing] = await p.say("/missions")
    await p.press(t("ko", INTERESTS[draft.category]), listing)
    filtered = next(
        m for m in bot.emulator.transcript(p.id) if m["message_id"] == listing["message_id"]
    )
    assert draft.title_ko in filtered["text"]

    # A second press (a double tap, or another admin) decides nothing twice.
    assert await group.press(group.admin, card, "✅ 게시") == "이미 검토한 미션이에요."


async def test_an_admin_sets_points_and_discards(bot: BotHarness, sessions: SessionFactory) -> None:
    first, second = await store_drafts(sessions, 2, bot.clock.now())
    group = AdminGroup(bot)
    await group.join()
    cards = await group.say(group.admin, "/drafts")
    assert len(cards) == 2
    card = cards[0]
    points = first.points
    assert await group.press(group.admin, card, "+10") == ""
    repriced = group.now(card)
    assert f"🏆 {points + 10}포인트" in repriced["text"]
    # The old +10 button carried the value it sets: pressing it twice sets it once.
    await group.press(group.admin, card, "+10")
    assert (await status_of(sessions, first.id)) == ("draft", points + 10)
    await group.press(group.admin, group.now(card), "+50")
    assert (await status_of(sessions, first.id))[1] == points + 60

    assert await group.press(group.admin, cards[1], "🗑 버리기") == ""
    assert "🗑 버린 미션" in group.now(cards[1])["text"]
    assert (await status_of(sessions, second.id))[0] == "retired"
    await group.press(group.admin, group.now(card), "✅ 게시")
    assert (await status_of(sessions, first.id)) == ("published", points + 60)
    [nothing] = await group.say(group.admin, "/drafts")
    assert nothing["text"].startswith("검토할 초안이 없어요.")


async def test_someone_who_is_not_an_admin_changes_nothing(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    [draft] = await store_drafts(sessions, 1, bot.clock.now())
    group = AdminGroup(bot)
    await group.join()
    [refused] = await group.say(group.member, "/drafts")
    assert refused["text"] == "죄송해요, 관리자만 쓸 수 있는 명령이에요."
    [card] = await group.say(group.admin, "/drafts")
    for label in ("✅ 게시", "+10", "🗑 버리기"):
        notice = await group.press(group.member, card, label)
        assert notice == "죄송해요, 미션 검토는 관리자만 할 수 있어요."
    assert (await status_of(sessions, draft.id)) == ("draft", draft.points)
    assert group.now(card)["text"] == card["text"]


async def test_drafts_are_paged_ten_at_a_time(bot: BotHarness, sessions: SessionFactory) -> None:
    await store_drafts(sessions, 12, bot.clock.now())
    group = AdminGroup(bot)
    await group.join()
    sent = await group.say(group.admin, "/drafts")
    assert len(sent) == 11
    assert (
        sent[-1]["text"]
        == "초안 12개 중 10개를 보여 드렸어요. 다음 초안은 /drafts 를 다시 보내 주세요."
    )


async def test_cli_generates_50_valid_distinct_drafts_offline(
    db_url: str,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HALSARAM_DATABASE_URL", db_url)
    monkeypatch.delenv("HALSARAM_OPENAI_API_KEY", raising=False)
    argv = ["missions", "generate", "--region", "songpa", "--count", "50", "--date", "2026-11-25"]
    # The CLI runs its own event loop, as it does from a shell.
    assert await asyncio.to_thread(main, argv) == 0
    assert await asyncio.to_thread(main, argv) == 0  # the same day again: 50 more, all new
    assert await asyncio.to_thread(main, ["missions", "generate", "--count", "0"]) == 2
    out = capsys.readouterr()
    assert out.out.count("stored 50 draft missions for songpa (0 by AI, 50 by rules)") == 2
    assert "--count must be between 1 and 200" in out.err
    async with sessions() as s:
        drafts = list(await s.scalars(select(Mission).where(Mission.status == "draft")))
        songpa = {r.id: r for r in await s.scalars(select(Region).where(Region.enabled))}
        published = await s.scalar(
            select(func.count()).select_from(Mission).where(Mission.status == "published")
        )
    assert len(drafts) == 100 and published == 10  # the catalogue is untouched
    assert len({m.key for m in drafts}) == 100
    assert len({(m.title_en, m.place_name_en) for m in drafts}) == 100
    for mission in drafts:
        assert mission.source == "rules" and POINTS_MIN <= mission.points <= POINTS_MAX
        region = songpa[mission.region_id]  # type: ignore[index]
        assert geo.contains(region.boundary, mission.place_lat, mission.place_lon)
        assert mission.key and mission.key.startswith("20261125-")
