"""Points are money: every change is one entry, a reference pays once, no balance below zero,
and the sum of entries equals the balance, under real concurrency, on both databases."""

from __future__ import annotations

import asyncio

import pytest

from storage import errors, ledger
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction
from storage.models import User


async def _people(sessions: SessionFactory, clock: FrozenClock, *ids: int) -> None:
    async with transaction(sessions) as s:
        s.add_all(User(id=i, created_at=clock.now(), interests=[], preferred_times=[]) for i in ids)


async def test_a_reward_pays_once_per_reference(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock, 1)
    for _ in range(3):  # an approval pressed three times
        async with transaction(sessions) as s:
            posting = await ledger.post(s, user_id=1, amount=150, kind=ledger.REWARD,
                                        reference="evidence:7", now=clock.now())  # fmt: skip
    assert not posting.created
    async with sessions() as s:
        assert await ledger.balance(s, 1) == 150
        assert [e.reference for e in await ledger.history(s, 1)] == ["evidence:7"]
        assert await ledger.invariant_violations(s) == []


async def test_a_reference_cannot_be_reused_for_another_change(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock, 1, 2)
    async with transaction(sessions) as s:
        await ledger.post(s, user_id=1, amount=100, kind=ledger.REWARD, reference="evidence:1",
                          now=clock.now())  # fmt: skip
    with pytest.raises(errors.ReferenceConflict):
        async with transaction(sessions) as s:
            await ledger.post(s, user_id=2, amount=100, kind=ledger.REWARD,
                              reference="evidence:1", now=clock.now())  # fmt: skip
    async with sessions() as s:
        assert await ledger.balance(s, 2) == 0


async def test_no_overdraw_and_nothing_half_done(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock, 1)
    async with transaction(sessions) as s:
        await ledger.post(s, user_id=1, amount=50, kind=ledger.REWARD, reference="r1",
                          now=clock.now())  # fmt: skip
    with pytest.raises(errors.InsufficientPoints):
        async with transaction(sessions) as s:
            await ledger.post(s, user_id=1, amount=-80, kind=ledger.EXCHANGE, reference="x1",
                              now=clock.now())  # fmt: skip
    async with sessions() as s:
        assert await ledger.balance(s, 1) == 50
        assert len(await ledger.history(s, 1)) == 1


async def test_concurrent_spends_never_overdraw(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock, 1)
    async with transaction(sessions) as s:
        await ledger.post(s, user_id=1, amount=1000, kind=ledger.REWARD, reference="seed",
                          now=clock.now())  # fmt: skip

    async def spend(n: int) -> bool:
        try:
            async with transaction(sessions) as s:
                await ledger.post(s, user_id=1, amount=-100, kind=ledger.EXCHANGE,
                                  reference=f"spend:{n}", now=clock.now())  # fmt: skip
            return True
        except errors.InsufficientPoints:
            return False

    results = await asyncio.gather(*(spend(n) for n in range(25)))
    assert results.count(True) == 10
    async with sessions() as s:
        assert await ledger.balance(s, 1) == 0
        assert await ledger.invariant_violations(s) == []


async def test_two_approvals_at_once_pay_once(sessions: SessionFactory, clock: FrozenClock) -> None:
    await _people(sessions, clock, 1)

    async def approve() -> bool:
        try:
            async with transaction(sessions) as s:
                posting = await ledger.post(s, user_id=1, amount=120, kind=ledger.REWARD,
                                            reference="evidence:9", now=clock.now())  # fmt: skip
                return posting.created
        except errors.ReferenceConflict:
            return False

    results = await asyncio.gather(*(approve() for _ in range(8)))
    assert results.count(True) == 1
    async with sessions() as s:
        assert await ledger.balance(s, 1) == 120
        assert await ledger.invariant_violations(s) == []
