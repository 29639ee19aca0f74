"""The daily random mission post to each neighbourhood group, at the group's local time.

Every run asks the database what is due, so a restart recomputes the schedule. Each group's
post is claimed (UNIQUE kind "daily", chat id, local date) and written to the outbox in one
transaction, before anything is sent: two schedulers racing, or a crash at any moment, yield
one post. Going through the outbox (rather than sending right after the claim) keeps a post
whose claim committed from being lost when the process dies before sending, and puts the post
under the one rate limiter with every other notice. A slot missed by more than the grace
period (the bot was down) is claimed as skipped and logged once, never posted late.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from storage import groups
from storage.clock import Clock
from storage.db import SessionFactory, transaction
from storage.models import Mission, Region
from ui import links
from ui.i18n import t

log = logging.getLogger(__name__)
# Groups claimed per transaction: large enough for thousands of groups at 08:00, small
# enough that a racing scheduler waits briefly on the unique key.
CHUNK = 200

# Today's weather where a provider is wired in; the default reads the setting (or nothing).
WeatherSource = Callable[[Region, date], str | None]


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
    picked: dict[tuple[int, date], list[Mission]] = {}
    for start in range(0, len(due), CHUNK):
        async with transaction(sessions) as session:
            for slot in due[start : start + CHUNK]:
                queued += await _claim_and_queue(
                    session, slot, now, zone, count, weather, worker, picked
                )
    return queued


async def _claim_and_queue(
    session: Any,
    slot: groups.Due,
    now: datetime,
    zone: ZoneInfo,
    count: int,
    weather: WeatherSource,
    worker: str,
    picked: dict[tuple[int, date], list[Mission]],
) -> int:
    if not await groups.claim_slot(session, slot, worker, now):
        return 0  # another scheduler has it
    if slot.late:
        late = int((now - slot.scheduled).total_seconds() // 60)
        # Chat ids of groups are not personal data; no names are logged.
        log.info("daily post of group %s for %s skipped: %d min late", slot.chat_id, slot.day, late)
        return 0
    region = await session.get(Region, slot.region_id)
    assert region is not None  # a foreign key
    missions = picked.get((region.id, slot.day))
    if missions is None:
        missions = picked[(region.id, slot.day)] = await groups.daily_missions(
            session,
            region,
            slot.day,
            count=count,
            weather=weather(region, slot.day),
            local_time=slot.scheduled.astimezone(zone),
            now=now,
        )
    if not missions:
        log.warning("daily post of group %s for %s: no published missions", slot.chat_id, slot.day)
        return 0
    return int(await groups.queue_post(session, slot, missions, region, now))


def fixed_weather(value: str | None) -> WeatherSource:
    """The settings hook: the same weather everywhere (None: unknown)."""
    return lambda region, day: value


def render_post(
    lang: str, values: dict[str, Any], bot_username: str | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The group post's text and its buttons, one deep link per mission."""
    region = values["region_ko"] if lang == "ko" else values["region_en"]
    lines = [t(lang, "☀️ Today's mission in {region}!", region=region), ""]
    buttons = []
    for item in values["missions"]:
        title = item["title_ko"] if lang == "ko" else item["title_en"]
        lines.append(
            t(
                lang,
                "🎯 {title}\n📍 {place} · 🏆 {points} P · ⏱ {duration} min",
                title=title,
                place=item["place_ko"] if lang == "ko" else item["place_en"],
                points=item["points"],
                duration=item["duration"],
            )
        )
        lines.append("")
        if bot_username:
            label = t(lang, "🙋 I'm in: {title}", title=title)
            link = links.mission_link(bot_username, item["id"])
            buttons.append([InlineKeyboardButton(label, url=link)])
    lines.append(t(lang, "Who's up for it today? Tap to see it in a private chat with me."))
    return "\n".join(lines), InlineKeyboardMarkup(buttons) if buttons else None
