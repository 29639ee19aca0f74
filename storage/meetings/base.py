"""What every meetup operation stands on: statuses, the rules, the row lock, shared checks.

Every seat decision locks the meeting row first (`locked`: `SELECT … FOR UPDATE` on
PostgreSQL; SQLite transactions here begin IMMEDIATE and so are serialised), then counts: 50
people pressing Join on the last seat at once give one seat and 49 waitlist places.
Attendance is unique per meeting and person in the database. Notices to others go to the
outbox in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import MeetupNotFound, MeetupNotOpen, NotHost
from storage.models import Meeting, Participation

JOINED, WAITLISTED, LEFT = "joined", "waitlisted", "left"
ACTIVE = (JOINED, WAITLISTED)
MIN_LEAD = timedelta(minutes=10)
MAX_AHEAD = timedelta(days=14)


@dataclass(frozen=True)
class Rules:
    host_min_trust: float = 40.0
    host_requires_verified: bool = True
    join_requires_verified: bool = True
    checkin_opens_before: timedelta = timedelta(minutes=15)
    checkin_closes_after: timedelta = timedelta(minutes=30)
    host_max_per_day: int = 3
    join_min_trust: float = 20.0
    # Only people living in the meetup's own district may join it (people living in an
    # enabled district may join any meetup of an enabled one when false).
    join_same_district: bool = True


@dataclass(frozen=True)
class Place:
    name: str
    lat: float
    lon: float


# Built once with bound values (issue 24): every join, leave and check-in runs these, and
# building a statement costs about as much CPU as running it.
_LOCKED = select(Meeting).where(Meeting.id == bindparam("meeting_id")).with_for_update()
_PARTICIPATION = select(Participation).where(
    Participation.meeting_id == bindparam("meeting_id"),
    Participation.user_id == bindparam("user_id"),
)


async def locked(session: AsyncSession, meeting_id: int) -> Meeting:
    """The meeting row, locked until the transaction ends: decisions that count seats or
    attendance take it first, so two of them never count the same state."""
    meeting = await session.scalar(_LOCKED, {"meeting_id": meeting_id})
    if meeting is None:
        raise MeetupNotFound
    return meeting


async def hosted(session: AsyncSession, meeting_id: int, host_id: int) -> Meeting:
    """The meeting row, locked, when `host_id` hosts it; `NotHost` otherwise."""
    meeting = await locked(session, meeting_id)
    if meeting.host_id != host_id:
        raise NotHost
    return meeting


async def count(session: AsyncSession, meeting_id: int, status: str) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Participation)
            .where(Participation.meeting_id == meeting_id, Participation.status == status)
        )
        or 0
    )


async def participation(
    session: AsyncSession, meeting_id: int, user_id: int
) -> Participation | None:
    return await session.scalar(_PARTICIPATION, {"meeting_id": meeting_id, "user_id": user_id})


def ensure_open(meeting: Meeting, now: datetime) -> None:
    if meeting.status != "open":
        raise MeetupNotOpen(meeting.status)
    if meeting.starts_at <= now:
        raise MeetupNotOpen("started")
