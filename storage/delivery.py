"""What the outbox dispatcher learns about the recipients of notices, and records.

The rows themselves are claimed and marked in `storage/outbox.py`; here are the reads and
writes about the chats they go to: the language each reads, a person who blocked the bot or a
group the bot was removed from (403), a group that became a supergroup under a new id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import groups, outbox
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
        await session.execute(update(User).where(User.id == chat_id).values(blocked_bot=True))


async def moved(
    session: AsyncSession, row_id: int, old_chat_id: int, new_chat_id: int, now: datetime
) -> None:
    """The group became a supergroup: its settings move to the new id, and the notice follows."""
    await groups.migrated(session, old_chat_id, new_chat_id)
    await outbox.retarget(session, row_id, new_chat_id, now)
