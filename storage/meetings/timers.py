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


def due_lead(starts_at: datetime, now: datetime, before: Sequence[timedelta]) -> timedelta | None:
    """The reminder lead due now: the nearest to the start among those whose moment
    (`starts_at - lead`) has come; None before the first, or once the meetup has started."""
    if starts_at <= now:
        return None
    due = [lead for lead in before if starts_at - lead <= now]
    return min(due) if due else None


async def queue_reminders(session: AsyncSession, now: datetime, before: Sequence[timedelta]) -> int:
    """Queues the due reminder of each open meetup for everyone seated, once.

    One reminder at a time: only the nearest lead whose moment has come (`due_lead`), so a job
    that ran late, or a meetup joined inside the window, never gets two identical ones at once.
    Never one for a moment already past when the person took their seat: someone who joins
    25 minutes before the start (reminders at 120 and 15) hears once, 15 minutes before.
    The key `remind<minutes>:<meeting>:<person>` is the claim, so a restart or a second
    scheduler repeating the job sends nothing twice; after the host moved the start it ends
    in `:p<postponements>`, so the new time is reminded even when the old one was.
    """
    if not before:
        return 0
    queued = 0
    due = await session.scalars(
        select(Meeting).where(
            Meeting.status == "open",
            Meeting.starts_at > now,
            Meeting.starts_at <= now + max(before),
        )
    )
    for meeting in list(due):
        lead = due_lead(meeting.starts_at, now, before)
        if lead is None:
            continue
        moment = meeting.starts_at - lead
        minutes = int(lead.total_seconds() // 60)
        seated = await session.scalars(
            select(Participation.user_id).where(
                Participation.meeting_id == meeting.id,
                Participation.status == JOINED,
                Participation.joined_at <= moment,
            )
        )
        # A moved meetup (storage/meetings/changes.py) is reminded again for its new time.
        moved = f":p{meeting.postponements}" if meeting.postponements else ""
        for user_id in list(seated):
            queued += await outbox.enqueue(
                session, key=f"remind{minutes}:{meeting.id}:{user_id}{moved}", chat_id=user_id,
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
