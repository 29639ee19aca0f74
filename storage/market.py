"""The market: gift vouchers (기프티콘) bought with points.

An exchange is one transaction: claim one unissued code (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so racing buyers take different codes without waiting on each other; SQLite
serialises writers with BEGIN IMMEDIATE), debit the points through the ledger (refused when
they would go below zero), and tie the code to that ledger entry (unique). Anything failing
rolls the whole exchange back: no charge without a code, no code without a charge. The ledger
reference comes from the confirm button, so a double tap returns the same code, charged once.

The message that carries a code is an outbox notice ("voucher_issued", values: the voucher's
id, never the code), queued in the exchange's own transaction: it is retried until Telegram
takes it, whatever happens to the reply after the commit. Every handling of a press of the
confirm button (the first, a repeat press, the same update handled again after a crash) and
every press of "show code" in `/vouchers` sends the code once more (`_send_code`), except
that a copy still waiting to go out is sent now instead of a new one, and a copy that went out
moments ago answers the other presses of a burst of taps too (`RESEND_QUIET`).

Also the read models of `/points` (balance, level, a page of history), `/market` (shelves
and balance) and `/vouchers` (the person's codes), each read in one session.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import ledger, outbox, progress, users
from storage.accounts import require_may_act, require_user
from storage.entries import UNKNOWN, Source, sources
from storage.errors import (
    AlreadyRefunded,
    ItemUnavailable,
    MarketError,
    NotAdmin,
    OutOfStock,
    OwnVoucher,
    UnknownCode,
)
from storage.models import LedgerEntry, MarketItem, OutboxMessage, VoucherCode

# The outbox notice that carries a voucher's code to its owner (rendered in ui/notices.py, sent
# with protect_content and retried until delivered: scheduler/outbox.py, bot/sending.py).
CODE_NOTICE: outbox.NoticeKind = "voucher_issued"
# A copy of a code sent this recently answers the other presses of the same burst of taps (they
# were made before the person could see it); a press after that gets a copy of its own.
RESEND_QUIET = timedelta(seconds=5)
# A copy claimed for sending this long ago and not recorded was most likely lost with the worker
# that claimed it (the dispatcher retries it only after `outbox_stale_seconds`): a press then
# gets a copy of its own instead of waiting for it.
STUCK = timedelta(seconds=30)


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
    voucher_id: int
    # The outbox key of the copy of the code this press sends now; None when a copy that went
    # out moments ago answers this press too (a burst of taps).
    notice: str | None


@dataclass(frozen=True)
class Storefront:
    """What `/market` shows one person: the shelves and their balance."""

    shelves: list[Shelf]
    balance: int


@dataclass(frozen=True)
class Offer:
    """An item pressed in the market, and what the person can spend."""

    item: MarketItem
    balance: int


@dataclass(frozen=True)
class HistoryLine:
    amount: int
    kind: str  # ledger.REWARD, EXCHANGE, …
    at: datetime
    code: str | None  # the voucher code this entry bought, if any
    # What it was for: which mission and meetup, which decision, which voucher (issue 23).
    source: Source = UNKNOWN


@dataclass(frozen=True)
class PointsPage:
    """One page of `/points`: balance, level, and history lines newest first."""

    balance: int
    earned: int  # points ever earned, which the level is based on
    level: int
    page: int
    lines: list[HistoryLine]
    older: bool  # more entries beyond this page
    # Codes the person holds, refunded ones not counted (the "My vouchers" button shows when
    # any; /vouchers itself still lists refunded codes, marked).
    vouchers: int = 0


@dataclass(frozen=True)
class Voucher:
    """One code a person bought, as `/vouchers` lists it (the list shows it masked)."""

    id: int
    name_ko: str
    name_en: str
    code: str
    issued_at: datetime
    refunded: bool


@dataclass(frozen=True)
class VoucherPage:
    """One page of `/vouchers`, newest first."""

    vouchers: list[Voucher]
    page: int
    offset: int  # how many newer codes come before this page
    older: bool  # more codes beyond this page


@dataclass(frozen=True)
class LoadResult:
    added: int
    duplicates: list[str]
    items: int  # how many items the file named


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


async def storefront(session: AsyncSession, user_id: int) -> Storefront:
    """`/market` for this person (admins also see items out of stock); raises `NotRegistered`
    for someone without an account."""
    user = await require_user(session, user_id)
    found = await shelves(session, include_empty=user.is_admin)
    return Storefront(found, await ledger.balance(session, user_id))


async def offer(session: AsyncSession, user_id: int, item_id: int) -> Offer:
    """An item and the person's balance, for the confirm card (`ItemUnavailable` if gone)."""
    return Offer(await item(session, item_id), await ledger.balance(session, user_id))


async def points(session: AsyncSession, user_id: int, *, page: int, size: int) -> PointsPage:
    """A page of `/points` (page 0 is the newest); raises `NotRegistered` without an account."""
    await require_user(session, user_id)
    balance = await ledger.balance(session, user_id)
    earned = await ledger.lifetime_earned(session, user_id)
    entries = await ledger.history(session, user_id, limit=size + 1, offset=page * size)
    shown = entries[:size]
    codes = await issued_codes(session, [e.id for e in shown])
    why = await sources(session, shown)
    lines = [HistoryLine(e.amount, e.kind, e.created_at, codes.get(e.id), why[e.id]) for e in shown]
    level = progress.level_for(earned)
    held = await session.scalar(
        select(func.count())
        .select_from(VoucherCode)
        .where(VoucherCode.issued_to == user_id, VoucherCode.refunded_at.is_(None))
    )
    return PointsPage(
        balance, earned, level, page, lines, older=len(entries) > size, vouchers=int(held or 0)
    )


async def vouchers(session: AsyncSession, user_id: int, *, page: int, size: int) -> VoucherPage:
    """A page of the person's codes, newest first (`NotRegistered` without an account)."""
    await require_user(session, user_id)
    rows = await session.execute(
        select(VoucherCode, MarketItem)
        .join(MarketItem, MarketItem.id == VoucherCode.item_id)
        .where(VoucherCode.issued_to == user_id)
        .order_by(VoucherCode.issued_at.desc(), VoucherCode.id.desc())
        .limit(size + 1)
        .offset(page * size)
    )
    found = [_voucher(code, item) for code, item in rows]
    return VoucherPage(found[:size], page, page * size, older=len(found) > size)


def _voucher(code: VoucherCode, item: MarketItem) -> Voucher:
    assert code.issued_at is not None
    refunded = code.refunded_at is not None
    return Voucher(code.id, item.name_ko, item.name_en, code.code, code.issued_at, refunded)


async def reveal(
    session: AsyncSession, *, user_id: int, voucher_id: int, press: str, now: datetime
) -> str | None:
    """The "show code" button of `/vouchers`: queues a copy of the code for its owner and
    returns its outbox key (None when a copy went out moments ago). Someone else's code, or
    one that does not exist, is `UnknownCode`; a refunded one `AlreadyRefunded`."""
    await require_user(session, user_id)
    voucher = await session.get(VoucherCode, voucher_id)
    if voucher is None or voucher.issued_to != user_id:
        raise UnknownCode
    if voucher.refunded_at is not None:
        raise AlreadyRefunded
    return await _send_code(
        session, user_id=user_id, voucher_id=voucher_id, press=press, now=now, quiet=False
    )


async def code_notice_values(session: AsyncSession, voucher_id: int) -> dict[str, Any] | None:
    """What a "voucher_issued" notice is drawn with, read when it is sent (the outbox keeps
    only the voucher's id): the code and the item's names. None if the code is gone."""
    row = (
        await session.execute(
            select(VoucherCode.code, MarketItem.name_ko, MarketItem.name_en)
            .join(MarketItem, MarketItem.id == VoucherCode.item_id)
            .where(VoucherCode.id == voucher_id)
        )
    ).first()
    return None if row is None else {"code": row.code, "name_ko": row.name_ko,
                                       "name_en": row.name_en}  # fmt: skip


def _press_key(voucher_id: int, press: str) -> str:
    """The outbox key of the first copy a press sends (a long or odd press id is hashed)."""
    if len(press) > 40 or not press.replace("-", "").replace("_", "").isalnum():
        press = sha256(press.encode()).hexdigest()[:32]
    return f"voucher:{voucher_id}:{press}"


async def _send_code(
    session: AsyncSession, *, user_id: int, voucher_id: int, press: str, now: datetime,
    first: bool = False, quiet: bool = True,
) -> str | None:  # fmt: skip
    """Queues one more copy of a code for its owner, for one handling of one press, and
    returns the key of the copy to send now (None: the copy that went out moments ago answers
    this press too).

    - `first` (the purchase itself): a new copy, always.
    - A copy still waiting to go out (pending, or being sent since less than `STUCK`): that
      one, due now; no other.
    - With `quiet` (a press of the confirm card), this press never had a copy, and one went
      out within `RESEND_QUIET`: none (a burst of taps on one card gets one message).
    - Otherwise a new copy: a repeat press, a "show code", or the same update handled again
      after a crash (which shows the same message again, as its first handling did).
    """
    own = _press_key(voucher_id, press)
    if not first:
        copies = OutboxMessage.dedupe_key.startswith(f"voucher:{voucher_id}:")
        waiting = await session.scalar(
            select(OutboxMessage)
            .where(
                copies,
                or_(
                    OutboxMessage.status == "pending",
                    and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at > now - STUCK),
                ),
            )
            .order_by(OutboxMessage.id)
            .limit(1)
        )
        if waiting is not None:  # sent now, not at its retry time
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == waiting.id, OutboxMessage.status == "pending",
                       OutboxMessage.not_before > now)
                .values(not_before=now)
            )  # fmt: skip
            return waiting.dedupe_key
        mine = list(
            await session.scalars(
                select(OutboxMessage.dedupe_key).where(
                    or_(
                        OutboxMessage.dedupe_key == own,
                        OutboxMessage.dedupe_key.startswith(own + ":", autoescape=True),
                    )
                )
            )
        )
        if not mine and quiet:
            since = now - RESEND_QUIET
            recent = await session.scalar(
                select(OutboxMessage.dedupe_key)
                .where(
                    copies,
                    and_(
                        OutboxMessage.status == "sent",
                        OutboxMessage.not_before >= since,
                        OutboxMessage.claimed_at >= since,
                    ),
                )
                .limit(1)
            )
            if recent is not None:
                return None
        elif mine:
            own = f"{own}:{len(mine) + 1}"
    await outbox.enqueue(
        session, key=own, chat_id=user_id, kind=CODE_NOTICE, values={"voucher_id": voucher_id},
        now=now,
    )  # fmt: skip
    return own


async def exchange(
    session: AsyncSession, *, user_id: int, item_id: int, request: str, now: datetime,
    press: str | None = None,
) -> Purchase:  # fmt: skip
    """Spends points on one code. `request` identifies the confirm card (idempotency),
    `press` this press of it (Telegram's callback query id; `request` when not given).

    Taps racing on one confirm card resolve here: each takes the person's account lock first,
    so the later one waits for the earlier to commit and then finds its purchase, the same
    code, returned with `new=False`. A reference clash (`ReferenceConflict`) cannot happen
    between them. A deleted, banned or suspended person is refused before anything is read.
    Either way a copy of the code is queued for the person in this transaction
    (`_send_code`), and `Purchase.notice` names the one to send now.
    """
    await require_may_act(session, user_id, now, "exchange")
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
        notice = await _send_code(
            session, user_id=user_id, voucher_id=issued.id, press=press or request, now=now
        )
        return Purchase(sold, issued.code, replay.balance_after, False, issued.id, notice)
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
    notice = await _send_code(
        session, user_id=user_id, voucher_id=code.id, press=press or request, now=now, first=True
    )
    return Purchase(wanted, code.code, posting.entry.balance_after, True, code.id, notice)


async def refund(session: AsyncSession, code: str, admin_id: int, now: datetime) -> int:
    """Returns a bad code's points once; the code is taken out of use. Returns the points.

    Raises `NotRegistered` for someone without an account, `NotAdmin` for anyone else who is
    not an admin, and `OwnVoucher` for an admin's own code (another admin refunds it).
    """
    await require_user(session, admin_id)
    if await users.acting_admin(session, admin_id) is None:
        raise NotAdmin
    voucher = await session.scalar(
        select(VoucherCode).where(VoucherCode.code == code).with_for_update()
    )
    if voucher is None or voucher.issued_to is None or voucher.ledger_entry_id is None:
        raise UnknownCode
    if voucher.refunded_at is not None:
        raise AlreadyRefunded
    if voucher.issued_to == admin_id:
        raise OwnVoucher
    charge = await session.get(LedgerEntry, voucher.ledger_entry_id)
    assert charge is not None
    await ledger.post(
        session, user_id=voucher.issued_to, amount=-charge.amount, kind=ledger.REFUND,
        reference=f"refund:{voucher.id}", now=now, note=f"bad code {voucher.id}",
        actor_id=admin_id,
    )  # fmt: skip
    voucher.refunded_at = now
    return -charge.amount


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
    added, duplicates, in_file = 0, [], set()
    for line, row in enumerate(reader, start=2):
        key, code = row["item"].strip(), row["code"].strip()
        in_file.add(key)
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
    # The items this file named (it said "3 items" for a one-item file: the whole catalogue).
    return LoadResult(added, duplicates, len(in_file))
