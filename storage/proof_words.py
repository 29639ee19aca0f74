"""Proof words on participations: given once at check-in, looked up when a photo is checked.

The caller holds the meeting row's lock (check-in locks it), so two people checking in at
once draw one after the other; UNIQUE(meeting, word) backs that up in the database.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Participation, User
from verification import proof_words

# How many of a person's earlier words a new one avoids (an old photo must not match).
REMEMBERED = 60


async def assign(session: AsyncSession, mine: Participation) -> str:
    """Gives the participation its word, once; returns it."""
    if mine.proof_word:
        return mine.proof_word
    user = await session.get(User, mine.user_id)
    lang = user.language if user is not None else "ko"
    taken = set(
        await session.scalars(
            select(Participation.proof_word).where(
                Participation.meeting_id == mine.meeting_id,
                Participation.proof_word.is_not(None),
            )
        )
    )
    earlier = set(
        await session.scalars(
            select(Participation.proof_word)
            .where(Participation.user_id == mine.user_id, Participation.proof_word.is_not(None))
            .order_by(Participation.id.desc())
            .limit(REMEMBERED)
        )
    )
    mine.proof_word = proof_words.pick(lang, {w for w in taken if w}, {w for w in earlier if w})
    await session.flush()
    return mine.proof_word


async def word_of(session: AsyncSession, participation_id: int) -> str | None:
    return await session.scalar(
        select(Participation.proof_word).where(Participation.id == participation_id)
    )


async def issued_elsewhere(
    session: AsyncSession, meeting_id: int, words: Sequence[str]
) -> dict[str, int]:
    """Which of these words were given in other meetups: word → one such meetup's id."""
    if not words:
        return {}
    rows = await session.execute(
        select(Participation.proof_word, Participation.meeting_id)
        .where(
            Participation.proof_word.in_(list(words)),
            Participation.meeting_id != meeting_id,
        )
        .order_by(Participation.id.desc())
    )
    found: dict[str, int] = {}
    for word, other in rows:
        found.setdefault(str(word), int(other))
    return found
