"""Users: created on first contact, granted admin rights by an operator."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import Clock
from storage.models import User


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
