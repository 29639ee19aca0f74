"""A notice sent the moment it is queued, by the handler that queued it, rather than on the
dispatcher's next round (up to two seconds later, or never in this process with `--no-worker`):
a voucher's code, which the person is waiting for on screen.

The handler claims the outbox row as the dispatcher would (a guarded UPDATE, so exactly one of
them sends it), sends it and records the delivery. Any failure puts the row back, due at once,
for the dispatcher (`scheduler/outbox.py`), which knows every answer Telegram can give (429,
403, a moved chat); the row is never lost and the person is never apologised to: they see the
message a moment later, from the dispatcher.

Also how a kind of notice is sent, which the dispatcher shares: the kinds Telegram must not let
be forwarded or saved (`PROTECTED`), the kinds sent again when Telegram's answer was lost
(`RESENT_WHEN_UNSURE`), and the values drawn at send time (`looked_up`).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta, tzinfo
from typing import Any

from telegram import Bot
from telegram.error import RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.transport import NO_RETRY, budget_of, maybe_delivered
from storage import market
from storage import outbox as rows
from storage.clock import Clock
from storage.db import SessionFactory, transaction
from storage.outbox import NoticeKind
from ui.notices import buttons, render

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}:now"
# A chat whose send budget frees up later than this is left to the dispatcher.
MAX_WAIT = 1.0

# Sent with `protect_content`: Telegram lets nobody forward or save them (a voucher's code).
PROTECTED: frozenset[NoticeKind] = frozenset({market.CODE_NOTICE})
# Sent again when Telegram's answer was lost (the dispatcher otherwise takes such a send as
# delivered): a code twice costs nothing, a code lost costs the points it was bought with.
RESENT_WHEN_UNSURE: frozenset[NoticeKind] = frozenset({market.CODE_NOTICE})


async def looked_up(
    sessions: SessionFactory, kind: NoticeKind, values: dict[str, Any]
) -> dict[str, Any] | None:
    """Values a notice is drawn with that its row does not keep: a voucher's code and name
    (the outbox keeps the voucher's id only). None when they are gone; {} for other kinds."""
    if kind != market.CODE_NOTICE:
        return {}
    async with sessions() as session:
        return await market.code_notice_values(session, int(values["voucher_id"]))


async def send_queued(
    bot: Bot, sessions: SessionFactory, clock: Clock, zone: tzinfo, lang: str, key: str | None
) -> bool:
    """Sends the queued notice `key` now in `lang`; returns whether it went out. False also
    when there is nothing to send (no key, sent already, in the dispatcher's hands)."""
    if key is None:
        return False
    async with transaction(sessions) as session:
        row = await rows.claim_key(session, key, WORKER, clock.now())
    if row is None:
        return False
    budget = budget_of(bot)
    if budget is not None and (wait := budget.chat_wait(row.chat_id)) > MAX_WAIT:
        await _back(sessions, row.id, "paced", clock, wait)
        return False
    kind, values = row.notice()
    try:
        fields = await looked_up(sessions, kind, values)
        if fields is None:
            async with transaction(sessions) as session:
                await rows.mark_failed(session, row.id, "gone")
            return False
        text = render(kind, lang, {**values, **fields}, None, zone)
        # With our rate limiter a 429 comes back here (to go back to the outbox) at once.
        limited = isinstance(bot, ExtBot) and bot.rate_limiter is not None
        extra: dict[str, Any] = {"rate_limit_args": NO_RETRY} if limited else {}
        message = await bot.send_message(
            row.chat_id, text, reply_markup=buttons(kind, lang, values),
            protect_content=kind in PROTECTED or None, **extra,
        )  # fmt: skip
    except TelegramError as exc:
        if maybe_delivered(exc) and kind not in RESENT_WHEN_UNSURE:
            async with transaction(sessions) as session:
                await rows.mark_sent(session, row.id, None, note="unconfirmed: read timeout")
            return True
        after = exc.retry_after if isinstance(exc, RetryAfter) else 0
        seconds = after.total_seconds() if isinstance(after, timedelta) else float(after)
        await _back(sessions, row.id, type(exc).__name__, clock, seconds)
        log.warning("outbox row %s not sent at once (%s): left to the dispatcher", row.id,
                    type(exc).__name__)  # fmt: skip
        return False
    except Exception:  # (a cancelled task's row waits for the stale-claim delay)
        await _back(sessions, row.id, "interrupted", clock, 0.0)
        raise
    async with transaction(sessions) as session:
        await rows.mark_sent(session, row.id, message.message_id)
    return True


async def _back(
    sessions: SessionFactory, row_id: int, reason: str, clock: Clock, seconds: float
) -> None:
    """The row goes back to the dispatcher, due after `seconds`, no attempt counted (the
    dispatcher counts its own)."""
    later = clock.now() + timedelta(seconds=seconds)
    async with transaction(sessions) as session:
        await rows.mark_retry(session, row_id, reason, later, count=False)
