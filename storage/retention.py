"""Retention: what the service stops keeping once it no longer needs it (issue 20).

- A handled inbox row holds no raw update already (storage/inbox.py clears it when the update
  is marked done); the row itself goes `inbox_days` after it was handled. A row never handled
  stays, raw update and all, until it is (a crash's replay needs it).
- An outbox row that is finished (sent, skipped, given up) goes `outbox_days` after the last
  thing that happened to it (created, due, last claimed for sending). One waiting or in
  flight stays.
- An evidence photo whose meetup ended `photo_days` ago, once decided (approved, rejected or
  "send another"), loses its file: the caller deletes the bytes from the photo store, then
  `photos_deleted` records it (`photo_deleted_at`) and drops what else the photo told about
  the person: the Telegram file id that would fetch it again, the EXIF GPS and time columns,
  the AI's description of it. The row keeps its hash (duplicate detection), its checks'
  verdicts (the place check's distance, not the coordinates) and its decision (the review;
  the ledger's `evidence:<id>` refers to the row); the ledger is not touched. A file whose
  bytes another photo not yet expired shares (content-addressed keys) stays for that one.
- A barred number (`barred_phones`: the keyed phone hash of an account deleted while
  suspended or banned) goes once its `until` has passed; a ban's stays while it stands.

Each operation works on one batch (`limit` rows) in one short transaction, so the job never
holds a long lock, and each is idempotent: run twice, the second run finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import BarredPhone, Evidence, InboxUpdate, Meeting, OutboxMessage

BATCH = 500
# Outbox rows that will not be sent again (storage/outbox.py).
FINISHED_OUTBOX = ("sent", "skipped", "failed")
# Evidence whose decision is made: its photo is not needed for a review any more. A photo
# still being checked or waiting for an admin keeps its file until decided.
DECIDED_EVIDENCE = ("approved", "rejected", "retry")


async def delete_handled_inbox(
    session: AsyncSession, now: datetime, days: int, limit: int = BATCH
) -> int:
    """Deletes up to `limit` inbox rows handled more than `days` days ago; returns how many."""
    before = now - timedelta(days=days)
    handled = func.coalesce(InboxUpdate.handled_at, InboxUpdate.received_at)
    ids = list(
        await session.scalars(
            select(InboxUpdate.update_id)
            .where(InboxUpdate.status != "pending", handled < before)
            .order_by(InboxUpdate.update_id)
            .limit(limit)
        )
    )
    if not ids:
        return 0
    await session.execute(delete(InboxUpdate).where(InboxUpdate.update_id.in_(ids)))
    return len(ids)


async def delete_finished_outbox(
    session: AsyncSession, now: datetime, days: int, limit: int = BATCH
) -> int:
    """Deletes up to `limit` finished outbox rows whose last attempt (or, never tried, their
    creation and due time) is more than `days` days ago; returns how many."""
    before = now - timedelta(days=days)
    old = (
        OutboxMessage.status.in_(FINISHED_OUTBOX),
        OutboxMessage.created_at < before,
        OutboxMessage.not_before < before,
        or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_at < before),
    )
    ids = list(
        await session.scalars(
            select(OutboxMessage.id).where(*old).order_by(OutboxMessage.id).limit(limit)
        )
    )
    if not ids:
        return 0
    await session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids), *old))
    return len(ids)


@dataclass(frozen=True)
class ExpiredPhoto:
    evidence_id: int
    storage_key: str | None


async def expired_photos(
    session: AsyncSession, now: datetime, days: int, limit: int = BATCH
) -> list[ExpiredPhoto]:
    """Decided evidence of meetups that ended more than `days` days ago whose photo is not
    deleted yet, oldest first."""
    before = now - timedelta(days=days)
    rows = await session.execute(
        select(Evidence.id, Evidence.storage_key)
        .join(Meeting, Meeting.id == Evidence.meeting_id)
        .where(
            Meeting.ends_at < before,
            Evidence.photo_deleted_at.is_(None),
            Evidence.status.in_(DECIDED_EVIDENCE),
        )
        .order_by(Evidence.id)
        .limit(limit)
    )
    return [ExpiredPhoto(int(i), k) for i, k in rows]


async def keys_still_used(session: AsyncSession, keys: set[str], except_ids: list[int]) -> set[str]:
    """Of these content keys, those another photo still keeps (the same bytes sent again, in a
    meetup not expired yet): their files must stay."""
    if not keys:
        return set()
    rows = await session.scalars(
        select(Evidence.storage_key).where(
            Evidence.storage_key.in_(keys),
            Evidence.id.not_in(except_ids),
            Evidence.photo_deleted_at.is_(None),
        )
    )
    return {str(k) for k in rows}


async def photos_deleted(session: AsyncSession, evidence_ids: list[int], now: datetime) -> int:
    """Records that these photos' files are gone and drops what else each photo told about its
    sender; the hash, verdicts, flags and decision stay. Returns how many rows changed."""
    if not evidence_ids:
        return 0
    rows = await session.execute(
        select(Evidence.id, Evidence.signals).where(
            Evidence.id.in_(evidence_ids), Evidence.photo_deleted_at.is_(None)
        )
    )
    changed = 0
    for evidence_id, signals in rows.all():
        kept = _without_descriptions(signals)
        result = await session.execute(
            update(Evidence)
            .where(Evidence.id == evidence_id, Evidence.photo_deleted_at.is_(None))
            .values(
                photo_deleted_at=now,
                storage_key=null(),
                # Telegram's file id would fetch the photo again from Telegram's servers.
                file_id="",
                exif_lat=null(),
                exif_lon=null(),
                exif_taken_at=null(),
                ai_reason=null(),
                signals=kept if kept is not None else null(),
            )
            .returning(Evidence.id)
        )
        changed += len(result.all())
    return changed


def _without_descriptions(signals: dict[str, Any] | None) -> dict[str, Any] | None:
    """The checks' verdicts without the AI's description of what the photo shows (the place
    check keeps its distance, the time check the minute against the meetup's time)."""
    if not signals:
        return signals
    checks = [
        {k: v for k, v in check.items() if not (check.get("check") == "ai" and k == "detail")}
        for check in signals.get("checks", [])
        if isinstance(check, dict)
    ]
    return {**signals, "checks": checks} if "checks" in signals else dict(signals)


async def delete_expired_bars(session: AsyncSession, now: datetime, limit: int = BATCH) -> int:
    """Deletes up to `limit` barred numbers whose suspension has ended; returns how many."""
    hashes = list(
        await session.scalars(
            select(BarredPhone.phone_hash)
            .where(BarredPhone.until <= now)
            .order_by(BarredPhone.phone_hash)
            .limit(limit)
        )
    )
    if not hashes:
        return 0
    deleted = await session.execute(
        delete(BarredPhone)
        .where(BarredPhone.phone_hash.in_(hashes), BarredPhone.until <= now)
        .returning(BarredPhone.phone_hash)
    )
    return len(deleted.all())
