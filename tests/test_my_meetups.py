"""`/mymeetups` is a record of one's own meetups (issue 23, the seed's 마이페이지): coming up
with where the person stands, past ones with how they went (attended, the photo's decision and
its points, a no-show, a cancellation), newest first, five a page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage import evidence, meetings
from storage.db import transaction
from storage.models import Evidence
from tests import photo_corpus as corpus
from tests.harness import BotHarness, buttons
from tests.people import (
    RULES,
    Neighbour,
    Scene,
    data_of,
    meetup_card,
    new_meetup,
    run_checks,
    send_photo,
)
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")
TITLE = "석촌호수 한 바퀴 걷기"


async def test_coming_up_shows_where_each_person_stands(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    waiting = await Neighbour(bot, "서연").register()
    meeting_id = await new_meetup(bot, host, hours=3, capacity=2)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    await waiting.press(await meetup_card(bot, waiting, meeting_id), "대기 명단에 올리기")
    for person, standing in ((host, "🏠 호스트"), (guest, "✅ 참여"), (waiting, "⏳ 대기 중")):
        [mine] = await person.say("/mymeetups")
        assert mine["text"].startswith("📅 다가오는 모임:")
        assert f"{TITLE} — 11월 25일 (수) 12:00, 석촌호수 · {standing}" in mine["text"]
        assert data_of(mine, f"11월 25일 (수) 12:00 · {TITLE}") == callbacks.encode(
            Action.MEETUP_VIEW, meeting_id
        )
        assert "지난 모임" not in mine["text"]


async def test_the_past_says_how_each_meetup_went(scene: Scene) -> None:
    bot, guest, host = scene.bot, scene.guest, scene.host
    await send_photo(bot, guest, corpus.camera_jpeg(401))
    await run_checks(bot)
    [row] = await _evidence_of(scene)
    async with transaction(bot.sessions) as s:
        await evidence.decide(
            s, evidence_id=row.id, reviewer_id=scene.admin.id, action=evidence.APPROVE,
            reason=None, now=bot.clock.now(), rules=evidence.EvidenceRules(),
        )  # fmt: skip
    # A second meetup the guest joins and never checks in to, a third the host cancels.
    missed = await new_meetup(bot, host, hours=1)
    await guest.press(await meetup_card(bot, guest, missed), "Join")
    dropped = await new_meetup(bot, host, hours=2)
    await guest.press(await meetup_card(bot, guest, dropped), "Join")
    async with transaction(bot.sessions) as s:
        await meetings.cancel(s, dropped, host.id, bot.clock.now())
    bot.clock.advance(timedelta(hours=3))
    await bot.run_meetup_clock()

    [mine] = await guest.say("/mymeetups")
    text = mine["text"]
    assert text.startswith("Nothing coming up") and "🗂 Past (1/1 page):" in text
    lines = [line for line in text.splitlines() if line.startswith("• ")]
    assert lines == [
        "• Walk once round Seokchon Lake — Wed 25 Nov 12:05 · cancelled",
        "• Walk once round Seokchon Lake — Wed 25 Nov 11:05 · 🚫 did not check in",
        f"• Walk once round Seokchon Lake — Wed 25 Nov 10:00 · 🙋 attended · 📸 approved, "
        f"+{scene.points} points",
    ]
    [hosted] = await host.say("/mymeetups")  # the host never showed the QR: not checked in
    assert hosted["text"].count("\n• ") == 3 and "취소됨" in hosted["text"]


async def test_the_past_pages_five_at_a_time_and_a_forged_page_shows_the_last(
    bot: BotHarness,
) -> None:
    hosts = [await Neighbour(bot, name).register() for name in ("지훈", "도윤", "하늘")]
    guest = await Neighbour(bot, "민지").register()
    for n in range(7):  # three hosts: a host opens at most three meetups a day
        meeting_id = await new_meetup(bot, hosts[n % 3], hours=1 + n)
        async with transaction(bot.sessions) as s:
            await meetings.join(s, meeting_id, guest.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(hours=12))
    await bot.run_meetup_clock()

    [first] = await guest.say("/mymeetups")
    assert "🗂 지난 모임 (1/2쪽):" in first["text"]
    assert len([line for line in first["text"].splitlines() if line.startswith("• ")]) == 5
    assert [label for label, _ in buttons(first)] == ["이전 »"]
    await guest.press(first, "이전 »")
    second = bot.emulator.transcript(guest.id)[-1]
    assert "🗂 지난 모임 (2/2쪽):" in second["text"]
    assert len([line for line in second["text"].splitlines() if line.startswith("• ")]) == 2
    await guest.press_data(second, callbacks.encode(Action.MY_MEETUPS, 10**12))
    assert "(2/2쪽)" in bot.emulator.transcript(guest.id)[-1]["text"]


async def _evidence_of(scene: Scene) -> list[Evidence]:
    async with scene.bot.sessions() as s:
        return list(await s.scalars(select(Evidence).where(Evidence.user_id == scene.guest.id)))
