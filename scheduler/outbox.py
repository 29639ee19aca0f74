"""The outbox dispatcher: claims due notices in the database and sends them.

Claiming is a guarded UPDATE, so several workers (or a restart) never send one row twice.
Chats are served concurrently, each chat's notices in order, all under the bot's one send
budget (`bot/transport.py`): a chat that must wait long is deferred rather than waited
for. A 429 puts the row (and the rest of that chat's batch) back until `retry_after` has passed
without counting an attempt; a network error counts an attempt and backs off; 403 (the person
blocked the bot, or the bot left a group) gives up and marks them so, and rows to a person so
marked are skipped without a send until they unblock or write again; a group upgraded to a
supergroup moves and its row follows. Every delivery is recorded with its `message_id` at once.
A send whose answer timed out (the request reached Telegram) is recorded as sent without a
`message_id` and not repeated: Telegram has almost surely shown it, and a notice twice is worse
than the rare one lost; a send that never reached Telegram (refused, connect timeout) is retried.
A row in flight when the process died goes out again after the stale-claim delay (at-least-once
inside that window; a row recorded as sent is never sent again).

A voucher's code ("voucher_issued", `bot/send_now.py`) is the exception to "at most once": it
goes with `protect_content`, a send whose answer timed out is sent again, and it is never given
up after `MAX_ATTEMPTS` failures (its backoff stops growing instead): a code twice costs
nothing, a code lost costs the points paid for it. The handler that queued it usually sends
it at once; the dispatcher takes it when that failed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot import card_cleanup
from bot.rights import cannot_post
from bot.send_now import PROTECTED, RESENT_WHEN_UNSURE, looked_up
from bot.transport import NO_RETRY, budget_of, maybe_delivered
from storage import admin_cards, delivery, groups, meetings
from storage import outbox as rows
from storage.clock import Clock
from storage.db import SessionFactory, transaction
from storage.outbox import NoticeKind
from ui.notices import buttons, daily_post, render

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"
BATCH = 50
# Chats served at once; the send budget, not this, sets the pace.
CONCURRENCY = 16
# A chat whose budget frees up later than this is deferred instead of holding a worker.
MAX_INLINE_WAIT = 1.0


class _Deferred(Exception):
    """The chat cannot take more now: its remaining rows go back until `not_before`."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


async def dispatch_once(
    bot: Bot,
    sessions: SessionFactory,
    clock: Clock,
    zone: ZoneInfo,
    default_language: str,
    *,
    batch: int = BATCH,
    stale: timedelta = rows.STALE_CLAIM,
    worker: str = WORKER,
) -> int:
    """Sends every due notice once; returns how many were delivered."""
    async with transaction(sessions) as session:
        claimed = await rows.claim(session, worker, clock.now(), limit=batch, stale=stale)
        # A person who blocked the bot would only answer 403: their rows are skipped, not tried.
        claimed = await delivery.skip_blocked(session, claimed)
    by_chat: dict[int, list[rows.Claimed]] = {}
    for row in claimed:
        by_chat.setdefault(row.chat_id, []).append(row)
    if not claimed:
        return 0
    async with sessions() as session:
        languages = await delivery.languages(session, list(by_chat), default_language)
    gate = asyncio.Semaphore(CONCURRENCY)
    sender = _Sender(bot, sessions, clock, zone, languages)

    async def serve(chat_rows: Sequence[rows.Claimed]) -> int:
        async with gate:
            return await sender.chat(chat_rows)

    return sum(await asyncio.gather(*(serve(r) for r in by_chat.values())))


class _Sender:
    """Sends claimed rows and records each outcome in its own short transaction."""

    def __init__(
        self,
        bot: Bot,
        sessions: SessionFactory,
        clock: Clock,
        zone: ZoneInfo,
        languages: dict[int, str],
    ) -> None:
        self.bot = bot
        self.sessions = sessions
        self.clock = clock
        self.zone = zone
        self.languages = languages
        self.budget = budget_of(bot)

    async def chat(self, chat_rows: Sequence[rows.Claimed]) -> int:
        """One chat's rows in order; stops at the first that must wait and puts back the rest."""
        delivered = 0
        for index, row in enumerate(chat_rows):
            try:
                delivered += await self._send(row)
            except _Deferred as exc:
                later = self.clock.now() + timedelta(seconds=exc.seconds)
                async with transaction(self.sessions) as session:
                    for waiting in chat_rows[index:]:
                        await rows.mark_retry(session, waiting.id, exc.reason, later, count=False)
                break
        return delivered

    async def _send(self, row: rows.Claimed) -> int:
        wait = self.budget.chat_wait(row.chat_id) if self.budget is not None else 0.0
        if wait > MAX_INLINE_WAIT:
            raise _Deferred(wait, "paced")
        kind, values = row.notice()
        # With a rate limiter, a 429 comes back here (to defer the row) instead of a retry.
        limited = isinstance(self.bot, ExtBot) and self.bot.rate_limiter is not None
        extra: dict[str, Any] = {"rate_limit_args": NO_RETRY} if limited else {}
        if (thread := values.get(rows.THREAD)) is not None:  # a group's forum topic
            extra["message_thread_id"] = thread
        now = self.clock.now()
        try:
            sent_id = await self._deliver(row.chat_id, kind, values, extra)
        except RetryAfter as exc:
            after = exc.retry_after
            seconds = after.total_seconds() if isinstance(after, timedelta) else float(after)
            raise _Deferred(seconds + 0.5, "429") from exc
        except ChatMigrated as exc:
            async with transaction(self.sessions) as session:
                await delivery.moved(session, row.id, row.chat_id, exc.new_chat_id, now)
            return 0
        except Forbidden as exc:
            async with transaction(self.sessions) as session:
                await delivery.forbidden(session, row.id, row.chat_id, f"403: {exc.message}")
            return 0
        except BadRequest as exc:
            # The request itself is wrong (chat gone, text refused): retrying cannot help.
            async with transaction(self.sessions) as session:
                await rows.mark_failed(session, row.id, f"400: {exc.message}")
                if reason := cannot_post(exc):  # a group that lets the bot in, not post
                    await groups.cannot_post(session, row.chat_id, reason, now)
            log.warning("outbox row %s refused: %s", row.id, exc.message)
            return 0
        except TelegramError as exc:
            if maybe_delivered(exc) and kind not in RESENT_WHEN_UNSURE:
                # Sending again would most likely show the person the same notice twice; a
                # notice is better kept at most once than repeated. Recorded, not retried.
                async with transaction(self.sessions) as session:
                    await rows.mark_sent(session, row.id, None, note="unconfirmed: read timeout")
                log.warning("outbox row %s: answer timed out, taken as delivered", row.id)
                return 1
            backoff = timedelta(seconds=min(600, 5 * 2**row.attempts))
            # A code is never given up: its attempts stop one short of the limit.
            count = kind not in RESENT_WHEN_UNSURE or row.attempts + 1 < rows.MAX_ATTEMPTS
            async with transaction(self.sessions) as session:
                await rows.mark_retry(
                    session, row.id, type(exc).__name__, now + backoff, count=count
                )
            return 0
        async with transaction(self.sessions) as session:
            await rows.mark_sent(session, row.id, sent_id)
        return 1

    async def _deliver(
        self, chat_id: int, kind: NoticeKind, values: dict[str, Any], extra: dict[str, Any]
    ) -> int | None:
        """Sends the notice; returns its message_id. A card about a person who deleted their
        account is deleted or blanked instead (`bot/card_cleanup.py`; no new message)."""
        if kind == admin_cards.KIND:
            lang = self.languages[chat_id]
            await card_cleanup.clean(self.bot, self.sessions, chat_id, values, lang, self.zone,
                                     **extra)  # fmt: skip
            return None
        text, markup = await self._render(chat_id, kind, values)
        if kind in PROTECTED:
            extra["protect_content"] = True
        message = await self.bot.send_message(chat_id, text, reply_markup=markup, **extra)
        return message.message_id

    async def _render(
        self, chat_id: int, kind: NoticeKind, values: dict[str, Any]
    ) -> tuple[str, Any]:
        """The text in the recipient's language (looked up for the whole batch)."""
        lang = self.languages[chat_id]
        if kind == "daily_missions":
            return daily_post(lang, values, _username(self.bot))
        fields = await looked_up(self.sessions, kind, values)
        if fields is None:  # what it names is gone (a code refunded and deleted): a 400's fate
            raise BadRequest("notice refers to nothing")
        values = {**values, **fields}
        meeting_id = values.get("meeting_id")
        meetup = None
        if meeting_id:
            async with self.sessions() as session:
                meetup = await meetings.view(session, int(meeting_id))
        return render(kind, lang, values, meetup, self.zone), buttons(kind, lang, values)


def _username(bot: Bot) -> str | None:
    """The bot's @username for deep links; unknown until `get_me` ran (then no buttons)."""
    try:
        return bot.username
    except RuntimeError:
        return None
