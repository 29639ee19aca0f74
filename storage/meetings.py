"""Meetups: create, join (seat or waitlist), leave, host tools, check-in, reminders, closing.

Every seat decision locks the meeting row first (`SELECT … FOR UPDATE` on PostgreSQL; SQLite
transactions here begin IMMEDIATE and so are serialised), then counts: 50 people pressing Join
on the last seat at once give one seat and 49 waitlist places. Attendance is unique per
meeting and person in the database. Notices to others go to the outbox in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import moderation, outbox, progress, proof_words, trust
from storage.accounts import require_user
from storage.errors import (
    AlreadyCheckedIn,
    AlreadyIn,
    Blocked,
    CheckinClosed,
    HostLimit,
    HostNotAllowed,
    InvalidTime,
    JoiningClosed,
    LowTrust,
    MeetupNotFound,
    MeetupNotOpen,
    MissionUnavailable,
    NotHost,
    NotParticipant,
    NotVerified,
    OwnMeetup,
    Suspended,
    TimeConflict,
)
from storage.models import Meeting, Mission, Participation, User
from storage.text import clean
from verification.checkin import new_code

JOINED, WAITLISTED, LEFT = "joined", "waitlisted", "left"
ACTIVE = (JOINED, WAITLISTED)
MIN_LEAD = timedelta(minutes=10)
MAX_AHEAD = timedelta(days=14)


@dataclass(frozen=True)
class Rules:
    host_min_trust: float = 40.0
    host_requires_verified: bool = True
    join_requires_verified: bool = True
    checkin_opens_before: timedelta = timedelta(minutes=15)
    checkin_closes_after: timedelta = timedelta(minutes=30)
    host_max_per_day: int = 3
    join_min_trust: float = 20.0


@dataclass(frozen=True)
class Place:
    name: str
    lat: float
    lon: float
    address: str = ""


@dataclass(frozen=True)
class Seat:
    status: str  # joined | waitlisted
    position: int  # 1-based place in the waitlist; 0 when seated
    meeting: Meeting


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
class Attendee:
    user_id: int
    name: str
    status: str
    checked_in: bool


# --------------------------------------------------------------------------- reading


async def _locked(session: AsyncSession, meeting_id: int) -> Meeting:
    meeting = await session.scalar(
        select(Meeting).where(Meeting.id == meeting_id).with_for_update()
    )
    if meeting is None:
        raise MeetupNotFound
    return meeting


async def _count(session: AsyncSession, meeting_id: int, status: str) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Participation)
            .where(Participation.meeting_id == meeting_id, Participation.status == status)
        )
        or 0
    )


def _counted(status: str) -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(Participation)
        .where(Participation.meeting_id == Meeting.id, Participation.status == status)
        .correlate(Meeting)
        .scalar_subquery()
    )


async def views(session: AsyncSession, meeting_ids: Sequence[int]) -> list[MeetupView]:
    """Meetups as cards show them, in the order asked; ids not found are left out.

    One statement for all of them (meeting, mission, host name, seat counts): a card is
    redrawn after every join and leave, and a list shows up to ten.
    """
    if not meeting_ids:
        return []
    rows = await session.execute(
        select(
            Meeting,
            Mission,
            func.coalesce(User.display_name, ""),
            _counted(JOINED),
            _counted(WAITLISTED),
        )
        .join(Mission, Mission.id == Meeting.mission_id)
        .outerjoin(User, User.id == Meeting.host_id)
        .where(Meeting.id.in_(meeting_ids))
    )
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


async def my_meetups(session: AsyncSession, user_id: int, now: datetime) -> list[MeetupView]:
    """Meetups the person hosts or holds a place in that have not finished, soonest first."""
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


async def participation(
    session: AsyncSession, meeting_id: int, user_id: int
) -> Participation | None:
    return await session.scalar(
        select(Participation).where(
            Participation.meeting_id == meeting_id, Participation.user_id == user_id
        )
    )


async def attendees(session: AsyncSession, meeting_id: int) -> list[Attendee]:
    rows = await session.execute(
        select(Participation, User.display_name)
        .join(User, User.id == Participation.user_id)
        .where(Participation.meeting_id == meeting_id, Participation.status.in_(ACTIVE))
        .order_by(Participation.status, Participation.joined_at, Participation.id)
    )
    return [Attendee(p.user_id, name, p.status, p.checked_in_at is not None) for p, name in rows]


async def missions_to_host(
    session: AsyncSession, region_id: int | None, limit: int = 6
) -> list[Mission]:
    """Published missions for the person's neighbourhood (or anywhere open), most points first."""
    query = select(Mission).where(Mission.status == "published")
    if region_id is not None:
        query = query.where((Mission.region_id == region_id) | (Mission.region_id.is_(None)))
    rows = await session.scalars(query.order_by(Mission.points.desc(), Mission.id).limit(limit))
    found = list(rows)
    if not found and region_id is not None:
        return await missions_to_host(session, None, limit)
    return found


# --------------------------------------------------------------------------- rules


async def _conflicts(
    session: AsyncSession, user_id: int, starts_at: datetime, ends_at: datetime, skip: int | None
) -> bool:
    """True when the person already holds a place in a meetup overlapping this time."""
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
    return (await session.scalar(query.limit(1))) is not None


def _ensure_open(meeting: Meeting, now: datetime) -> None:
    if meeting.status != "open":
        raise MeetupNotOpen(meeting.status)
    if meeting.starts_at <= now:
        raise MeetupNotOpen("started")


# --------------------------------------------------------------------------- writing


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
    if starts_at < now + MIN_LEAD:
        raise InvalidTime("past")
    if starts_at > now + MAX_AHEAD:
        raise InvalidTime("too_far")
    if not 2 <= capacity <= 10:
        raise ValueError("capacity must be 2-10")
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
        place_address=place.address[:200],
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


async def join(
    session: AsyncSession, meeting_id: int, user_id: int, rules: Rules, now: datetime
) -> Seat:
    """Takes a seat, or a waitlist place when full; the host hears about it."""
    user = await require_user(session, user_id)
    _ensure_not_suspended(user, now)
    meeting = await _locked(session, meeting_id)
    _ensure_open(meeting, now)
    if meeting.host_id == user_id:
        raise OwnMeetup
    if await moderation.blocked_between(session, meeting.host_id, user_id):
        raise Blocked
    if meeting.joining_closed:
        raise JoiningClosed
    existing = await participation(session, meeting_id, user_id)
    if existing is not None and existing.status in ACTIVE:
        raise AlreadyIn(existing.status)
    if rules.join_requires_verified and user.region_verified_at is None:
        raise NotVerified
    if user.trust_score < rules.join_min_trust:
        raise LowTrust
    if await _conflicts(session, user_id, meeting.starts_at, meeting.ends_at, meeting_id):
        raise TimeConflict
    seated = await _count(session, meeting_id, JOINED)
    status = JOINED if seated < meeting.capacity else WAITLISTED
    if existing is None:
        existing = Participation(meeting_id=meeting_id, user_id=user_id, joined_at=now)
        session.add(existing)
    existing.status, existing.joined_at, existing.left_at = status, now, None
    await session.flush()
    position = 0 if status == JOINED else await _count(session, meeting_id, WAITLISTED)
    await outbox.enqueue(
        session,
        key=f"join:{existing.id}:{int(now.timestamp())}",
        chat_id=meeting.host_id,
        kind="meetup_joined" if status == JOINED else "meetup_waitlisted",
        values={"meeting_id": meeting_id, "name": user.display_name,
                "seated": seated + (status == JOINED), "capacity": meeting.capacity},
        now=now,
    )  # fmt: skip
    return Seat(status, position, meeting)


async def leave(session: AsyncSession, meeting_id: int, user_id: int, now: datetime) -> int | None:
    """Gives up a seat or waitlist place; the first on the waitlist moves up and is told.

    Returns the id of the person who got the seat, if anyone did.
    """
    meeting = await _locked(session, meeting_id)
    if meeting.status != "open":
        raise MeetupNotOpen(meeting.status)
    if meeting.host_id == user_id:
        raise OwnMeetup  # a host cancels instead
    mine = await participation(session, meeting_id, user_id)
    if mine is None or mine.status not in ACTIVE:
        raise NotParticipant
    was_seated = mine.status == JOINED
    mine.status, mine.left_at = LEFT, now
    user = await session.get(User, user_id)
    await outbox.enqueue(
        session,
        key=f"leave:{mine.id}:{int(now.timestamp())}",
        chat_id=meeting.host_id,
        kind="meetup_left",
        values={"meeting_id": meeting_id, "name": user.display_name if user else ""},
        now=now,
    )
    if not was_seated or meeting.starts_at <= now:
        return None
    first = await session.scalar(
        select(Participation)
        .where(Participation.meeting_id == meeting_id, Participation.status == WAITLISTED)
        .order_by(Participation.joined_at, Participation.id)
        .limit(1)
    )
    if first is None:
        return None
    first.status = JOINED
    await outbox.enqueue(
        session,
        key=f"promoted:{first.id}:{int(now.timestamp())}",
        chat_id=first.user_id,
        kind="meetup_promoted",
        values={"meeting_id": meeting_id},
        now=now,
    )
    return first.user_id


async def _hosted(session: AsyncSession, meeting_id: int, host_id: int) -> Meeting:
    meeting = await _locked(session, meeting_id)
    if meeting.host_id != host_id:
        raise NotHost
    return meeting


async def _notify_all(
    session: AsyncSession, meeting: Meeting, kind: str, key: str, now: datetime,
    values: dict[str, object] | None = None, statuses: Sequence[str] = ACTIVE,
) -> int:  # fmt: skip
    rows = await session.scalars(
        select(Participation.user_id).where(
            Participation.meeting_id == meeting.id,
            Participation.status.in_(statuses),
            Participation.user_id != meeting.host_id,
        )
    )
    sent = 0
    for user_id in rows:
        sent += await outbox.enqueue(
            session, key=f"{key}:{user_id}", chat_id=user_id, kind=kind,
            values={"meeting_id": meeting.id, **(values or {})}, now=now,
        )  # fmt: skip
    return sent


async def cancel(session: AsyncSession, meeting_id: int, host_id: int, now: datetime) -> int:
    """Cancels the meetup; everyone holding a place is told. Returns how many were told."""
    meeting = await _hosted(session, meeting_id, host_id)
    if meeting.status != "open":
        raise MeetupNotOpen(meeting.status)
    meeting.status = "cancelled"
    return await _notify_all(session, meeting, "meetup_cancelled", f"cancel:{meeting_id}", now)


async def close_joining(session: AsyncSession, meeting_id: int, host_id: int) -> None:
    meeting = await _hosted(session, meeting_id, host_id)
    meeting.joining_closed = True


async def message_participants(
    session: AsyncSession, meeting_id: int, host_id: int, text: str, now: datetime
) -> int:
    """Sends the host's words to everyone seated; returns how many will get them."""
    meeting = await _hosted(session, meeting_id, host_id)
    if meeting.status != "open":
        raise MeetupNotOpen(meeting.status)
    key = f"hostmsg:{meeting_id}:{int(now.timestamp() * 1000)}"
    words = clean(text, 3000)
    return await _notify_all(
        session, meeting, "host_message", key, now, {"text": words}, statuses=(JOINED,)
    )


# --------------------------------------------------------------------------- check-in


def checkin_window(meeting: Meeting, rules: Rules) -> tuple[datetime, datetime]:
    start = meeting.starts_at
    return start - rules.checkin_opens_before, start + rules.checkin_closes_after


def _ensure_window(meeting: Meeting, rules: Rules, now: datetime) -> None:
    if meeting.status == "cancelled":
        raise MeetupNotOpen("cancelled")
    opens, closes = checkin_window(meeting, rules)
    if now < opens:
        raise CheckinClosed("early")
    if now > closes:
        raise CheckinClosed("late")


async def open_checkin(
    session: AsyncSession, meeting_id: int, host_id: int, rules: Rules, now: datetime
) -> Meeting:
    """The host shows the QR: allowed only inside the window; the host counts as present."""
    meeting = await _hosted(session, meeting_id, host_id)
    _ensure_window(meeting, rules, now)
    mine = await participation(session, meeting_id, host_id)
    if mine is not None and mine.checked_in_at is None:
        mine.checked_in_at = now
    if mine is not None:
        await proof_words.assign(session, mine)
    return meeting


async def check_in(
    session: AsyncSession, meeting_id: int, user_id: int, rules: Rules, now: datetime
) -> tuple[Meeting, int]:
    """Records attendance once; returns the meeting and how many are checked in now."""
    await require_user(session, user_id)
    meeting = await _locked(session, meeting_id)
    _ensure_window(meeting, rules, now)
    mine = await participation(session, meeting_id, user_id)
    if mine is None or mine.status not in ACTIVE:
        raise NotParticipant
    if mine.status == WAITLISTED:
        raise NotParticipant("waitlisted")
    if mine.checked_in_at is not None:
        raise AlreadyCheckedIn
    mine.checked_in_at = now
    await proof_words.assign(session, mine)
    present = int(
        await session.scalar(
            select(func.count())
            .select_from(Participation)
            .where(Participation.meeting_id == meeting_id, Participation.checked_in_at.is_not(None))
        )
        or 0
    )
    user = await session.get(User, user_id)
    await outbox.enqueue(
        session,
        key=f"checkin:{mine.id}",
        chat_id=meeting.host_id,
        kind="checked_in",
        values={"meeting_id": meeting_id, "name": user.display_name if user else "",
                "present": present, "seated": await _count(session, meeting_id, JOINED)},
        now=now,
    )  # fmt: skip
    return meeting, present


async def meeting_by_code(session: AsyncSession, code: str) -> int:
    found = await session.scalar(select(Meeting.id).where(Meeting.checkin_code == code))
    if found is None:
        raise MeetupNotFound
    return int(found)


# --------------------------------------------------------------------------- scheduled


async def queue_reminders(session: AsyncSession, now: datetime, before: Sequence[timedelta]) -> int:
    """Queues each due reminder once (the outbox key is the claim), for everyone seated."""
    queued = 0
    for lead in before:
        minutes = int(lead.total_seconds() // 60)
        due = await session.scalars(
            select(Meeting).where(
                Meeting.status == "open",
                Meeting.starts_at > now,
                Meeting.starts_at <= now + lead,
            )
        )
        for meeting in due:
            seated = await session.scalars(
                select(Participation.user_id).where(
                    Participation.meeting_id == meeting.id, Participation.status == JOINED
                )
            )
            for user_id in seated:
                queued += await outbox.enqueue(
                    session, key=f"remind{minutes}:{meeting.id}:{user_id}", chat_id=user_id,
                    kind="meetup_reminder", values={"meeting_id": meeting.id, "minutes": minutes},
                    now=now,
                )  # fmt: skip
    return queued


async def finish_due(session: AsyncSession, rules: Rules, now: datetime) -> list[int]:
    """Closes meetups whose time and check-in window are over; marks no-shows; asks those
    who came for photo evidence. Returns the closed meetings' ids."""
    closed: list[int] = []
    candidates = await session.scalars(
        select(Meeting).where(Meeting.status == "open", Meeting.ends_at <= now)
    )
    for meeting in list(candidates):
        if now < checkin_window(meeting, rules)[1]:
            continue  # people may still check in
        meeting.status = "finished"
        seated = list(
            await session.scalars(
                select(Participation).where(
                    Participation.meeting_id == meeting.id, Participation.status == JOINED
                )
            )
        )
        present = [p for p in seated if p.checked_in_at is not None]
        for person in seated:
            if person.checked_in_at is None:
                person.no_show_at = now
                await trust.recompute(session, person.user_id)
                continue
            await progress.award_badges(session, person.user_id, now)
            if len(present) >= 2:
                await outbox.enqueue(
                    session, key=f"feedback_ask:{meeting.id}:{person.user_id}",
                    chat_id=person.user_id, kind="feedback_request",
                    values={"meeting_id": meeting.id}, now=now,
                )  # fmt: skip
            await outbox.enqueue(
                session, key=f"evidence_ask:{meeting.id}:{person.user_id}",
                chat_id=person.user_id, kind="evidence_request",
                values={"meeting_id": meeting.id}, now=now,
            )  # fmt: skip
        closed.append(meeting.id)
    return closed


def _ensure_not_suspended(user: User, now: datetime) -> None:
    if user.suspended_until is not None and user.suspended_until > now:
        raise Suspended(user.suspended_until)


async def ensure_can_host(session: AsyncSession, user_id: int, rules: Rules, now: datetime) -> User:
    """Checks the host rules before the person spends time filling in a meetup."""
    host = await require_user(session, user_id)
    _ensure_not_suspended(host, now)
    if rules.host_requires_verified and host.region_verified_at is None:
        raise HostNotAllowed("unverified")
    if host.trust_score < rules.host_min_trust:
        raise HostNotAllowed("trust")
    hosted_today = await session.scalar(
        select(func.count())
        .select_from(Meeting)
        .where(Meeting.host_id == user_id, Meeting.created_at > now - timedelta(days=1))
    )
    if (hosted_today or 0) >= rules.host_max_per_day:
        raise HostLimit
    return host


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
