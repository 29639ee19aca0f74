"""The daily random mission post to each neighbourhood group, at the group's local time.

Every run asks the database what is due, so a restart recomputes the schedule. Each group's
post is claimed and written to the outbox in one transaction (`storage/daily.py`), before
anything is sent: two schedulers racing, or a crash at any moment, yield one post. Going
through the outbox (rather than sending right after the claim) keeps a post whose claim
committed from being lost when the process dies before sending, and puts the post under the
one rate limiter with every other notice (it is rendered by `ui.notices.daily_post`). A slot
missed by more than the grace period (the bot was down) is claimed as skipped and logged once,
never posted late. Only groups where the bot is, that their admin has not paused and where
Telegram lets the bot post are due (`storage.groups.due_slots`); a post goes to the forum topic
the group's admin chose (its outbox row carries the `message_thread_id`), and a post Telegram
refuses for want of rights or a closed topic stops the group's posts until it may post again
(`bot.rights`, `storage.groups.cannot_post`, told once to its admin).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from storage import daily as posts
from storage import groups
from storage.clock import Clock
from storage.daily import Posted, WeatherSource
from storage.db import SessionFactory, transaction

log = logging.getLogger(__name__)
# Groups claimed per transaction: large enough for thousands of groups at 08:00, small
# enough that a racing scheduler waits briefly on the unique key.
CHUNK = 200


async def post_due(
    sessions: SessionFactory,
    clock: Clock,
    zone: ZoneInfo,
    *,
    grace: timedelta,
    count: int,
    weather: WeatherSource,
    worker: str,
) -> int:
    """Claims and queues every due daily post; returns how many were queued."""
    now = clock.now()
    async with sessions() as session:
        due = await groups.due_slots(session, now, zone, grace)
    queued = 0
    # Every group of a dong gets the dong's missions of the day: picked once per run.
    picked: posts.Picks = {}
    for start in range(0, len(due), CHUNK):
        async with transaction(sessions) as session:
            for slot in due[start : start + CHUNK]:
                posted = await posts.claim_post(
                    session, slot, now, zone, count=count, weather=weather, worker=worker,
                    picked=picked,
                )  # fmt: skip
                _log(posted, slot, now)
                queued += int(posted is Posted.QUEUED)
    return queued


def _log(posted: Posted, slot: groups.Due, now: datetime) -> None:
    # Chat ids of groups are not personal data; no names are logged.
    if posted is Posted.LATE:
        late = int((now - slot.scheduled).total_seconds() // 60)
        log.info("daily post of group %s for %s skipped: %d min late", slot.chat_id, slot.day, late)
    elif posted is Posted.NO_MISSIONS:
        log.warning("daily post of group %s for %s: no published missions", slot.chat_id, slot.day)


def fixed_weather(value: str | None) -> WeatherSource:
    """The settings hook: the same weather everywhere (None: unknown)."""
    return lambda region, day: value
