"""Levels (by points ever earned) and badges (milestones, each awarded once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import ledger
from storage.models import Badge, Evidence, Meeting, Mission, Participation

# Points ever earned needed for each level, from level 1.
LEVEL_THRESHOLDS = (0, 300, 1000, 2500, 5000, 10000)


def level_for(earned: int) -> int:
    return sum(1 for threshold in LEVEL_THRESHOLDS if earned >= threshold)


async def _earned_badges(session: AsyncSession, user_id: int) -> set[str]:
    approved = select(Evidence).where(Evidence.user_id == user_id, Evidence.status == "approved")
    approved_count = await session.scalar(select(func.count()).select_from(approved.subquery()))
    categories = await session.scalar(
        select(func.count(func.distinct(Mission.category)))
        .select_from(Evidence)
        .join(Meeting, Meeting.id == Evidence.meeting_id)
        .join(Mission, Mission.id == Meeting.mission_id)
        .where(Evidence.user_id == user_id, Evidence.status == "approved")
    )
    attended = await session.scalar(
        select(func.count())
        .select_from(Participation)
        .where(Participation.user_id == user_id, Participation.checked_in_at.is_not(None))
    )
    hosted = await session.scalar(
        select(func.count())
        .select_from(Meeting)
        .where(Meeting.host_id == user_id, Meeting.status == "finished")
    )
    earned = set()
    if (approved_count or 0) >= 1:
        earned.add("first_mission")
    if (attended or 0) >= 10:
        earned.add("ten_meetups")
    if (categories or 0) >= 5:
        earned.add("five_categories")
    if (hosted or 0) >= 1:
        earned.add("first_host")
    return earned


async def award_badges(session: AsyncSession, user_id: int, now: datetime) -> list[str]:
    """Awards the milestones reached and not yet awarded; returns the new ones."""
    have = set(await session.scalars(select(Badge.badge).where(Badge.user_id == user_id)))
    new = sorted((await _earned_badges(session, user_id)) - have)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for badge in new:
        # Unique per user and badge: awarding twice at once stays one badge.
        await session.execute(
            insert(Badge)
            .values(user_id=user_id, badge=badge, awarded_at=now)
            .on_conflict_do_nothing(index_elements=["user_id", "badge"])
        )
    return new


async def badges(session: AsyncSession, user_id: int) -> list[str]:
    rows = await session.scalars(
        select(Badge.badge).where(Badge.user_id == user_id).order_by(Badge.awarded_at, Badge.id)
    )
    return list(rows)


async def level(session: AsyncSession, user_id: int) -> int:
    return level_for(await ledger.lifetime_earned(session, user_id))
