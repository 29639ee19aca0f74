"""The weekly chart for the admin group: last week's figures, sent once per week.

Each hour the job asks whether last week's chart went out to the admin chat; the claim (a
ScheduledSend, kind "weekly_stats", the chat and the ISO week) is taken before sending, so two
processes or a restart send it once. A failed send gives the claim back for the next run.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import Bot
from telegram.error import ChatMigrated, TelegramError

from bot.settings import Settings, follow_admin_chat
from storage import stats
from storage.clock import Clock
from storage.db import SessionFactory, transaction
from ui.stats import CHART_WEEKS, chart_png, report_text

log = logging.getLogger(__name__)
CAPTION_LIMIT = 1024


async def send_weekly(
    bot: Bot, sessions: SessionFactory, clock: Clock, settings: Settings, worker: str
) -> bool:
    """Sends last week's chart to the admin chat unless it went already; True when sent."""
    chat_id = settings.admin_chat_id
    if chat_id is None:
        return False
    now, zone = clock.now(), settings.zone
    this_week = stats.week_start(now, zone)
    until = stats.week_bounds(this_week, zone)[0]
    slot = stats.week_slot(stats.week_start(until - timedelta(days=1), zone))
    async with transaction(sessions) as session:
        if not await stats.claim_week(session, chat_id, slot, worker, now):
            return False
    lang = settings.default_language
    async with sessions() as session:
        figures = await stats.overview(
            session, until=until, zone=zone, weeks=1, chart_weeks=CHART_WEEKS
        )
        began = await stats.began_at(session)
    if not stats.worth_reporting(figures.recent, began, zone):
        # The week the service began part-way through, or one where nothing happened: no
        # report (marked as done, so it is not weighed again at every check).
        async with transaction(sessions) as session:
            await stats.week_sent(session, chat_id, slot, clock.now())
        log.info("weekly figures for %s: a partial or empty week, not sent", slot)
        return False
    png = await asyncio.to_thread(chart_png, lang, figures.chart)
    caption = report_text(lang, figures.recent)
    if len(caption) > CAPTION_LIMIT:
        caption = caption[: CAPTION_LIMIT - 1] + "…"
    try:
        await bot.send_photo(chat_id, png, caption=caption)
    except TelegramError as exc:
        log.warning("weekly figures for %s not sent: %s", slot, exc)
        if isinstance(exc, ChatMigrated):  # the admin group became a supergroup: follow it
            follow_admin_chat(settings, chat_id, exc.new_chat_id)
        async with transaction(sessions) as session:
            await stats.release_week(session, chat_id, slot)
        return False
    async with transaction(sessions) as session:
        await stats.week_sent(session, chat_id, slot, clock.now())
    return True
