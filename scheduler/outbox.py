"""The outbox dispatcher: claims due notices in the database and sends them.

Claiming is a guarded UPDATE, so several workers (or a restart) never send one row twice.
A 429 puts the row back until `retry_after` has passed without counting an attempt; a
network error counts an attempt and backs off; 403 (the person blocked the bot) gives up and
marks them so. A send that timed out may still have been delivered: the row then goes out
again after the stale-claim delay; notices are short and rare enough that this is accepted.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from telegram import Bot
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from scheduler.notices import buttons, render
from storage import meetings
from storage import outbox as rows
from storage.clock import Clock
from storage.db import SessionFactory, transaction
from storage.models import User

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"


async def dispatch_once(
    bot: Bot, sessions: SessionFactory, clock: Clock, zone: ZoneInfo, default_language: str
) -> int:
    """Sends every due notice once; returns how many were delivered."""
    async with transaction(sessions) as session:
        claimed = await rows.claim(session, WORKER, clock.now())
    delivered = 0
    for row in claimed:
        delivered += await _send(bot, sessions, clock, zone, default_language, row)
    return delivered


async def _send(
    bot: Bot, sessions: SessionFactory, clock: Clock, zone: ZoneInfo, default_language: str,
    row: rows.Claimed,
) -> int:  # fmt: skip
    payload = dict(row.payload)
    kind = str(payload.pop("kind"))
    async with sessions() as session:
        user = await session.get(User, row.chat_id)
        lang = user.language if user is not None and user.registered_at else default_language
        meeting_id = payload.get("meeting_id")
        meetup = await meetings.view(session, int(meeting_id)) if meeting_id else None
    text = render(kind, lang, payload, meetup, zone)
    now = clock.now()
    try:
        message = await bot.send_message(
            row.chat_id, text, reply_markup=buttons(kind, lang, payload)
        )
    except RetryAfter as exc:
        wait = exc.retry_after if isinstance(exc.retry_after, int | float) else 1
        async with transaction(sessions) as session:
            await rows.mark_retry(
                session, row.id, "429", now + timedelta(seconds=float(wait) + 0.5), count=False
            )
        return 0
    except Forbidden as exc:
        async with transaction(sessions) as session:
            await rows.mark_failed(session, row.id, f"403: {exc.message}")
            await session.execute(
                update(User).where(User.id == row.chat_id).values(blocked_bot=True)
            )
        return 0
    except BadRequest as exc:
        # The request itself is wrong (chat gone, text refused): retrying cannot help.
        async with transaction(sessions) as session:
            await rows.mark_failed(session, row.id, f"400: {exc.message}")
        log.warning("outbox row %s refused: %s", row.id, exc.message)
        return 0
    except TelegramError as exc:
        backoff = timedelta(seconds=min(600, 5 * 2**row.attempts))
        async with transaction(sessions) as session:
            await rows.mark_retry(session, row.id, type(exc).__name__, now + backoff)
        return 0
    async with transaction(sessions) as session:
        await rows.mark_sent(session, row.id, message.message_id)
    return 1
