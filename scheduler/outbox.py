"""The outbox dispatcher: claims due notices in the database and sends them.

Claiming is one guarded UPDATE of a whole batch (`storage/outbox.py`), so several workers (or
a restart) never send one row twice. `dispatch` (the job's, `scheduler/jobs.py`) claims the
next batch while the last is still being sent, for as long as batches come back full, so the
send budget (`bot/transport.py`: 30/s overall, 20/min a group, about 1/s a chat; more with paid
broadcasts) sets the pace, never a cadence. Chats are served concurrently, each chat's notices
in order, as many at once as keep the budget busy (its rate × the round trip to Telegram and
the commit, `concurrency_for`): a chat that must wait long is deferred rather than waited for.

A 429 puts the row (and the rest of that chat's rows) back until `retry_after` has passed
without counting an attempt; a network error counts an attempt and backs off; 403 (the person
blocked the bot, or the bot left a group) gives up and marks them so, and rows to a person so
marked are skipped without a send until they unblock or write again; a group upgraded to a
supergroup moves and its row follows. Every delivery is recorded with its `message_id` before
its sender sends anything else, by group commit: the deliveries that come back while a commit
runs share the next one (`_Recorder`). A send whose answer timed out (the request reached
Telegram) is recorded as sent without a `message_id` and not repeated: Telegram has almost
surely shown it, and a notice twice is worse than the rare one lost; a send that never reached
Telegram (refused, connect timeout) is retried. A row in flight when the process died goes out
again after the stale-claim delay: at-least-once inside that window, which is, as with a
transaction per send, at most one delivery per sender (Telegram's answer had arrived, its
commit had not); a row recorded as sent is never sent again.

A voucher's code ("voucher_issued", `bot/send_now.py`) is the exception to "at most once": it
goes with `protect_content`, a send whose answer timed out is sent again, and it is never given
up after `MAX_ATTEMPTS` failures (its backoff stops growing instead): a code twice costs
nothing, a code lost costs the points paid for it. The handler that queued it usually sends
it at once; the dispatcher takes it when that failed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import statistics
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot import card_cleanup, outbox_cards
from bot.rights import cannot_post
from bot.send_now import PROTECTED, RESENT_WHEN_UNSURE, looked_up
from bot.transport import (
    NO_RETRY,
    NO_RETRY_MAY_PAY,
    BudgetRateLimiter,
    budget_of,
    maybe_delivered,
)
from storage import admin_cards, delivery, groups, meetings
from storage import outbox as rows
from storage.clock import Clock
from storage.db import SessionFactory, transaction
from storage.files import FileStore
from storage.outbox import NoticeKind
from ui.notices import buttons, daily_post, render

log = logging.getLogger(__name__)
# Told (old chat id, new chat id) when a chat was upgraded to a supergroup.
Moved = Callable[[int, int], object]
WORKER = f"{socket.gethostname()}:{os.getpid()}"
BATCH = 50
# A drain claims about a second's worth of notices at a time, within these bounds.
MAX_BATCH = 500
# Chats served at once before a round trip has been seen (and without a budget: tests). Then
# the budget sets the pace and this follows it: rate × (round trip + commit) × HEADROOM.
CONCURRENCY = 4
MIN_CONCURRENCY = 2
MAX_CONCURRENCY = 32
HEADROOM = 1.5
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
    paid: bool = False,
    photos: FileStore | None = None,
    moved: Moved | None = None,
) -> int:
    """Claims one batch of due notices and sends it; returns how many were delivered."""
    run = _Run(bot, sessions, clock, zone, default_language, stale, worker, paid, photos, moved)
    return await run.go(batch, drain=False, keep_going=_always)


async def dispatch(
    bot: Bot,
    sessions: SessionFactory,
    clock: Clock,
    zone: ZoneInfo,
    default_language: str,
    *,
    batch: int | None = None,
    stale: timedelta = rows.STALE_CLAIM,
    worker: str = WORKER,
    paid: bool = False,
    keep_going: Callable[[], bool] | None = None,
    photos: FileStore | None = None,
    moved: Moved | None = None,
) -> int:
    """Sends until nothing is due: claims the next batch while the last came back full, ahead
    of need, so the send budget never waits for the database; stops claiming when a batch comes
    back short (the outbox is drained) or `keep_going()` turns false (the process stops), and
    returns once what it claimed is sent. Returns how many were delivered. `photos`: where
    a card's stored JPEG is read (`bot/outbox_cards.py`); `moved(old, new)`: told when a
    chat turned out to be upgraded to a supergroup (`bot.settings.follow_admin_chat`)."""
    run = _Run(bot, sessions, clock, zone, default_language, stale, worker, paid, photos, moved)
    size = batch if batch is not None else run.batch_size()
    return await run.go(size, drain=True, keep_going=keep_going or _always)


def _always() -> bool:
    return True


def concurrency_for(rate: float | None, round_trip: float | None, commit: float) -> int:
    """Sends in flight that keep `rate` busy: each takes a round trip to Telegram and then its
    share of a commit, so rate × (round trip + commit), with headroom for the variation.
    Unknown rate or round trip (no budget, nothing sent yet): `CONCURRENCY`."""
    if rate is None or round_trip is None:
        return CONCURRENCY
    wanted = math.ceil(rate * (round_trip + commit) * HEADROOM) + 1
    return max(MIN_CONCURRENCY, min(MAX_CONCURRENCY, wanted))


class _Run:
    """One dispatch: claimed rows wait per chat (in order), a chat is served by one task at a
    time, and at most `concurrency_for(...)` chats are served at once."""

    def __init__(
        self,
        bot: Bot,
        sessions: SessionFactory,
        clock: Clock,
        zone: ZoneInfo,
        default_language: str,
        stale: timedelta,
        worker: str,
        paid: bool,
        photos: FileStore | None = None,
        moved: Moved | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.stale = stale
        self.worker = worker
        self.default_language = default_language
        self.budget = budget_of(bot)
        limiter = getattr(bot, "rate_limiter", None)
        self.limiter = limiter if isinstance(limiter, BudgetRateLimiter) else None
        self.paid = paid and self.budget is not None and self.budget.paid_per_second > 0
        self.languages: dict[int, str] = {}
        self.recorder = _Recorder(sessions)
        self.sender = _Sender(
            bot, sessions, clock, zone, self.languages, self.recorder, self.paid, photos, moved
        )
        self.chats: dict[int, deque[rows.Claimed]] = {}  # claimed, not yet sent, per chat
        self.ready: deque[int] = deque()  # chats with rows and nobody serving them
        self.waiting = 0  # rows claimed and not yet taken by a sender
        self.wake = asyncio.Event()
        self.width = CONCURRENCY  # chats served at once (`resize`, at each claim)
        self.held: set[int] = set()  # rows claimed by this run and not yet done with

    def rate(self) -> float | None:
        if self.budget is None:
            return None
        return self.budget.paid_per_second if self.paid else self.budget.rate

    def batch_size(self) -> int:
        """About a second's worth, and what waits (up to one and a half batches) well inside
        the stale-claim delay, after which another worker would take it too."""
        rate = self.rate()
        if rate is None:
            return BATCH
        inside = int(rate * self.stale.total_seconds() / 4)
        return max(1, min(inside, max(BATCH, min(MAX_BATCH, int(rate)))))

    def resize(self) -> None:
        """Chats served at once from now on: what the budget needs, at most twice as many as
        before (a moment of slow answers opens no crowd of connections, whose bookkeeping
        would cost more than it gains)."""
        round_trip = self.limiter.round_trip if self.limiter is not None else None
        wanted = concurrency_for(self.rate(), round_trip, self.recorder.commit_seconds)
        self.width = min(wanted, 2 * self.width)

    async def claim(self, batch: int) -> int:
        """Claims the next batch and queues its rows behind their chat's; returns how many
        were claimed (rows to people who blocked the bot included, though skipped)."""
        async with transaction(self.sessions) as session:
            claimed = await rows.claim(session, self.worker, self.clock.now(), batch, self.stale)
            # A person who blocked the bot would only answer 403: their rows are skipped.
            sendable = await delivery.skip_blocked(session, claimed)
        new = {row.chat_id for row in sendable if row.chat_id not in self.languages}
        if new:
            async with self.sessions() as session:
                found = await delivery.languages(session, list(new), self.default_language)
            self.languages.update(found)
        for row in sendable:
            if row.id in self.held:  # ours still, taken again as stale: it goes out once
                continue
            self.held.add(row.id)
            queued = self.chats.get(row.chat_id)
            if queued is None:
                queued = self.chats[row.chat_id] = deque()
                self.ready.append(row.chat_id)
            queued.append(row)
            self.waiting += 1
        self.resize()
        return len(claimed)

    async def go(self, batch: int, *, drain: bool, keep_going: Callable[[], bool]) -> int:
        more = await self.claim(batch) >= batch and drain
        delivered = 0
        serving: set[asyncio.Task[int]] = set()
        try:
            while True:
                for task in [t for t in serving if t.done()]:
                    serving.discard(task)
                    delivered += task.result()  # a worker's error ends the run (the job's)
                while self.ready and len(serving) < self.width:
                    task = asyncio.create_task(self.serve(self.ready.popleft()))
                    task.add_done_callback(lambda _: self.wake.set())
                    serving.add(task)
                # The next batch is claimed while this one is still being sent.
                if more and self.waiting <= batch // 2:
                    more = keep_going() and await self.claim(batch) >= batch
                    continue
                if not serving:
                    return delivered
                self.wake.clear()
                if not any(t.done() for t in serving):
                    await self.wake.wait()
        finally:
            for task in serving:
                task.cancel()
            await asyncio.gather(*serving, return_exceptions=True)
            await self.recorder.close()

    async def serve(self, chat_id: int) -> int:
        """One chat's rows in order; when one must wait, it and all after it go back."""
        queued = self.chats[chat_id]
        delivered = 0
        later: datetime | None = None
        reason = ""
        try:
            while queued:
                if later is not None:  # deferred: what waits (and what comes meanwhile) goes back
                    back = list(queued)
                    queued.clear()
                    self.waiting -= len(back)
                    async with transaction(self.sessions) as session:
                        for row in back:
                            await rows.mark_retry(session, row.id, reason, later, count=False)
                    self.held.difference_update(row.id for row in back)
                    continue
                row = queued.popleft()
                self.waiting -= 1
                self.wake.set()
                try:
                    delivered += await self.sender.send(row)
                except _Deferred as exc:
                    later = self.clock.now() + timedelta(seconds=exc.seconds)
                    reason = exc.reason
                    queued.appendleft(row)
                    self.waiting += 1
                else:
                    self.held.discard(row.id)
        finally:
            if not queued:
                del self.chats[chat_id]
        return delivered


class _Recorder:
    """Group commit of deliveries: a sender hands its delivery over and waits until it is
    committed; deliveries handed over while a commit runs go together in the next one (one
    transaction, one executemany). A sender sends nothing more before its delivery is on
    record, so what a crash can leave unrecorded is what it is now: at most one delivery per
    sender in flight, sent again after the stale-claim delay (module docstring)."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self.waiting: list[tuple[rows.Sent, asyncio.Future[None]]] = []
        self.flushing: asyncio.Task[None] | None = None
        self._commits: deque[float] = deque(maxlen=16)  # the latest commits' durations

    async def close(self) -> None:
        """Ends a commit still running (the run was cancelled or failed: nobody waits for it)."""
        if (flushing := self.flushing) is not None:
            flushing.cancel()
            await asyncio.gather(flushing, return_exceptions=True)

    @property
    def commit_seconds(self) -> float:
        """What a delivery waits for its commit (the median of the latest; 0 before any)."""
        return statistics.median(self._commits) if self._commits else 0.0

    async def sent(
        self, row: rows.Claimed, message_id: int | None, note: str | None = None
    ) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((rows.Sent(row, message_id, note), done))
        if self.flushing is None:
            self.flushing = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            while self.waiting:
                group, self.waiting = self.waiting, []
                started = time.monotonic()
                try:
                    async with transaction(self.sessions) as session:
                        await rows.record_sent(session, [sent for sent, _ in group])
                except Exception as exc:  # the senders raise it: the run ends, rows stay claimed
                    for _, done in group:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                except BaseException:
                    for _, done in group:
                        done.cancel()
                    raise
                self._commits.append(time.monotonic() - started)
                for _, done in group:
                    if not done.done():
                        done.set_result(None)
        finally:
            self.flushing = None
            for _, done in self.waiting:  # cancelled: the senders must not wait forever
                done.cancel()
            self.waiting = []


class _Sender:
    """Sends claimed rows: a delivery is recorded by group commit (`_Recorder`), any other
    outcome in its own short transaction."""

    def __init__(
        self,
        bot: Bot,
        sessions: SessionFactory,
        clock: Clock,
        zone: ZoneInfo,
        languages: dict[int, str],
        recorder: _Recorder,
        paid: bool,
        photos: FileStore | None = None,
        moved: Moved | None = None,
    ) -> None:
        self.bot = bot
        self.photos = photos
        self.moved = moved
        self.sessions = sessions
        self.clock = clock
        self.zone = zone
        self.languages = languages
        self.recorder = recorder
        self.budget = budget_of(bot)
        # With a rate limiter, a 429 comes back here (to defer the row) instead of a retry.
        limited = isinstance(bot, ExtBot) and bot.rate_limiter is not None
        self.limit_args = (NO_RETRY_MAY_PAY if paid else NO_RETRY) if limited else None

    async def send(self, row: rows.Claimed) -> int:
        """Sends one row and records the outcome; returns 1 when it was delivered."""
        sent = await self._send(row)
        if sent is None:
            return 0
        message_id, note = sent
        await self.recorder.sent(row, message_id, note)
        return 1

    async def _send(self, row: rows.Claimed) -> tuple[int | None, str | None] | None:
        """The delivery (message_id, note) to record, or None when the outcome is recorded."""
        wait = self.budget.chat_wait(row.chat_id) if self.budget is not None else 0.0
        if wait > MAX_INLINE_WAIT:
            raise _Deferred(wait, "paced")
        kind, values = row.notice()
        extra: dict[str, Any] = {}
        if self.limit_args is not None:
            extra["rate_limit_args"] = self.limit_args
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
            if self.moved is not None:  # the admin group's cards: the process follows it
                self.moved(row.chat_id, exc.new_chat_id)
            return None
        except Forbidden as exc:
            async with transaction(self.sessions) as session:
                await delivery.forbidden(session, row.id, row.chat_id, f"403: {exc.message}")
            return None
        except BadRequest as exc:
            # The request itself is wrong (chat gone, text refused): retrying cannot help.
            async with transaction(self.sessions) as session:
                await rows.mark_failed(session, row.id, f"400: {exc.message}")
                if reason := cannot_post(exc):  # a group that lets the bot in, not post
                    await groups.cannot_post(session, row.chat_id, reason, now)
            log.warning("outbox row %s refused: %s", row.id, exc.message)
            return None
        except TelegramError as exc:
            if maybe_delivered(exc) and kind not in RESENT_WHEN_UNSURE:
                # Sending again would most likely show the person the same notice twice; a
                # notice is better kept at most once than repeated. Recorded, not retried.
                log.warning("outbox row %s: answer timed out, taken as delivered", row.id)
                return None, "unconfirmed: read timeout"
            backoff = timedelta(seconds=min(600, 5 * 2**row.attempts))
            # A code is never given up: its attempts stop one short of the limit.
            count = kind not in RESENT_WHEN_UNSURE or row.attempts + 1 < rows.MAX_ATTEMPTS
            async with transaction(self.sessions) as session:
                await rows.mark_retry(
                    session, row.id, type(exc).__name__, now + backoff, count=count
                )
            return None
        return sent_id, None

    async def _deliver(
        self, chat_id: int, kind: NoticeKind, values: dict[str, Any], extra: dict[str, Any]
    ) -> int | None:
        """Sends the notice; returns its message_id. A card about a person who deleted their
        account is deleted or blanked instead (`bot/card_cleanup.py`; no new message); a
        group's gathering card and an appeal's card are drawn as they go (`bot/outbox_cards.py`)."""
        if kind == admin_cards.KIND:
            lang = self.languages[chat_id]
            await card_cleanup.clean(self.bot, self.sessions, chat_id, values, lang, self.zone,
                                     **extra)  # fmt: skip
            return None
        if kind in outbox_cards.KINDS:  # drawn from the database as they go
            return await outbox_cards.send(
                self.bot, self.sessions, self.photos, chat_id, kind, values,
                lang=self.languages[chat_id], zone=self.zone, now=self.clock.now(),
                bot_username=_username(self.bot), **extra,
            )  # fmt: skip
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
