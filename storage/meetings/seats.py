"""Seats: hosting a meetup, joining it (a seat, or a waitlist place when full), leaving it
(the first on the waitlist moves up), and the host's tools (close joining, cancel, message).

Every seat decision takes the meeting row's lock first (`base.locked`), then counts; the
people a change concerns hear of it through the outbox, in the same transaction.

Seats follow the meetup's rules: only people living in an enabled district join, and (the
`Rules.join_same_district` setting, on by default) only people of the meetup's own district;
a meetup whose district is not enabled is joined by no one. A seat is given up until the
start only, and never after checking in (`CannotLeave`). A forged press meets the same checks
as a real one: they are all here.

Each notice has a natural outbox key (storage/outbox.py lists them): a join, the leave that
ends it and a promotion are told once per join of the person (`Participation.joins`), so no
replay queues one twice and a real second join after a leave is still told. The press that
made the current join or leave (`Participation.last_press`) is kept: the same press handled
again (a redelivered update) changes nothing and is answered as the first time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import moderation, outbox, trust
from storage.accounts import require_may_act
from storage.errors import (
    AlreadyIn,
    Blocked,
    CannotLeave,
    HostLimit,
    HostNotAllowed,
    InvalidCapacity,
    InvalidTime,
    JoiningClosed,
    LowTrust,
    MeetupNotOpen,
    MissionUnavailable,
    NotParticipant,
    NotVerified,
    OutsideNeighbourhood,
    OwnMeetup,
    TimeConflict,
)
from storage.meetings.base import (
    ACTIVE,
    JOINED,
    LEFT,
    MAX_AHEAD,
    MIN_LEAD,
    WAITLISTED,
    Place,
    Rules,
    count,
    ensure_open,
    hosted,
    locked,
    participation,
)
from storage.models import Meeting, Mission, Participation, Region, User
from storage.text import clean
from verification.checkin import new_code


@dataclass(frozen=True)
class Seat:
    status: str  # joined | waitlisted
    position: int  # 1-based place in the waitlist; 0 when seated
    meeting: Meeting


def _overlapping(
    user_id: int | ColumnElement[int],
    starts_at: datetime | ColumnElement[datetime],
    ends_at: datetime | ColumnElement[datetime],
    skip: int | ColumnElement[int] | None,
) -> Select[int]:
    """The open meetups overlapping this time in which the person holds a place."""
    query = (
        select(Meeting.id)
        .join(Participation, Participation.meeting_id == Meeting.id)
        .where(
            Participation.user_id == user_id,
            Participation.status.in_(ACTIVE),
            Meeting.status == "open",
            Meeting.starts_at < ends_at,
            Meeting.ends_at > starts_at,
        )
    )
    if skip is not None:
        query = query.where(Meeting.id != skip)
    return query


async def _conflicts(
    session: AsyncSession, user_id: int, starts_at: datetime, ends_at: datetime, skip: int | None
) -> bool:
    """True when the person already holds a place in a meetup overlapping this time."""
    query = _overlapping(user_id, starts_at, ends_at, skip)
    return (await session.scalar(query.limit(1))) is not None


# --------------------------------------------------------------------------- hosting


async def ensure_can_host(session: AsyncSession, user_id: int, rules: Rules, now: datetime) -> User:
    """Checks the host rules before the person spends time filling in a meetup (and again
    when it is created); a deleted, banned or suspended person may not host."""
    host = await require_may_act(session, user_id, now, "host")
    if rules.host_requires_verified and host.region_verified_at is None:
        raise HostNotAllowed("unverified")
    if await trust.current(session, host) < rules.host_min_trust:
        raise HostNotAllowed("trust")
    hosted_today = await session.scalar(
        select(func.count())
        .select_from(Meeting)
        .where(Meeting.host_id == user_id, Meeting.created_at > now - timedelta(days=1))
    )
    if (hosted_today or 0) >= rules.host_max_per_day:
        raise HostLimit
    return host


def group_sizes(mission: Mission) -> range:
    """The sizes a meetup of `mission` may have, host included: the mission's own range (its
    card says "👥 2-6명"), within the 2-10 every meetup keeps."""
    low = max(2, min(10, mission.min_group))
    return range(low, max(low, min(10, mission.max_group)) + 1)


def ensure_start(starts_at: datetime, now: datetime) -> None:
    """A meetup starts at least `MIN_LEAD` from now and at most `MAX_AHEAD`."""
    if starts_at < now + MIN_LEAD:
        raise InvalidTime("past")
    if starts_at > now + MAX_AHEAD:
        raise InvalidTime("too_far")


async def create(
    session: AsyncSession,
    *,
    host_id: int,
    mission_id: int,
    starts_at: datetime,
    place: Place,
    capacity: int,
    note: str | None,
    rules: Rules,
    now: datetime,
) -> Meeting:
    """Creates a meetup with its host seated; refuses hosts the rules do not allow."""
    host = await ensure_can_host(session, host_id, rules, now)
    mission = await session.get(Mission, mission_id)
    if mission is None or mission.status != "published":
        raise MissionUnavailable
    ensure_start(starts_at, now)
    if capacity not in group_sizes(mission):
        raise InvalidCapacity
    ends_at = starts_at + timedelta(minutes=mission.duration_min)
    if await _conflicts(session, host_id, starts_at, ends_at, None):
        raise TimeConflict
    code = new_code()
    while await session.scalar(select(Meeting.id).where(Meeting.checkin_code == code)):
        code = new_code()
    meeting = Meeting(
        mission_id=mission.id,
        host_id=host_id,
        region_id=host.region_id,
        starts_at=starts_at,
        ends_at=ends_at,
        place_name=place.name[:120],
        place_lat=place.lat,
        place_lon=place.lon,
        capacity=capacity,
        note=clean(note, 500) or None,
        checkin_code=code,
        created_at=now,
    )
    session.add(meeting)
    await session.flush()
    session.add(Participation(meeting_id=meeting.id, user_id=host_id, status=JOINED, joined_at=now))
    await session.flush()
    return meeting


# --------------------------------------------------------------------------- joining


def _press(press: str | None) -> str | None:
    """A press as it is kept (Telegram's callback query ids are short; cut to the column)."""
    return press[:64] if press else None


def _repeated(mine: Participation | None, press: str | None) -> bool:
    """Whether `press` is the one that made this participation's current join or leave."""
    return mine is not None and press is not None and mine.last_press == _press(press)


_REGIONS = select(Region).where(Region.id.in_(bindparam("ids", expanding=True)))


async def _ensure_neighbours(
    session: AsyncSession, meeting: Meeting, user: User, rules: Rules
) -> None:
    """Meetups are for neighbours: the meetup's district and the person's are enabled, and
    with `rules.join_same_district` they are one district."""
    wanted = list({meeting.region_id, user.region_id} - {None})
    found = {r.id: r for r in await session.scalars(_REGIONS, {"ids": wanted})}
    there = found.get(meeting.region_id) if meeting.region_id else None
    if there is None or not there.enabled:
        raise OutsideNeighbourhood("meetup")
    home = found.get(user.region_id) if user.region_id else None
    if home is None or not home.enabled:
        raise OutsideNeighbourhood("home")
    if rules.join_same_district and home.district_code != there.district_code:
        raise OutsideNeighbourhood("district")


@dataclass(frozen=True)
class _Facts:
    """What the join rules read once the meeting row is locked."""

    blocked: bool  # a block, either way, between the person and the host
    conflict: bool  # a place held in another meetup overlapping this one
    seated: int


# One statement, built once with bound values: a join is the busiest write there is (issue 24).
_FACTS = select(
    moderation.blocks_between(bindparam("host_id"), bindparam("user_id")).exists(),
    _overlapping(
        bindparam("user_id"), bindparam("starts_at"), bindparam("ends_at"), bindparam("meeting_id")
    ).exists(),
    select(func.count())
    .select_from(Participation)
    .where(Participation.meeting_id == bindparam("meeting_id"), Participation.status == JOINED)
    .scalar_subquery(),
)


async def _facts(session: AsyncSession, meeting: Meeting, user_id: int) -> _Facts:
    values = {
        "host_id": meeting.host_id, "user_id": user_id, "meeting_id": meeting.id,
        "starts_at": meeting.starts_at, "ends_at": meeting.ends_at,
    }  # fmt: skip
    blocked, conflict, seated = (await session.execute(_FACTS, values)).one()
    return _Facts(bool(blocked), bool(conflict), int(seated or 0))


async def _seat(session: AsyncSession, meeting: Meeting, mine: Participation) -> Seat:
    """Where a participation stands: seated, or its place on the waitlist."""
    if mine.status == JOINED:
        return Seat(JOINED, 0, meeting)
    ahead = await session.scalar(
        select(func.count())
        .select_from(Participation)
        .where(
            Participation.meeting_id == meeting.id,
            Participation.status == WAITLISTED,
            (Participation.joined_at < mine.joined_at)
            | ((Participation.joined_at == mine.joined_at) & (Participation.id <= mine.id)),
        )
    )
    return Seat(WAITLISTED, int(ahead or 1), meeting)


async def join(
    session: AsyncSession, meeting_id: int, user_id: int, rules: Rules, now: datetime,
    *, press: str | None = None,
) -> Seat:  # fmt: skip
    """Takes a seat, or a waitlist place when full; the host hears about it. A deleted, banned
    or suspended person may not join, nor anyone from outside the meetup's neighbourhood.

    `press` identifies the button press (Telegram's callback query id): the same press handled
    again finds its seat and returns it, with nothing changed and nobody told twice.
    """
    user = await require_may_act(session, user_id, now, "join")
    meeting = await locked(session, meeting_id)
    existing = await participation(session, meeting_id, user_id)
    if _repeated(existing, press) and existing is not None and existing.status in ACTIVE:
        return await _seat(session, meeting, existing)
    ensure_open(meeting, now)
    if meeting.host_id == user_id:
        raise OwnMeetup
    facts = await _facts(session, meeting, user_id)
    if facts.blocked:
        raise Blocked
    if meeting.joining_closed:
        raise JoiningClosed
    if existing is not None and existing.status in ACTIVE:
        raise AlreadyIn(existing.status)
    await _ensure_neighbours(session, meeting, user, rules)
    if rules.join_requires_verified and user.region_verified_at is None:
        raise NotVerified
    if await trust.current(session, user) < rules.join_min_trust:
        raise LowTrust
    if facts.conflict:
        raise TimeConflict
    seated = facts.seated
    status = JOINED if seated < meeting.capacity else WAITLISTED
    if existing is None:
        existing = Participation(meeting_id=meeting_id, user_id=user_id, joined_at=now, joins=0)
        session.add(existing)
    existing.status, existing.joined_at, existing.left_at = status, now, None
    existing.joins, existing.last_press = (existing.joins or 0) + 1, _press(press)
    await session.flush()
    position = 0 if status == JOINED else await count(session, meeting_id, WAITLISTED)
    await outbox.enqueue(
        session,
        key=f"join:{existing.id}:{existing.joins}",
        chat_id=meeting.host_id,
        kind="meetup_joined" if status == JOINED else "meetup_waitlisted",
        values={"meeting_id": meeting_id, "name": user.display_name,
                "seated": seated + (status == JOINED), "capacity": meeting.capacity},
        now=now,
    )  # fmt: skip
    return Seat(status, position, meeting)


async def leave(
    session: AsyncSession, meeting_id: int, user_id: int, now: datetime,
    *, press: str | None = None,
) -> int | None:  # fmt: skip
    """Gives up a seat or waitlist place, until the start and never after checking in
    (`CannotLeave`); the first on the waitlist moves up and is told.

    `press` as for `join`: the same press handled again changes nothing. Returns the id of
    the person who got the seat, if anyone did (None for a repeated press).
    """
    meeting = await locked(session, meeting_id)
    mine = await participation(session, meeting_id, user_id)
    if _repeated(mine, press) and mine is not None and mine.status == LEFT:
        return None
    if meeting.status != "open":
        raise MeetupNotOpen(meeting.status)
    if meeting.host_id == user_id:
        raise OwnMeetup  # a host cancels instead
    if mine is None or mine.status not in ACTIVE:
        raise NotParticipant
    if mine.checked_in_at is not None:
        raise CannotLeave("checked_in")
    if meeting.starts_at <= now:
        raise CannotLeave("started")
    mine.last_press = _press(press)
    return await _give_up(session, meeting, mine, now)


async def release(
    session: AsyncSession, meeting_id: int, user_id: int, now: datetime
) -> int | None:
    """Gives up the person's place whatever the leaving rules say, for an account being
    deleted (`storage.erasure`); the host and the first waiting are told as for `leave`."""
    meeting = await locked(session, meeting_id)
    if meeting.status != "open":
        raise MeetupNotOpen(meeting.status)
    mine = await participation(session, meeting_id, user_id)
    if mine is None or mine.status not in ACTIVE:
        raise NotParticipant
    return await _give_up(session, meeting, mine, now)


async def _give_up(
    session: AsyncSession, meeting: Meeting, mine: Participation, now: datetime
) -> int | None:
    """The place is given up; the host is told; before the start the first waiting takes a
    freed seat and is told. Returns who took it."""
    was_seated = mine.status == JOINED
    mine.status, mine.left_at, mine.confirm_by = LEFT, now, None
    user = await session.get(User, mine.user_id)
    await outbox.enqueue(
        session,
        key=f"leave:{mine.id}:{mine.joins}",
        chat_id=meeting.host_id,
        kind="meetup_left",
        values={"meeting_id": meeting.id, "name": user.display_name if user else ""},
        now=now,
    )
    if not was_seated:
        return None
    return await promote_first(session, meeting, now)


async def promote_first(session: AsyncSession, meeting: Meeting, now: datetime) -> int | None:
    """A seat was freed: before the start, the first on the waitlist takes it and is told.
    Returns who took it (the meeting row is locked by the caller)."""
    if meeting.starts_at <= now:
        return None
    first = await session.scalar(
        select(Participation)
        .where(Participation.meeting_id == meeting.id, Participation.status == WAITLISTED)
        .order_by(Participation.joined_at, Participation.id)
        .limit(1)
    )
    if first is None:
        return None
    # Seated from now on: the reminders count from here (storage.meetings.timers).
    first.status, first.joined_at = JOINED, now
    await outbox.enqueue(
        session,
        key=f"promoted:{first.id}:{first.joins}",
        chat_id=first.user_id,
        kind="meetup_promoted",
        values={"meeting_id": meeting.id},
        now=now,
    )
    return first.user_id


# --------------------------------------------------------------------------- host tools


async def _notify_all(
    session: AsyncSession, meeting: Meeting, kind: outbox.NoticeKind, event: str, now: datetime,
    values: dict[str, object] | None = None, statuses: Sequence[str] = ACTIVE,
    occasion: str | None = None,
) -> int:  # fmt: skip
    """Tells everyone holding a place (not the host), each under the key
    `<event>:<meeting>:<person>[:<occasion>]`; returns how many are told (a notice queued
    already under its key, by the same occasion handled before, counts once)."""
    rows = await session.scalars(
        select(Participation.user_id).where(
            Participation.meeting_id == meeting.id,
            Participation.status.in_(statuses),
            Participation.user_id != meeting.host_id,
        )
    )
    suffix = f":{occasion}" if occasion is not None else ""
    told = 0
    for user_id in rows:
        await outbox.enqueue(
            session, key=f"{event}:{meeting.id}:{user_id}{suffix}", chat_id=user_id, kind=kind,
            values={"meeting_id": meeting.id, **(values or {})}, now=now,
        )  # fmt: skip
        told += 1
    return told


async def cancel(session: AsyncSession, meeting_id: int, host_id: int, now: datetime) -> int:
    """Cancels the meetup; everyone holding a place is told. Returns how many were told."""
    meeting = await hosted(session, meeting_id, host_id)
    if meeting.status != "open":
        raise MeetupNotOpen(meeting.status)
    meeting.status = "cancelled"
    return await _notify_all(session, meeting, "meetup_cancelled", "cancel", now)


async def close_joining(session: AsyncSession, meeting_id: int, host_id: int) -> None:
    meeting = await hosted(session, meeting_id, host_id)
    meeting.joining_closed = True


async def message_participants(
    session: AsyncSession, meeting_id: int, host_id: int, text: str, now: datetime,
    *, occasion: int | None = None,
) -> int:  # fmt: skip
    """Sends the host's words to everyone seated; returns how many will get them.

    `occasion` is the host's message (its Telegram message id in the host's chat): the same
    message handled again is queued once. Without it the moment stands in (no such promise).
    """
    meeting = await hosted(session, meeting_id, host_id)
    if meeting.status != "open":
        raise MeetupNotOpen(meeting.status)
    said = f"m{occasion}" if occasion is not None else f"t{int(now.timestamp() * 1000)}"
    words = clean(text, 3000)
    return await _notify_all(
        session, meeting, "host_message", "hostmsg", now, {"text": words}, statuses=(JOINED,),
        occasion=said,
    )  # fmt: skip
