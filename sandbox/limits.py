"""Limits and faults: Telegram's flood limits (429 with retry_after) and planned network faults.

`FloodLimits` are the numbers, `FloodGate` keeps the token buckets and refuses a send with 429
as Telegram does; `NetworkFaults` plans lost answers (`ResponseLost`) and refused calls
(`Unreachable`) for the bot's next calls, by method.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.errors import ApiError
from sandbox.records import ChatRecord

# Methods that post a message and so count against the flood limits.
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "copyMessage",
        "forwardMessage",
    }
)


class ResponseLost(Exception):
    """Telegram carried the call out but its answer never reached the bot (a read timeout)."""


class Unreachable(Exception):
    """The call never reached Telegram (connection refused or reset before it was read)."""


@dataclass
class NetworkFaults:
    """Network faults to play on the bot's next calls, by Bot API method name."""

    lose_responses: dict[str, int] = field(default_factory=dict)
    refuse: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def take(plan: dict[str, int], method: str) -> bool:
        """Uses up one planned fault for `method`, if any is left."""
        left = plan.get(method, 0)
        if left <= 0:
            return False
        plan[method] = left - 1
        return True


@dataclass
class FloodLimits:
    """Telegram's outgoing message limits; tests shrink them or turn them off."""

    overall_per_second: float = 30.0
    # Sends with `allow_paid_broadcast` ignore the overall limit and have their own, "up to 1000
    # messages per second" (Bot API, sendMessage); the per-chat limits still hold.
    paid_per_second: float = 1000.0
    private_per_second: float = 1.0
    private_burst: int = 4
    group_per_minute: int = 20
    enabled: bool = True


class _Bucket:
    """A token bucket: `capacity` sends at once, refilled at `rate` per second."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until one send is allowed (0 when allowed now)."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class FloodGate:
    """The flood limits at work: one bucket for every send, one per chat."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, limits: FloodLimits, chat: ChatRecord, *, paid: bool = False) -> None:
        """Uses up one send to `chat`, or raises 429 "retry after N" as Telegram does. A paid
        send (`allow_paid_broadcast`) counts against the paid bucket instead of the overall one.
        """
        if not limits.enabled:
            return
        now = self._clock()
        if paid:
            overall = self._bucket("paid", limits.paid_per_second, limits.paid_per_second)
        else:
            overall = self._bucket("all", limits.overall_per_second, limits.overall_per_second)
        buckets = [overall]
        if chat.is_private:
            rate, burst = limits.private_per_second, float(limits.private_burst)
        else:
            rate, burst = limits.group_per_minute / 60, float(limits.group_per_minute)
        buckets.append(self._bucket(f"chat:{chat.id}", rate, burst))
        wait = max(b.wait(now) for b in buckets)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        for bucket in buckets:
            bucket.take()

    def _bucket(self, key: str, rate: float, capacity: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(rate, capacity, self._clock())
        return bucket
