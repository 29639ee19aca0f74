"""A person's own record of meetups (`/mymeetups`, the seed's 마이페이지): what is coming up
with where they stand, and what is past with how it went (attended, the photo's decision,
the points it paid), newest first, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.accounts import require_user
from storage.meetings.base import ACTIVE, JOINED
from storage.meetings.queries import MeetupView, views
from storage.models import Evidence, LedgerEntry, Meeting, Participation

PAST_PER_PAGE = 5
# Far more pages than anyone has: a forged page number is brought back to the last page.
LAST_PAGE = 10_000


@dataclass(frozen=True)
class MyMeetup:
    """One meetup as its person sees it."""

    view: MeetupView
    hosting: bool
    status: str  # the seat: joined | waitlisted | left
    checked_in: bool
    no_show: bool
    evidence: str | None  # the latest photo's status, None when none was sent
    points: int  # points this meetup paid the person


@dataclass(frozen=True)
class MyRecord:
    upcoming: list[MyMeetup]
    past: list[MyMeetup]
    page: int
    pages: int


async def my_record(session: AsyncSession, user_id: int, now: datetime, page: int = 0) -> MyRecord:
    """Coming up (hosting, seated or waitlisted, soonest first) and past (held a seat at the
    end, or checked in; newest first, `PAST_PER_PAGE` a page). `NotRegistered` without an
    account."""
    await require_user(session, user_id)
    upcoming = await session.scalars(
        select(Participation)
        .join(Meeting, Meeting.id == Participation.meeting_id)
        .where(
            Participation.user_id == user_id,
            Participation.status.in_(ACTIVE),
            Meeting.status == "open",
            Meeting.ends_at > now,
        )
        .order_by(Meeting.starts_at)
        .limit(20)
    )
    ended = or_(Meeting.status != "open", Meeting.ends_at <= now)
    held = or_(Participation.status == JOINED, Participation.checked_in_at.is_not(None))
    past_filter = (Participation.user_id == user_id, ended, held)
    total = await session.scalar(
        select(func.count())
        .select_from(Participation)
        .join(Meeting, Meeting.id == Participation.meeting_id)
        .where(*past_filter)
    )
    pages = max(1, -(-int(total or 0) // PAST_PER_PAGE))
    page = max(0, min(page, pages - 1))
    past = await session.scalars(
        select(Participation)
        .join(Meeting, Meeting.id == Participation.meeting_id)
        .where(*past_filter)
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
        .offset(page * PAST_PER_PAGE)
        .limit(PAST_PER_PAGE)
    )
    return MyRecord(
        await _described(session, list(upcoming)),
        await _described(session, list(past)),
        page,
        pages,
    )


async def _described(session: AsyncSession, seats: list[Participation]) -> list[MyMeetup]:
    found = {v.meeting.id: v for v in await views(session, [s.meeting_id for s in seats])}
    described = []
    for seat in seats:
        view = found.get(seat.meeting_id)
        if view is None:
            continue
        latest = await session.scalar(
            select(Evidence)
            .where(Evidence.participation_id == seat.id)
            .order_by(Evidence.attempt.desc(), Evidence.id.desc())
            .limit(1)
        )
        paid = 0
        if latest is not None and latest.status == "approved":
            paid = int(
                await session.scalar(
                    select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                        LedgerEntry.user_id == seat.user_id,
                        LedgerEntry.reference == f"evidence:{latest.id}",
                    )
                )
                or 0
            )
        described.append(MyMeetup(
            view=view, hosting=view.meeting.host_id == seat.user_id, status=seat.status,
            checked_in=seat.checked_in_at is not None, no_show=seat.no_show_at is not None,
            evidence=latest.status if latest is not None else None, points=paid,
        ))  # fmt: skip
    return described
