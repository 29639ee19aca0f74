"""Users: created on first contact, granted admin rights by an operator, marked while they
have blocked the bot."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.accounts import BANNED_UNTIL
from storage.clock import Clock
from storage.models import User


@dataclass(frozen=True)
class Flags:
    """What the gates in front of every update need to know of the person (all False for
    someone the bot has never seen)."""

    blocked_bot: bool = False  # marked as having blocked the bot (a 403, or "kicked")
    banned: bool = False  # banned for good
    admin: bool = False  # may act as an admin now: granted and not deleted


# Built once: every update reads it, and building a SELECT costs about as much as running it.
_FLAGS = select(User.blocked_bot, User.suspended_until, User.is_admin, User.deleted_at).where(
    User.id == bindparam("user_id")
)


async def flags(session: AsyncSession, user_id: int) -> Flags:
    """The person's flags in one read (issue 24: the ban gate, the blocking mark and /help's
    operator check each used to ask on their own)."""
    row = (await session.execute(_FLAGS, {"user_id": user_id})).first()
    if row is None:
        return Flags()
    blocked_bot, until, is_admin, deleted_at = row
    return Flags(
        blocked_bot=bool(blocked_bot),
        banned=until is not None and until >= BANNED_UNTIL,
        admin=bool(is_admin) and deleted_at is None,
    )


async def grant_admin(session: AsyncSession, user_id: int, clock: Clock) -> bool:
    """Makes `user_id` an admin; returns False when they already were one."""
    if user_id <= 0:
        raise ValueError("a Telegram user id is a positive number")
    user = await session.get(User, user_id)
    if user is None:
        user = User(id=user_id, created_at=clock.now(), interests=[], preferred_times=[])
        session.add(user)
    elif user.is_admin:
        return False
    user.is_admin = True
    await session.flush()
    return True


async def acting_admin(session: AsyncSession, user_id: int) -> User | None:
    """The user when they may act as an admin now: granted and not deleted."""
    user = await session.get(User, user_id)
    if user is None or not user.is_admin or user.deleted_at is not None:
        return None
    return user


async def blocked_the_bot(session: AsyncSession, user_id: int) -> None:
    """The person blocked the bot (Telegram's my_chat_member "kicked" in their private chat, or
    a 403 on a send): no notices go to them until they are back."""
    await session.execute(update(User).where(User.id == user_id).values(blocked_bot=True))


async def has_blocked_the_bot(session: AsyncSession, user_id: int) -> bool:
    return bool(await session.scalar(select(User.blocked_bot).where(User.id == user_id)))


async def back_in_touch(session: AsyncSession, user_id: int) -> bool:
    """The person unblocked the bot or wrote to it: notices reach them again. Returns whether
    they had been marked; a read first, so the common case (never blocked) writes nothing."""
    marked = await session.scalar(select(User.blocked_bot).where(User.id == user_id))
    if not marked:
        return False
    await session.execute(update(User).where(User.id == user_id).values(blocked_bot=False))
    return True


async def admin_ids(session: AsyncSession) -> list[int]:
    """Everyone who may act as an admin now (granted, not deleted): whose private chats get
    the operators' command menu (bot/menus.py, issue 23)."""
    rows = await session.scalars(
        select(User.id).where(User.is_admin.is_(True), User.deleted_at.is_(None)).order_by(User.id)
    )
    return [int(i) for i in rows]
