"""The points ledger: every change of points is one append-only entry with a unique reference,
and the balance moves in the same transaction.

Rules, enforced here and in the database: a reference posts once (`evidence:42` can never pay
twice); a balance never goes below zero (a conditional UPDATE, so two spends racing cannot both
pass, plus a CHECK constraint); the sum of a user's entries equals their balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InsufficientPoints, ReferenceConflict
from storage.models import LEDGER_KINDS, Balance, LedgerEntry

REWARD, EXCHANGE, REFUND, ADJUSTMENT, BONUS = LEDGER_KINDS


@dataclass(frozen=True)
class Posting:
    entry: LedgerEntry
    created: bool  # False when the reference had already posted (a replay, a double tap)


async def _ensure_balance_row(session: AsyncSession, user_id: int, now: datetime) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(Balance)
        .values(user_id=user_id, points=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )


async def lock_account(session: AsyncSession, user_id: int, now: datetime) -> None:
    """Holds the user's balance row for this transaction, so one person's operations run one
    after another (a double tap waits for the first and then sees it done)."""
    await _ensure_balance_row(session, user_id, now)
    await session.execute(
        select(Balance.user_id).where(Balance.user_id == user_id).with_for_update()
    )


async def post(
    session: AsyncSession,
    *,
    user_id: int,
    amount: int,
    kind: str,
    reference: str,
    now: datetime,
    note: str | None = None,
    actor_id: int | None = None,
) -> Posting:
    """Adds (or, negative, takes) points once per reference.

    Raises `InsufficientPoints` when a debit would overdraw. Two transactions posting the same
    reference at once: the second fails on the unique reference and rolls back whole.
    """
    if amount == 0:
        raise ValueError("a ledger entry moves points")
    if kind not in LEDGER_KINDS:
        raise ValueError(f"unknown ledger kind {kind!r}")
    existing = await session.scalar(select(LedgerEntry).where(LedgerEntry.reference == reference))
    if existing is not None:
        if (existing.user_id, existing.amount, existing.kind) != (user_id, amount, kind):
            raise ReferenceConflict(reference)
        return Posting(existing, created=False)
    await _ensure_balance_row(session, user_id, now)
    # The WHERE makes the overdraw check and the change one atomic step: no read-then-write.
    result = await session.execute(
        update(Balance)
        .where(Balance.user_id == user_id, Balance.points + amount >= 0)
        .values(points=Balance.points + amount, updated_at=now)
        .returning(Balance.points)
    )
    balance_after = result.scalar_one_or_none()
    if balance_after is None:
        raise InsufficientPoints
    entry = LedgerEntry(
        user_id=user_id, amount=amount, balance_after=balance_after, kind=kind,
        reference=reference, note=note, actor_id=actor_id, created_at=now,
    )  # fmt: skip
    session.add(entry)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ReferenceConflict(reference) from exc
    return Posting(entry, created=True)


async def balance(session: AsyncSession, user_id: int) -> int:
    return int(await session.scalar(select(Balance.points).where(Balance.user_id == user_id)) or 0)


async def lifetime_earned(session: AsyncSession, user_id: int) -> int:
    """Points ever earned (rewards and bonuses), which levels are based on."""
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.user_id == user_id,
                LedgerEntry.kind.in_((REWARD, BONUS)),
            )
        )
        or 0
    )


async def history(
    session: AsyncSession, user_id: int, *, limit: int = 10, offset: int = 0
) -> list[LedgerEntry]:
    rows = await session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.user_id == user_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows)


async def invariant_violations(session: AsyncSession) -> list[int]:
    """Users whose balance differs from the sum of their entries (must always be empty)."""
    sums = (
        select(LedgerEntry.user_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.user_id)
        .subquery()
    )
    rows = await session.execute(
        select(Balance.user_id)
        .outerjoin(sums, sums.c.user_id == Balance.user_id)
        .where(func.coalesce(sums.c.total, 0) != Balance.points)
    )
    orphans = await session.execute(
        select(sums.c.user_id)
        .outerjoin(Balance, Balance.user_id == sums.c.user_id)
        .where(Balance.user_id.is_(None))
    )
    return [r[0] for r in rows] + [r[0] for r in orphans]
