"""Feedback after a meetup (step 7): each attendee rates each other attendee once.

Only people who checked in rate and are rated, and only once the meetup is over. The person
rated is never told who rated what; their trust score moves.

Both operations may run twice for one press (an update handled, then handled again after a
crash before the inbox marked it done; a double tap): the same stars again find the rating
already made and return it, and a tag is set on or off, never toggled, so a press repeated
leaves what one press left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import trust
from storage.accounts import require_may_act
from storage.errors import AlreadyRated, NotAttended, NotOver
from storage.models import Feedback, Meeting, Participation, User

TAGS = ("on_time", "friendly", "helpful", "late", "rude")
STARS = range(1, 6)


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str


async def _present(session: AsyncSession, meeting_id: int) -> dict[int, str]:
    rows = await session.execute(
        select(Participation.user_id, User.display_name)
        .join(User, User.id == Participation.user_id)
        .where(Participation.meeting_id == meeting_id, Participation.checked_in_at.is_not(None))
        .order_by(Participation.id)
    )
    return {user_id: name for user_id, name in rows}


async def _finished(session: AsyncSession, meeting_id: int, reason: str = "") -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None or meeting.status != "finished":
        raise NotOver(reason)
    return meeting


async def to_rate(session: AsyncSession, meeting_id: int, rater_id: int) -> list[Person]:
    """The other attendees the rater has not rated yet."""
    await _finished(session, meeting_id)
    present = await _present(session, meeting_id)
    if rater_id not in present:
        raise NotAttended
    done = set(
        await session.scalars(
            select(Feedback.to_user_id).where(
                Feedback.meeting_id == meeting_id, Feedback.from_user_id == rater_id
            )
        )
    )
    return [Person(u, n) for u, n in present.items() if u != rater_id and u not in done]


async def rate(
    session: AsyncSession, meeting_id: int, rater_id: int, ratee_id: int, stars: int, now: datetime
) -> Feedback:
    """One attendee's stars for another, once; the ratee's trust moves.

    The same stars again (the same press handled twice) return the rating already made,
    changing nothing; other stars raise `AlreadyRated`. The stars button names the meetup and
    the person, so a refusal about them means the button is forged or outdated (reason
    "rating"). A deleted, banned or suspended rater is refused.
    """
    if stars not in STARS:
        raise ValueError("1-5 stars")
    await require_may_act(session, rater_id, now, "rate")
    await _finished(session, meeting_id, "rating")
    present = await _present(session, meeting_id)
    if rater_id not in present or ratee_id not in present or rater_id == ratee_id:
        raise NotAttended("rating")
    made = await session.scalar(
        select(Feedback).where(
            Feedback.meeting_id == meeting_id,
            Feedback.from_user_id == rater_id,
            Feedback.to_user_id == ratee_id,
        )
    )
    if made is not None:
        if made.rating != stars:
            raise AlreadyRated
        return made
    feedback = Feedback(
        meeting_id=meeting_id, from_user_id=rater_id, to_user_id=ratee_id, rating=stars,
        tags=[], created_at=now,
    )  # fmt: skip
    session.add(feedback)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise AlreadyRated from exc
    await trust.recompute(session, ratee_id)
    return feedback


async def set_tag(
    session: AsyncSession, feedback_id: int, rater_id: int, tag: str, *, on: bool
) -> Feedback:
    """Puts a tag on one's own rating (`on`) or takes it off; doing it again changes nothing."""
    feedback = await session.get(Feedback, feedback_id)
    if feedback is None or feedback.from_user_id != rater_id or tag not in TAGS:
        raise NotAttended("rating")
    tags = list(feedback.tags)
    if on:
        feedback.tags = tags if tag in tags else [*tags, tag]
    else:
        feedback.tags = [t for t in tags if t != tag]
    return feedback
