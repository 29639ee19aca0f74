"""Ingress: how updates get from Telegram into the Application, durably and in order.

Every update is stored in the inbox (`storage.inbox`, primary key `update_id`) before Telegram
learns we have it: polling confirms an offset only on the call after the store committed, and
the webhook answers 200 only after the store. The Application then handles updates through
`PerUserProcessor`: one person's updates one after another, different people concurrently.
After an update was handled it is marked done; at start-up, whatever was stored but never
marked done (the process died) is handled first. A repeat delivery (the same update id
within `storage.inbox.REPEAT_WINDOW`) is stored once and handled once.

Polling starts where Telegram stands, not from the inbox: the first getUpdates sends no offset
and gets the oldest update Telegram still holds unconfirmed, later calls confirm up to the
last one received. An offset taken from the ids stored would confirm unread every update below
it once ids start again lower after a quiet week (Bot API, Update), or with another token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import Conflict, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, BaseUpdateProcessor

from bot import metrics
from bot.senders import sender_key
from storage import inbox
from storage.clock import Clock
from storage.db import SessionFactory, transaction

log = logging.getLogger(__name__)
LONG_POLL_SECONDS = 25
# While another process takes this token's updates: first wait, and the longest.
CONFLICT_BACKOFF = (5.0, 60.0)
# The update types the bot asks Telegram for, by polling and by webhook alike. Without the
# list Telegram sends every type but chat_member and the reactions (Bot API, getUpdates:
# allowed_updates), edited_message included: a live location is edited every few seconds for
# hours, and PTB's MessageHandler and CommandHandler take edits as new messages. The handlers
# read messages (service messages such as new_chat_members and migrate_to_chat_id included),
# button presses, and the bot's own membership (my_chat_member: added to or removed from a
# group, blocked or unblocked in a private chat); nothing reads chat_member. Edits that arrive
# all the same (a webhook registered by an older version) are dropped by handlers/edits.py.
ALLOWED_UPDATES: tuple[str, ...] = ("message", "callback_query", "my_chat_member")


def ordering_key(update: object) -> int:
    """Updates with the same key are handled one at a time, in order: one person's, or one
    chat's when a chat sent the message (`bot.senders.sender_key`: anonymous admins of
    different groups share one stand-in user, @GroupAnonymousBot, but not one lock)."""
    key = sender_key(update)
    if key is not None:
        return key
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return 0


class PerUserProcessor(BaseUpdateProcessor):
    """Serialises each person's updates and runs different people's concurrently.

    Locks are per person and dropped when nobody waits on them; asyncio locks wake waiters in
    the order they queued, and PTB starts one task per update in arrival order, so a person's
    updates keep their order. `on_done` runs after each update was handled (errors included:
    PTB has passed them to the error handler by then).
    """

    def __init__(
        self,
        max_concurrent_updates: int = 256,
        on_done: Callable[[Update], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: defaultdict[int, int] = defaultdict(int)
        self._on_done = on_done

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = ordering_key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] += 1
        try:
            async with lock:
                started = time.perf_counter()
                await coroutine
                metrics.observe_update(update, time.perf_counter() - started)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                self._locks.pop(key, None)
        if self._on_done is not None and isinstance(update, Update):
            await self._on_done(update)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


class Inbox:
    """The application's inbox: stores, marks done, replays what was left unfinished.

    A stored update keeps its raw payload (phone numbers, locations, texts) only until it is
    marked done (`storage.inbox.mark_done` clears it in the same UPDATE): replay needs it,
    nothing after that does. The retention job deletes handled rows later."""

    def __init__(self, application: Application, sessions: SessionFactory, clock: Clock) -> None:
        self.application = application
        self.sessions = sessions
        self.clock = clock

    async def accept(self, updates: list[Update]) -> int:
        """Stores updates and queues the new ones for handling; returns how many were new."""
        async with transaction(self.sessions) as session:
            new = set(await inbox.store(session, [u.to_dict() for u in updates], self.clock.now()))
        for update in updates:
            if update.update_id in new:
                await self.application.update_queue.put(update)
        return len(new)

    async def replay_unfinished(self) -> int:
        """Queues updates that were stored but not handled before the last stop."""
        async with self.sessions() as session:
            pending = await inbox.unfinished(session)
        for data in pending:
            update = Update.de_json(data, self.application.bot)
            await self.application.update_queue.put(update)
        if pending:
            log.info("handling %d updates left unfinished by the last run", len(pending))
        return len(pending)


async def poll(
    box: Inbox, stop: asyncio.Event, allowed_updates: Sequence[str] = ALLOWED_UPDATES
) -> None:
    """Long polling that confirms an offset only after the updates were stored; it asks for
    `allowed_updates` only (Telegram keeps the list for later calls and for a webhook).

    The first call has no offset: Telegram answers from the oldest update it has not had
    confirmed (those stored before a crash come again and are dropped as repeats)."""
    bot = box.application.bot
    offset: int | None = None
    backoff = 1.0
    conflict = _ConflictBackoff()
    while not stop.is_set():
        request = asyncio.ensure_future(bot.get_updates(
            offset=offset, timeout=LONG_POLL_SECONDS, read_timeout=LONG_POLL_SECONDS + 10,
            allowed_updates=list(allowed_updates),
        ))  # fmt: skip
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait((request, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not request.done():
            # Stopping mid-poll: whatever this call would return is not confirmed yet, so
            # Telegram hands it to the next run.
            request.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await request
            return
        try:
            updates = request.result()
        except RetryAfter as exc:
            wait = exc.retry_after
            await _sleep_or_stop(
                stop, wait.total_seconds() if isinstance(wait, timedelta) else wait
            )
            continue
        except Conflict as exc:
            # Nothing was handed over and the offset stays: no update is confirmed or lost.
            await _sleep_or_stop(stop, conflict.failed(exc))
            continue
        except (TimedOut, NetworkError) as exc:
            log.warning("getUpdates failed (%s); retrying in %.0f s", type(exc).__name__, backoff)
            await _sleep_or_stop(stop, backoff)
            backoff = min(backoff * 2, 30.0)
            continue
        backoff = 1.0
        conflict.passed()
        if not updates:
            continue
        await box.accept(list(updates))
        # Telegram forgets updates below the offset we send next; they are stored by now.
        offset = updates[-1].update_id + 1


class _ConflictBackoff:
    """409 Conflict on getUpdates: another process takes this token's updates.

    Telegram lets one getUpdates wait per token and ends the older with "Conflict: terminated
    by other getUpdates request; make sure that only one bot instance is running", or refuses
    polling while a webhook is set ("can't use getUpdates method while webhook is active").
    Not a crash: said once per episode (what it means, what to do), then retried with a
    growing wait, so this process takes over when the other one stops.
    """

    def __init__(self) -> None:
        self.wait = 0.0

    def failed(self, exc: Conflict) -> float:
        first, longest = CONFLICT_BACKOFF
        if not self.wait:
            self.wait = first
            log.error(
                "getUpdates refused: %s. Only one process may take updates per token: another "
                "bot process polls with this token or set a webhook for it. Stop that one (a "
                "laptop or a test run wants its own bot from @BotFather). Retrying every "
                "%.0f-%.0f s; no update is confirmed or lost meanwhile.",
                exc.message, first, longest,
            )  # fmt: skip
        else:
            self.wait = min(self.wait * 2, longest)
            log.debug("getUpdates still in conflict; retrying in %.0f s", self.wait)
        return self.wait

    def passed(self) -> None:
        if self.wait:
            log.info("getUpdates works again (the other process stopped): taking updates")
        self.wait = 0.0


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
