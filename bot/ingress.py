"""Ingress: how updates get from Telegram into the Application, durably and in order.

Every update is stored in the inbox (`storage.inbox`, primary key `update_id`) before Telegram
learns we have it: polling confirms an offset only on the call after the store committed, and
the webhook answers 200 only after the store. The Application then handles updates through
`PerUserProcessor`: one person's updates one after another, different people concurrently.
After an update was handled it is marked done; at start-up, whatever was stored but never
marked done (the process died) is handled first. A repeat delivery (the same update id
within `storage.inbox.REPEAT_WINDOW`) is stored once and handled once.

The database going away (a restart, a failover, the network) is an episode, not a crash
(`DatabaseOutage`): whoever meets it first (polling or the webhook storing an update, a
handler, a job) reports it; one warning is logged and a probe pings the database with a
growing wait. Meanwhile polling stops asking Telegram (the offset stays, so Telegram keeps
every update it handed over and the ones after), the webhook answers 503 (Telegram posts the
update again), no update starts, and one that failed half-way is neither apologised for nor
marked done: it waits, and runs again once the database answers (one info line), in each
person's order.

Polling starts where Telegram stands, not from the inbox: the first getUpdates sends no offset
and gets the oldest update Telegram still holds unconfirmed, later calls confirm up to the
last one received. An offset taken from the ids stored would confirm unread every update below
it once ids start again lower after a quiet week (Bot API, Update), or with another token.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from telegram import Update
from telegram.error import Conflict, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationHandlerStop, BaseUpdateProcessor, CallbackContext

from bot import metrics
from bot.senders import sender_key
from storage import inbox
from storage.clock import Clock
from storage.db import SessionFactory, ping, transaction

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
LONG_POLL_SECONDS = 25
# While another process takes this token's updates: first wait, and the longest.
CONFLICT_BACKOFF = (5.0, 60.0)
# While the database is unreachable, it is pinged after these waits: first, and the longest.
OUTAGE_PROBE = (0.5, 5.0)
PING_TIMEOUT = 5.0
# Updates that could not be stored for another reason than an outage: first wait, the longest.
STORE_BACKOFF = (1.0, 30.0)
# A connection error while the database answers a ping (a connection cut by a restart that is
# over, a deadlock, SQLite busy): the update runs again this many times before it counts as
# failed (and the error handler apologises).
RETRIES_WHILE_REACHABLE = 2
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

    With an `outage` (`DatabaseOutage`), no update starts while the database is away, and one
    that met the outage half-way runs again once it is back, before the person's next one; it
    is marked done only then. Stopping during an outage leaves such updates pending in the
    inbox for the next run.
    """

    def __init__(
        self,
        max_concurrent_updates: int = 256,
        on_done: Callable[[Update], Awaitable[None]] | None = None,
        outage: DatabaseOutage | None = None,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: defaultdict[int, int] = defaultdict(int)
        self._on_done = on_done
        self.outage = outage

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = ordering_key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] += 1
        try:
            async with lock:
                handled = await self._handle(update, coroutine)
                # Marked done before the person's next update starts, and with the
                # conversation step this one made (bot.persistence: one transaction).
                if handled and self._on_done is not None and isinstance(update, Update):
                    await self._mark_done(update)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                self._locks.pop(key, None)

    def busy(self, key: int) -> bool:
        """Whether the person (`ordering_key`) has an update being handled or waiting."""
        return key in self._waiting

    async def _handle(self, update: object, coroutine: Awaitable[Any]) -> bool:
        """Runs the update (again, after an outage met half-way); False if it stays pending."""
        outage = self.outage
        if outage is None or not isinstance(update, Update):
            started = time.perf_counter()
            await coroutine
            metrics.observe_update(update, time.perf_counter() - started)
            return True
        if not await outage.wait_up():
            if inspect.iscoroutine(coroutine):
                coroutine.close()  # never started: pending in the inbox for the next run
            return False
        with outage.watching(update):
            started = time.perf_counter()
            await coroutine
            while (again := outage.retry_of(update)) is not None:
                if not await outage.wait_up():
                    return False
                started = time.perf_counter()
                await again(update)
        metrics.observe_update(update, time.perf_counter() - started)
        return True

    async def _mark_done(self, update: Update) -> None:
        assert self._on_done is not None
        tries = 0
        while True:
            try:
                await self._on_done(update)
                return
            except Exception as exc:
                tries += 1
                outage = self.outage
                if outage is None or not connection_lost(exc):
                    raise
                if not await outage.failed(exc) and tries > RETRIES_WHILE_REACHABLE:
                    raise
                if not await outage.wait_up():
                    return  # handled, not marked: the next run handles it again

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


def connection_lost(error: BaseException | None) -> bool:
    """Whether `error` says the database could not be reached or a connection broke: the
    driver's OperationalError and InterfaceError (refused, closed, reset, timed out; on
    PostgreSQL also deadlocks and cancelled statements, on SQLite a busy file: the ping in
    `DatabaseOutage.failed` tells an outage from those), a connection SQLAlchemy found dead,
    or no pooled connection in time. Looks at what `error` was raised from too."""
    for _ in range(5):
        if error is None:
            return False
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
            return True
        error = error.__cause__
    return False


def describe(error: BaseException) -> str:
    """`error`'s type, and its cause's (a database error wraps the driver's), without text:
    a database error's text can quote the values of its statement (an update, a name)."""
    cause = error.__cause__ or getattr(error, "orig", None)
    if cause is None:
        return type(error).__name__
    package = type(cause).__module__.partition(".")[0]
    named = type(cause).__name__ if package == "builtins" else f"{package}.{type(cause).__name__}"
    return f"{type(error).__name__} ({named})"


class DatabaseOutage:
    """The database unreachable: noticed once, waited out, over.

    Whoever meets a connection error (`connection_lost`) reports it with `failed`, which pings
    the database: if the ping fails too, the outage starts (one warning) and a probe pings
    again after a growing wait (`OUTAGE_PROBE`) until the database answers (one info line).
    Until then `wait_up` holds whoever waits: the poller, updates not started yet, and updates
    that met the outage half-way, which the error handler (`on_error`, the first one) keeps
    from apologising and hands back to `PerUserProcessor` to run again. A job or the
    persistence flush that fails meanwhile is silent: its next run does the work.
    """

    def __init__(self, sessions: SessionFactory | None) -> None:
        self._sessions = sessions
        self._up = asyncio.Event()
        self._up.set()
        self._stopping = asyncio.Event()
        self._since = 0.0
        self._probe: asyncio.Task[None] | None = None
        self._running: set[int] = set()  # update ids inside PerUserProcessor now
        self._again: dict[int, Callable[[Update], Awaitable[None]]] = {}
        self._retried: dict[int, int] = {}  # retries while the database answered a ping

    @property
    def down(self) -> bool:
        return not self._up.is_set()

    async def failed(self, error: BaseException) -> bool:
        """A connection error met: True when the database is away (an outage, started now if
        it was not already), False when it answers a ping (the fault has passed)."""
        if self.down:
            return True
        if await self.reachable():
            return False
        if self.down:  # someone else started it while this ping waited
            return True
        self._up.clear()
        self._since = time.monotonic()
        first, longest = OUTAGE_PROBE
        log.warning(
            "database unreachable (%s): holding updates until it answers, confirming none to "
            "Telegram (it keeps them) and marking none done; trying again every %.1f-%.0f s",
            describe(error), first, longest,
        )  # fmt: skip
        self._probe = asyncio.create_task(self._wait_out())
        return True

    async def reachable(self) -> bool:
        """One round trip to the database, given `PING_TIMEOUT` at most."""
        if self._sessions is None:
            return True
        try:
            async with asyncio.timeout(PING_TIMEOUT), self._sessions() as session:
                await ping(session)
        except Exception:
            return False
        return True

    async def _wait_out(self) -> None:
        wait, longest = OUTAGE_PROBE
        while not self._stopping.is_set():
            await _sleep_or_stop(self._stopping, wait)
            if await self.reachable():
                log.info(
                    "database reachable again after %.0f s: handling the updates that waited",
                    time.monotonic() - self._since,
                )
                self._up.set()
                return
            wait = min(wait * 2, longest)

    async def wait_up(self, stop: asyncio.Event | None = None) -> bool:
        """Waits while the database is away; False when stopping first (this process's or
        `stop`)."""
        if not self.down:
            return True
        waits = [
            asyncio.ensure_future(self._up.wait()),
            asyncio.ensure_future(self._stopping.wait()),
        ]
        if stop is not None:
            waits.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()
        return not self.down

    def stop(self) -> None:
        """The process stops: nothing waits for the database any more."""
        self._stopping.set()

    @contextlib.contextmanager
    def watching(self, update: Update) -> Iterator[None]:
        """While `update` runs inside the processor, an outage it meets is retried."""
        self._running.add(update.update_id)
        try:
            yield
        finally:
            self._running.discard(update.update_id)
            self._again.pop(update.update_id, None)
            self._retried.pop(update.update_id, None)

    def retry_of(self, update: Update) -> Callable[[Update], Awaitable[None]] | None:
        """How to run `update` again, when it met an outage (once per meeting)."""
        return self._again.pop(update.update_id, None)

    async def on_error(self, update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
        """The first error handler: a connection error is no failure to apologise for.

        An update inside the processor is handed back to it to run again once the database
        answers (`ApplicationHandlerStop`: no other error handler, no further handler group),
        or at once when it answers now, up to `RETRIES_WHILE_REACHABLE` times. A job or the
        persistence flush during an outage stops here too. Anything else goes on to the next
        error handler (handlers/errors.py: counted, logged, apologised for)."""
        error = context.error
        if not connection_lost(error):
            return
        assert error is not None
        down = await self.failed(error)
        if isinstance(update, Update):
            if update.update_id not in self._running:
                return
            if not down:
                retried = self._retried.get(update.update_id, 0)
                if retried >= RETRIES_WHILE_REACHABLE:
                    return
                self._retried[update.update_id] = retried + 1
            log.debug("update %s met the outage: it runs again", update.update_id)
            self._again[update.update_id] = context.application.process_update
            raise ApplicationHandlerStop
        if down:
            raise ApplicationHandlerStop


class GroupCommit(Generic[T, R]):
    """Group commit: a caller hands an item over and waits until it is committed; the items
    handed over while a commit runs go together in the next one (`commit`: one transaction
    for the list, a result per item), up to `limit` at once. Alone, an item is committed at
    once, as it would be without this; under load, one transaction carries many.

    A batch of several that fails for another reason than a lost connection (an item the
    database refuses) is committed again one item at a time, so only that item's caller sees
    the error, as without batching. A lost connection fails every caller of the batch: each
    handles it as it would its own (the outage, `DatabaseOutage`)."""

    def __init__(self, commit: Callable[[list[T]], Awaitable[list[R]]], limit: int = 100) -> None:
        self._commit = commit
        self._limit = limit
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[: self._limit]
                del self._waiting[: self._limit]
                await self._run(group)
        finally:
            self._flushing = None
            for _, done in self._waiting:  # cancelled: nobody may wait forever
                done.cancel()
            self._waiting = []

    async def _run(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._commit([item for item, _ in group])
        except Exception as exc:
            if len(group) > 1 and not connection_lost(exc):
                for one in group:
                    await self._run([one])
                return
            for _, done in group:
                if not done.done():
                    done.set_exception(exc)
            return
        except BaseException:
            for _, done in group:
                done.cancel()
            raise
        for (_, done), result in zip(group, results, strict=True):
            if not done.done():
                done.set_result(result)


class Inbox:
    """The application's inbox: stores, marks done, replays what was left unfinished.

    A stored update keeps its raw payload (phone numbers, locations, texts) only until it is
    marked done (`storage.inbox.mark_done` clears it in the same UPDATE): replay needs it,
    nothing after that does. The retention job deletes handled rows later.

    A `getUpdates` answer is stored in one transaction and one INSERT (`accept`); webhook posts
    arriving together are too (`accept_one`, by group commit): each is answered once its
    batch committed and its update is queued."""

    def __init__(self, application: Application, sessions: SessionFactory, clock: Clock) -> None:
        self.application = application
        self.sessions = sessions
        self.clock = clock
        processor = application.update_processor
        outage = processor.outage if isinstance(processor, PerUserProcessor) else None
        self.outage = outage or DatabaseOutage(sessions)
        # Ids of updates whose store raised: a connection lost while committing may have
        # stored them all the same, and then their next delivery is no longer new.
        self._unsure: set[int] = set()
        self._stores: GroupCommit[Update, bool] = GroupCommit(self._store)

    async def accept(self, updates: list[Update]) -> int:
        """Stores updates and queues the new ones for handling; returns how many were new."""
        return sum(await self._store(updates))

    async def accept_one(self, update: Update) -> bool:
        """Stores one update with whatever else arrives meanwhile (group commit) and queues it
        if new; returns whether it was new. Returns once it is stored and queued."""
        return await self._stores.submit(update)

    async def _store(self, updates: list[Update]) -> list[bool]:
        """Stores `updates` in one transaction and queues the new ones, in order; says of
        each whether it was new.

        An update whose earlier store raised and which is stored and pending now was stored
        by that attempt after all (its commit's answer was lost with the connection): it is
        queued too, since that attempt queued nothing."""
        ids = [u.update_id for u in updates]
        try:
            async with transaction(self.sessions) as session:
                stored = await inbox.store(
                    session, [u.to_dict() for u in updates], self.clock.now()
                )
                new = set(stored)
                unsure = [i for i in ids if i in self._unsure and i not in new]
                if unsure:
                    new |= set(await inbox.pending_among(session, unsure))
        except BaseException:
            self._unsure.update(ids)
            raise
        self._unsure.difference_update(ids)
        fresh: list[bool] = []
        for update in updates:
            queued = update.update_id in new
            if queued:
                new.discard(update.update_id)  # the same id twice in one batch: queued once
                await self.application.update_queue.put(update)
            fresh.append(queued)
        return fresh

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
    confirmed (those stored before a crash come again and are dropped as repeats).

    Updates that could not be stored are not confirmed: the offset stays, and the next call
    gets them again. While the database is away (`DatabaseOutage`) there is no next call:
    Telegram keeps them, and the ones after, until it answers."""
    bot = box.application.bot
    offset: int | None = None
    backoff = 1.0
    store_backoff = _Backoff(*STORE_BACKOFF)
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
        try:
            await box.accept(list(updates))
        except Exception as exc:
            # Not stored, so not confirmed: the offset stays and Telegram hands them over again.
            lost = connection_lost(exc)
            if lost and await box.outage.failed(exc):
                await box.outage.wait_up(stop)
                continue
            # A connection that broke while the database answers (a warning), or a failure
            # of another kind (an error); either way tried again, with a growing wait.
            again = store_backoff.next()
            log.log(
                logging.WARNING if lost else logging.ERROR,
                "%d updates not stored (%s); asking Telegram for them again in %.0f s",
                len(updates), describe(exc), again,
            )  # fmt: skip
            await _sleep_or_stop(stop, again)
            continue
        store_backoff.reset()
        # Telegram forgets updates below the offset we send next; they are stored by now.
        offset = updates[-1].update_id + 1


class _Backoff:
    """A wait that doubles from `first` up to `longest` until reset."""

    def __init__(self, first: float, longest: float) -> None:
        self.first, self.longest = first, longest
        self.wait = 0.0

    def next(self) -> float:
        self.wait = min(self.wait * 2, self.longest) if self.wait else self.first
        return self.wait

    def reset(self) -> None:
        self.wait = 0.0


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
