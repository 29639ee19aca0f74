"""One outbound budget for every message the bot sends: 30/s overall, 20/min per group,
about 1/s per private chat (Telegram's limits; settings scale them).

`SendBudget` holds token buckets: one overall, one per chat. `BudgetRateLimiter` plugs it into
python-telegram-bot (`ApplicationBuilder.rate_limiter`), so replies and the outbox dispatcher
draw from the same budget; on a 429 it holds the chat for `retry_after` (and everyone briefly,
since Telegram does not say which limit was hit) instead of hammering.

Paid broadcasts (`HALSARAM_OUTBOX_PAID_PER_SECOND`, off by default): Telegram lets a send with
`allow_paid_broadcast` go beyond the 30/s, up to 1,000 messages/s, for 0.1 Stars each (Bot API,
sendMessage). With them allowed (`allow_paid`), a send that says it may pay (the outbox's,
`rate_limit_args={"paid": True}`) goes free while the overall bucket has a token and otherwise
takes one from a second bucket holding the rest of the paid rate, and only then carries
`allow_paid_broadcast`: a quiet day costs nothing, a large fan-out pays for what exceeds 30/s.

Scope: without Redis the budget lives in the process, which is right for one process per bot
token (the default: the dispatcher runs in the bot process). With `HALSARAM_REDIS_URL` the
overall and per-chat buckets live in Redis (`scheduler/shared_budget.py`), so any number of
bot and worker processes share one budget; a 429's hold stays with the process that saw it.
The overall bucket starts empty, so a restarted process never bursts into a spent budget.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
from telegram.error import RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter

from bot.shared_budget import SharedBuckets

Sleep = Callable[[float], Awaitable[None]]
# After a 429 everyone pauses at most this long; the chat itself waits the full retry_after.
EVERYONE_HOLD_MAX = 2.0
# A 429 means Telegram's real limit is lower than ours just now: the overall rate halves (down
# to this floor) and climbs back by this share of the configured rate per message that went
# through (AIMD, as TCP does): from half to full again in 50 messages.
MIN_OVERALL_RATE = 1.0
RATE_STEP_SHARE = 0.01
PRIVATE_BURST = 3.0
# A chat bucket this long idle is full again and forgotten, so memory follows active chats.
FORGET_AFTER = 120.0
# Only requests that put a message in a chat count against the limits.
COUNTED = ("send", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages")
NOT_COUNTED = frozenset({"sendChatAction"})


def maybe_delivered(error: BaseException) -> bool:
    """True when a call failed only in waiting for Telegram's answer (a read timeout): the
    request arrived whole, so Telegram has most likely carried it out and the person has seen
    the message. A connect, write or pool timeout never got the request there.

    python-telegram-bot raises `TimedOut` for every kind and keeps httpx's error as the cause.
    """
    return isinstance(error, TimedOut) and isinstance(error.__cause__, httpx.ReadTimeout)


class _Bucket:
    """`capacity` sends at once, refilled at `rate` per second."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, capacity: float, now: float, tokens: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = tokens
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0 when it is there now)."""
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = max(self.updated, now)
        # The epsilon keeps float rounding from asking for sleeps too short to move time.
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) / self.rate


class SendBudget:
    """Token buckets for the overall rate and each chat; `acquire` waits for both."""

    def __init__(
        self,
        overall_per_second: float = 30.0,
        group_per_minute: int = 20,
        chat_per_second: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        shared: SharedBuckets | None = None,
    ) -> None:
        self.overall_per_second = overall_per_second
        self.group_per_minute = group_per_minute
        self.chat_per_second = chat_per_second
        self._now = monotonic
        self._sleep = sleep
        # Half a second of burst absorbs the dispatcher's pauses between batches, and stays
        # under Telegram's own bucket (about a second's worth) even after a pause.
        self._overall = _Bucket(
            overall_per_second, max(1.0, overall_per_second / 2), monotonic(), 0.0
        )
        self._chats: dict[str, _Bucket] = {}
        self._held: dict[str, float] = {}
        self._everyone_until = 0.0
        self._lock = asyncio.Lock()
        # With Redis, the buckets are shared by every process of this bot (see shared_budget).
        self._shared = shared
        self._paid: _Bucket | None = None
        self.paid_per_second = 0.0

    def allow_paid(self, per_second: float) -> None:
        """Allows paid sends up to `per_second` in all (free ones included); 0 turns them off."""
        extra = per_second - self.overall_per_second
        self.paid_per_second = per_second if extra > 0 else 0.0
        if extra <= 0:
            self._paid = None
            return
        self._paid = _Bucket(extra, max(1.0, extra / 2), self._now(), 0.0)

    def _chat(self, chat: str, now: float) -> _Bucket:
        bucket = self._chats.get(chat)
        if bucket is None:
            if len(self._chats) > 10_000:
                self._forget(now)
            group = chat.startswith("-") or chat.startswith("@")
            rate = self.group_per_minute / 60 if group else self.chat_per_second
            burst = float(self.group_per_minute) if group else PRIVATE_BURST
            bucket = self._chats[chat] = _Bucket(rate, burst, now, burst)
        return bucket

    def _forget(self, now: float) -> None:
        for key in [k for k, b in self._chats.items() if now - b.updated > FORGET_AFTER]:
            del self._chats[key]
        for key in [k for k, until in self._held.items() if until <= now]:
            del self._held[key]

    def chat_wait(self, chat_id: int | str) -> float:
        """Seconds before this chat may get a message (its bucket and any 429 hold)."""
        now = self._now()
        chat = str(chat_id)
        held = max(0.0, self._held.get(chat, 0.0) - now)
        return max(held, self._chat(chat, now).wait(now))

    async def acquire(self, chat_id: int | str | None, *, may_pay: bool = False) -> bool:
        """Waits until one message may go to the chat, and takes it from the budget; returns
        True when it was taken from the paid bucket (the send must carry allow_paid_broadcast).
        """
        if self._shared is not None:
            return await self._acquire_shared(
                None if chat_id is None else str(chat_id), may_pay=may_pay
            )
        chat = None if chat_id is None else str(chat_id)
        while chat is not None and (wait := self.chat_wait(chat)) > 0:
            await self._sleep(wait)
        paid = self._paid if may_pay else None
        # The overall bucket is taken in turn: waiters leave in the order they came.
        async with self._lock:
            while True:
                now = self._now()
                held = self._everyone_until - now
                wait = max(held, self._overall.wait(now))
                if wait <= 0:
                    self._overall.tokens -= 1
                    took_paid = False
                    break
                if paid is not None and held <= 0 and (extra := paid.wait(now)) <= 0:
                    paid.tokens -= 1
                    took_paid = True
                    break
                if paid is not None and held <= 0:
                    wait = min(wait, extra)
                await self._sleep(wait)
        if chat is not None:
            self._chat(chat, self._now()).tokens -= 1
        return took_paid

    async def _acquire_shared(self, chat: str | None, *, may_pay: bool) -> bool:
        assert self._shared is not None
        if chat is not None:
            while (held := self._held.get(chat, 0.0) - self._now()) > 0:
                await self._sleep(held)
            group = chat.startswith(("-", "@"))
            rate = self.group_per_minute / 60 if group else self.chat_per_second
            burst = float(self.group_per_minute) if group else PRIVATE_BURST
            while (wait := await self._shared.take(f"chat:{chat}", rate, burst, burst)) > 0:
                await self._sleep(wait)
        async with self._lock:
            while (pause := self._everyone_until - self._now()) > 0:
                await self._sleep(pause)
            capacity = self._overall.capacity
            paid = self._paid if may_pay else None
            while (wait := await self._shared.take("all", self.rate, capacity, 0)) > 0:
                if paid is not None:
                    extra = await self._shared.take("paid", paid.rate, paid.capacity, 0)
                    if extra <= 0:
                        return True
                    wait = min(wait, extra)
                await self._sleep(wait)
        return False

    def now(self) -> float:
        """The budget's own monotonic clock (tests drive a fake one)."""
        return self._now()

    @property
    def rate(self) -> float:
        """Messages per second overall just now (lower than configured after 429s)."""
        return self._overall.rate

    def sent(self) -> None:
        """A message went through: the overall rate climbs back towards the configured one."""
        step = self.overall_per_second * RATE_STEP_SHARE
        self._overall.rate = min(self.overall_per_second, self._overall.rate + step)
        if self._paid is not None:
            extra = self.paid_per_second - self.overall_per_second
            self._paid.rate = min(extra, self._paid.rate + extra * RATE_STEP_SHARE)

    def hold(self, chat_id: int | str | None, seconds: float) -> None:
        """A 429: the chat waits `seconds`, everyone else a little, and no token is refunded."""
        now = self._now()
        if chat_id is not None:
            chat = str(chat_id)
            self._held[chat] = max(self._held.get(chat, 0.0), now + seconds)
        self._everyone_until = max(self._everyone_until, now + min(seconds, EVERYONE_HOLD_MAX))
        self._overall.wait(now)  # settle the tokens earned at the old rate first
        self._overall.rate = max(MIN_OVERALL_RATE, self._overall.rate / 2)
        if self._paid is not None:
            self._paid.wait(now)
            self._paid.rate = max(MIN_OVERALL_RATE, self._paid.rate / 2)


def counted(endpoint: str) -> bool:
    """Whether a Bot API method puts a message in a chat (and so counts against limits)."""
    return endpoint.startswith(COUNTED) and endpoint not in NOT_COUNTED


# `rate_limit_args` the dispatcher passes: a 429 comes back to it instead of being retried here.
NO_RETRY: dict[str, Any] = {"retry": False}
# ... and with paid broadcasts allowed: a send beyond the free rate goes paid (module docstring).
NO_RETRY_MAY_PAY: dict[str, Any] = {"retry": False, "paid": True}
PAID_FLAG = "allow_paid_broadcast"
# The round trip is the median of this many latest calls (`BudgetRateLimiter.round_trip`): a
# moment the event loop was busy elsewhere (a claim, a commit) does not count as the network.
ROUND_TRIPS_KEPT = 64


class BudgetRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """python-telegram-bot's hook into `SendBudget`: every request waits for its turn."""

    def __init__(self, budget: SendBudget, patience: float = 120.0) -> None:
        self.budget = budget
        # A reply keeps being retried after 429s for this long, so a storm delays it
        # rather than losing it (the person's later updates wait behind it in order).
        self.patience = patience
        self.throttled = 0  # 429 responses seen, for logs and the benchmark
        self.paid = 0  # sends that went with allow_paid_broadcast (0.1 Stars each)
        # Seconds the latest counted calls took once let through: the outbox sizes its
        # concurrency from their median (scheduler/outbox.py).
        self._round_trips: deque[float] = deque(maxlen=ROUND_TRIPS_KEPT)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Waits for the budget, sends, and on a 429 holds the chat (retrying replies)."""
        limited = counted(endpoint)
        chat_id = data.get("chat_id") if limited else None
        retry = not rate_limit_args or rate_limit_args.get("retry", True)
        may_pay = limited and bool(rate_limit_args and rate_limit_args.get("paid"))
        give_up = self.budget.now() + self.patience
        while True:
            if limited:
                # A paid token puts the flag into the request's parameters (`data` is the dict
                # the callback sends); a retry after a 429 asks again.
                if await self.budget.acquire(chat_id, may_pay=may_pay):
                    data[PAID_FLAG] = True
                    self.paid += 1
                elif may_pay:
                    data.pop(PAID_FLAG, None)
            started = time.monotonic()
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.throttled += 1
                seconds = exc.retry_after
                wait = seconds.total_seconds() if not isinstance(seconds, int | float) else seconds
                self.budget.hold(chat_id, float(wait))
                if not retry or self.budget.now() + float(wait) > give_up:
                    raise
                continue
            if limited:
                self.budget.sent()
                self._round_trips.append(time.monotonic() - started)
            return result

    @property
    def round_trip(self) -> float | None:
        """Seconds a send takes once the budget let it through (median; None before any)."""
        return statistics.median(self._round_trips) if self._round_trips else None


def budget_of(bot: object) -> SendBudget | None:
    """The budget behind a bot's rate limiter, when it is ours (in-process tests have none)."""
    limiter = getattr(bot, "rate_limiter", None)
    return limiter.budget if isinstance(limiter, BudgetRateLimiter) else None
