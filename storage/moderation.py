"""Reports, moderators' decisions, suspensions, bans and personal blocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox, trust, users
from storage.accounts import BANNED_UNTIL, require_may_act, require_user
from storage.errors import AlreadyHandled, CannotBan, NotAdmin, NotMet, ReportNotFound
from storage.models import Participation, Report, User, UserBlock
from storage.text import clean

REASONS = ("harassment", "no_show", "unsafe", "spam", "other")
ACTIONS = ("warn", "suspend", "dismiss", "ban")
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
    if action == "ban":  # an operator is not banned from a report card
        target = await session.scalar(select(Report.reported_id).where(Report.id == report_id))
        reported = await session.get(User, target) if target is not None else None
        if reported is not None and reported.is_admin:
            raise CannotBan("admin")
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
    if action == "ban":  # for good, the report as its reason (issue 23)
        reported = await session.get(User, report.reported_id)
        if reported is not None and not is_banned(reported):
            reported.suspended_until = BANNED_UNTIL
            reported.ban_reason = f"report #{report.id}: {report.reason}"
            await outbox.enqueue(
                session, key=f"ban:{reported.id}", chat_id=reported.id, kind="banned",
                values={}, now=now,
            )  # fmt: skip
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


async def ban(
    session: AsyncSession,
    user_id: int,
    admin_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> User:
    """Closes an account for good (issue 23): a suspension without end
    (`accounts.BANNED_UNTIL`) with the admin's reason, so every action
    `accounts.require_may_act` guards (joining, hosting, checking in, photos, rating, reports,
    exchanging points) is refused with the "banned" text, and any message gets the final one
    (`handlers/banned.py`). Their points stay on the ledger, frozen: nothing is taken, nothing
    can be spent. Only an acting admin may, never on themselves or another operator. With
    `now`, the person is told once (outbox `ban:<user id>`)."""
    if await users.acting_admin(session, admin_id) is None:
        raise NotAdmin("command")
    if user_id == admin_id:
        raise CannotBan("self")
    user = await session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise CannotBan("unknown")
    if user.is_admin:
        raise CannotBan("admin")
    if is_banned(user):
        raise CannotBan("banned")
    user.suspended_until = BANNED_UNTIL
    user.ban_reason = clean(reason, 300) or None
    if now is not None:
        await outbox.enqueue(
            session, key=f"ban:{user_id}", chat_id=user_id, kind="banned", values={}, now=now
        )
    return user


async def unban(session: AsyncSession, user_id: int, admin_id: int) -> User:
    """Lifts a ban (a mistake undone): the person may act again; their points were kept."""
    if await users.acting_admin(session, admin_id) is None:
        raise NotAdmin("command")
    user = await session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise CannotBan("unknown")
    if not is_banned(user):
        raise CannotBan("not_banned")
    user.suspended_until = None
    user.ban_reason = None
    return user


def is_banned(user: User) -> bool:
    until = user.suspended_until
    return until is not None and until >= BANNED_UNTIL


async def banned(session: AsyncSession, user_id: int) -> bool:
    """Whether this person is banned for good (the gate in front of every update asks)."""
    until = await session.scalar(select(User.suspended_until).where(User.id == user_id))
    return until is not None and until >= BANNED_UNTIL


@dataclass(frozen=True)
class OpenReport:
    """One open report as `/reports` lists it (the values its card is drawn from, as the
    admin group's `report_filed` card)."""

    report_id: int
    reason: str
    details: str
    name: str
    trust: int
    created_at: datetime


@dataclass(frozen=True)
class ReportsPage:
    reports: list[OpenReport]
    total: int
    page: int
    pages: int


async def open_reports(
    session: AsyncSession, admin_id: int, page: int, per_page: int = 5
) -> ReportsPage:
    """`/reports` (issue 23): the open reports, oldest first, a page at a time (so they are
    seen even with no admin group set). Admins only."""
    if await users.acting_admin(session, admin_id) is None:
        raise NotAdmin("command")
    total = int(
        await session.scalar(
            select(func.count()).select_from(Report).where(Report.status == "open")
        )
        or 0
    )
    pages = max(1, -(-total // per_page))
    page = min(max(page, 0), pages - 1)
    rows = await session.execute(
        select(Report, User.display_name, User.trust_score, User.deleted_at)
        .join(User, User.id == Report.reported_id)
        .where(Report.status == "open")
        .order_by(Report.id)
        .offset(page * per_page)
        .limit(per_page)
    )
    reports = [
        OpenReport(
            report.id,
            report.reason,
            report.details or "",
            "" if gone else name,
            round(score),
            report.created_at,
        )
        for report, name, score, gone in rows
    ]
    return ReportsPage(reports, total, page, pages)


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


def blocks_between(a: int | ColumnElement[int], b: int | ColumnElement[int]) -> Select[int]:
    """A block, either way, between two people (a query; `blocked_between` runs it)."""
    return select(UserBlock.blocker_id).where(
        or_(
            (UserBlock.blocker_id == a) & (UserBlock.blocked_id == b),
            (UserBlock.blocker_id == b) & (UserBlock.blocked_id == a),
        )
    )


async def blocked_between(session: AsyncSession, a: int, b: int) -> bool:
    return (await session.scalar(blocks_between(a, b).limit(1))) is not None


async def blocked_ids(session: AsyncSession, user_id: int) -> set[int]:
    """Everyone on either side of a block with this person."""
    rows = await session.execute(
        select(UserBlock.blocker_id, UserBlock.blocked_id).where(
            or_(UserBlock.blocker_id == user_id, UserBlock.blocked_id == user_id)
        )
    )
    return {b if a == user_id else a for a, b in rows}
