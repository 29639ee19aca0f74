"""The outbox: messages to people other than the one in front, written in the same transaction
as the change they announce, and sent later by the dispatcher (`scheduler/outbox.py`).

A row holds a notice *kind* (one of `NoticeKind`, the stored string) and its values, not
text: the dispatcher renders it in the recipient's language at send time (`ui/notices.py`).
`dedupe_key` is unique, so writing the same notice twice (a retried transaction, two
schedulers, a reminder after a restart) sends it once.

A key is natural: what happened, to which meetup, for whom, on which occasion; never the
moment it was written, so no path (a replay, a retry, a join inside the reminder window) can
queue one notice twice. The meetup notices (storage/meetings/*):
- `join:<participation>:<n>` (to the host, `meetup_joined` or `meetup_waitlisted`),
  `leave:<participation>:<n>` (to the host) and `promoted:<participation>:<n>` (to the person
  seated from the waitlist): a participation is one person in one meetup (its id, not the
  person's, so a key to the host names nobody once the person is erased), and `n` counts
  their joins of it (`participations.joins`): a real second join after a leave is told, a
  replay is not;
- `cancel:<meeting>:<person>`, once per meetup;
- `hostmsg:<meeting>:<person>:m<message id>`, the occasion being the host's Telegram message;
- `remind<minutes>:<meeting>:<person>`, one per reminder lead, ending in `:p<n>` once the
  host moved the start n times (the new time is reminded again);
- `postponed:<meeting>:<person>:<n>`, `released:<meeting>:<person>:<n>` and (to the host)
  `unconfirmed:<meeting>:<n>`, n being the move (`meetings.postponements`);
  `note:<meeting>:<person>:m<message id>`, the occasion being the host's message;
- `checkin:<participation>`, `feedback_ask:<meeting>:<person>`, `evidence_ask:<meeting>:<person>`,
  each once.

Claiming is one guarded UPDATE (`... WHERE` the row is still due) of a whole batch, on SQLite
and PostgreSQL alike (`claim`), so two workers never take one row; the outcome of each send is
recorded here (deliveries many at a time, `record_sent`), and what it teaches about the
recipient (blocked, moved) in `storage/delivery.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast, get_args

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Appeal, Evidence, OutboxMessage, Report
from storage.types import as_utc

NOTICE = "notice"
# The dedupe key prefix of a report's admin-group card (`report:<id>`, storage/moderation.py).
REPORT_CARD = "report:"
# The dedupe key prefix of an appeal's admin-group card (`appeal_card:<evidence id>`,
# storage/appeals.py): where it went is recorded on the appeal, to redraw it once decided.
APPEAL_CARD = "appeal_card:"
# The dedupe key prefix of a photo's review card in the admin group (`review_card:<evidence
# id>`, storage/evidence.py): where it went is recorded on the evidence row.
REVIEW_CARD = "review_card:"
# The forum topic a group's notice goes to (its message_thread_id), when it has one.
THREAD = "message_thread_id"

# Every kind of notice a row may hold. The values are stored in `payload["kind"]`: renaming one
# leaves the rows already queued unreadable.
NoticeKind = Literal[
    "meetup_joined",
    "meetup_waitlisted",
    "meetup_left",
    "meetup_promoted",
    "meetup_cancelled",
    "host_message",
    # Issue 23, meetups can change (storage/meetings/changes.py):
    "meetup_postponed",  # to each holding a place: the new time, "still coming?"
    "meetup_released",  # to one who did not confirm in time: the place is released
    "meetup_unconfirmed",  # to the host: how many places were released, how many moved up
    "meetup_note_changed",  # to each holding a place: the host's new note
    "checked_in",
    "meetup_reminder",
    "feedback_request",
    "report_filed",
    "warned",
    "suspended",
    "evidence_request",
    "evidence_approved",
    "evidence_rejected",
    "evidence_again",
    "evidence_delayed",
    "evidence_rejected_final",
    "evidence_copy",  # a photo refused by the checks as a copy of an approved one (issue 21)
    "evidence_repeat",  # the same bytes the person sent before, not accepted (issue 21)
    "daily_missions",  # a group's daily mission post (storage/groups.py)
    "group_no_rights",  # to a group's admin: the bot may not send messages there
    "group_topic_closed",  # to a group's admin: the topic the bot posts in is closed
    "card_erased",  # not a message: an admin-group card about an erased person, cleaned
    "voucher_issued",  # a voucher's code to its owner (storage/market.py), protect_content
    # Issue 23, a meetup made by taps on a group's daily post (storage/gathering.py):
    "gathering_host",  # to the first tapper who may host: you host it
    "gathering_seated",  # to another tapper: you have a seat
    "gathering_waitlisted",  # to another tapper: the meetup was full, you wait
    "gathering_refused",  # to another tapper who may not join: why (a refusal's code)
    "gathering_card",  # to the group, under its daily post: the meetup taps made, or a call
    # for a host when none of them may host (storage/gathering.py; bot/outbox_cards.py)
    "appeal_card",  # to the admin group: an appeal's card, the photo with the reason
    "review_card",  # to the admin group: a checked photo's card with Approve / Reject
    "appeal_approved",  # an appeal's final outcome, to the photo's sender (issue 23)
    "appeal_rejected",
    "banned",  # a permanent ban, told once to the person (storage/moderation.py, issue 23)
]
NOTICE_KINDS: frozenset[NoticeKind] = frozenset(get_args(NoticeKind))

MAX_ATTEMPTS = 6
# A row left "sending" this long was claimed by a worker that died; it is tried again.
STALE_CLAIM = timedelta(minutes=5)


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    chat_id: int,
    kind: NoticeKind,
    values: dict[str, Any],
    now: datetime,
    not_before: datetime | None = None,
) -> bool:
    """Adds a notice unless one with `key` exists; returns whether it was added."""
    row = {
        "dedupe_key": key,
        "chat_id": chat_id,
        "method": NOTICE,
        "payload": {"kind": kind, **values},
        "status": "pending",
        "attempts": 0,
        "not_before": not_before or now,
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(OutboxMessage)
        .values(row)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        # RETURNING, not rowcount: psycopg's async rowcount of this INSERT is -1 (unknown).
        .returning(OutboxMessage.id)
    )
    result = await session.execute(statement)
    return result.first() is not None


def notice_kind(value: object) -> NoticeKind:
    """The kind a stored row holds; an unknown one raises KeyError (a bug, not a person's doing)."""
    if value not in NOTICE_KINDS:
        raise KeyError(value)
    return cast(NoticeKind, value)


@dataclass(frozen=True)
class Claimed:
    id: int
    chat_id: int
    payload: dict[str, Any]
    attempts: int
    key: str = ""  # the dedupe key (a report's card is also recorded on its report)

    def notice(self) -> tuple[NoticeKind, dict[str, Any]]:
        """The notice's kind and the values it is rendered with."""
        values = dict(self.payload)
        return notice_kind(values.pop("kind")), values


def _due(now: datetime, stale: timedelta) -> Any:
    """Waiting and due, or claimed by a worker that died (its claim older than `stale`)."""
    return or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.not_before <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - stale),
    )


_CLAIMED = (
    OutboxMessage.id,
    OutboxMessage.chat_id,
    OutboxMessage.payload,
    OutboxMessage.attempts,
    OutboxMessage.dedupe_key,
)


async def claim(
    session: AsyncSession,
    worker: str,
    now: datetime,
    limit: int = 50,
    stale: timedelta = STALE_CLAIM,
) -> list[Claimed]:
    """Claims up to `limit` due rows for `worker`, oldest first, in one statement.

    `WITH chosen AS (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ... WHERE id IN chosen AND
    <still due> RETURNING`: on PostgreSQL a second claimer skips the rows a first one is taking
    instead of queueing behind it, and the outer guard re-checks each row once its lock is had,
    so a row claimed by a transaction that committed meanwhile is left alone (two workers never
    take one row). SQLite renders no FOR UPDATE; its writers take turns (BEGIN IMMEDIATE,
    storage/db.py), and the same guard holds there.
    """
    due = _due(now, stale)
    # MATERIALIZED: chosen once. As a plain subquery PostgreSQL may run it again per row, and
    # each run skips what the last one locked, claiming more than `limit` rows.
    chosen = (
        select(OutboxMessage.id)
        .where(due)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("chosen")
        .prefix_with("MATERIALIZED")
    )
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(select(chosen.c.id)), due)
        .values(status="sending", claimed_by=worker, claimed_at=now)
        .returning(*_CLAIMED)
        .execution_options(synchronize_session=False)
    )
    claimed = [Claimed(r.id, r.chat_id, dict(r.payload), r.attempts, r.dedupe_key) for r in result]
    return sorted(claimed, key=lambda row: row.id)  # RETURNING keeps no order


async def claim_key(session: AsyncSession, key: str, worker: str, now: datetime) -> Claimed | None:
    """Claims the notice `key` when it is waiting and due, for a send right after the commit
    that queued it (the dispatcher would take it on its next round); None when it is not
    (sent already, in another worker's hands, or put off until later)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.dedupe_key == key,
            OutboxMessage.status == "pending",
            OutboxMessage.not_before <= now,
        )
        .values(status="sending", claimed_by=worker, claimed_at=now)
        .returning(*_CLAIMED)
    )
    row = result.first()
    if row is None:
        return None
    return Claimed(row.id, row.chat_id, dict(row.payload), row.attempts, row.dedupe_key)


async def mark_sent(
    session: AsyncSession, row_id: int, message_id: int | None, *, note: str | None = None
) -> None:
    """Delivered; `note` says why the `message_id` is unknown, when it is. A report's, an
    appeal's or a photo's card (`report:<id>`, `appeal_card:<id>`, `review_card:<id>`) is
    also recorded on its row, which outlives this one."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(status="sent", sent_message_id=message_id, last_error=note)
        .returning(OutboxMessage.dedupe_key, OutboxMessage.chat_id)
    )
    row = result.first()
    if row is not None:
        await _record_card(session, row.dedupe_key, row.chat_id, message_id)


async def _record_card(
    session: AsyncSession, key: str, chat_id: int, message_id: int | None
) -> None:
    """Where an admin-group card went, on the report, appeal or photo it shows (redrawn once
    decided, cleaned when the person leaves)."""
    if message_id is None:
        return
    for prefix, model, column, where in (
        (REPORT_CARD, Report, Report.id, ("card_chat_id", "card_message_id")),
        (APPEAL_CARD, Appeal, Appeal.evidence_id, ("card_chat_id", "card_message_id")),
        (REVIEW_CARD, Evidence, Evidence.id, ("review_chat_id", "review_message_id")),
    ):
        subject = key.removeprefix(prefix)
        if key.startswith(prefix) and subject.isdigit():
            await session.execute(
                update(model)
                .where(column == int(subject))
                .values({where[0]: chat_id, where[1]: message_id})
            )


@dataclass(frozen=True)
class Sent:
    """One delivery to record: the row, and Telegram's `message_id` (None with a `note`)."""

    row: Claimed
    message_id: int | None
    note: str | None = None


async def record_sent(session: AsyncSession, sent: Sequence[Sent]) -> None:
    """Records many deliveries in one statement (executemany), as `mark_sent` does one; the
    dispatcher's group commit (`scheduler/outbox.py`)."""
    if not sent:
        return
    table = cast(Table, OutboxMessage.__table__)
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(
            status="sent", sent_message_id=bindparam("message_id"), last_error=bindparam("note")
        ),
        [{"row_id": s.row.id, "message_id": s.message_id, "note": s.note} for s in sent],
    )
    for s in sent:
        await _record_card(session, s.row.key, s.row.chat_id, s.message_id)


async def mark_retry(
    session: AsyncSession, row_id: int, error: str, not_before: datetime, *, count: bool = True
) -> None:
    """Puts a row back for later; after MAX_ATTEMPTS counted failures it is given up."""
    row = await session.get(OutboxMessage, row_id)
    if row is None:
        return
    attempts = row.attempts + (1 if count else 0)
    row.attempts = attempts
    row.last_error = error[:500]
    row.not_before = not_before
    row.status = "failed" if attempts >= MAX_ATTEMPTS else "pending"


async def retarget(session: AsyncSession, row_id: int, chat_id: int, now: datetime) -> None:
    """The chat moved (a group upgraded to a supergroup): the row goes to its new id."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(chat_id=chat_id, status="pending", not_before=now, last_error="migrated")
    )


async def retarget_chat(session: AsyncSession, old_id: int, new_id: int) -> int:
    """Every row still waiting for a chat that moved goes to its new id; returns how many.
    (A row in flight meets the old id's 400 and follows through `retarget`.)"""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.chat_id == old_id, OutboxMessage.status == "pending")
        .values(chat_id=new_id)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def mark_failed(session: AsyncSession, row_id: int, error: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(status="failed", last_error=error[:500])
    )


async def mark_skipped(session: AsyncSession, row_ids: Sequence[int], reason: str) -> None:
    """Not tried, and not to be (the recipient blocked the bot): kept with the reason."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(row_ids))
        .values(status="skipped", last_error=reason)
    )


_WAITING = OutboxMessage.status.in_(("pending", "sending"))


async def backlog(session: AsyncSession, now: datetime) -> tuple[int, float]:
    """How many notices wait, and the age in seconds of the oldest (0 when none)."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(_WAITING)
        )
    ).one()
    if not count or oldest is None:
        return 0, 0.0
    return int(count), max(0.0, (now - as_utc(oldest)).total_seconds())


async def throttled(session: AsyncSession) -> int:
    """How many waiting notices were last refused with 429 (Telegram asked to slow down)."""
    found = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(_WAITING, OutboxMessage.last_error == "429")
    )
    return int(found or 0)


async def release_claims(session: AsyncSession, worker: str) -> int:
    """Puts back what this worker claimed but did not send (a graceful stop)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_by == worker)
        .values(status="pending", claimed_by=None, claimed_at=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
