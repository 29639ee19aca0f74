"""Accounts: signup, profile edits, language, deletion of personal data.

An account exists once signup is confirmed (`registered_at`), in one transaction; nothing is
half-created. Deleting an account (`storage.erasure`) removes the row and everything that
identifies the person; what the books and other people need stays under an anonymous id.

`require_user` is the one way an operation asks for an account: without one it raises
`NotRegistered`, which `ui.refusals` turns into the invitation to sign up. An operation that
acts (join, host, check in, photo, rate, report, exchange) asks `require_may_act` instead, which
also refuses deleted, banned and suspended people. The profile card's read model is
`storage.profiles`.

Deleting an account frees its number, except while a suspension or ban runs: then the keyed
phone hash alone stays in `barred_phones` (`bar_phone`) until the suspension ends (a ban: while
it stands), and every way to a number (signup, a profile edit) refuses it with `PhoneBarred`,
so deleting the account is no way around a moderator's decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import regions
from storage.errors import (
    AccountDeleted,
    AlreadyRegistered,
    Banned,
    NotRegistered,
    PhoneBarred,
    PhoneTaken,
    Suspended,
    UnknownRegion,
)
from storage.models import BarredPhone, Region, User
from storage.text import clean
from verification import geo

if TYPE_CHECKING:
    from storage.erasure import Erased


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


@dataclass(frozen=True)
class ProfileChange:
    """One edited part of a profile; the fields left None stay as they are."""

    phone_hash: str | None = None
    phone_masked: str | None = None
    region_id: int | None = None
    region_verified: bool = False
    interests: Sequence[str] | None = None
    preferred_times: Sequence[str] | None = None


async def registered_user(session: AsyncSession, user_id: int) -> User | None:
    user = await session.get(User, user_id)
    if user is None or user.registered_at is None or user.deleted_at is not None:
        return None
    return user


async def require_user(session: AsyncSession, user_id: int, reason: str = "") -> User:
    """The person's account; raises `NotRegistered` (the invitation to sign up) without one."""
    user = await registered_user(session, user_id)
    if user is None:
        raise NotRegistered(reason)
    return user


# A ban is a suspension without end: `users.suspended_until` set to this instant (the schema
# keeps no column of its own for it; `storage.moderation.ban` writes it).
BANNED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)


async def require_may_act(session: AsyncSession, user_id: int, now: datetime, reason: str) -> User:
    """The person's account when they may act now; `reason` names the action ("join", "host",
    "checkin", "photo", "rate", "report", "exchange") and goes with the refusal.

    Every operation that changes what others see or what the books hold calls this first:
    joining, hosting, checking in, sending a photo, rating, reporting, exchanging points.
    It refuses `NotRegistered` (no account), `AccountDeleted`, `Banned` and `Suspended(until)`
    (until a moment still to come). Read-only things keep `require_user`.
    """
    user = await session.get(User, user_id)
    if user is not None and user.deleted_at is not None:
        raise AccountDeleted(reason)
    if user is None or user.registered_at is None:
        raise NotRegistered(reason)
    until = user.suspended_until
    if until is not None and until >= BANNED_UNTIL:
        raise Banned(reason)
    if until is not None and until > now:
        raise Suspended(until, reason)
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


async def open_district(session: AsyncSession, code: str) -> District:
    """A district open for signup; raises `UnknownRegion("district")` for any other."""
    district = next((d for d in await districts(session) if d.code == code), None)
    if district is None or not district.enabled:
        raise UnknownRegion("district")
    return district


async def dongs(session: AsyncSession, district_code: str) -> list[Region]:
    """The open neighbourhoods of a district, by Korean name."""
    rows = await session.scalars(
        select(Region)
        .where(Region.district_code == district_code, Region.enabled)
        .order_by(Region.name_ko)
    )
    return list(rows)


async def open_region(session: AsyncSession, region_id: int, reason: str = "") -> Region:
    """A neighbourhood open for signup; raises `UnknownRegion(reason)` for any other."""
    region = await session.get(Region, region_id)
    if region is None or not region.enabled:
        raise UnknownRegion(reason)
    return region


async def distance_outside(
    session: AsyncSession, region_id: int, latitude: float, longitude: float
) -> float:
    """How far a shared location lies outside the neighbourhood's boundary (0 inside)."""
    region = await open_region(session, region_id)
    return geo.distance_to_area_m(region.boundary, latitude, longitude)


# Parks, lakes and wide roads lie between 동 boundaries: a location in none of them counts
# for the nearest open 동 within this distance (issue 23; the setting `between_dongs_m`).
BETWEEN_DONGS_M = 300.0


@dataclass(frozen=True)
class HomeCheck:
    """What a shared location says about the neighbourhood a person chose: `verified`, or how
    far outside it lies and, when it fits another open 동 (inside it, or the nearest across a
    park, lake or road), that one to offer instead."""

    verified: bool
    metres: float = 0.0
    instead: Region | None = None


async def check_home(
    session: AsyncSession, region_id: int, latitude: float, longitude: float,
    between_m: float = BETWEEN_DONGS_M,
) -> HomeCheck:  # fmt: skip
    """Checks a shared location against the chosen open 동: inside it verifies; inside another
    open 동 offers that one (inside one not open: only how far). In none (a park, a lake, a
    road between the boundaries) the 동 is the nearest open one within `between_m`: the chosen
    one verifies, another is offered; farther than `between_m` from every open 동, only how
    far."""
    chosen = await open_region(session, region_id)
    metres = geo.distance_to_area_m(chosen.boundary, latitude, longitude)
    if metres == 0:
        return HomeCheck(True)
    # Every 동 whose centre is within a few kilometres, open or not: a location inside one of
    # a district not open (강남구) verifies nothing.
    reach = regions.REACH_DEGREES
    around = select(Region).where(
        Region.id != region_id,
        Region.center_lat.between(latitude - reach, latitude + reach),
        Region.center_lon.between(longitude - reach, longitude + reach),
    )
    others = list(await session.scalars(around))
    for other in others:
        if geo.contains(other.boundary, latitude, longitude):
            return HomeCheck(False, metres, other if other.enabled else None)
    distances = [(metres, chosen)] + [
        (geo.distance_to_area_m(r.boundary, latitude, longitude), r) for r in others if r.enabled
    ]
    nearest_m, nearest = min(distances, key=lambda found: found[0])
    if nearest_m > between_m:
        return HomeCheck(False, metres)
    if nearest.id == chosen.id:
        return HomeCheck(True)
    return HomeCheck(False, metres, nearest)


async def phone_in_use(session: AsyncSession, phone_hash: str, user_id: int) -> bool:
    """True when another account holds this number."""
    other = await session.scalar(
        select(User.id).where(User.phone_hash == phone_hash, User.id != user_id)
    )
    return other is not None


async def barred_until(session: AsyncSession, phone_hash: str, now: datetime) -> datetime | None:
    """Until when this number may not make an account (an account deleted while suspended or
    banned held it), or None when it may."""
    return await session.scalar(
        select(BarredPhone.until).where(
            BarredPhone.phone_hash == phone_hash, BarredPhone.until > now
        )
    )


async def bar_phone(session: AsyncSession, user: User, now: datetime) -> bool:
    """Called by `/deleteme` before the account goes: when the person's suspension or ban still
    runs, keeps their keyed phone hash (nothing else) in `barred_phones` until it ends, so the
    number cannot sign up again before then. Returns whether it did."""
    until = user.suspended_until
    if user.phone_hash is None or until is None or until <= now:
        return False
    row = await session.get(BarredPhone, user.phone_hash)
    if row is None:
        session.add(BarredPhone(phone_hash=user.phone_hash, until=until, created_at=now))
    else:  # an older bar on the same number, expired or not: the later end wins
        row.until, row.created_at = max(row.until, until), now
    await session.flush()
    return True


async def _check_not_barred(
    session: AsyncSession, phone_hash: str, now: datetime, reason: str = ""
) -> None:
    if await barred_until(session, phone_hash, now) is not None:
        raise PhoneBarred(reason)


async def check_phone_free(
    session: AsyncSession, phone_hash: str, user_id: int, now: datetime
) -> None:
    """Raises `PhoneTaken` when another account holds this number (one account per number),
    `PhoneBarred` when an account deleted while suspended or banned held it (until then)."""
    if await phone_in_use(session, phone_hash, user_id):
        raise PhoneTaken
    await _check_not_barred(session, phone_hash, now)


async def register(session: AsyncSession, data: Registration, now: datetime) -> User:
    """Creates the account from a confirmed signup; raises on a double confirm, a taken or
    barred number or a neighbourhood closed since it was chosen."""
    await open_region(session, data.region_id, "gone")
    user = await session.get(User, data.user_id)
    if user is not None and user.registered_at is not None and user.deleted_at is None:
        raise AlreadyRegistered
    if await phone_in_use(session, data.phone_hash, data.user_id):
        raise PhoneTaken("confirm")
    await _check_not_barred(session, data.phone_hash, now, "confirm")
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
        raise PhoneTaken("confirm") from exc
    return user


async def set_language(session: AsyncSession, user_id: int, language: str) -> None:
    """Stores the language of an account (no-op for people without one)."""
    user = await registered_user(session, user_id)
    if user is not None:
        user.language = language


async def change_profile(
    session: AsyncSession, user_id: int, change: ProfileChange, now: datetime
) -> User:
    """Stores an edited part of an account: the phone (one account per number), the
    neighbourhood (still open, verified or not) or the preferences."""
    user = await require_user(session, user_id)
    if change.phone_hash is not None:
        if await phone_in_use(session, change.phone_hash, user_id):
            raise PhoneTaken("edit")
        await _check_not_barred(session, change.phone_hash, now, "edit")
        user.phone_hash, user.phone_masked = change.phone_hash, change.phone_masked
    if change.region_id is not None:
        await open_region(session, change.region_id, "gone")
        user.region_id = change.region_id
        user.region_verified_at = now if change.region_verified else None
    if change.interests is not None:
        user.interests = list(change.interests)
    if change.preferred_times is not None:
        user.preferred_times = list(change.preferred_times)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent signup took the number first
        raise PhoneTaken("edit") from exc
    return user


async def delete_account(session: AsyncSession, user_id: int, now: datetime) -> Erased:
    """`/deleteme`: erases everything that identifies the person (`storage.erasure.erase`);
    the caller deletes the returned photo keys from the photo store after the commit."""
    from storage import erasure  # erasure builds on this module (require_user)

    return await erasure.erase(session, user_id, now)
