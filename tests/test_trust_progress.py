"""Trust and progress stay true (issue 23): a decision on a photo recomputes the sender's
stored trust score at once (the join and host gates read it) and awards the milestones it
reaches, even after the meetup closed; levels follow the points ever earned.

Every other event that moves the score stores it too (a rating, a no-show at the meetup's
close, a moderator's decision on a report), the join and host gates compare the score
recomputed, and /profile explains that very number as a sum."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage import errors, evidence, feedback, ledger, meetings, moderation, progress, trust
from storage.db import transaction
from storage.models import Evidence, User
from tests import photo_corpus as corpus
from tests.harness import BotHarness
from tests.people import RULES, Neighbour, Scene, new_admin, new_meetup, run_checks, send_photo

pytestmark = pytest.mark.usefixtures("seeded")


async def _stored_trust(scene: Scene) -> float:
    async with scene.bot.sessions() as s:
        user = await s.get(User, scene.guest.id)
        assert user is not None
        return user.trust_score


async def _decide(scene: Scene, action: str, reason: str | None = None) -> None:
    bot = scene.bot
    await send_photo(bot, scene.guest, corpus.camera_jpeg(311))
    await run_checks(bot)
    [row] = [r for r in await _rows(scene) if r.status == evidence.IN_REVIEW]
    async with transaction(bot.sessions) as s:
        await evidence.decide(
            s, evidence_id=row.id, reviewer_id=scene.admin.id, action=action, reason=reason,
            now=bot.clock.now(), rules=evidence.EvidenceRules(),
        )  # fmt: skip


async def _rows(scene: Scene) -> list[Evidence]:
    async with scene.bot.sessions() as s:
        return list(await s.scalars(select(Evidence).where(Evidence.user_id == scene.guest.id)))


@pytest.mark.parametrize(
    ("action", "reason", "change"),
    [(evidence.APPROVE, None, 2.0), (evidence.REJECT, "blurry", -3.0)],
)
async def test_a_decision_updates_the_stored_trust_score_at_once(
    scene: Scene, action: str, reason: str | None, change: float
) -> None:
    before = await _stored_trust(scene)
    await _decide(scene, action, reason)
    after = await _stored_trust(scene)
    assert after == before + change
    async with scene.bot.sessions() as s:  # the number the profile explains is the same
        assert (await trust.compute(s, scene.guest.id)).score == after


async def test_an_approval_after_the_meetup_closed_awards_the_first_mission_badge(
    scene: Scene,
) -> None:
    bot = scene.bot
    await send_photo(bot, scene.guest, corpus.camera_jpeg(312))
    await run_checks(bot)
    bot.clock.advance(timedelta(hours=3))
    await bot.run_meetup_clock()  # the meetup closes before anyone decided
    async with bot.sessions() as s:
        assert "first_mission" not in await progress.badges(s, scene.guest.id)
    [row] = await _rows(scene)
    async with transaction(bot.sessions) as s:
        await evidence.decide(
            s, evidence_id=row.id, reviewer_id=scene.admin.id, action=evidence.APPROVE,
            reason=None, now=bot.clock.now(), rules=evidence.EvidenceRules(),
        )  # fmt: skip
    async with bot.sessions() as s:
        assert await progress.badges(s, scene.guest.id) == ["first_mission"]


@pytest.mark.parametrize(
    ("earned", "level"),
    [
        (0, 1),
        (299, 1),
        (300, 2),
        (999, 2),
        (1000, 3),
        (2499, 3),
        (2500, 4),
        (4999, 4),
        (5000, 5),
        (9999, 5),
        (10000, 6),
        (10**9, 6),
    ],
)
def test_levels_follow_points_ever_earned(earned: int, level: int) -> None:
    assert progress.level_for(earned) == level


async def test_spending_points_does_not_lower_the_level(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest.id
    async with transaction(bot.sessions) as s:
        await ledger.post(s, user_id=guest, amount=300, kind=ledger.REWARD,
                          reference="test:level", now=bot.clock.now())  # fmt: skip
        assert await progress.level(s, guest) == 2
        await ledger.post(s, user_id=guest, amount=-300, kind=ledger.EXCHANGE,
                          reference="test:spend", now=bot.clock.now())  # fmt: skip
        assert await progress.level(s, guest) == 2


async def _meetup_over(
    bot: BotHarness,
    host: Neighbour,
    came: tuple[Neighbour, ...],
    missed: tuple[Neighbour, ...] = (),
) -> int:
    """A meetup `host` held with `came` checked in and `missed` seated but absent, closed by
    the meetup clock; then a day passes (the daily hosting cap)."""
    meeting_id = await new_meetup(bot, host, hours=1, capacity=6)
    async with transaction(bot.sessions) as s:
        for person in (*came, *missed):
            await meetings.join(s, meeting_id, person.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(minutes=55))
    async with transaction(bot.sessions) as s:
        await meetings.open_checkin(s, meeting_id, host.id, RULES, bot.clock.now())
        for person in came:
            await meetings.check_in(s, meeting_id, person.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(hours=2))
    await bot.run_meetup_clock()
    bot.clock.advance(timedelta(days=1))
    return meeting_id


async def _stored(bot: BotHarness, user_id: int) -> tuple[float, float]:
    """The stored score and the one computed now."""
    async with bot.sessions() as s:
        user = await s.get(User, user_id)
        assert user is not None
        return user.trust_score, (await trust.compute(s, user_id)).score


async def test_a_rating_stores_the_score_the_profile_explains_as_a_sum(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guests = [await Neighbour(bot, name).register() for name in ("민지", "서연")]
    meeting_id = await _meetup_over(bot, host, tuple(guests))
    for guest, stars in zip(guests, (5, 4), strict=True):
        async with transaction(bot.sessions) as s:
            await feedback.rate(s, meeting_id, guest.id, host.id, stars, bot.clock.now())
    # Two ratings averaging 4.5: (4.5 - 3) x 2 = +3.
    assert await _stored(bot, host.id) == (53.0, 53.0)
    [card] = await host.say("/profile")
    assert "신뢰 점수: 53 = 기본 50 + 3 (평가 2개, 평균 4.5)" in card["text"]
    assert "모임 참여에는 신뢰 점수 20점, 주최에는 40점이 필요해요." in card["text"]


async def test_no_shows_lower_the_stored_score_and_the_host_gate_refuses(bot: BotHarness) -> None:
    hosts = [await Neighbour(bot, name).register() for name in ("지훈", "도윤")]
    absent = await Neighbour(bot, "Alex", lang="en").register()
    await _meetup_over(bot, hosts[0], (), (absent,))
    assert await _stored(bot, absent.id) == (42.0, 42.0)
    async with bot.sessions() as s:  # 42: still above the host gate's 40
        await meetings.ensure_can_host(s, absent.id, RULES, bot.clock.now())
    await _meetup_over(bot, hosts[1], (), (absent,))
    assert await _stored(bot, absent.id) == (34.0, 34.0)
    async with bot.sessions() as s:
        with pytest.raises(errors.HostNotAllowed):
            await meetings.ensure_can_host(s, absent.id, RULES, bot.clock.now())
    [card] = await absent.say("/profile")
    assert "Trust score: 34 = 50 to start − 16 (2 no-shows)" in card["text"]
    assert "Joining a meetup needs a trust score of 20, hosting one 40." in card["text"]


async def test_upheld_reports_lower_the_stored_score_and_the_join_gate_refuses(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    guests = [await Neighbour(bot, name).register() for name in ("민지", "서연", "하준")]
    admin = await new_admin(bot, "Ops")
    meeting_id = await _meetup_over(bot, host, tuple(guests))
    for number, guest in enumerate(guests, start=1):
        async with transaction(bot.sessions) as s:
            report = await moderation.file_report(
                s, reporter_id=guest.id, reported_id=host.id, meeting_id=meeting_id,
                reason="harassment", details=None, admin_chat_id=None, now=bot.clock.now(),
            )  # fmt: skip
        async with transaction(bot.sessions) as s:
            await moderation.decide(s, report.id, "warn", admin.id, bot.clock.now())
        assert await _stored(bot, host.id) == (50.0 - 15 * number,) * 2
    other = await Neighbour(bot, "도윤").register()
    later = await new_meetup(bot, other, hours=5)
    async with transaction(bot.sessions) as s:
        with pytest.raises(errors.LowTrust):
            await meetings.join(s, later, host.id, RULES, bot.clock.now())
    [card] = await host.say("/profile")
    assert "신뢰 점수: 5 = 기본 50 − 45 (받아들여진 신고 3건)" in card["text"]


async def test_a_dismissed_report_leaves_the_score(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    admin = await new_admin(bot, "Ops")
    meeting_id = await _meetup_over(bot, host, (guest,))
    async with transaction(bot.sessions) as s:
        report = await moderation.file_report(
            s, reporter_id=guest.id, reported_id=host.id, meeting_id=meeting_id,
            reason="other", details=None, admin_chat_id=None, now=bot.clock.now(),
        )  # fmt: skip
        await moderation.decide(s, report.id, "dismiss", admin.id, bot.clock.now())
    assert await _stored(bot, host.id) == (50.0, 50.0)


async def test_the_gates_compare_the_score_recomputed_not_a_stale_copy(bot: BotHarness) -> None:
    """A stored score left behind (an old row, a write that missed it) neither keeps out a
    person whose record is clean nor lets in one whose record is not."""
    host = await Neighbour(bot, "지훈").register()
    clean = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host, hours=5)
    async with transaction(bot.sessions) as s:
        for person in (host, clean):
            user = await s.get(User, person.id)
            assert user is not None
            user.trust_score = 1.0
    async with transaction(bot.sessions) as s:
        await meetings.ensure_can_host(s, host.id, RULES, bot.clock.now())
        await meetings.join(s, meeting_id, clean.id, RULES, bot.clock.now())
    assert await _stored(bot, clean.id) == (50.0, 50.0)


async def test_first_host_badge_at_the_close(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    await _meetup_over(bot, host, (guest,))
    async with bot.sessions() as s:
        assert await progress.badges(s, host.id) == ["first_host"]
        assert await progress.badges(s, guest.id) == []
