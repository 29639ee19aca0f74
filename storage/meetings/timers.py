"""The meetup clock: reminders before the start, and finishing meetups once over.

Run by `scheduler/` jobs; each send is claimed by its outbox key, so a restart or a second
scheduler repeating a job sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox, progress, trust
from storage.meetings.base import JOINED, Rules
from storage.meetings.checkin import checkin_window
from storage.models import Meeting, Participation


async def queue_reminders(session: AsyncSession, now: datetime, before: Sequence[timedelta]) -> int:
    """Queues each due reminder once (the outbox key is the claim), for everyone seated."""
    queued = 0
    for lead in before:
        minutes = int(lead.total_seconds() // 60)
        due = await session.scalars(
            select(Meeting).where(
                Meeting.status == "open",
                Meeting.starts_at > now,
                Meeting.starts_at <= now + lead,
            )
        )
        for meeting in due:
            seated = await session.scalars(
                select(Participation.user_id).where(
                    Participation.meeting_id == meeting.id, Participation.status == JOINED
                )
            )
            for user_id in seated:
                queued += await outbox.enqueue(
                    session, key=f"remind{minutes}:{meeting.id}:{user_id}", chat_id=user_id,
                    kind="meetup_reminder", values={"meeting_id": meeting.id, "minutes": minutes},
                    now=now,
                )  # fmt: skip
    return queued


async def finish_due(session: AsyncSession, rules: Rules, now: datetime) -> list[int]:
    """Closes meetups whose time and check-in window are over; marks no-shows; asks those
    who came for photo evidence. Returns the closed meetings' ids."""
    closed: list[int] = []
    candidates = await session.scalars(
        select(Meeting).where(Meeting.status == "open", Meeting.ends_at <= now)
    )
    for meeting in list(candidates):
        if now < checkin_window(meeting, rules)[1]:
            continue  # people may still check in
        meeting.status = "finished"
        seated = list(
            await session.scalars(
                select(Participation).where(
                    Participation.meeting_id == meeting.id, Participation.status == JOINED
                )
            )
        )
        present = [p for p in seated if p.checked_in_at is not None]
        for person in seated:
            if person.checked_in_at is None:
                person.no_show_at = now
                await trust.recompute(session, person.user_id)
                continue
            await progress.award_badges(session, person.user_id, now)
            if len(present) >= 2:
                await outbox.enqueue(
                    session, key=f"feedback_ask:{meeting.id}:{person.user_id}",
                    chat_id=person.user_id, kind="feedback_request",
                    values={"meeting_id": meeting.id}, now=now,
                )  # fmt: skip
            await outbox.enqueue(
                session, key=f"evidence_ask:{meeting.id}:{person.user_id}",
                chat_id=person.user_id, kind="evidence_request",
                values={"meeting_id": meeting.id}, now=now,
            )  # fmt: skip
        closed.append(meeting.id)
    return closed
