"""The figures `/metrics` reads from the database at scrape time (so every process reports the
shared truth): backlogs and their ages, photos waiting for checks, points paid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import inbox, outbox
from storage.models import Evidence, LedgerEntry


@dataclass(frozen=True)
class Figures:
    inbox_waiting: int
    inbox_oldest_seconds: float
    outbox_waiting: int
    outbox_oldest_seconds: float
    outbox_throttled: int  # waiting notices last refused with 429
    verification_queue: int  # photos received or being checked
    points_paid: int  # mission points paid, all time


async def figures(session: AsyncSession, now: datetime) -> Figures:
    inbox_waiting, inbox_age = await inbox.backlog(session, now)
    outbox_waiting, outbox_age = await outbox.backlog(session, now)
    throttled = await outbox.throttled(session)
    checking = await session.scalar(
        select(func.count())
        .select_from(Evidence)
        .where(Evidence.status.in_(("received", "checking")))
    )
    paid = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.kind == "reward")
    )
    return Figures(
        inbox_waiting=inbox_waiting,
        inbox_oldest_seconds=inbox_age,
        outbox_waiting=outbox_waiting,
        outbox_oldest_seconds=outbox_age,
        outbox_throttled=throttled,
        verification_queue=int(checking or 0),
        points_paid=int(paid or 0),
    )
