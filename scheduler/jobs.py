"""Recurring jobs on PTB's JobQueue: outbox dispatch and the meetup clock.

Each job claims its work in the database, so a second process or a restart never repeats a
send; the JobQueue's own store is in memory and is never shared.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from telegram.ext import Application, ContextTypes

from bot.services import services_of
from bot.settings import follow_admin_chat
from bot.transport import budget_of
from scheduler import daily, evidence, retention, stats
from scheduler.outbox import WORKER, dispatch
from storage import meetings
from storage.db import transaction

log = logging.getLogger(__name__)
# The pause between one drain of the outbox and the next look (not a cap on the rate).
OUTBOX_EVERY_SECONDS = 2.0
OUTBOX_JOB = "outbox"
EVIDENCE_EVERY_SECONDS = 3.0
WEEKLY_CHECK_SECONDS = 3600.0
RETENTION_EVERY_SECONDS = 24 * 3600.0


async def dispatch_outbox(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends what is due until the outbox is drained (`scheduler.outbox.dispatch`: no cadence
    caps the rate), then runs again `OUTBOX_EVERY_SECONDS` after it ended. A job that schedules
    its next run itself never overlaps its last, so APScheduler skips nothing, and a stop lets
    it finish what it claimed and end."""
    svc = services_of(context.bot_data)
    application = context.application
    try:
        await dispatch(
            context.bot,
            svc.sessions,
            svc.clock,
            svc.settings.zone,
            svc.settings.default_language,
            stale=timedelta(seconds=svc.settings.outbox_stale_seconds),
            paid=svc.settings.outbox_paid_per_second is not None,
            keep_going=lambda: application.running,
            photos=svc.photos,
            moved=partial(follow_admin_chat, svc.settings),
        )
    finally:
        if application.running and context.job_queue is not None:
            context.job_queue.run_once(dispatch_outbox, OUTBOX_EVERY_SECONDS, name=OUTBOX_JOB)


async def check_evidence(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Checks received photos and posts their review cards (scheduler/evidence.py)."""
    svc = services_of(context.bot_data)
    checker = evidence.checker_for(context.bot_data, svc.settings)
    await evidence.check_once(context.bot, svc.sessions, svc.clock, svc.settings, checker)


async def meetup_clock(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Releases places not confirmed after a move, queues due reminders and closes meetups
    whose time is over."""
    svc = services_of(context.bot_data)
    now = svc.clock.now()
    async with transaction(svc.sessions) as session:
        await meetings.release_unconfirmed(session, now)
        await meetings.queue_reminders(session, now, svc.settings.reminder_leads)
        closed = await meetings.finish_due(session, svc.rules, now)
    if closed:
        log.info("closed %d meetups", len(closed))


async def daily_posts(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Queues each group's daily mission post once its local time has come (scheduler/daily.py)."""
    svc = services_of(context.bot_data)
    settings = svc.settings
    queued = await daily.post_due(
        svc.sessions,
        svc.clock,
        settings.zone,
        grace=timedelta(minutes=settings.daily_grace_minutes),
        count=settings.daily_missions,
        weather=daily.fixed_weather(settings.daily_weather),
        worker=WORKER,
    )
    if queued:
        log.info("queued %d daily group posts", queued)


async def weekly_figures(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends last week's figures and chart to the admin group, once per week."""
    svc = services_of(context.bot_data)
    await stats.send_weekly(context.bot, svc.sessions, svc.clock, svc.settings, WORKER)


async def retention_sweep(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Deletes old handled inbox rows, outbox rows and photos (scheduler/retention.py)."""
    svc = services_of(context.bot_data)
    settings = svc.settings
    windows = retention.Windows(
        inbox_days=settings.inbox_retention_days,
        outbox_days=settings.outbox_retention_days,
        photo_days=settings.photo_retention_days,
        evidence_max_attempts=settings.evidence_max_attempts,
    )
    await retention.sweep(svc.sessions, svc.photos, svc.clock, windows)


def schedule(application: Application) -> None:
    queue = application.job_queue
    assert queue is not None, "python-telegram-bot[job-queue] is a dependency"
    queue.run_once(dispatch_outbox, 1, name=OUTBOX_JOB)  # then it schedules itself
    settings = application.bot_data["services"].settings
    if (paid := settings.outbox_paid_per_second) is not None and (
        budget := budget_of(application.bot)
    ) is not None:
        budget.allow_paid(paid)  # the outbox may send beyond 30/s, paying (bot/transport.py)
    queue.run_repeating(check_evidence, interval=EVIDENCE_EVERY_SECONDS, first=3, name="evidence")
    queue.run_repeating(
        meetup_clock, interval=settings.meetup_clock_seconds, first=5, name="meetup-clock"
    )
    every = settings.daily_check_seconds
    queue.run_repeating(daily_posts, interval=every, first=2, name="daily-posts")
    queue.run_repeating(
        weekly_figures,
        interval=WEEKLY_CHECK_SECONDS,
        first=settings.weekly_first_check_seconds,
        name="weekly-figures",
    )
    queue.run_repeating(
        retention_sweep, interval=RETENTION_EVERY_SECONDS, first=30, name="retention"
    )
