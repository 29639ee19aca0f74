"""A group's daily mission post (step 9): one slot claimed, its missions picked and the post
written to the outbox, in the caller's transaction.

The slots that are due come from `storage.groups.due_slots`. The claim is a row in
`scheduled_sends` (UNIQUE kind "daily", chat id, local date) written together with the outbox
row, so two schedulers racing, or a crash at any moment, yield one post. A slot missed by more
than the grace period is claimed as skipped, never posted late.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from missions.timing import part_of_day
from storage import groups
from storage.models import Mission, Region

# Today's weather in a dong where a provider is wired in (None: unknown).
WeatherSource = Callable[[Region, date], str | None]
# The missions of the day per (dong, day, part of the day), picked once per run for every group
# of the dong posting in that part of the day (issue 23: the pick fits the hour).
Picks = dict[tuple[int, date, str | None], list[Mission]]


class Posted(StrEnum):
    """What became of one due slot."""

    QUEUED = "queued"  # the post is in the outbox
    TAKEN = "taken"  # another scheduler claimed the slot first
    LATE = "late"  # past the grace period: claimed as skipped
    NO_MISSIONS = "no_missions"  # the dong has no published mission to post
    ALREADY_QUEUED = "already_queued"  # claimed, but the outbox held the post already


async def claim_post(
    session: AsyncSession,
    slot: groups.Due,
    now: datetime,
    zone: ZoneInfo,
    *,
    count: int,
    weather: WeatherSource,
    worker: str,
    picked: Picks,
) -> Posted:
    """Claims one group's post for its day and queues it; `picked` is shared across a run."""
    if not await groups.claim_slot(session, slot, worker, now):
        return Posted.TAKEN
    if slot.late:
        return Posted.LATE
    region = await session.get(Region, slot.region_id)
    assert region is not None  # a foreign key
    key = (region.id, slot.day, part_of_day(slot.scheduled.astimezone(zone)))
    missions = picked.get(key)
    if missions is None:
        missions = picked[key] = await groups.daily_missions(
            session,
            region,
            slot.day,
            count=count,
            weather=weather(region, slot.day),
            local_time=slot.scheduled.astimezone(zone),
            now=now,
        )
    if not missions:
        return Posted.NO_MISSIONS
    if not await groups.queue_post(session, slot, missions, region, now):
        return Posted.ALREADY_QUEUED
    return Posted.QUEUED
