"""Trust and progress stay true (issue 23): a decision on a photo recomputes the sender's
stored trust score at once (the join and host gates read it) and awards the milestones it
reaches, even after the meetup closed; levels follow the points ever earned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage import evidence, ledger, progress, trust
from storage.db import transaction
from storage.models import Evidence, User
from tests import photo_corpus as corpus
from tests.people import Scene, run_checks, send_photo

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
    [(0, 1), (299, 1), (300, 2), (999, 2), (1000, 3), (2500, 4), (5000, 5), (10000, 6)],
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
