"""What the outbox dispatcher learns about the recipients of notices, and records.

The rows themselves are claimed and marked in `storage/outbox.py`; here are the reads and
writes about the chats they go to: the language each reads, a person who blocked the bot or a
group the bot was removed from (403), a group that became a supergroup under a new id.

Notices to a person marked as having blocked the bot are not tried: they are marked `skipped`
(kept, not deleted, so their dedupe key still stops the same notice being queued again and
sent late, and an operator can see what was not delivered and why). When the person unblocks
the bot or writes to it again (`storage/users.py`), notices queued from then on go out; the
skipped ones stay skipped, since a week-old reminder is worse than none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import groups, outbox, users
from storage.models import User


async def languages(
    session: AsyncSession, chat_ids: Sequence[int], default_language: str
) -> dict[int, str]:
    """Each chat's language: a registered person's, a group's, else the default."""
    found = {chat_id: default_language for chat_id in chat_ids}
    people = [c for c in chat_ids if c > 0]
    if people:
        rows = await session.execute(
            select(User.id, User.language).where(
                User.id.in_(people), User.registered_at.is_not(None)
            )
        )
        found.update((user_id, language) for user_id, language in rows)
    chats = [c for c in chat_ids if c < 0]
    if chats:
        found.update(await groups.languages(session, chats))
    return found


async def forbidden(session: AsyncSession, row_id: int, chat_id: int, error: str) -> None:
    """Telegram refused the chat (403): the notice is given up, and a group is left behind
    (no more posts) or a person marked as having blocked the bot."""
    await outbox.mark_failed(session, row_id, error)
    if chat_id < 0:
        await groups.left(session, chat_id)
    else:
        await users.blocked_the_bot(session, chat_id)


async def skip_blocked(
    session: AsyncSession, claimed: Sequence[outbox.Claimed]
) -> list[outbox.Claimed]:
    """Marks the claimed rows to people who blocked the bot `skipped`; returns the others."""
    people = {row.chat_id for row in claimed if row.chat_id > 0}
    if not people:
        return list(claimed)
    blocked = set(
        await session.scalars(select(User.id).where(User.id.in_(people), User.blocked_bot))
    )
    if not blocked:
        return list(claimed)
    await outbox.mark_skipped(
        session, [row.id for row in claimed if row.chat_id in blocked], "blocked_bot"
    )
    return [row for row in claimed if row.chat_id not in blocked]


async def moved(
    session: AsyncSession, row_id: int, old_chat_id: int, new_chat_id: int, now: datetime
) -> None:
    """The group became a supergroup: its settings move to the new id, and the notice follows."""
    await groups.migrated(session, old_chat_id, new_chat_id, now)
    await outbox.retarget(session, row_id, new_chat_id, now)
