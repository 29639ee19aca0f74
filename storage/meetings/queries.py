"""What meetup cards, lists and maps show: read models returning view dataclasses.

Each read answers one screen in one call, so a handler opens one session and hands the
result to a `ui/` renderer. A change (join, leave, closing joining) reads its card in its own
transaction, before the commit: the card then shows exactly what that change left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import moderation, regions
from storage.accounts import require_user
from storage.errors import MeetupNotFound, NotHost
from storage.meetings.base import ACTIVE, JOINED, WAITLISTED, participation
from storage.models import Meeting, Mission, Participation, Region, User
from verification import geo


@dataclass(frozen=True)
class MeetupView:
    meeting: Meeting
    mission: Mission
    seated: int
    waitlisted: int
    host_name: str

    @property
    def seats_left(self) -> int:
        return max(0, self.meeting.capacity - self.seated)


@dataclass(frozen=True)
class Standing:
    """Where one person stands in a meetup: seated, waitlisted, left or not in it (None)."""

    user_id: int
    status: str | None
    checked_in: bool = False
    # After the host moved the start: until when "still coming" keeps the place (issue 23).
    confirm_by: datetime | None = None


@dataclass(frozen=True)
class Card:
    """A meetup's card as one person sees it: its buttons depend on where they stand, and
    whether it has started (no joining or leaving from then on)."""

    meetup: MeetupView
    me: Standing
    started: bool = False


@dataclass(frozen=True)
class Attendee:
    user_id: int
    name: str
    status: str
    checked_in: bool


@dataclass(frozen=True)
class Roster:
    """The host's list of the people holding a place."""

    meetup: MeetupView
    people: list[Attendee]


@dataclass(frozen=True)
class Neighbourhood:
    """The open meetups of the person's neighbourhood (the region None when they have none)."""

    home: Region | None
    meetups: list[MeetupView]


@dataclass(frozen=True)
class Venue:
    """A meetup and the neighbourhood it is in (None for a meetup of no neighbourhood)."""

    meetup: MeetupView
    home: Region | None


def _counted(status: str) -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(Participation)
        .where(Participation.meeting_id == Meeting.id, Participation.status == status)
        .correlate(Meeting)
        .scalar_subquery()
    )


def _viewed(*extra: Any) -> Select[Any]:
    """Meetups with what a card shows (meeting, mission, host name, seat counts), and
    `extra` columns."""
    return (
        select(
            Meeting,
            Mission,
            func.coalesce(User.display_name, ""),
            _counted(JOINED),
            _counted(WAITLISTED),
            *extra,
        )
        .join(Mission, Mission.id == Meeting.mission_id)
        .outerjoin(User, User.id == Meeting.host_id)
    )


# The two card reads are built once, here, with their values as bound parameters: building
# `_viewed` (two correlated counts, an alias) cost more CPU than running it, on every card
# redrawn after a join or a leave (issue 24's profile of a join).
_VIEWS = _viewed().where(Meeting.id.in_(bindparam("meeting_ids", expanding=True)))
_MINE = aliased(Participation, name="mine")
_CARD = (
    _viewed(_MINE.status, _MINE.checked_in_at, _MINE.confirm_by)
    .outerjoin(_MINE, (_MINE.meeting_id == Meeting.id) & (_MINE.user_id == bindparam("viewer")))
    .where(Meeting.id == bindparam("meeting_id"))
)


async def views(session: AsyncSession, meeting_ids: Sequence[int]) -> list[MeetupView]:
    """Meetups as cards show them, in the order asked; ids not found are left out.

    One statement for all of them (meeting, mission, host name, seat counts): a card is
    redrawn after every join and leave, and a list shows up to ten.
    """
    if not meeting_ids:
        return []
    rows = await session.execute(_VIEWS, {"meeting_ids": list(meeting_ids)})
    found = {
        meeting.id: MeetupView(meeting, mission, int(seated), int(waiting), host_name)
        for meeting, mission, host_name, seated, waiting in rows
    }
    return [found[i] for i in meeting_ids if i in found]


async def view(session: AsyncSession, meeting_id: int) -> MeetupView:
    found = await views(session, [meeting_id])
    if not found:
        raise MeetupNotFound
    return found[0]


async def standing(session: AsyncSession, meeting_id: int, user_id: int) -> Standing:
    mine = await participation(session, meeting_id, user_id)
    if mine is None:
        return Standing(user_id, None)
    return Standing(user_id, mine.status, mine.checked_in_at is not None, mine.confirm_by)


async def card(
    session: AsyncSession, meeting_id: int, user_id: int, now: datetime | None = None
) -> Card:
    """The meetup as its card shows it, and where this person stands in it (with `now`,
    whether it has started). One statement: every join and leave redraws a card."""
    row = (await session.execute(_CARD, {"meeting_id": meeting_id, "viewer": user_id})).first()
    if row is None:
        raise MeetupNotFound
    meeting, mission, host_name, seated, waiting, status, checked_in_at, confirm_by = row
    meetup = MeetupView(meeting, mission, int(seated), int(waiting), host_name)
    me = Standing(user_id, status, checked_in_at is not None, confirm_by)
    started = now is not None and meeting.starts_at <= now
    return Card(meetup, me, started)


async def as_host(session: AsyncSession, meeting_id: int, user_id: int) -> MeetupView:
    """The meetup, for its host only (`NotHost` for anyone else): a host tool's check before
    it answers the press, so someone else's press gets one answer, the refusal."""
    meetup = await view(session, meeting_id)
    if meetup.meeting.host_id != user_id:
        raise NotHost
    return meetup


async def open_meetups(
    session: AsyncSession,
    region_id: int | None,
    now: datetime,
    *,
    mission_id: int | None = None,
    viewer_id: int | None = None,
    limit: int = 10,
) -> list[MeetupView]:
    """Open meetups that have not started, soonest first (in a region, or for a mission),
    without those hosted by someone on either side of a block with the viewer."""
    query = select(Meeting.id).where(Meeting.status == "open", Meeting.starts_at > now)
    if viewer_id is not None:
        hidden = await moderation.blocked_ids(session, viewer_id)
        if hidden:
            query = query.where(Meeting.host_id.not_in(hidden))
    if mission_id is not None:
        query = query.where(Meeting.mission_id == mission_id)
    elif region_id is not None:
        query = query.where(Meeting.region_id == region_id)
    ids = list(await session.scalars(query.order_by(Meeting.starts_at).limit(limit)))
    return await views(session, ids)


async def neighbourhood(
    session: AsyncSession, user_id: int, now: datetime, *, limit: int = 10
) -> Neighbourhood:
    """The open meetups a registered person may join near home (`NotRegistered` otherwise)."""
    user = await require_user(session, user_id)
    home = await regions.region(session, user.region_id) if user.region_id else None
    found = await open_meetups(session, user.region_id, now, viewer_id=user.id, limit=limit)
    return Neighbourhood(home, found)


@dataclass(frozen=True)
class Nearby:
    """Open meetups of the person's district, nearest first, each with its distance (metres)
    from the shared location or, without one, from the centre of the person's 동."""

    home: Region | None
    meetups: list[tuple[MeetupView, float]]


async def nearby(
    session: AsyncSession, user_id: int, now: datetime,
    near: tuple[float, float] | None = None, *, limit: int = 10,
) -> Nearby:  # fmt: skip
    """`/meetups` (issue 23): not only one's own 동, the whole district, by distance, then by
    start; hosts on either side of a block left out (`NotRegistered` without an account)."""
    user = await require_user(session, user_id)
    home = await regions.region(session, user.region_id) if user.region_id else None
    if home is None:
        return Nearby(None, [])
    district = select(Region.id).where(Region.district_code == home.district_code)
    query = select(Meeting.id).where(
        Meeting.status == "open", Meeting.starts_at > now, Meeting.region_id.in_(district)
    )
    hidden = await moderation.blocked_ids(session, user.id)
    if hidden:
        query = query.where(Meeting.host_id.not_in(hidden))
    # A district's open meetups are few: the nearest are chosen here, not in SQL.
    found = await views(session, list(await session.scalars(query.limit(200))))
    origin = near or (home.center_lat, home.center_lon)
    measured = [
        (view, geo.distance_m(*origin, view.meeting.place_lat, view.meeting.place_lon))
        for view in found
    ]
    measured.sort(key=lambda item: (round(item[1], -2), item[0].meeting.starts_at))
    return Nearby(home, measured[:limit])


async def my_meetups(session: AsyncSession, user_id: int, now: datetime) -> list[MeetupView]:
    """Meetups the person hosts or holds a place in that have not finished, soonest first
    (`NotRegistered` without an account)."""
    await require_user(session, user_id)
    ids = await session.scalars(
        select(Meeting.id)
        .join(Participation, Participation.meeting_id == Meeting.id)
        .where(
            Participation.user_id == user_id,
            Participation.status.in_(ACTIVE),
            Meeting.status == "open",
            Meeting.ends_at > now,
        )
        .order_by(Meeting.starts_at)
    )
    return await views(session, list(ids))


async def attendees(session: AsyncSession, meeting_id: int) -> list[Attendee]:
    rows = await session.execute(
        select(Participation, User.display_name)
        .join(User, User.id == Participation.user_id)
        .where(Participation.meeting_id == meeting_id, Participation.status.in_(ACTIVE))
        .order_by(Participation.status, Participation.joined_at, Participation.id)
    )
    return [Attendee(p.user_id, name, p.status, p.checked_in_at is not None) for p, name in rows]


async def roster(session: AsyncSession, meeting_id: int, host_id: int) -> Roster:
    """Who holds a place, for the host only (`NotHost` for anyone else)."""
    meetup = await as_host(session, meeting_id, host_id)
    return Roster(meetup, await attendees(session, meeting_id))


async def venue(session: AsyncSession, meeting_id: int) -> Venue:
    meetup = await view(session, meeting_id)
    home = await regions.region(session, meetup.meeting.region_id or 0)
    return Venue(meetup, home)


# --------------------------------------------------------------------------- hosting choices


@dataclass(frozen=True)
class MeetingPlaces:
    """Where a meetup for `mission` may meet: its own place, or another public place near
    the host (one per name). `mission` is None when it can no longer be hosted."""

    mission: Mission | None
    others: list[Mission]


async def _published(session: AsyncSession, region_id: int | None, limit: int) -> list[Mission]:
    query = select(Mission).where(Mission.status == "published")
    if region_id is not None:
        query = query.where((Mission.region_id == region_id) | (Mission.region_id.is_(None)))
    rows = await session.scalars(query.order_by(Mission.points.desc(), Mission.id).limit(limit))
    found = list(rows)
    if not found and region_id is not None:
        return await _published(session, None, limit)
    return found


async def missions_to_host(session: AsyncSession, user_id: int, limit: int = 6) -> list[Mission]:
    """Published missions for the person's neighbourhood (or anywhere open), most points
    first (`NotRegistered` without an account)."""
    user = await require_user(session, user_id)
    return await _published(session, user.region_id, limit)


async def public_places(
    session: AsyncSession, region_id: int | None, limit: int = 5
) -> list[Mission]:
    """Public places to meet at: those of published missions near the person, one per name."""
    query = select(Mission).where(Mission.status == "published")
    if region_id is not None:
        query = query.where(Mission.region_id == region_id)
    seen: set[str] = set()
    found: list[Mission] = []
    for mission in await session.scalars(query.order_by(Mission.id)):
        if mission.place_name_ko not in seen:
            seen.add(mission.place_name_ko)
            found.append(mission)
    return found[:limit]


async def hostable_mission(session: AsyncSession, mission_id: int | None) -> Mission | None:
    """A published mission to host a meetup for (or to meet at its place); None otherwise."""
    mission = await session.get(Mission, mission_id) if mission_id else None
    return mission if mission is not None and mission.status == "published" else None


async def meeting_places(session: AsyncSession, mission_id: int, user_id: int) -> MeetingPlaces:
    """The places a host may pick for a meetup of this mission (`NotRegistered` without an
    account)."""
    mission = await hostable_mission(session, mission_id)
    host = await require_user(session, user_id)
    nearby = await public_places(session, host.region_id)
    if mission is None:
        return MeetingPlaces(None, [])
    others = [m for m in nearby if m.place_name_ko != mission.place_name_ko]
    return MeetingPlaces(mission, others)
