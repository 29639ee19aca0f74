"""The inbox: every update stored (by `update_id`) before it is acknowledged to Telegram, and
marked done after it was handled. A repeat delivery is dropped; what was in flight when the
process died is handled after restart.

A repeat is an update id received within `REPEAT_WINDOW`, not any id ever seen: "If there are
no new updates for at least a week, then identifier of the next update will be chosen randomly
instead of sequentially" (Bot API, Update), so after a quiet week ids can start again below
ones already stored. Telegram keeps an update at most 24 hours ("will not be kept longer than
24 hours", Bot API, Getting updates), so no redelivery comes later than that, and no new id can
repeat one sooner than a week: a handled row older than the window makes way for the new update.

The raw update (phone numbers, locations, names, texts) is kept only until it is handled: the
UPDATE that marks a row done also clears its payload. What stays is what deduplication and the
backlog figures need: the update id, its type, chat and sender ids, and when it was received
and handled. The retention job (storage/retention.py) deletes handled rows after a window."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, null, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxUpdate
from storage.types import as_utc

_TABLE = cast(Table, InboxUpdate.__table__)

# Longer than Telegram keeps an update (24 hours), shorter than the quiet week before ids jump.
REPEAT_WINDOW = timedelta(days=2)


async def store(session: AsyncSession, updates: list[dict[str, Any]], now: datetime) -> list[int]:
    """Stores updates not received within `REPEAT_WINDOW` before; returns the ids that are new
    (to be handled), in the order given. An id stored longer ago and handled is one Telegram
    gave out again after a quiet week: its row is taken over by the new update. One still
    pending is kept (replay after restart handles it) and the new update counts as a repeat.

    One statement for the whole batch (a `getUpdates` answer, a burst of webhook posts): an
    INSERT of every row with ON CONFLICT ... DO UPDATE guarded as above, RETURNING the ids it
    wrote. An id twice in the batch is stored once (PostgreSQL refuses to touch a row twice in
    one statement) and is new at most once."""
    rows: dict[int, dict[str, Any]] = {}
    for data in updates:
        update_id = int(data["update_id"])
        if update_id not in rows:
            rows[update_id] = {
                "update_id": update_id,
                "payload": data,
                **summary(data),
                "status": "pending",
                "attempts": 0,
                "received_at": now,
                "handled_at": None,
            }
    if not rows:
        return []
    repeat_before = now - REPEAT_WINDOW
    # The rows as the parameters of one statement built once: SQLAlchemy sends them as one
    # multi-row INSERT ("insertmanyvalues"), and caches its compiled form. An INSERT built with
    # the rows in it was compiled anew for every batch, most of a stored update's CPU.
    result = await session.execute(
        _STORE[session.get_bind().dialect.name],
        [{**row, "repeat_before": repeat_before} for row in rows.values()],
    )
    written = {int(update_id) for update_id in result.scalars()}
    return [update_id for update_id in rows if update_id in written]


# The columns a stored update sets, its id first.
FRESH = (
    "update_id", "payload", "kind", "chat_id", "user_id", "status", "attempts", "received_at",
    "handled_at",
)  # fmt: skip


def _store_statement(insert: Any) -> Any:
    """`store`'s INSERT for one dialect (PostgreSQL's and SQLite's ON CONFLICT alike), on the
    table, not the mapped class: the ORM's bulk INSERT path has nothing to do for rows it never
    loads. A row is taken over only when handled and older than `REPEAT_WINDOW`."""
    statement = insert(_TABLE)
    return (
        statement.on_conflict_do_update(
            index_elements=["update_id"],
            set_={name: statement.excluded[name] for name in FRESH if name != "update_id"},
            where=(_TABLE.c.status == "done")
            & (_TABLE.c.received_at < bindparam("repeat_before", type_=_TABLE.c.received_at.type)),
        )
        # RETURNING, not rowcount: psycopg's async rowcount of this INSERT is -1 (unknown).
        .returning(_TABLE.c.update_id)
    )


_STORE = {
    "postgresql": _store_statement(postgresql.insert),
    "sqlite": _store_statement(sqlite.insert),
}


_MARK_DONE = (
    update(_TABLE)
    .where(_TABLE.c.update_id.in_(bindparam("ids", expanding=True)))
    .values(
        status="done",
        handled_at=bindparam("now", type_=_TABLE.c.handled_at.type),
        attempts=_TABLE.c.attempts + 1,
        payload=null(),
    )
)


def summary(data: dict[str, Any]) -> dict[str, Any]:
    """What a row keeps once handled: the update's type (its one field besides `update_id`),
    the chat it came from and who sent it (None where the update has none)."""
    kind = next((k for k in data if k != "update_id"), None)
    body = data.get(kind) if kind is not None else None
    if not isinstance(body, dict):
        return {"kind": kind, "chat_id": None, "user_id": None}
    chat = body.get("chat")
    if chat is None and isinstance(body.get("message"), dict):  # a button press
        chat = body["message"].get("chat")
    sender = body.get("from")
    return {
        "kind": kind[:40] if kind else None,
        "chat_id": _id(chat),
        "user_id": _id(sender),
    }


def _id(found: object) -> int | None:
    if isinstance(found, dict) and isinstance(found.get("id"), int):
        return int(found["id"])
    return None


async def mark_done(session: AsyncSession, update_ids: int | Iterable[int], now: datetime) -> None:
    """Handled: the raw update goes in the same statement (none of it is needed any more).
    Several ids at once are one UPDATE (the group commit of `bot.app.InboxMarker`)."""
    ids = [update_ids] if isinstance(update_ids, int) else list(update_ids)
    # On the table: the ORM's UPDATE would first evaluate its WHERE against loaded objects
    # (there are none) to keep the session in step.
    await session.execute(_MARK_DONE, {"ids": ids, "now": now})


async def unfinished(session: AsyncSession, limit: int = 1000) -> list[dict[str, Any]]:
    """Updates stored but not handled (the process stopped), oldest first."""
    rows = await session.scalars(
        select(InboxUpdate.payload)
        .where(InboxUpdate.status == "pending", InboxUpdate.payload.is_not(None))
        .order_by(InboxUpdate.update_id)
        .limit(limit)
    )
    return [dict(r) for r in rows]


async def pending_among(session: AsyncSession, update_ids: list[int]) -> list[int]:
    """Which of `update_ids` are stored and not handled yet."""
    rows = await session.scalars(
        select(InboxUpdate.update_id).where(
            InboxUpdate.update_id.in_(update_ids), InboxUpdate.status == "pending"
        )
    )
    return list(rows)


async def backlog(session: AsyncSession, now: datetime) -> tuple[int, float]:
    """How many updates wait, and the age in seconds of the oldest (0 when none)."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(InboxUpdate.received_at)).where(
                InboxUpdate.status == "pending"
            )
        )
    ).one()
    if not count or oldest is None:
        return 0, 0.0
    return int(count), max(0.0, (now - as_utc(oldest)).total_seconds())
