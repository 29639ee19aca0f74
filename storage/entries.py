"""What each ledger entry was for, as `/points` explains it (issue 23).

A ledger entry names its cause only by its reference (`storage.ledger`): `evidence:<id>` (a
mission reward: the photo, its meetup and mission, and whether an admin approved it at review
or a second admin on appeal, which leaves the first review's "rejected" on record),
`exchange:<user>:<press>` (the voucher code it bought, tied back by `ledger_entry_id`),
`refund:<voucher id>` (the code refunded). Adjustments and bonuses carry the admin's note.
Read-only: one query per kind of cause for a whole page of entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import ledger
from storage.models import (
    Evidence,
    LedgerEntry,
    MarketItem,
    Meeting,
    Mission,
    Review,
    VoucherCode,
)

# Why an entry was made.
REVIEW, APPEAL, EXCHANGE, REFUND, ADJUSTMENT, BONUS, OTHER = (
    "review", "appeal", "exchange", "refund", "adjustment", "bonus", "other",
)  # fmt: skip


@dataclass(frozen=True)
class Source:
    """The cause of one entry: a mission and its meetup for a reward, a voucher for an
    exchange or a refund, the admin's note for an adjustment or a bonus."""

    why: str  # REVIEW, APPEAL, EXCHANGE, REFUND, ADJUSTMENT, BONUS or OTHER
    mission_ko: str | None = None
    mission_en: str | None = None
    meetup_at: datetime | None = None
    place: str | None = None  # the meetup's place as stored (ui names it in the reader's language)
    item_ko: str | None = None
    item_en: str | None = None
    code: str | None = None  # the voucher code bought or refunded
    note: str | None = None


UNKNOWN = Source(OTHER)


def _number(reference: str, prefix: str) -> int | None:
    head, _, tail = reference.partition(":")
    return int(tail) if head == prefix and tail.isdigit() else None


async def sources(session: AsyncSession, entries: Sequence[LedgerEntry]) -> dict[int, Source]:
    """Each entry's cause, by entry id (every entry gets one; OTHER when nothing is known)."""
    photos = {e.id: n for e in entries if (n := _number(e.reference, "evidence")) is not None}
    refunds = {e.id: n for e in entries if (n := _number(e.reference, "refund")) is not None}
    rewards = await _rewards(session, set(photos.values()))
    bought = await _codes(session, VoucherCode.ledger_entry_id, [e.id for e in entries])
    refunded = await _codes(session, VoucherCode.id, list(refunds.values()))
    found: dict[int, Source] = {}
    for entry in entries:
        source: Source | None = None
        if entry.id in photos:
            source = rewards.get(photos[entry.id])
        elif entry.kind == ledger.EXCHANGE and entry.id in bought:
            source = _voucher(EXCHANGE, bought[entry.id])
        elif entry.id in refunds and refunds[entry.id] in refunded:
            source = _voucher(REFUND, refunded[refunds[entry.id]])
        elif entry.kind in (ledger.ADJUSTMENT, ledger.BONUS):
            source = Source(
                ADJUSTMENT if entry.kind == ledger.ADJUSTMENT else BONUS, note=entry.note
            )
        found[entry.id] = source or UNKNOWN
    return found


async def _rewards(session: AsyncSession, evidence_ids: set[int]) -> dict[int, Source]:
    """Mission rewards: the mission, the meetup's time and place, and who approved."""
    if not evidence_ids:
        return {}
    rows = await session.execute(
        select(Evidence.id, Mission.title_ko, Mission.title_en, Meeting.starts_at,
               Meeting.place_name, Review.decision)
        .join(Meeting, Meeting.id == Evidence.meeting_id)
        .join(Mission, Mission.id == Meeting.mission_id)
        .outerjoin(Review, Review.evidence_id == Evidence.id)
        .where(Evidence.id.in_(evidence_ids))
    )  # fmt: skip
    return {
        int(evidence_id): Source(
            # Paid while the review on record says "rejected": a second admin's appeal approval.
            APPEAL if decision == "rejected" else REVIEW,
            mission_ko=title_ko,
            mission_en=title_en,
            meetup_at=starts_at,
            place=place,
        )
        for evidence_id, title_ko, title_en, starts_at, place, decision in rows
    }


async def _codes(
    session: AsyncSession, key: Any, values: Sequence[int]
) -> dict[int, tuple[str, str, str]]:
    """Voucher codes by `key` (the paying entry's id or the code's id): (item ko, en, code)."""
    if not values:
        return {}
    rows = await session.execute(
        select(key, MarketItem.name_ko, MarketItem.name_en, VoucherCode.code)
        .join(MarketItem, MarketItem.id == VoucherCode.item_id)
        .where(key.in_(values))
    )
    return {int(k): (ko, en, code) for k, ko, en, code in rows if k is not None}


def _voucher(why: str, found: tuple[str, str, str]) -> Source:
    item_ko, item_en, code = found
    return Source(why, item_ko=item_ko, item_en=item_en, code=code)
