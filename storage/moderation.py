"""Reports, moderators' decisions, suspensions, bans and personal blocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox, trust, users
from storage.accounts import BANNED_UNTIL, require_may_act, require_user
from storage.errors import AlreadyHandled, NotAdmin, NotMet, ReportNotFound
from storage.models import Participation, Report, User, UserBlock
from storage.text import clean

REASONS = ("harassment", "no_show", "unsafe", "spam", "other")
ACTIONS = ("warn", "suspend", "dismiss")
SUSPENSION = timedelta(days=7)
RECENT = timedelta(days=30)  # how far back `/report` and `/block` offer people met


@dataclass(frozen=True)
class Met:
    """Someone met at a meetup, and the (latest) meetup where."""

    user_id: int
    name: str
    meeting_id: int


async def met(session: AsyncSession, user_id: int, now: datetime) -> list[Met]:
    """The people who held a place in a meetup with this person in the last 30 days, newest
    first; raises `NotRegistered` for someone without an account."""
    await require_user(session, user_id)
    since = now - RECENT
    mine = select(Participation.meeting_id).where(Participation.user_id == user_id)
    rows = await session.execute(
        select(Participation.user_id, User.display_name, Participation.meeting_id)
        .join(User, User.id == Participation.user_id)
        .where(
            Participation.meeting_id.in_(mine),
            Participation.user_id != user_id,
            Participation.joined_at >= since,
        )
        .order_by(Participation.id.desc())
    )
    seen: dict[int, Met] = {}
    for other, name, meeting_id in rows:
        seen.setdefault(other, Met(other, name, meeting_id))
    return list(seen.values())


async def _shared(session: AsyncSession, meeting_id: int, a: int, b: int) -> bool:
    rows = await session.scalars(
        select(Participation.user_id).where(
            Participation.meeting_id == meeting_id, Participation.user_id.in_((a, b))
        )
    )
    return len(set(rows)) == 2


async def file_report(
    session: AsyncSession,
    *,
    reporter_id: int,
    reported_id: int,
    meeting_id: int,
    reason: str,
    details: str | None,
    admin_chat_id: int | None,
    now: datetime,
) -> Report:
    """Stores a report and sends it to the moderators' group; a deleted, banned or suspended
    reporter is refused."""
    if reason not in REASONS:
        raise ValueError("unknown reason")
    await require_may_act(session, reporter_id, now, "report")
    if reporter_id == reported_id or not await _shared(
        session, meeting_id, reporter_id, reported_id
    ):
        raise NotMet
    report = Report(
        reporter_id=reporter_id, reported_id=reported_id, meeting_id=meeting_id, reason=reason,
        details=clean(details, 1000) or None, created_at=now,
    )  # fmt: skip
    session.add(report)
    await session.flush()
    if admin_chat_id is not None:
        reported = await session.get(User, reported_id)
        await outbox.enqueue(
            session, key=f"report:{report.id}", chat_id=admin_chat_id, kind="report_filed",
            values={"report_id": report.id, "reason": reason, "details": report.details or "",
                    "name": reported.display_name if reported else "",
                    "trust": round(reported.trust_score) if reported else 0},
            now=now,
        )  # fmt: skip
    return report


async def decide(
    session: AsyncSession, report_id: int, action: str, admin_id: int, now: datetime
) -> Report:
    """A moderator's decision; the first one wins, later presses raise `AlreadyHandled`."""
    if action not in ACTIONS:
        raise ValueError("unknown action")
    if await users.acting_admin(session, admin_id) is None:
        raise NotAdmin
    status = "dismissed" if action == "dismiss" else "actioned"
    result = await session.execute(
        update(Report)
        .where(Report.id == report_id, Report.status == "open")
        .values(status=status, action=action, handled_by=admin_id, resolved_at=now)
    )
    report = await session.get(Report, report_id)
    if report is None:
        raise ReportNotFound
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AlreadyHandled(report.action)
    await session.refresh(report)
    if action == "suspend":
        user = await session.get(User, report.reported_id)
        if user is not None:  # a suspension never shortens a longer one, nor a ban
            user.suspended_until = max(user.suspended_until or now, now + SUSPENSION)
    if action in ("warn", "suspend"):
        await outbox.enqueue(
            session, key=f"moderation:{report.id}", chat_id=report.reported_id,
            kind="warned" if action == "warn" else "suspended",
            values={"until": (now + SUSPENSION).isoformat()}, now=now,
        )  # fmt: skip
    await trust.recompute(session, report.reported_id)
    return report


async def ban(session: AsyncSession, user_id: int, admin_id: int) -> None:
    """Closes an account for good: a suspension without end (`accounts.BANNED_UNTIL`), so every
    action `accounts.require_may_act` guards is refused with the "banned" text. For operators
    (no button offers it); only an acting admin may."""
    if await users.acting_admin(session, admin_id) is None:
        raise NotAdmin
    user = await session.get(User, user_id)
    if user is None:
        raise ValueError("no such user")
    user.suspended_until = BANNED_UNTIL


async def block(session: AsyncSession, blocker_id: int, blocked_id: int, now: datetime) -> None:
    """Hides two people from each other's meetups; blocking twice is one block.

    Only someone met at a meetup can be blocked (the same people `/block` offers), so a forged
    button cannot block arbitrary ids.
    """
    if blocker_id == blocked_id:
        raise NotMet("block")
    mine = select(Participation.meeting_id).where(Participation.user_id == blocker_id)
    shared = await session.scalar(
        select(Participation.id)
        .where(Participation.meeting_id.in_(mine), Participation.user_id == blocked_id)
        .limit(1)
    )
    if shared is None:
        raise NotMet("block")
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(UserBlock)
        .values(blocker_id=blocker_id, blocked_id=blocked_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["blocker_id", "blocked_id"])
    )


async def blocked_between(session: AsyncSession, a: int, b: int) -> bool:
    found = await session.scalar(
        select(UserBlock.blocker_id).where(
            or_(
                (UserBlock.blocker_id == a) & (UserBlock.blocked_id == b),
                (UserBlock.blocker_id == b) & (UserBlock.blocked_id == a),
            )
        )
    )
    return found is not None


async def blocked_ids(session: AsyncSession, user_id: int) -> set[int]:
    """Everyone on either side of a block with this person."""
    rows = await session.execute(
        select(UserBlock.blocker_id, UserBlock.blocked_id).where(
            or_(UserBlock.blocker_id == user_id, UserBlock.blocked_id == user_id)
        )
    )
    return {b if a == user_id else a for a, b in rows}
