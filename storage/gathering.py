"""Gathering people on a group's daily post (issue 23): "🙋" taps that become a meetup.

Each mission of a group's daily post has a "🙋" button. A tap is a row in `gathering_taps`
(UNIQUE group, day, mission, person): a double tap or a redelivered update counts once (a
second tap is idempotent, never an untap, so a replay cannot undo a tap). Only people with an
account who may act (`accounts.require_may_act`, as joining asks) tap; anyone else is refused
with `NotRegistered` and told to sign up; they count once signed up and tapped again.

Taps count on the post's own local day until the cut-off (`cutoff`, a setting; 17:00 by
default, so an evening meetup still has people). When the group's `gather_size` taps (/setgather,
2-10, default 3) are in, one transaction makes the meetup (`gatherings`, UNIQUE group, day,
mission, so it happens once):
- at the mission's own public place, starting `LEAD` from now rounded up to the half hour (a
  later part of the same day when the mission is for another part of the day: an evening walk
  tapped in the morning starts at 18:30);
- hosted by the first tapper whom `meetings.create` accepts (signed up, verified, trust, the
  daily host limit: the same checks as hosting); when nobody can, no meetup is made and the
  group is asked for a volunteer (`Formed.meeting_id` None), and a later tap by someone who
  can host makes it;
- with the other tappers seated through `meetings.join` (the same rules as the Join button);
  whoever cannot join is told privately why (an outbox notice with the refusal's code).
A tap after the meetup is made seats the person the same way.

What the group is told, under its post (in its forum topic, when it has one), is queued in the
same transaction (kind `gathering_card`): the meetup's card with its Join button, drawn when it
is sent (`bot/outbox_cards.py`), or the call for a host, once per count of taps that asked it.

Taps of one group are serialised on the group's row (`FOR UPDATE` on PostgreSQL; SQLite
transactions are serialised already), so two taps at once cannot both miss the count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from missions.timing import part_of_day
from storage import meetings, outbox
from storage.accounts import require_may_act
from storage.errors import (
    DomainError,
    GatheringClosed,
    InvalidGatherSize,
    NotDailyPost,
    UnknownGroup,
)
from storage.models import Gathering, GatheringTap, GroupChat, Mission, OutboxMessage, User

DEFAULT_SIZE = 3
SIZES = range(2, 11)
# A meetup made by taps starts this long after the tap that completed it, at least (hosting's
# own minimum is `meetings.MIN_LEAD`): time to read the card and walk there.
LEAD = timedelta(minutes=60)
STEP_MINUTES = 30
# Where a part of the day starts for a meetup moved to it (an evening walk tapped at 9:00).
PART_STARTS = {"morning": time(9, 0), "afternoon": time(14, 0), "evening": time(18, 30)}
# How many names "who?" lists before "and N more" (Telegram's alert holds 200 characters).
NAMES_SHOWN = 8


@dataclass(frozen=True)
class Post:
    """A daily post as it is redrawn after a tap: its values as queued
    (`storage.groups.notice_values`), the taps per mission, how many make a meetup and what
    was made (mission id -> meeting id, None while waiting for a host)."""

    values: dict[str, Any]
    language: str
    counts: dict[int, int]
    needed: int
    made: dict[int, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Formed:
    """The meetup this tap made: its id (None: nobody who tapped may host, a volunteer is
    asked for), its host, who was seated and who could not be (person, refusal code)."""

    mission_id: int
    meeting_id: int | None
    host_id: int | None
    seated: tuple[int, ...]
    refused: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Tapped:
    """What a tap did: counted (False: counted before), the post to redraw, the meetup it
    made, and for a tap after the meetup was made, the seat or the refusal code."""

    counted: bool
    post: Post
    formed: Formed | None = None
    seat: str | None = None  # joined | waitlisted, for a tap after the meetup was made
    refused: str | None = None  # why that late tap could not be seated


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _post_key(chat_id: int, day: date) -> str:
    # The daily post's own outbox key (storage.groups.queue_post).
    return f"daily:{chat_id}:{day.isoformat()}"


async def _post_values(session: AsyncSession, chat_id: int, day: date) -> dict[str, Any]:
    payload = await session.scalar(
        select(OutboxMessage.payload).where(OutboxMessage.dedupe_key == _post_key(chat_id, day))
    )
    if payload is None:
        raise NotDailyPost
    return {k: v for k, v in payload.items() if k not in ("kind", outbox.THREAD)}


async def _under_post(session: AsyncSession, chat_id: int, day: date) -> dict[str, Any]:
    """Where a message goes to sit under the daily post: a reply to it (once it was sent) in
    its forum topic (when it has one)."""
    row = (
        await session.execute(
            select(OutboxMessage.payload, OutboxMessage.sent_message_id).where(
                OutboxMessage.dedupe_key == _post_key(chat_id, day)
            )
        )
    ).one()
    under: dict[str, Any] = {}
    if row.sent_message_id is not None:
        under["reply_to"] = row.sent_message_id
    if (thread := row.payload.get(outbox.THREAD)) is not None:
        under[outbox.THREAD] = thread
    return under


async def _tell_group(
    session: AsyncSession, gathering: Gathering, tappers: Sequence[int], now: datetime
) -> None:
    """Queues what the group is told of the taps (see the module): the meetup's card, or
    the call for a host with the mission as the post shows it."""
    chat_id, day = gathering.chat_id, gathering.day
    values: dict[str, Any] = {"count": len(tappers), **await _under_post(session, chat_id, day)}
    if gathering.meeting_id is not None:
        key = f"gather_card:{gathering.id}"
        values["meeting_id"] = gathering.meeting_id
    else:
        key = f"gather_call:{gathering.id}:{len(tappers)}"
        posted = await _post_values(session, chat_id, day)
        item = next(i for i in posted["missions"] if int(i["id"]) == gathering.mission_id)
        values["mission"] = item
    await outbox.enqueue(
        session, key=key, chat_id=chat_id, kind="gathering_card", values=values, now=now
    )


def _mission_ids(values: dict[str, Any]) -> list[int]:
    return [int(item["id"]) for item in values.get("missions", [])]


async def _locked_group(session: AsyncSession, chat_id: int) -> GroupChat:
    group = await session.scalar(
        select(GroupChat).where(GroupChat.chat_id == chat_id).with_for_update()
    )
    if group is None:
        raise UnknownGroup
    return group


def ensure_open(day: date, now: datetime, zone: ZoneInfo, cutoff: time) -> None:
    """Taps count on the post's own local day until the cut-off."""
    local = now.astimezone(zone)
    if local.date() != day:
        raise GatheringClosed("day")
    if local.time() >= cutoff:
        raise GatheringClosed("late")


def suggested_start(now: datetime, zone: ZoneInfo, times_of_day: Sequence[str]) -> datetime:
    """`LEAD` from now rounded up to the half hour; when the mission is for other parts of the
    day, the start of the first of them still to come that day (else the first time)."""
    local = (now + max(LEAD, meetings.MIN_LEAD)).astimezone(zone).replace(second=0, microsecond=0)
    extra = -local.minute % STEP_MINUTES
    first = local + timedelta(minutes=extra)
    if not times_of_day or part_of_day(first) in times_of_day:
        return first.astimezone(now.tzinfo)
    for part, starts in PART_STARTS.items():
        moved = datetime.combine(first.date(), starts, zone)
        if part in times_of_day and moved > first:
            return moved.astimezone(now.tzinfo)
    return first.astimezone(now.tzinfo)


async def _counts(session: AsyncSession, chat_id: int, day: date) -> dict[int, int]:
    rows = await session.execute(
        select(GatheringTap.mission_id, func.count())
        .where(GatheringTap.chat_id == chat_id, GatheringTap.day == day)
        .group_by(GatheringTap.mission_id)
    )
    return {int(mission_id): int(n) for mission_id, n in rows}


async def _made(session: AsyncSession, chat_id: int, day: date) -> dict[int, int | None]:
    rows = await session.execute(
        select(Gathering.mission_id, Gathering.meeting_id).where(
            Gathering.chat_id == chat_id, Gathering.day == day
        )
    )
    return {int(mission_id): meeting_id for mission_id, meeting_id in rows}


async def post(session: AsyncSession, chat_id: int, day: date) -> Post:
    """The post as it stands: its values, the taps and what they made."""
    values = await _post_values(session, chat_id, day)
    group = await session.get(GroupChat, chat_id)
    if group is None:
        raise UnknownGroup
    return Post(
        values, group.language, await _counts(session, chat_id, day), group.gather_size,
        await _made(session, chat_id, day),
    )  # fmt: skip


async def _tappers(session: AsyncSession, chat_id: int, day: date, mission_id: int) -> list[int]:
    rows = await session.scalars(
        select(GatheringTap.user_id)
        .where(
            GatheringTap.chat_id == chat_id,
            GatheringTap.day == day,
            GatheringTap.mission_id == mission_id,
        )
        .order_by(GatheringTap.tapped_at, GatheringTap.id)
    )
    return list(rows)


async def tap(
    session: AsyncSession,
    *,
    chat_id: int,
    day: date,
    mission_id: int,
    user_id: int,
    rules: meetings.Rules,
    now: datetime,
    zone: ZoneInfo,
    cutoff: time,
) -> Tapped:
    """A tap of "🙋" under `mission_id` of the group's post of `day` (see the module)."""
    await require_may_act(session, user_id, now, "join")
    group = await _locked_group(session, chat_id)
    values = await _post_values(session, chat_id, day)
    if mission_id not in _mission_ids(values):
        raise NotDailyPost
    ensure_open(day, now, zone, cutoff)
    inserted = await session.execute(
        _insert(session)(GatheringTap)
        .values(chat_id=chat_id, day=day, mission_id=mission_id, user_id=user_id, tapped_at=now)
        .on_conflict_do_nothing(index_elements=["chat_id", "day", "mission_id", "user_id"])
        .returning(GatheringTap.id)
    )
    counted = inserted.first() is not None
    formed: Formed | None = None
    seat: str | None = None
    refused: str | None = None
    if counted:
        gathering = await session.scalar(
            select(Gathering).where(
                Gathering.chat_id == chat_id,
                Gathering.day == day,
                Gathering.mission_id == mission_id,
            )
        )
        tappers = await _tappers(session, chat_id, day, mission_id)
        if gathering is None and len(tappers) >= group.gather_size:
            gathering = Gathering(chat_id=chat_id, day=day, mission_id=mission_id, created_at=now)
            session.add(gathering)
            await session.flush()
            formed = await _form(session, gathering, tappers, rules, now, zone)
        elif gathering is not None and gathering.meeting_id is None:
            formed = await _form(session, gathering, tappers, rules, now, zone)
        elif gathering is not None and gathering.meeting_id is not None:
            seat, refused = await _seat(session, gathering.meeting_id, user_id, rules, now)
    current = Post(
        values, group.language, await _counts(session, chat_id, day), group.gather_size,
        await _made(session, chat_id, day),
    )  # fmt: skip
    return Tapped(counted, current, formed, seat, refused)


async def _form(
    session: AsyncSession,
    gathering: Gathering,
    tappers: Sequence[int],
    rules: meetings.Rules,
    now: datetime,
    zone: ZoneInfo,
) -> Formed:
    """Makes the meetup: the first tapper `meetings.create` accepts hosts it, the others are
    seated or told why not. Nobody may host: nothing is made (the group asks for a host)."""
    mission = await session.get(Mission, gathering.mission_id)
    assert mission is not None  # a foreign key
    starts_at = suggested_start(now, zone, mission.times_of_day)
    place = meetings.Place(mission.place_name_ko, mission.place_lat, mission.place_lon)
    capacity = meetings.group_sizes(mission)[-1]
    meeting_id: int | None = None
    host_id: int | None = None
    for candidate in tappers:
        try:
            async with session.begin_nested():
                meeting = await meetings.create(
                    session, host_id=candidate, mission_id=mission.id, starts_at=starts_at,
                    place=place, capacity=capacity, note=None, rules=rules, now=now,
                )  # fmt: skip
        except DomainError:
            continue
        meeting_id, host_id = meeting.id, candidate
        break
    if meeting_id is None or host_id is None:
        await _tell_group(session, gathering, tappers, now)
        return Formed(mission.id, None, None, (), ())
    gathering.meeting_id = meeting_id
    await outbox.enqueue(
        session, key=f"gather_host:{meeting_id}", chat_id=host_id, kind="gathering_host",
        values={"meeting_id": meeting_id}, now=now,
    )  # fmt: skip
    seated: list[int] = []
    refused: list[tuple[int, str]] = []
    for person in tappers:
        if person == host_id:
            continue
        status, why = await _seat(session, meeting_id, person, rules, now)
        if status is not None:
            seated.append(person)
        elif why is not None:
            refused.append((person, why))
    await _tell_group(session, gathering, tappers, now)
    return Formed(mission.id, meeting_id, host_id, tuple(seated), tuple(refused))


async def _seat(
    session: AsyncSession, meeting_id: int, user_id: int, rules: meetings.Rules, now: datetime
) -> tuple[str | None, str | None]:
    """Seats one tapper with the Join button's rules and tells them privately, either way:
    (joined | waitlisted, None) or (None, the refusal's code[:reason])."""
    try:
        async with session.begin_nested():
            seat = await meetings.join(session, meeting_id, user_id, rules, now)
    except DomainError as error:
        why = f"{error.code}:{error.reason}" if error.reason else error.code
        await outbox.enqueue(
            session, key=f"gather_refused:{meeting_id}:{user_id}", chat_id=user_id,
            kind="gathering_refused", values={"meeting_id": meeting_id, "why": why}, now=now,
        )  # fmt: skip
        return None, why
    await outbox.enqueue(
        session, key=f"gather_seated:{meeting_id}:{user_id}", chat_id=user_id,
        kind="gathering_seated" if seat.status == meetings.JOINED else "gathering_waitlisted",
        values={"meeting_id": meeting_id}, now=now,
    )  # fmt: skip
    return seat.status, None


async def who(session: AsyncSession, chat_id: int, day: date, mission_id: int) -> list[str]:
    """The display names of who tapped, first first (names only; an erased account is left
    out), for "who?"."""
    rows = await session.scalars(
        select(User.display_name)
        .join(GatheringTap, GatheringTap.user_id == User.id)
        .where(
            GatheringTap.chat_id == chat_id,
            GatheringTap.day == day,
            GatheringTap.mission_id == mission_id,
            User.deleted_at.is_(None),
        )
        .order_by(GatheringTap.tapped_at, GatheringTap.id)
    )
    return [name for name in rows if name]


async def set_size(session: AsyncSession, chat_id: int, size: int) -> int:
    """`/setgather N`: how many taps make a meetup in this group (2-10)."""
    if size not in SIZES:
        raise InvalidGatherSize
    group = await session.get(GroupChat, chat_id)
    if group is None:
        raise UnknownGroup
    group.gather_size = size
    return size
