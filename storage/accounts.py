"""Accounts: signup, profile edits, language, deletion of personal data.

An account exists once signup is confirmed (`registered_at`), in one transaction; nothing is
half-created. Deleting an account wipes personal data but keeps the row as an anonymous
reference, so ledger entries and reviews stay consistent for balances and audits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import AlreadyRegistered, NotRegistered, PhoneTaken, UnknownRegion
from storage.models import Region, User
from storage.text import clean


@dataclass(frozen=True)
class District:
    code: str
    name_ko: str
    name_en: str
    enabled: bool


@dataclass(frozen=True)
class Registration:
    user_id: int
    language: str
    display_name: str
    phone_hash: str
    phone_masked: str
    region_id: int
    region_verified: bool
    interests: Sequence[str]
    preferred_times: Sequence[str]


async def registered_user(session: AsyncSession, user_id: int) -> User | None:
    user = await session.get(User, user_id)
    if user is None or user.registered_at is None or user.deleted_at is not None:
        return None
    return user


async def require_user(session: AsyncSession, user_id: int) -> User:
    user = await registered_user(session, user_id)
    if user is None:
        raise NotRegistered
    return user


async def districts(session: AsyncSession) -> list[District]:
    """Every district; the enabled ones (open for signup) first."""
    rows = await session.execute(
        select(Region.district_code, Region.district_ko, Region.district_en, Region.enabled)
        .distinct()
        .order_by(Region.district_ko)
    )
    found: dict[str, District] = {}
    for code, name_ko, name_en, enabled in rows:
        known = found.get(code)
        found[code] = District(code, name_ko, name_en, enabled or bool(known and known.enabled))
    return sorted(found.values(), key=lambda d: (not d.enabled, d.name_ko))


async def dongs(session: AsyncSession, district_code: str) -> list[Region]:
    """The open neighbourhoods of a district, by Korean name."""
    rows = await session.scalars(
        select(Region)
        .where(Region.district_code == district_code, Region.enabled)
        .order_by(Region.name_ko)
    )
    return list(rows)


async def open_region(session: AsyncSession, region_id: int) -> Region:
    region = await session.get(Region, region_id)
    if region is None or not region.enabled:
        raise UnknownRegion
    return region


async def phone_in_use(session: AsyncSession, phone_hash: str, user_id: int) -> bool:
    """True when another account holds this number."""
    other = await session.scalar(
        select(User.id).where(User.phone_hash == phone_hash, User.id != user_id)
    )
    return other is not None


async def register(session: AsyncSession, data: Registration, now: datetime) -> User:
    """Creates the account from a confirmed signup; raises on a double confirm or a taken number."""
    await open_region(session, data.region_id)
    user = await session.get(User, data.user_id)
    if user is not None and user.registered_at is not None and user.deleted_at is None:
        raise AlreadyRegistered
    if await phone_in_use(session, data.phone_hash, data.user_id):
        raise PhoneTaken
    if user is None:
        user = User(id=data.user_id, created_at=now)
        session.add(user)
    user.language = data.language
    user.display_name = clean(data.display_name, 64)
    user.phone_hash = data.phone_hash
    user.phone_masked = data.phone_masked
    user.region_id = data.region_id
    user.region_verified_at = now if data.region_verified else None
    user.interests = list(data.interests)
    user.preferred_times = list(data.preferred_times)
    user.terms_accepted_at = now
    user.registered_at = now
    user.deleted_at = None
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent signup took the number first
        raise PhoneTaken from exc
    return user


async def set_language(session: AsyncSession, user_id: int, language: str) -> None:
    """Stores the language of an account (no-op for people without one)."""
    user = await registered_user(session, user_id)
    if user is not None:
        user.language = language


async def update_region(
    session: AsyncSession, user_id: int, region_id: int, verified: bool, now: datetime
) -> User:
    user = await require_user(session, user_id)
    await open_region(session, region_id)
    user.region_id = region_id
    user.region_verified_at = now if verified else None
    return user


async def update_phone(
    session: AsyncSession, user_id: int, phone_hash: str, phone_masked: str
) -> User:
    user = await require_user(session, user_id)
    if await phone_in_use(session, phone_hash, user_id):
        raise PhoneTaken
    user.phone_hash, user.phone_masked = phone_hash, phone_masked
    try:
        await session.flush()
    except IntegrityError as exc:
        raise PhoneTaken from exc
    return user


async def update_preferences(
    session: AsyncSession,
    user_id: int,
    *,
    interests: Sequence[str] | None = None,
    preferred_times: Sequence[str] | None = None,
) -> User:
    user = await require_user(session, user_id)
    if interests is not None:
        user.interests = list(interests)
    if preferred_times is not None:
        user.preferred_times = list(preferred_times)
    return user


async def delete_account(session: AsyncSession, user_id: int, now: datetime) -> None:
    """Wipes personal data; the row stays as an anonymous reference for ledger and reviews."""
    user = await require_user(session, user_id)
    user.display_name = ""
    user.phone_hash = None
    user.phone_masked = None
    user.region_id = None
    user.region_verified_at = None
    user.interests = []
    user.preferred_times = []
    user.registered_at = None
    user.terms_accepted_at = None
    user.deleted_at = now
