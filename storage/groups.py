"""Neighbourhood group chats (step 9): their region, post time and state, and the daily post.

A group is keyed by its Telegram chat id. Three states decide whether its daily post goes out,
each changed by one thing only:
- `paused`: the group's admin, with /pause and /resume. Nothing else lifts a pause: not the
  bot being promoted, demoted, restricted, removed or added again.
- `present`: the bot's own membership (my_chat_member): added (left or kicked -> in the group)
  makes the row or marks it present and introduces the bot; removed marks it absent; any
  other change of its status (promoted, demoted, restricted) introduces nothing. An update
  from inside the group (an admin's command) also shows the bot is there.
- `cannot_post`: Telegram refused a post for want of rights ("not enough rights to send text
  messages") or because the topic is closed ("TOPIC_CLOSED"), or the bot was restricted
  without the right to send messages. The admin who set the group up is told once, privately
  (an outbox notice), and posting resumes when the bot regains the right (my_chat_member) or
  the admin sends /resume. `thread_id` is the forum topic that /setregion, /settime or
  /resume was last sent in (None: the General topic): the posts go there.
A group upgraded to a supergroup moves to its new id.

An upgrade reaches the bot as three updates in no promised order: `migrate_to_chat_id` in the
old chat, `migrate_from_chat_id` in the new one, and `my_chat_member` for the new chat. When
`my_chat_member` comes first it makes (and introduces) a fresh row for the new id; `migrated`
then merges the old row's settings into it. When the migration comes first the old row is
re-keyed, and the move is recorded (a `scheduled_sends` row of kind "migrated") so that the
`my_chat_member` arriving just after neither wakes a paused group nor introduces the bot again.

The daily post is claimed in `scheduled_sends` (UNIQUE kind, target, slot) in the same
transaction that writes its outbox row, so two schedulers or a restart post it once, and a
crash right after the claim still leaves the post to be sent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from missions.daily import pick_daily
from missions.timing import PARTS_OF_DAY, part_of_day
from storage import accounts, outbox
from storage import missions as mission_store
from storage.accounts import District
from storage.errors import UnknownGroup, UnknownGroupRegion
from storage.models import DailyMission, GroupChat, Mission, Region, ScheduledSend
from verification.geo import distance_m

# Why Telegram refuses a group's posts (models.CANNOT_POST_REASONS).
CannotPostReason = Literal["no_rights", "topic_closed"]

DAILY = "daily"
# A group upgraded to a supergroup moved here (target: the new id, slot: the old id).
MIGRATED = "migrated"
# The updates of one upgrade arrive within seconds; a my_chat_member this soon after a move
# is the upgrade's own, not someone adding the bot again.
MOVE_WINDOW = timedelta(minutes=10)
DAILY_NOTICE: outbox.NoticeKind = "daily_missions"
# The private word to a group's admin that the bot cannot post there (told once per refusal).
CANNOT_POST_NOTICES: dict[str, outbox.NoticeKind] = {
    "no_rights": "group_no_rights",
    "topic_closed": "group_topic_closed",
}
# Missions posted to a dong within this many days are not picked again while others remain.
NO_REPEAT_DAYS = 7
# A daily pick is in the group's dong or this close to its centre (issue 23).
NEAR_M = 1500.0


def _insert(session: AsyncSession) -> Any:
    """INSERT with ON CONFLICT for the session's backend."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


@dataclass(frozen=True)
class Newcomer:
    """What a group's row is made of when the bot first meets the group."""

    chat_id: int
    title: str
    language: str
    added_by: int | None
    now: datetime
    post_time: time
    # The forum topic the update came from (a topic message's message_thread_id), else None.
    thread_id: int | None = None


async def ensure(session: AsyncSession, newcomer: Newcomer) -> tuple[GroupChat, bool]:
    """The group's row, made if missing (the bot was added before it kept one); and whether
    it was made."""
    group = await session.get(GroupChat, newcomer.chat_id)
    if group is not None:
        return group, False
    group = GroupChat(
        chat_id=newcomer.chat_id,
        title=newcomer.title[:255],
        language=newcomer.language,
        post_time=newcomer.post_time,
        paused=False,
        present=True,
        registered_by=newcomer.added_by,
        created_at=newcomer.now,
    )
    session.add(group)
    await session.flush()
    return group, True


async def joined(session: AsyncSession, newcomer: Newcomer) -> bool:
    """The bot was added (left or kicked -> in the group): makes the group or marks the bot
    present; True when it should introduce itself (Telegram announces an addition twice,
    my_chat_member and new_chat_members, and only the first is answered).

    An admin's pause outlives the bot's removal; a refusal to post does not (the bot added
    again may post, and a refused post says so again).
    """
    group, made = await ensure(session, newcomer)
    if made:
        return True
    group.title = newcomer.title[:255]
    if await _moved_here(session, newcomer.chat_id, newcomer.now):
        # The upgrade's my_chat_member, after the settings moved: a paused group stays
        # paused and the bot does not introduce itself a second time.
        group.present = True
        return False
    if group.present:
        return False
    group.present = True
    group.cannot_post = None
    return True


async def is_paused(session: AsyncSession, chat_id: int) -> bool:
    """Whether the group's admin has paused its daily posts."""
    return bool(await session.scalar(select(GroupChat.paused).where(GroupChat.chat_id == chat_id)))


async def left(session: AsyncSession, chat_id: int) -> bool:
    """The bot was removed (or the group is gone): no more posts; returns whether it was known.
    An admin's pause stays as it was."""
    result = await session.execute(
        update(GroupChat).where(GroupChat.chat_id == chat_id).values(present=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def status_changed(
    session: AsyncSession, newcomer: Newcomer, *, may_send: bool
) -> CannotPost | None:
    """The bot's status in a group changed while it stayed there (promoted, demoted,
    restricted): no introduction, no change to a pause. Without the right to send messages
    the group's posts stop and its admin is told (the returned refusal, None when nothing
    new); with it, posts refused before may go out again."""
    group, _ = await ensure(session, newcomer)
    group.present = True
    if may_send:
        group.cannot_post = None
        return None
    return await cannot_post(session, newcomer.chat_id, "no_rights", newcomer.now)


@dataclass(frozen=True)
class CannotPost:
    """A group whose posts Telegram now refuses, and whether its admin is being told."""

    chat_id: int
    reason: CannotPostReason
    admin_told: bool


async def cannot_post(
    session: AsyncSession, chat_id: int, reason: CannotPostReason, now: datetime
) -> CannotPost | None:
    """Telegram refuses the bot's posts in this group (no right to send messages, a closed
    topic): its daily posts stop, and the admin who set it up is told privately, once (a
    notice keyed by this refusal). None when the group is unknown or already marked."""
    group = await session.get(GroupChat, chat_id)
    if group is None or group.cannot_post is not None:
        return None
    group.cannot_post = reason
    told = group.registered_by is not None and group.present
    if told:
        assert group.registered_by is not None
        kind = CANNOT_POST_NOTICES[reason]
        await outbox.enqueue(
            session,
            key=f"{kind}:{chat_id}:{now.isoformat()}",
            chat_id=group.registered_by,
            kind=kind,
            values={"title": group.title},
            now=now,
        )
    return CannotPost(chat_id, reason, told)


async def migrated(session: AsyncSession, old_id: int, new_id: int, now: datetime) -> bool:
    """A group became a supergroup with a new id: its settings, daily-post claims and waiting
    notices move with it, in whichever order Telegram's updates came. Returns whether the
    old row was known (False too when the move was already done: each of the upgrade's two
    service messages, and a send refused with the new id, call this).

    - The new id has no row yet (the migration came first): the old row is re-keyed.
    - It has one (made by `my_chat_member` a moment before): the old row's settings (region,
      post time, paused or not, a refusal to post, language, who registered it, since when)
      win over the fresh row's defaults, and the old row goes. (A basic group has no topics:
      the supergroup's posts start in its General topic.)
    """
    if old_id == new_id:
        return False
    await outbox.retarget_chat(session, old_id, new_id)
    old = await session.get(GroupChat, old_id)
    if old is None:
        return False
    new = await session.get(GroupChat, new_id)
    if new is None:
        session.add(
            GroupChat(
                chat_id=new_id,
                title=old.title,
                region_id=old.region_id,
                post_time=old.post_time,
                language=old.language,
                paused=old.paused,
                present=old.present,
                cannot_post=old.cannot_post,
                registered_by=old.registered_by,
                created_at=old.created_at,
            )
        )
    else:
        new.region_id = old.region_id if old.region_id is not None else new.region_id
        new.post_time = old.post_time
        new.language = old.language
        new.paused = old.paused
        new.cannot_post = old.cannot_post or new.cannot_post
        new.registered_by = old.registered_by or new.registered_by
        new.created_at = min(old.created_at, new.created_at)
    await session.flush()
    await _move_claims(session, old_id, new_id)
    await session.execute(
        _insert(session)(ScheduledSend)
        .values(
            kind=MIGRATED, target=new_id, slot=str(old_id), claimed_by="migration",
            claimed_at=now, done_at=now,
        )
        .on_conflict_do_nothing(index_elements=["kind", "target", "slot"])
    )  # fmt: skip
    await session.execute(delete(GroupChat).where(GroupChat.chat_id == old_id))
    return True


async def _move_claims(session: AsyncSession, old_id: int, new_id: int) -> None:
    """The old id's daily-post claims go to the new id, so the upgraded group is not posted to
    twice that day; a day both ids claimed keeps the new id's claim."""
    both = select(ScheduledSend.slot).where(
        ScheduledSend.kind == DAILY, ScheduledSend.target == new_id
    )
    await session.execute(
        delete(ScheduledSend).where(
            ScheduledSend.kind == DAILY,
            ScheduledSend.target == old_id,
            ScheduledSend.slot.in_(both.scalar_subquery()),
        )
    )
    await session.execute(
        update(ScheduledSend)
        .where(ScheduledSend.kind == DAILY, ScheduledSend.target == old_id)
        .values(target=new_id)
    )


async def _moved_here(session: AsyncSession, chat_id: int, now: datetime) -> bool:
    """Whether an upgrade moved a group to this id within the last few minutes."""
    found = await session.scalar(
        select(ScheduledSend.id).where(
            ScheduledSend.kind == MIGRATED,
            ScheduledSend.target == chat_id,
            ScheduledSend.claimed_at >= now - MOVE_WINDOW,
        )
    )
    return found is not None


async def require_group(session: AsyncSession, chat_id: int) -> GroupChat:
    group = await session.get(GroupChat, chat_id)
    if group is None:
        raise UnknownGroup
    return group


async def open_districts(session: AsyncSession, newcomer: Newcomer) -> list[District]:
    """`/setregion`: the districts a group can choose from (the group's row made if missing,
    the posts going to the topic it was sent in)."""
    await _from_inside(session, newcomer)
    return [d for d in await accounts.districts(session) if d.enabled]


@dataclass(frozen=True)
class Bound:
    """A group bound to a neighbourhood, and when its daily post goes out."""

    region: Region
    post_time: time


async def set_region(
    session: AsyncSession, chat_id: int, region_id: int, admin_id: int | None = None
) -> Bound:
    """Binds the group to an open neighbourhood; the admin who chose it is the one told when
    the bot cannot post there."""
    region = await session.get(Region, region_id)
    if region is None or not region.enabled:
        raise UnknownGroupRegion
    group = await require_group(session, chat_id)
    group.region_id = region.id
    if admin_id is not None:
        group.registered_by = admin_id
    return Bound(region, group.post_time)


async def _from_inside(session: AsyncSession, newcomer: Newcomer) -> GroupChat:
    """The group an admin's command came from (made if missing): the bot is there to read
    it, and the posts go to the topic it was sent in."""
    group, _ = await ensure(session, newcomer)
    group.present = True
    group.thread_id = newcomer.thread_id
    return group


async def set_post_time(session: AsyncSession, newcomer: Newcomer, post_time: time) -> GroupChat:
    """`/settime`: when the daily post goes out (the group's row made if missing)."""
    group = await _from_inside(session, newcomer)
    group.post_time = post_time
    return group


async def pause(session: AsyncSession, newcomer: Newcomer) -> GroupChat:
    """`/pause`: no daily posts until the admin's /resume (the group's row made if missing)."""
    group, _ = await ensure(session, newcomer)
    group.present = True
    group.paused = True
    return group


async def resume(session: AsyncSession, newcomer: Newcomer) -> GroupChat:
    """`/resume`: daily posts again, in the topic it was sent in; a refusal to post is
    forgotten (the admin says the bot may post again; if not, the next refusal says so)."""
    group = await _from_inside(session, newcomer)
    group.paused = False
    group.cannot_post = None
    return group


# --------------------------------------------------------------------------- the daily post


@dataclass(frozen=True)
class Due:
    """A group's daily slot whose time has come: post it, or skip it as too late."""

    chat_id: int
    region_id: int
    day: date
    scheduled: datetime  # UTC
    late: bool  # past the grace period: skipped, never posted
    thread_id: int | None = None  # the forum topic the post goes to
    needed: int = 3  # how many "🙋" taps make a meetup (storage/gathering.py, /setgather)


async def due_slots(
    session: AsyncSession, now: datetime, zone: ZoneInfo, grace: timedelta
) -> list[Due]:
    """Slots of groups with a region, where the bot is, not paused and allowed to post, whose
    local post time has passed and that nobody has claimed yet (today's, and yesterday's when
    its grace reaches past midnight)."""
    local_today = now.astimezone(zone).date()
    days = (local_today - timedelta(days=1), local_today)
    groups = list(
        await session.scalars(
            select(GroupChat)
            .where(
                GroupChat.present,
                GroupChat.paused.is_(False),
                GroupChat.cannot_post.is_(None),
                GroupChat.region_id.is_not(None),
            )
            .order_by(GroupChat.chat_id)
        )
    )
    rows = await session.execute(
        select(ScheduledSend.target, ScheduledSend.slot).where(
            ScheduledSend.kind == DAILY,
            ScheduledSend.slot.in_([d.isoformat() for d in days]),
        )
    )
    claimed = {(target, slot) for target, slot in rows}
    found = []
    for group in groups:
        assert group.region_id is not None
        for day in days:
            scheduled = datetime.combine(day, group.post_time, zone)
            if scheduled > now or (group.chat_id, day.isoformat()) in claimed:
                continue
            late = now - scheduled > grace
            # Yesterday's slot past its grace was today's business yesterday; a slot from
            # before the group existed is posted if still in grace (a first mission right
            # away) and otherwise not owed at all, so nothing is logged as skipped.
            if late and (day != local_today or scheduled < group.created_at):
                continue
            found.append(
                Due(
                    group.chat_id, group.region_id, day, scheduled, late, group.thread_id,
                    group.gather_size,
                )
            )  # fmt: skip
    return found


async def claim_slot(session: AsyncSession, due: Due, worker: str, now: datetime) -> bool:
    """Claims one group's post for one day; False when someone else already has it."""
    insert = _insert(session)
    statement = (
        insert(ScheduledSend)
        .values(
            kind=DAILY,
            target=due.chat_id,
            slot=due.day.isoformat(),
            claimed_by=worker[:60],
            claimed_at=now,
            done_at=now if due.late else None,
        )
        .on_conflict_do_nothing(index_elements=["kind", "target", "slot"])
        # RETURNING, not rowcount: psycopg's async rowcount of this INSERT is -1 (unknown).
        .returning(ScheduledSend.id)
    )
    result = await session.execute(statement)
    return result.first() is not None


async def daily_missions(
    session: AsyncSession,
    region: Region,
    day: date,
    *,
    count: int,
    weather: str | None,
    local_time: datetime,
    now: datetime,
) -> list[Mission]:
    """The day's missions for a dong: the first is stored (UNIQUE region, day) so every group
    of the dong and every scheduler agree; more may follow it, ranked the same way."""
    candidates = fitting(
        await mission_store.published_in_district(session, region.district_code),
        region,
        part_of_day(local_time),
    )
    if not candidates:
        return []
    recent = set(
        await session.scalars(
            select(DailyMission.mission_id).where(
                DailyMission.region_id == region.id,
                DailyMission.day >= day - timedelta(days=NO_REPEAT_DAYS),
                DailyMission.day < day,
            )
        )
    )
    interests = await mission_store.interest_counts(session, [region.id])
    picked = pick_daily(
        candidates,
        interests=interests[:3],
        home=(region.center_lat, region.center_lon),
        local_time=local_time,
        weather=weather,
        recent=recent,
        count=count,
        rng=random.Random(f"{region.id}:{day.isoformat()}"),
    )
    if not picked:
        return []
    insert = _insert(session)
    await session.execute(
        insert(DailyMission)
        .values(region_id=region.id, day=day, mission_id=picked[0].id, created_at=now)
        .on_conflict_do_nothing(index_elements=["region_id", "day"])
    )
    first_id = await session.scalar(
        select(DailyMission.mission_id).where(
            DailyMission.region_id == region.id, DailyMission.day == day
        )
    )
    # The dong's stored pick, unless it does not fit this group's hour (a group posting in the
    # evening after one posting in the morning): then this group's own ranking.
    first = next((m for m in candidates if m.id == first_id), picked[0])
    return [first, *[m for m in picked if m.id != first.id]][:count]


def _near(mission: Mission, region: Region) -> bool:
    """In the dong, or within `NEAR_M` of its centre (a park on its border)."""
    if mission.region_id == region.id:
        return True
    away = distance_m(region.center_lat, region.center_lon, mission.place_lat, mission.place_lon)
    return away <= NEAR_M


def _fits(mission: Mission, parts: Sequence[str]) -> bool:
    """Good for one of `parts` of the day (a mission for any time fits all)."""
    return not mission.times_of_day or any(part in mission.times_of_day for part in parts)


def fitting(missions: Sequence[Mission], region: Region, part: str | None) -> list[Mission]:
    """The daily post's candidates for a group of `region` posting in `part` of the day (issue
    23): missions in or near the dong that suit the hour; else near ones for later that day
    (never an evening walk in the morning while a morning one is near); else the same in the
    district; else any (a post beats none). At night (no part of the day) the hour is not
    weighed."""
    if part is None:
        now_parts: Sequence[str] = PARTS_OF_DAY
        later: Sequence[str] = PARTS_OF_DAY
    else:
        now_parts = (part,)
        later = PARTS_OF_DAY[PARTS_OF_DAY.index(part) :]
    near = [m for m in missions if _near(m, region)]
    for pool in (near, list(missions)):
        for parts in (now_parts, later):
            found = [m for m in pool if _fits(m, parts)]
            if found:
                return found
    return near or list(missions)


def notice_values(missions: Sequence[Mission], region: Region, day: date) -> dict[str, object]:
    """What the outbox row needs to render the post in the group's language at send time."""
    return {
        "day": day.isoformat(),
        "region_ko": region.name_ko,
        "region_en": region.name_en,
        "missions": [
            {
                "id": m.id,
                "title_ko": m.title_ko,
                "title_en": m.title_en,
                "place_ko": m.place_name_ko,
                "place_en": m.place_name_en,
                "points": m.points,
                "duration": m.duration_min,
            }
            for m in missions
        ],
    }


async def queue_post(
    session: AsyncSession, due: Due, missions: Sequence[Mission], region: Region, now: datetime
) -> bool:
    """Writes the claimed post to the outbox (keyed by group and day), to the group's topic
    when it has one; marks the claim done."""
    values = notice_values(missions, region, due.day)
    values["needed"] = due.needed
    if due.thread_id is not None:
        values[outbox.THREAD] = due.thread_id
    added = await outbox.enqueue(
        session,
        key=f"{DAILY}:{due.chat_id}:{due.day.isoformat()}",
        chat_id=due.chat_id,
        kind=DAILY_NOTICE,
        values=values,
        now=now,
    )
    await session.execute(
        update(ScheduledSend)
        .where(
            ScheduledSend.kind == DAILY,
            ScheduledSend.target == due.chat_id,
            ScheduledSend.slot == due.day.isoformat(),
        )
        .values(done_at=now)
    )
    return added


async def languages(session: AsyncSession, chat_ids: Sequence[int]) -> dict[int, str]:
    """The language each known group's posts are written in."""
    rows = await session.execute(
        select(GroupChat.chat_id, GroupChat.language).where(GroupChat.chat_id.in_(chat_ids))
    )
    return {chat_id: language for chat_id, language in rows}
