"""Paid broadcasts (issue 24, `HALSARAM_OUTBOX_PAID_PER_SECOND`): a send that may pay goes free
while the free 30/s allows and paid beyond it, up to the paid rate in all; only a paid one
carries `allow_paid_broadcast` (0.1 Stars). The sandbox lets paid sends past the 30/s as
Telegram does, and no further than its 1,000/s. Time here is fake: it moves when the budget
sleeps."""

from __future__ import annotations

from typing import Any

import pytest

from bot.transport import NO_RETRY, NO_RETRY_MAY_PAY, PAID_FLAG, BudgetRateLimiter
from sandbox.errors import ApiError
from sandbox.limits import FloodGate, FloodLimits
from sandbox.records import ChatRecord
from tests.test_ratelimit import FakeTime, budget


async def test_paid_sends_fill_what_the_free_rate_leaves_up_to_the_paid_rate() -> None:
    clock = FakeTime()
    paced = budget(clock, overall_per_second=30.0)
    paced.allow_paid(1000.0)
    paid = [await paced.acquire(-n - 1, may_pay=True) for n in range(2000)]
    # 2,000 messages at 1,000/s in all (starting empty): about two seconds, ~60 of them free.
    assert 1.9 <= clock.now <= 2.1
    assert 40 <= paid.count(False) <= 80 and paid.count(True) == 2000 - paid.count(False)


async def test_without_paying_the_free_rate_holds_and_nothing_is_paid() -> None:
    clock = FakeTime()
    paced = budget(clock, overall_per_second=30.0)
    paced.allow_paid(1000.0)
    paid = [await paced.acquire(-n - 1) for n in range(300)]  # a reply, say: may not pay
    assert 9.9 <= clock.now <= 10.1 and not any(paid)
    off = budget(FakeTime(), overall_per_second=30.0)  # the default: paid broadcasts off
    assert not any([await off.acquire(-n - 1, may_pay=True) for n in range(60)])


async def test_only_a_paid_send_carries_the_flag() -> None:
    clock = FakeTime()
    paced = budget(clock, overall_per_second=30.0)
    paced.allow_paid(1000.0)
    limiter = BudgetRateLimiter(paced)
    flags: list[bool] = []

    async def send(endpoint: str, data: dict[str, Any]) -> dict[str, Any]:
        flags.append(bool(data.get(PAID_FLAG)))
        return {"message_id": 1}

    for n in range(100):
        data = {"chat_id": -n - 1, "text": "hi"}
        await limiter.process_request(send, ("sendMessage", data), {}, "sendMessage", data,
                                      NO_RETRY_MAY_PAY)  # fmt: skip
    assert flags.count(True) == limiter.paid > 80  # the free bucket starts empty
    data = {"chat_id": -1, "text": "hi"}
    await limiter.process_request(send, ("sendMessage", data), {}, "sendMessage", data, NO_RETRY)
    assert flags[-1] is False  # not allowed to pay: waits for a free token


def test_the_sandbox_lets_paid_sends_past_the_free_limit_and_not_past_their_own() -> None:
    now = [0.0]
    gate = FloodGate(lambda: now[0])
    limits = FloodLimits(overall_per_second=30.0, paid_per_second=100.0)

    def group(n: int) -> ChatRecord:
        return ChatRecord({"id": -n - 1, "type": "supergroup", "title": "g"}, members=[1])

    for n in range(30):
        gate.take(limits, group(n))
    with pytest.raises(ApiError) as free:
        gate.take(limits, group(30))
    assert free.value.code == 429
    for n in range(100):
        gate.take(limits, group(100 + n), paid=True)
    with pytest.raises(ApiError) as paid:
        gate.take(limits, group(300), paid=True)
    assert paid.value.code == 429
