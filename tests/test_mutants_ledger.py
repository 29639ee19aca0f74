"""The ledger's details pinned down (issue 22, `make mutation`): each test here kills mutants of
storage/ledger.py that tests/test_ledger.py let live — the invariant check finding each kind
of broken account, what an entry records, the replay's answer, the refusals' reasons, the
history's order and pages, and which entries count as earned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from storage import errors, ledger
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction
from storage.models import Balance, LedgerEntry, User


async def _people(sessions: SessionFactory, clock: FrozenClock, *ids: int) -> None:
    async with transaction(sessions) as s:
        s.add_all(User(id=i, created_at=clock.now(), interests=[], preferred_times=[]) for i in ids)


async def _post(sessions: SessionFactory, clock: FrozenClock, user_id: int, amount: int,
                kind: str, reference: str) -> ledger.Posting:  # fmt: skip
    async with transaction(sessions) as s:
        return await ledger.post(
            s, user_id=user_id, amount=amount, kind=kind, reference=reference, now=clock.now()
        )


async def test_the_invariant_check_names_every_broken_account(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    # 1 sound; 2 a balance changed behind the ledger's back; 3 a balance with no entries;
    # 4 entries with no balance row; 5 a balance row of 0 and no entries (sound).
    await _people(sessions, clock, 1, 2, 3, 4, 5)
    for user_id in (1, 2, 4):
        await _post(sessions, clock, user_id, 40, ledger.REWARD, f"r:{user_id}")
    async with transaction(sessions) as s:
        await s.execute(update(Balance).where(Balance.user_id == 2).values(points=45))
        s.add(Balance(user_id=3, points=7, updated_at=clock.now()))
        await s.execute(delete(Balance).where(Balance.user_id == 4))
        await ledger.lock_account(s, 5, clock.now())
    async with sessions() as s:
        assert sorted(await ledger.invariant_violations(s)) == [2, 3, 4]


async def test_an_entry_records_who_why_and_when_and_moves_the_balance(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock, 1)
    await _post(sessions, clock, 1, 100, ledger.REWARD, "r:1")
    later = clock.now() + timedelta(hours=2)
    async with transaction(sessions) as s:
        posting = await ledger.post(
            s, user_id=1, amount=-30, kind=ledger.ADJUSTMENT, reference="adj:1", now=later,
            note="a correction", actor_id=99,
        )  # fmt: skip
    entry = posting.entry
    assert posting.created is True
    assert (entry.user_id, entry.amount, entry.balance_after, entry.kind) == (
        1, -30, 70, ledger.ADJUSTMENT,
    )  # fmt: skip
    assert (entry.reference, entry.note, entry.actor_id) == ("adj:1", "a correction", 99)
    async with sessions() as s:
        row = await s.get(Balance, 1)
        assert row is not None and row.points == 70
        assert row.updated_at.replace(tzinfo=None) == later.replace(tzinfo=None)


async def test_a_replay_answers_with_the_first_entry(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock, 1)
    first = await _post(sessions, clock, 1, 1, ledger.REWARD, "evidence:5")  # one point moves
    again = await _post(sessions, clock, 1, 1, ledger.REWARD, "evidence:5")
    assert first.created is True and again.created is False
    assert again.entry is not None and again.entry.id == first.entry.id


async def test_refusals_say_what_was_wrong(sessions: SessionFactory, clock: FrozenClock) -> None:
    await _people(sessions, clock, 1, 2)
    with pytest.raises(ValueError, match=r"^a ledger entry moves points$"):
        await _post(sessions, clock, 1, 0, ledger.REWARD, "zero")
    with pytest.raises(ValueError, match=r"^unknown ledger kind 'gift'$"):
        await _post(sessions, clock, 1, 5, "gift", "gift:1")
    await _post(sessions, clock, 1, 5, ledger.REWARD, "evidence:1")
    with pytest.raises(errors.ReferenceConflict) as conflict:
        await _post(sessions, clock, 2, 5, ledger.REWARD, "evidence:1")
    assert conflict.value.reason == "evidence:1"
    async with sessions() as s:
        assert await s.scalar(select(LedgerEntry.id).where(LedgerEntry.reference == "zero")) is None


async def test_a_reference_posted_meanwhile_is_a_conflict_at_the_insert(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """The unique reference is the last guard: a same reference not yet visible to the check
    (here: pending in the same session, as a racing transaction's would be) fails the flush."""
    await _people(sessions, clock, 1)
    with pytest.raises(errors.ReferenceConflict) as conflict:
        async with transaction(sessions) as s:
            with s.no_autoflush:
                s.add(LedgerEntry(user_id=1, amount=5, balance_after=5, kind=ledger.REWARD,
                                  reference="evidence:9", created_at=clock.now()))  # fmt: skip
                await ledger.post(s, user_id=1, amount=5, kind=ledger.REWARD,
                                  reference="evidence:9", now=clock.now())  # fmt: skip
    assert conflict.value.reason == "evidence:9"


async def test_history_is_newest_first_ten_a_page(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock, 1, 2)
    for n in range(12):
        await _post(sessions, clock, 1, n + 1, ledger.REWARD, f"r:{n}")
    await _post(sessions, clock, 2, 500, ledger.REWARD, "other")
    async with sessions() as s:
        page = [e.reference for e in await ledger.history(s, 1)]
        assert page == [f"r:{n}" for n in range(11, 1, -1)]
        assert [e.reference for e in await ledger.history(s, 1, limit=3, offset=10)] == [
            "r:1", "r:0",
        ]  # fmt: skip


async def test_lifetime_earned_counts_rewards_and_bonuses_only(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people(sessions, clock, 1, 2, 3)
    for amount, kind, reference in [
        (100, ledger.REWARD, "r"), (50, ledger.BONUS, "b"), (-30, ledger.EXCHANGE, "x"),
        (20, ledger.REFUND, "f"), (-10, ledger.ADJUSTMENT, "a"),
    ]:  # fmt: skip
        await _post(sessions, clock, 1, amount, kind, reference)
    await _post(sessions, clock, 2, 999, ledger.REWARD, "other")
    async with sessions() as s:
        assert await ledger.lifetime_earned(s, 1) == 150
        assert await ledger.lifetime_earned(s, 3) == 0
