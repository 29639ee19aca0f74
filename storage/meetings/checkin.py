"""Check-in (step 4): the host shows a QR inside the window; a participant presents its token
(a scan) or the typed code under it, then shares their location; attendance is recorded once.

Check-in proves presence (issue 21), in two steps:
1. `present`: the token or code is verified, with the meeting's rules, at the moment the
   person acted (the message's date, never later than now: a check-in sent in time and
   delivered after a backlog counts, a forged future date gains nothing). Both rotate with
   the window (`verification.checkin`), so a code texted to a friend expires within minutes.
   The presentation is kept on the seat (`checkin_presented_at`, `checkin_method`) and the
   location step waits until `checkin_pending_until`, in the database, not in memory.
2. `locate` (a location shared) or `skip_location` ("I can't share"): within
   `Presence.radius_m` of the meeting point → checked in, with the distance rounded to 10 m;
   farther → `TooFar` (nothing changes, they may try again); no location → checked in as
   "unverified", unless `Presence.location_required` says no (`LocationNeeded`).

Every answer is the same when the same update is handled twice: a presentation only renews
its wait, the completing message's id is stored (`checkin_message_id`) so a redelivery gets the
same confirmation, and the host's notice has a unique outbox key. Attendance is unique per
meeting and person; the meeting row lock keeps the "how many are here" count exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox, proof_words
from storage.accounts import require_may_act
from storage.errors import (
    AlreadyCheckedIn,
    CheckinClosed,
    InvalidCheckin,
    MeetupNotOpen,
    NotHost,
    NotParticipant,
)
from storage.meetings.base import (
    ACTIVE,
    JOINED,
    WAITLISTED,
    Rules,
    count,
    hosted,
    locked,
    participation,
)
from storage.meetings.queries import MeetupView, view
from storage.models import Meeting, Participation, User
from verification import geo
from verification.checkin import CODE_LENGTH, InvalidToken, TokenSigner, normalize_code

QR, CODE, HOST = "qr", "code", "host"  # storage.models.CHECKIN_METHODS
LIVE, POINT, UNVERIFIED = "live", "point", "unverified"  # storage.models.CHECKIN_LOCATIONS
DISTANCE_STEP_M = 10
# A location shared this long after the wait ended is told that the check-in expired; later
# ones are just locations again (the meetups near them).
EXPIRED_TOLD_FOR = timedelta(hours=1)
# How many windows back a typed code is still recognised, to say it changed (not accepted).
OLD_CODE_WINDOWS = 20


class PresenceSettings(Protocol):
    """The settings a check-in's location step comes from (`bot.settings.Settings`)."""

    @property
    def checkin_radius_m(self) -> int: ...

    @property
    def checkin_location_required(self) -> bool: ...

    @property
    def evidence_window_hours(self) -> int: ...


@dataclass(frozen=True)
class Presence:
    """How a check-in proves presence: the radius around the meeting point, whether someone
    who shares no location may check in (as "unverified"), how long the location step waits,
    and how long after the meetup's end the evidence photo is taken (to say so)."""

    radius_m: int = 150
    location_required: bool = False
    answer_within: timedelta = timedelta(minutes=10)
    evidence_after: timedelta = timedelta(hours=48)

    @classmethod
    def from_settings(cls, settings: PresenceSettings) -> Presence:
        return cls(
            radius_m=settings.checkin_radius_m,
            location_required=settings.checkin_location_required,
            evidence_after=timedelta(hours=settings.evidence_window_hours),
        )


@dataclass(frozen=True)
class CheckinSheet:
    """What the host's QR message shows: the signed token of the current window, the typed
    code of the same window, and the host's own proof word."""

    meetup: MeetupView
    token: str
    code: str
    proof_word: str | None


@dataclass(frozen=True)
class Presented:
    """The QR or code is valid: the person is asked for their location until `answer_by`."""

    meetup: MeetupView
    method: str
    answer_by: datetime
    radius_m: int
    location_required: bool


@dataclass(frozen=True)
class CheckedIn:
    """A check-in recorded: how, where, the proof word, and until when the photo is taken."""

    meetup: MeetupView
    proof_word: str | None
    method: str | None = None
    location: str | None = None
    distance_m: int | None = None
    checked_in_at: datetime | None = None
    evidence_until: datetime | None = None


@dataclass(frozen=True)
class TooFar:
    """The location shared is farther than the radius: nothing recorded, try again."""

    meetup: MeetupView
    distance_m: int
    radius_m: int
    location_required: bool


@dataclass(frozen=True)
class LocationNeeded:
    """Skipped, but this bot checks in only people who share a location."""

    meetup: MeetupView
    radius_m: int


@dataclass(frozen=True)
class Expired:
    """The location came after the wait ended: the QR or code must be presented again."""

    meetup: MeetupView


Answer = CheckedIn | TooFar | LocationNeeded | Expired


@dataclass(frozen=True)
class Arrival:
    """One person on the host's list: where they stand and, once here, how they checked in."""

    user_id: int
    name: str
    status: str
    checked_in: bool
    method: str | None
    location: str | None
    distance_m: int | None


@dataclass(frozen=True)
class Attendance:
    """The host's list of the people holding a place, with who is here and how."""

    meetup: MeetupView
    people: list[Arrival]
    radius_m: int


def acted_at(sent_at: datetime | None, now: datetime) -> datetime:
    """When the person acted: the message's date, bounded by now (an update is handled only
    after it arrived, so a date later than now is false and gains nothing)."""
    return now if sent_at is None else min(sent_at, now)


def checkin_window(meeting: Meeting, rules: Rules) -> tuple[datetime, datetime]:
    start = meeting.starts_at
    return start - rules.checkin_opens_before, start + rules.checkin_closes_after


def _ensure_window(meeting: Meeting, rules: Rules, at: datetime) -> None:
    if meeting.status == "cancelled":
        raise MeetupNotOpen("cancelled")
    opens, closes = checkin_window(meeting, rules)
    if at < opens:
        raise CheckinClosed("early")
    if at > closes:
        raise CheckinClosed("late")


def _rounded(metres: float) -> int:
    return round(metres / DISTANCE_STEP_M) * DISTANCE_STEP_M


# --------------------------------------------------------------------------- the host


async def open_checkin(
    session: AsyncSession, meeting_id: int, host_id: int, rules: Rules, now: datetime
) -> Meeting:
    """The host shows the QR: allowed only inside the window; the host counts as present."""
    meeting = await hosted(session, meeting_id, host_id)
    _ensure_window(meeting, rules, now)
    mine = await participation(session, meeting_id, host_id)
    if mine is not None and mine.checked_in_at is None:
        mine.checked_in_at = now
        mine.checkin_method = HOST
    if mine is not None:
        await proof_words.assign(session, mine)
    return meeting


async def checkin_sheet(
    session: AsyncSession,
    meeting_id: int,
    host_id: int,
    signer: TokenSigner,
    rules: Rules,
    now: datetime,
) -> CheckinSheet:
    """Opens check-in for the host (`open_checkin`); the current window's token and code."""
    meeting = await open_checkin(session, meeting_id, host_id, rules, now)
    mine = await participation(session, meeting_id, host_id)
    return CheckinSheet(
        await view(session, meeting_id),
        signer.issue(meeting.id, now),
        signer.code(meeting.id, now),
        mine.proof_word if mine else None,
    )


async def attendance(
    session: AsyncSession, meeting_id: int, host_id: int, presence: Presence
) -> Attendance:
    """Who holds a place and who is here, and how (for the host only: `NotHost` otherwise)."""
    meetup = await view(session, meeting_id)
    if meetup.meeting.host_id != host_id:
        raise NotHost
    rows = await session.execute(
        select(Participation, User.display_name)
        .join(User, User.id == Participation.user_id)
        .where(Participation.meeting_id == meeting_id, Participation.status.in_(ACTIVE))
        .order_by(Participation.status, Participation.joined_at, Participation.id)
    )
    people = [
        Arrival(
            p.user_id, name, p.status, p.checked_in_at is not None,
            p.checkin_method, p.checkin_location, p.checkin_distance_m,
        )
        for p, name in rows
    ]  # fmt: skip
    return Attendance(meetup, people, presence.radius_m)


# --------------------------------------------------------------------------- attendance


async def _seat(session: AsyncSession, meeting_id: int, user_id: int) -> Participation:
    """The person's seat in the meeting; `NotParticipant` unless they hold one."""
    mine = await participation(session, meeting_id, user_id)
    if mine is None or mine.status not in ACTIVE:
        raise NotParticipant
    if mine.status == WAITLISTED:
        raise NotParticipant("waitlisted")
    return mine


async def _record(
    session: AsyncSession,
    meeting: Meeting,
    mine: Participation,
    at: datetime,
    now: datetime,
    *,
    location: str | None = None,
    distance_m: int | None = None,
    message_id: int | None = None,
) -> int:
    """Records attendance at `at` (the caller locked the meeting) and tells the host through
    the outbox, once (its key is the seat); returns how many are checked in now."""
    mine.checked_in_at = at
    mine.checkin_pending_until = None
    mine.checkin_location = location
    mine.checkin_distance_m = distance_m
    mine.checkin_message_id = message_id
    await proof_words.assign(session, mine)
    await session.flush()
    present = int(
        await session.scalar(
            select(func.count())
            .select_from(Participation)
            .where(Participation.meeting_id == meeting.id, Participation.checked_in_at.is_not(None))
        )
        or 0
    )
    user = await session.get(User, mine.user_id)
    await outbox.enqueue(
        session,
        key=f"checkin:{mine.id}",
        chat_id=meeting.host_id,
        kind="checked_in",
        values={"meeting_id": meeting.id, "name": user.display_name if user else "",
                "present": present, "seated": await count(session, meeting.id, JOINED)},
        now=now,
    )  # fmt: skip
    return present


async def check_in(
    session: AsyncSession, meeting_id: int, user_id: int, rules: Rules, now: datetime
) -> tuple[Meeting, int]:
    """Records attendance at `now` with no location step (the window judged at `now`);
    returns the meeting and how many are checked in. A deleted, banned or suspended person
    may not check in."""
    await require_may_act(session, user_id, now, "checkin")
    meeting = await locked(session, meeting_id)
    _ensure_window(meeting, rules, now)
    mine = await _seat(session, meeting_id, user_id)
    if mine.checked_in_at is not None:
        raise AlreadyCheckedIn
    return meeting, await _record(session, meeting, mine, now, now)


# --------------------------------------------------------------------------- step 1: present


async def _open_windows(session: AsyncSession, rules: Rules, at: datetime) -> list[int]:
    """The meetings whose check-in window is open at `at` (the candidates for a code)."""
    rows = await session.scalars(
        select(Meeting.id)
        .where(
            Meeting.status != "cancelled",
            Meeting.starts_at >= at - rules.checkin_closes_after,
            Meeting.starts_at <= at + rules.checkin_opens_before,
        )
        .order_by(Meeting.id)
    )
    return list(rows)


async def _meeting_of_code(
    session: AsyncSession, signer: TokenSigner, rules: Rules, user_id: int, at: datetime, code: str
) -> int:
    """The meeting a typed code is for: computed for each meeting whose window is open and
    compared; the person's own when two codes collide. `InvalidCheckin` otherwise."""
    if len(normalize_code(code)) != CODE_LENGTH:
        raise InvalidCheckin("malformed_code")
    candidates = await _open_windows(session, rules, at)
    found = signer.matching(code, candidates, at, back=OLD_CODE_WINDOWS)
    valid = [meeting_id for meeting_id, age in found if age <= 1]
    if not valid:
        raise InvalidCheckin("old_code" if found else "unknown_code")
    if len(valid) > 1:
        mine = await session.scalar(
            select(Participation.meeting_id).where(
                Participation.user_id == user_id,
                Participation.meeting_id.in_(valid),
                Participation.status.in_(ACTIVE),
            )
        )
        if mine is not None:
            return int(mine)
    return valid[0]


async def present(
    session: AsyncSession,
    user_id: int,
    signer: TokenSigner,
    rules: Rules,
    presence: Presence,
    *,
    sent_at: datetime | None,
    now: datetime,
    token: str | None = None,
    code: str | None = None,
) -> Presented:
    """Step 1: the token of the host's QR (a scan) or the code typed under it, judged at the
    moment the person sent it. Valid → the location step waits (`Presented`); every refusal
    is a `MeetupError` (`InvalidCheckin` for a forged, expired, malformed or unknown one,
    `AlreadyCheckedIn`, `CheckinClosed`…). Presenting again only renews the wait."""
    at = acted_at(sent_at, now)
    await require_may_act(session, user_id, now, "checkin")
    if token is not None:
        try:
            meeting_id = signer.verify(token, at)
        except InvalidToken as exc:
            raise InvalidCheckin("token") from exc
        method = QR
    else:
        meeting_id = await _meeting_of_code(session, signer, rules, user_id, at, code or "")
        method = CODE
    meeting = await locked(session, meeting_id)
    _ensure_window(meeting, rules, at)
    mine = await _seat(session, meeting_id, user_id)
    if mine.checked_in_at is not None:
        raise AlreadyCheckedIn
    # One wait at a time: a presentation for another meetup ends any earlier one.
    others = await session.scalars(
        select(Participation).where(
            Participation.user_id == user_id,
            Participation.id != mine.id,
            Participation.checkin_pending_until.is_not(None),
        )
    )
    for other in others:
        other.checkin_pending_until = None
    mine.checkin_method = method
    mine.checkin_presented_at = at
    mine.checkin_pending_until = now + presence.answer_within
    return Presented(
        await view(session, meeting_id),
        method,
        mine.checkin_pending_until,
        presence.radius_m,
        presence.location_required,
    )


# --------------------------------------------------------------------------- step 2: where


async def _checked_in(session: AsyncSession, mine: Participation, presence: Presence) -> CheckedIn:
    meetup = await view(session, mine.meeting_id)
    return CheckedIn(
        meetup,
        mine.proof_word,
        mine.checkin_method,
        mine.checkin_location,
        mine.checkin_distance_m,
        mine.checked_in_at,
        meetup.meeting.ends_at + presence.evidence_after,
    )


async def _waiting(
    session: AsyncSession, user_id: int, message_id: int | None, at: datetime
) -> Participation | None:
    """The seat a location or a skip answers: the one this very message answered before (a
    redelivery), else the one whose location step waits (or ended less than
    `EXPIRED_TOLD_FOR` before); None when there is none."""
    if message_id is not None:
        done = await session.scalar(
            select(Participation).where(
                Participation.user_id == user_id, Participation.checkin_message_id == message_id
            )
        )
        if done is not None:
            return done
    return await session.scalar(
        select(Participation)
        .where(
            Participation.user_id == user_id,
            Participation.checked_in_at.is_(None),
            Participation.checkin_pending_until > at - EXPIRED_TOLD_FOR,
        )
        .order_by(Participation.checkin_pending_until.desc())
        .limit(1)
    )


async def _answer(
    session: AsyncSession,
    user_id: int,
    presence: Presence,
    *,
    sent_at: datetime | None,
    now: datetime,
    message_id: int | None,
    where: tuple[float, float, bool] | None,
) -> Answer | None:
    """Step 2 for a location (`where`: latitude, longitude, live) or a skip (None)."""
    at = acted_at(sent_at, now)
    mine = await _waiting(session, user_id, message_id, at)
    if mine is None:
        return None
    # This very message was answered before (the update handled again): the same answer.
    if mine.checked_in_at is not None:
        return await _checked_in(session, mine, presence)
    if mine.checkin_pending_until is None or at > mine.checkin_pending_until:
        # Told once per wait: the next location is an ordinary one again.
        mine.checkin_pending_until = None
        mine.checkin_message_id = message_id
        return Expired(await view(session, mine.meeting_id))
    await require_may_act(session, user_id, now, "checkin")
    meeting = await locked(session, mine.meeting_id)
    if meeting.status == "cancelled":
        raise MeetupNotOpen("cancelled")
    if where is None:
        if presence.location_required:
            return LocationNeeded(await view(session, meeting.id), presence.radius_m)
        location, distance = UNVERIFIED, None
    else:
        latitude, longitude, live = where
        metres = geo.distance_m(latitude, longitude, meeting.place_lat, meeting.place_lon)
        if metres > presence.radius_m:
            return TooFar(
                await view(session, meeting.id),
                _rounded(metres),
                presence.radius_m,
                presence.location_required,
            )
        location, distance = (LIVE if live else POINT), _rounded(metres)
    await _record(
        session, meeting, mine, at, now,
        location=location, distance_m=distance, message_id=message_id,
    )  # fmt: skip
    return await _checked_in(session, mine, presence)


async def locate(
    session: AsyncSession,
    user_id: int,
    presence: Presence,
    *,
    latitude: float,
    longitude: float,
    live: bool,
    sent_at: datetime | None,
    now: datetime,
    message_id: int | None,
) -> Answer | None:
    """A location shared: within the radius → `CheckedIn`; farther → `TooFar` (try again);
    after the wait → `Expired`. None when no check-in waits for a location (it is then an
    ordinary shared location)."""
    return await _answer(
        session, user_id, presence, sent_at=sent_at, now=now, message_id=message_id,
        where=(latitude, longitude, live),
    )  # fmt: skip


async def skip_location(
    session: AsyncSession,
    user_id: int,
    presence: Presence,
    *,
    sent_at: datetime | None,
    now: datetime,
    message_id: int | None,
) -> Answer | None:
    """No location ("I can't share"): `CheckedIn` as "unverified", or `LocationNeeded` when
    the setting requires one; `Expired` after the wait; None when nothing waits."""
    return await _answer(
        session, user_id, presence, sent_at=sent_at, now=now, message_id=message_id,
        where=None,
    )  # fmt: skip
