"""Meetups can change (issue 23): the host moves the start or edits the note; after a move
each person keeps their place only by saying "still coming" before a deadline, and the places
not confirmed by then are released, the waitlist moving up.

"Can't make it" and coming back are `seats.leave` and `seats.join` (a seat when one is free,
the waitlist otherwise): there is one way to give up a place and one to take one.

The deadline (`confirm_deadline`): two hours after the notice, or one hour before the new
start when that is earlier, but never less than half the time left until the new start (a
meetup moved to 40 minutes from now gives 20 minutes to answer).

Every decision takes the meeting row's lock first (`base.locked`), as seats do. Notices have
natural outbox keys (storage/outbox.py): `postponed:<meeting>:<person>:<n>` and
`released:<meeting>:<person>:<n>` (n: the meeting's `postponements`), `unconfirmed:<meeting>:<n>`
to the host, `note:<meeting>:<person>:m<message id>` (the host's message is the occasion).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.errors import (
    CannotChange,
    MeetupNotOpen,
    NothingToConfirm,
    NotParticipant,
    TimeConflict,
)
from storage.meetings.base import ACTIVE, JOINED, LEFT, ensure_open, hosted, locked
from storage.meetings.base import participation as participation_of
from storage.meetings.seats import Seat, _conflicts, _seat, ensure_start, promote_first
from storage.models import Meeting, OutboxMessage, Participation
from storage.text import clean

CONFIRM_WITHIN = timedelta(hours=2)
CONFIRM_BEFORE_START = timedelta(hours=1)


def confirm_deadline(now: datetime, starts_at: datetime) -> datetime:
    """Until when people confirm a move: `CONFIRM_WITHIN` after the notice or
    `CONFIRM_BEFORE_START` before the new start, whichever is earlier, but at least half the
    time left until the start."""
    return min(
        now + CONFIRM_WITHIN, max(starts_at - CONFIRM_BEFORE_START, now + (starts_at - now) / 2)
    )


@dataclass(frozen=True)
class Postponed:
    meeting: Meeting
    told: int  # people asked to confirm
    confirm_by: datetime


async def _holders(session: AsyncSession, meeting: Meeting) -> list[Participation]:
    """Everyone holding a place (seat or waitlist), not the host."""
    return list(
        await session.scalars(
            select(Participation).where(
                Participation.meeting_id == meeting.id,
                Participation.status.in_(ACTIVE),
                Participation.user_id != meeting.host_id,
            )
        )
    )


async def postpone(
    session: AsyncSession, meeting_id: int, host_id: int, starts_at: datetime, now: datetime
) -> Postponed:
    """The host moves the start (validated as when hosting: `ensure_start`, and the host's
    own meetups must not overlap). Everyone holding a place is told and asked to confirm by
    `confirm_deadline`; the meetup keeps its length. Moving to the time it already has, after
    a move (the same message handled again), changes nothing and answers as before."""
    meeting = await hosted(session, meeting_id, host_id)
    ensure_open(meeting, now)
    holders = await _holders(session, meeting)
    if starts_at == meeting.starts_at:
        if meeting.postponements == 0:
            raise CannotChange("same_time")
        waiting = [p.confirm_by for p in holders if p.confirm_by is not None]
        return Postponed(meeting, len(waiting), max(waiting, default=now))
    if any(p.checked_in_at is not None for p in holders):
        raise CannotChange("checked_in")
    ensure_start(starts_at, now)
    ends_at = starts_at + (meeting.ends_at - meeting.starts_at)
    if await _conflicts(session, host_id, starts_at, ends_at, meeting.id):
        raise TimeConflict
    old = meeting.starts_at
    meeting.starts_at, meeting.ends_at = starts_at, ends_at
    meeting.postponements = (meeting.postponements or 0) + 1
    await _drop_old_reminders(session, meeting.id)
    deadline = confirm_deadline(now, starts_at)
    for person in holders:
        person.confirm_by = deadline
        await outbox.enqueue(
            session,
            key=f"postponed:{meeting.id}:{person.user_id}:{meeting.postponements}",
            chat_id=person.user_id,
            kind="meetup_postponed",
            values={
                "meeting_id": meeting.id,
                "old": old.isoformat(),
                "until": deadline.isoformat(),
            },
            now=now,
        )
    await session.flush()
    return Postponed(meeting, len(holders), deadline)


async def _drop_old_reminders(session: AsyncSession, meeting_id: int) -> None:
    """A reminder of the old time still waiting in the outbox is not sent (marked skipped):
    the clock reminds of the new time under new keys (storage/meetings/timers.py)."""
    waiting = await session.execute(
        select(OutboxMessage.id, OutboxMessage.dedupe_key).where(
            OutboxMessage.status == "pending",
            OutboxMessage.dedupe_key.like(f"remind%:{meeting_id}:%"),
        )
    )
    stale = [row_id for row_id, key in waiting if key.split(":")[1] == str(meeting_id)]
    if stale:
        await outbox.mark_skipped(session, stale, "moved")


async def confirm(session: AsyncSession, meeting_id: int, user_id: int, now: datetime) -> Seat:
    """ "Still coming" after a move: the person keeps their place. A second press (or one
    from a person never asked) finds nothing to do and answers the same; a press after the
    deadline is refused (`NothingToConfirm("late")`), the place is released by the clock."""
    meeting = await locked(session, meeting_id)
    if meeting.status != "open":
        raise MeetupNotOpen(meeting.status)
    mine = await participation_of(session, meeting_id, user_id)
    if mine is None:
        raise NotParticipant
    if mine.status not in ACTIVE:
        raise NothingToConfirm("left")
    if mine.confirm_by is not None:
        if mine.confirm_by <= now:
            raise NothingToConfirm("late")
        if await _conflicts(session, user_id, meeting.starts_at, meeting.ends_at, meeting_id):
            raise TimeConflict
        mine.confirm_by = None
    return await _seat(session, meeting, mine)


async def release_unconfirmed(session: AsyncSession, now: datetime) -> int:
    """The clock's part (scheduler/jobs.py meetup_clock): the places not confirmed by their
    deadline are released, their holders told, the host told how many; each freed seat goes
    to the first on the waitlist who is not awaiting confirmation themselves (the unconfirmed
    waiting are released first). Returns how many places were released."""
    due = await session.scalars(
        select(Participation.meeting_id)
        .where(Participation.confirm_by <= now, Participation.status.in_(ACTIVE))
        .distinct()
    )
    released = 0
    for meeting_id in list(due):
        meeting = await locked(session, meeting_id)
        if meeting.status != "open":
            continue
        people = [
            p for p in await _holders(session, meeting)
            if p.confirm_by is not None and p.confirm_by <= now
        ]  # fmt: skip
        people.sort(key=lambda p: (p.status == JOINED, p.joined_at, p.id))  # waiting first
        freed = 0
        for person in people:
            freed += person.status == JOINED
            person.status, person.left_at, person.confirm_by = LEFT, now, None
            await outbox.enqueue(
                session,
                key=f"released:{meeting.id}:{person.user_id}:{meeting.postponements}",
                chat_id=person.user_id,
                kind="meetup_released",
                values={"meeting_id": meeting.id},
                now=now,
            )
        await session.flush()
        moved_up = 0
        for _ in range(freed):
            moved_up += await promote_first(session, meeting, now) is not None
        await outbox.enqueue(
            session,
            key=f"unconfirmed:{meeting.id}:{meeting.postponements}",
            chat_id=meeting.host_id,
            kind="meetup_unconfirmed",
            values={"meeting_id": meeting.id, "released": len(people), "moved_up": moved_up},
            now=now,
        )
        released += len(people)
    return released


async def edit_note(
    session: AsyncSession, meeting_id: int, host_id: int, text: str, now: datetime,
    *, occasion: int,
) -> int:  # fmt: skip
    """The host replaces the note (until the start); everyone holding a place is told.
    `occasion` is the host's message (its id): the same message handled again is told once.
    Returns how many are told."""
    meeting = await hosted(session, meeting_id, host_id)
    ensure_open(meeting, now)
    meeting.note = clean(text, 500) or None
    told = 0
    for person in await _holders(session, meeting):
        await outbox.enqueue(
            session,
            key=f"note:{meeting.id}:{person.user_id}:m{occasion}",
            chat_id=person.user_id,
            kind="meetup_note_changed",
            values={"meeting_id": meeting.id, "note": meeting.note or ""},
            now=now,
        )
        told += 1
    return told
