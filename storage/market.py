"""The market: gift vouchers (기프티콘) bought with points.

An exchange is one transaction: claim one unissued code (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so racing buyers take different codes without waiting on each other; SQLite
serialises writers with BEGIN IMMEDIATE), debit the points through the ledger (refused when
they would go below zero), and tie the code to that ledger entry (unique). Anything failing
rolls the whole exchange back: no charge without a code, no code without a charge. The ledger
reference comes from the confirm button, so a double tap returns the same code, charged once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import ledger, users
from storage.errors import (
    AlreadyRefunded,
    ItemUnavailable,
    MarketError,
    NotAdmin,
    OutOfStock,
    UnknownCode,
)
from storage.models import LedgerEntry, MarketItem, VoucherCode


@dataclass(frozen=True)
class Shelf:
    item: MarketItem
    stock: int


@dataclass(frozen=True)
class Purchase:
    item: MarketItem
    code: str
    balance_after: int
    new: bool  # False when this was a replay of the same confirm (a double tap)


@dataclass(frozen=True)
class LoadResult:
    added: int
    duplicates: list[str]
    items: int


def _available() -> list[object]:
    return [VoucherCode.issued_to.is_(None), VoucherCode.refunded_at.is_(None)]


async def shelves(session: AsyncSession, *, include_empty: bool = False) -> list[Shelf]:
    """Active items with their stock, cheapest first."""
    stock = (
        select(VoucherCode.item_id, func.count().label("n"))
        .where(*_available())  # type: ignore[arg-type]
        .group_by(VoucherCode.item_id)
        .subquery()
    )
    rows = await session.execute(
        select(MarketItem, func.coalesce(stock.c.n, 0))
        .outerjoin(stock, stock.c.item_id == MarketItem.id)
        .where(MarketItem.active)
        .order_by(MarketItem.cost, MarketItem.id)
    )
    found = [Shelf(item, int(n)) for item, n in rows]
    return found if include_empty else [s for s in found if s.stock > 0]


async def item(session: AsyncSession, item_id: int) -> MarketItem:
    found = await session.get(MarketItem, item_id)
    if found is None or not found.active:
        raise ItemUnavailable
    return found


async def exchange(
    session: AsyncSession, *, user_id: int, item_id: int, request: str, now: datetime
) -> Purchase:
    """Spends points on one code. `request` identifies the confirm press (idempotency)."""
    reference = f"exchange:{user_id}:{request}"
    await ledger.lock_account(session, user_id, now)
    replay = await session.scalar(select(LedgerEntry).where(LedgerEntry.reference == reference))
    if replay is not None:
        issued = await session.scalar(
            select(VoucherCode).where(VoucherCode.ledger_entry_id == replay.id)
        )
        sold = await session.get(MarketItem, issued.item_id) if issued else None
        if issued is None or sold is None:
            raise MarketError("a charge without a code")  # the invariant tests guard this
        return Purchase(sold, issued.code, replay.balance_after, new=False)
    wanted = await item(session, item_id)
    code = await session.scalar(
        select(VoucherCode)
        .where(VoucherCode.item_id == item_id, *_available())  # type: ignore[arg-type]
        .order_by(VoucherCode.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if code is None:
        raise OutOfStock
    posting = await ledger.post(
        session, user_id=user_id, amount=-wanted.cost, kind=ledger.EXCHANGE,
        reference=reference, now=now, note=wanted.key,
    )  # fmt: skip
    result = await session.execute(
        update(VoucherCode)
        .where(VoucherCode.id == code.id, VoucherCode.issued_to.is_(None))
        .values(issued_to=user_id, issued_at=now, ledger_entry_id=posting.entry.id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise OutOfStock  # taken meanwhile: the transaction rolls back, nothing is charged
    return Purchase(wanted, code.code, posting.entry.balance_after, new=True)


async def refund(session: AsyncSession, code: str, admin_id: int, now: datetime) -> int:
    """Returns a bad code's points once; the code is taken out of use. Returns the points."""
    if await users.acting_admin(session, admin_id) is None:
        raise NotAdmin
    voucher = await session.scalar(
        select(VoucherCode).where(VoucherCode.code == code).with_for_update()
    )
    if voucher is None or voucher.issued_to is None or voucher.ledger_entry_id is None:
        raise UnknownCode
    if voucher.refunded_at is not None:
        raise AlreadyRefunded
    charge = await session.get(LedgerEntry, voucher.ledger_entry_id)
    assert charge is not None
    await ledger.post(
        session, user_id=voucher.issued_to, amount=-charge.amount, kind=ledger.REFUND,
        reference=f"refund:{voucher.id}", now=now, note=f"bad code {voucher.id}",
        actor_id=admin_id,
    )  # fmt: skip
    voucher.refunded_at = now
    return -charge.amount


def mask(code: str) -> str:
    """How a code appears in history: enough to recognise it, not enough to use it."""
    return code[:4] + "*" * max(0, len(code) - 8) + code[-4:] if len(code) > 8 else "****"


async def issued_codes(session: AsyncSession, entry_ids: Sequence[int]) -> dict[int, str]:
    """The voucher codes issued by these ledger entries (entries without one are left out)."""
    if not entry_ids:
        return {}
    rows = await session.execute(
        select(VoucherCode.ledger_entry_id, VoucherCode.code).where(
            VoucherCode.ledger_entry_id.in_(entry_ids)
        )
    )
    return {int(entry_id): code for entry_id, code in rows if entry_id is not None}


async def load_csv(session: AsyncSession, text: str) -> LoadResult:
    """Loads codes from CSV with the header `item,name_ko,name_en,cost,code`.

    Items are created or updated; a code already known (in the file or the database) is a
    duplicate and refused.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = {"item", "name_ko", "name_en", "cost", "code"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"CSV lacks columns: {', '.join(sorted(missing))}")
    items: dict[str, MarketItem] = {i.key: i for i in await session.scalars(select(MarketItem))}
    known = set(await session.scalars(select(VoucherCode.code)))
    added, duplicates = 0, []
    for line, row in enumerate(reader, start=2):
        key, code = row["item"].strip(), row["code"].strip()
        if not key or not code:
            raise ValueError(f"line {line}: item and code are required")
        cost = int(row["cost"])
        if cost <= 0:
            raise ValueError(f"line {line}: cost must be positive")
        stocked = items.get(key)
        if stocked is None:
            stocked = MarketItem(key=key, name_ko=row["name_ko"], name_en=row["name_en"], cost=cost)
            session.add(stocked)
            await session.flush()
            items[key] = stocked
        else:
            stocked.name_ko, stocked.name_en, stocked.cost = row["name_ko"], row["name_en"], cost
        if code in known:
            duplicates.append(code)
            continue
        known.add(code)
        session.add(VoucherCode(item_id=stocked.id, code=code))
        added += 1
    await session.flush()
    return LoadResult(added, duplicates, len(items))
