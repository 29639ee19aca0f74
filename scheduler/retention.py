"""The retention job: deletes what the service no longer needs (storage/retention.py says
what and when), daily and once at start.

Every step works in batches, each its own short transaction, so the job never holds a long
lock; a batch smaller than the limit means that step is done. Photo files are deleted from the
store (local disk or S3) before their rows record it: a crash in between leaves a row that the
next run deletes again (a no-op for the store), never a file no row points to. A photo's
review card in the admin group gets a placeholder instead of it, queued in the transaction
that records the deletion (`storage.admin_cards.photo_expired`, sent by the outbox).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from storage import admin_cards, retention
from storage.clock import Clock
from storage.db import SessionFactory, transaction
from storage.files import FileStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Windows:
    """How many days each kind of data is kept (the `*_retention_days` settings)."""

    inbox_days: int = 7
    outbox_days: int = 30
    photo_days: int = 180
    # Not a period: the review card's "try n/max" when its photo is replaced (the
    # `evidence_max_attempts` setting).
    evidence_max_attempts: int = 3


@dataclass
class Swept:
    inbox: int = 0
    outbox: int = 0
    photos: int = 0  # evidence rows whose photo was deleted
    files: int = 0  # files deleted from the store (shared bytes are one file)
    barred: int = 0  # barred phone numbers whose suspension ended


async def sweep(
    sessions: SessionFactory,
    store: FileStore,
    clock: Clock,
    windows: Windows,
    batch: int = retention.BATCH,
) -> Swept:
    """One run of the job; returns what it deleted."""
    swept = Swept()
    while True:
        async with transaction(sessions) as session:
            done = await retention.delete_handled_inbox(
                session, clock.now(), windows.inbox_days, batch
            )
        swept.inbox += done
        if done < batch:
            break
    while True:
        async with transaction(sessions) as session:
            done = await retention.delete_finished_outbox(
                session, clock.now(), windows.outbox_days, batch
            )
        swept.outbox += done
        if done < batch:
            break
    while True:
        done, files = await _photos(sessions, store, clock, windows, batch)
        swept.photos += done
        swept.files += files
        if done < batch:
            break
    while True:
        async with transaction(sessions) as session:
            done = await retention.delete_expired_bars(session, clock.now(), batch)
        swept.barred += done
        if done < batch:
            break
    if swept.inbox or swept.outbox or swept.photos or swept.barred:
        log.info(
            "retention: deleted %d inbox rows, %d outbox rows, %d evidence photos (%d files), "
            "%d barred numbers",
            swept.inbox, swept.outbox, swept.photos, swept.files, swept.barred,
        )  # fmt: skip
    return swept


async def _photos(
    sessions: SessionFactory, store: FileStore, clock: Clock, windows: Windows, batch: int
) -> tuple[int, int]:
    """One batch of expired photos: files first, then the rows and their cards' edits;
    (rows, files) deleted."""
    async with sessions() as session:
        expired = await retention.expired_photos(session, clock.now(), windows.photo_days, batch)
        ids = [p.evidence_id for p in expired]
        keys = {p.storage_key for p in expired if p.storage_key is not None}
        shared = await retention.keys_still_used(session, keys, ids)
    files = 0
    for key in sorted(keys - shared):
        # A failure (S3 unreachable) raises: no row is marked, the next run tries again.
        await store.delete(key)
        files += 1
    async with transaction(sessions) as session:
        done = await retention.photos_deleted(session, ids, clock.now())
        await admin_cards.photo_expired(session, ids, clock.now(), windows.evidence_max_attempts)
    return done, files
