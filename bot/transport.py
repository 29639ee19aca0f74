"""One outbound budget for every message the bot sends: 30/s overall, 20/min per group,
about 1/s per private chat (Telegram's limits; settings scale them).

`SendBudget` holds token buckets: one overall, one per chat. `BudgetRateLimiter` plugs it into
python-telegram-bot (`ApplicationBuilder.rate_limiter`), so replies and the outbox dispatcher
draw from the same budget; on a 429 it holds the chat for `retry_after` (and everyone briefly,
since Telegram does not say which limit was hit) instead of hammering.

Scope: without Redis the budget lives in the process, which is right for one process per bot
token (the default: the dispatcher runs in the bot process). With `HALSARAM_REDIS_URL` the
overall and per-chat buckets live in Redis (`scheduler/shared_budget.py`), so any number of
bot and worker processes share one budget; a 429's hold stays with the process that saw it.
The overall bucket starts empty, so a restarted process never bursts into a spent budget.
"""

from __future__ import annotations

import asyncio
import time
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

    async def acquire(self, chat_id: int | str | None) -> None:
        """Waits until one message may go to the chat, and takes it from the budget."""
        if self._shared is not None:
            await self._acquire_shared(None if chat_id is None else str(chat_id))
            return
        chat = None if chat_id is None else str(chat_id)
        while chat is not None and (wait := self.chat_wait(chat)) > 0:
            await self._sleep(wait)
        # The overall bucket is taken in turn: waiters leave in the order they came.
        async with self._lock:
            while True:
                now = self._now()
                wait = max(self._everyone_until - now, self._overall.wait(now))
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._overall.tokens -= 1
        if chat is not None:
            self._chat(chat, self._now()).tokens -= 1

    async def _acquire_shared(self, chat: str | None) -> None:
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
            while (wait := await self._shared.take("all", self.rate, capacity, 0)) > 0:
                await self._sleep(wait)

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

    def hold(self, chat_id: int | str | None, seconds: float) -> None:
        """A 429: the chat waits `seconds`, everyone else a little, and no token is refunded."""
        now = self._now()
        if chat_id is not None:
            chat = str(chat_id)
            self._held[chat] = max(self._held.get(chat, 0.0), now + seconds)
        self._everyone_until = max(self._everyone_until, now + min(seconds, EVERYONE_HOLD_MAX))
        self._overall.wait(now)  # settle the tokens earned at the old rate first
        self._overall.rate = max(MIN_OVERALL_RATE, self._overall.rate / 2)


def counted(endpoint: str) -> bool:
    """Whether a Bot API method puts a message in a chat (and so counts against limits)."""
    return endpoint.startswith(COUNTED) and endpoint not in NOT_COUNTED


# `rate_limit_args` the dispatcher passes: a 429 comes back to it instead of being retried here.
NO_RETRY: dict[str, Any] = {"retry": False}


class BudgetRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """python-telegram-bot's hook into `SendBudget`: every request waits for its turn."""

    def __init__(self, budget: SendBudget, patience: float = 120.0) -> None:
        self.budget = budget
        # A reply keeps being retried after 429s for this long, so a storm delays it
        # rather than losing it (the person's later updates wait behind it in order).
        self.patience = patience
        self.throttled = 0  # 429 responses seen, for logs and the benchmark

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
        give_up = self.budget.now() + self.patience
        while True:
            if limited:
                await self.budget.acquire(chat_id)
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
            return result


def budget_of(bot: object) -> SendBudget | None:
    """The budget behind a bot's rate limiter, when it is ours (in-process tests have none)."""
    limiter = getattr(bot, "rate_limiter", None)
    return limiter.budget if isinstance(limiter, BudgetRateLimiter) else None
