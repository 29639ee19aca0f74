"""Figures for operators: what happened per neighbourhood and week, and what is owed now.

Weeks are local (Monday 00:00 in the bot's zone). Each figure counts an event in the week it
happened: a signup by `registered_at`, a verification by `region_verified_at`, a meetup
created by `created_at`, held or cancelled by its start, check-ins and seats of the meetups
held, a no-show by `no_show_at`, a photo by `submitted_at`, a decision by `decided_at`, points
by the ledger entry's time. The region is the person's (signups, points) or the meetup's
(everything about meetups and photos). Photos waiting, points outstanding and voucher stock
are snapshots at the time of the report. The weekly chart's claim (one per admin chat and
week) is a ScheduledSend like every other scheduled post.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import users
from storage.errors import NotAdmin
from storage.models import (
    Balance,
    Evidence,
    LedgerEntry,
    MarketItem,
    Meeting,
    Participation,
    Region,
    Review,
    ScheduledSend,
    User,
    VoucherCode,
)

WEEKLY = "weekly_stats"
ISSUED_KINDS = ("reward", "bonus")
IN_FLIGHT = ("received", "checking", "in_review")
Key = tuple[date, int | None]  # (week start, region id)


class RegionName(NamedTuple):
    """A neighbourhood's name in both languages (`ui.i18n.localized` picks one)."""

    name_ko: str
    name_en: str


@dataclass
class Figures:
    """What happened in one region and week (or summed over several)."""

    signups: int = 0
    verified: int = 0
    meetups_created: int = 0
    meetups_held: int = 0
    meetups_cancelled: int = 0
    seats: int = 0  # seated people in the meetups held
    checked_in: int = 0
    no_shows: int = 0
    photos: int = 0
    duplicates: int = 0
    decided: int = 0
    approved: int = 0
    points_issued: int = 0
    decision_minutes: list[float] = field(default_factory=list)

    @property
    def checkin_rate(self) -> float | None:
        return self.checked_in / self.seats if self.seats else None

    @property
    def approval_rate(self) -> float | None:
        return self.approved / self.decided if self.decided else None

    @property
    def median_decision_minutes(self) -> float | None:
        return statistics.median(self.decision_minutes) if self.decision_minutes else None

    def add(self, other: Figures) -> Figures:
        """This plus `other`, as a new object."""
        total = Figures()
        for f in fields(Figures):
            setattr(total, f.name, getattr(self, f.name) + getattr(other, f.name))
        return total

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(Figures) if f.name != "decision_minutes"
        }
        data["checkin_rate"] = self.checkin_rate
        data["approval_rate"] = self.approval_rate
        data["median_decision_minutes"] = self.median_decision_minutes
        return data


@dataclass
class Report:
    """Figures per (week, region) over some weeks, and today's snapshots."""

    weeks: list[date]
    cells: dict[Key, Figures]
    region_names: dict[int, RegionName]
    pending: int
    points_outstanding: int
    voucher_codes: int
    voucher_value: int  # points the codes in stock would absorb

    def week(self, start: date) -> Figures:
        return _sum(f for (w, _), f in self.cells.items() if w == start)

    def region(self, region_id: int | None) -> Figures:
        return _sum(f for (_, r), f in self.cells.items() if r == region_id)

    def total(self) -> Figures:
        return _sum(self.cells.values())

    def regions(self) -> list[int | None]:
        """Regions with any activity, busiest first."""
        found = {r for _, r in self.cells}
        return sorted(found, key=lambda r: (-self.region(r).meetups_created, r or 0))

    @property
    def liability_gap(self) -> int:
        """Points people hold beyond what the voucher stock can absorb (0 when covered)."""
        return max(0, self.points_outstanding - self.voucher_value)

    def as_json(self) -> dict[str, Any]:
        return {
            "weeks": [w.isoformat() for w in self.weeks],
            "total": self.total().as_json(),
            "by_week": {w.isoformat(): self.week(w).as_json() for w in self.weeks},
            "by_region": {
                (
                    self.region_names.get(r, RegionName("", "")).name_en if r else "none"
                ): self.region(r).as_json()
                for r in self.regions()
            },
            "cells": [
                {"week": w.isoformat(), "region_id": r, **f.as_json()}
                for (w, r), f in sorted(
                    self.cells.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
                )
            ],
            "pending": self.pending,
            "points_outstanding": self.points_outstanding,
            "voucher_codes": self.voucher_codes,
            "voucher_value": self.voucher_value,
            "liability_gap": self.liability_gap,
        }


def _sum(items: Any) -> Figures:
    total = Figures()
    for item in items:
        total = total.add(item)
    return total


def week_start(moment: datetime, zone: tzinfo) -> date:
    """The local Monday of the week `moment` falls in."""
    local = moment.astimezone(zone).date()
    return local - timedelta(days=local.weekday())


def week_bounds(start: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The week's first and first-after instants (aware)."""
    begin = datetime.combine(start, time(0), tzinfo=zone)
    return begin, datetime.combine(start + timedelta(days=7), time(0), tzinfo=zone)


async def report(session: AsyncSession, *, until: datetime, zone: tzinfo, weeks: int = 4) -> Report:
    """The figures of the `weeks` local weeks up to the one holding `until` (exclusive)."""
    if not 1 <= weeks <= 52:
        raise ValueError("weeks must be 1-52")
    last = week_start(until - timedelta(microseconds=1), zone)
    starts = [last - timedelta(days=7 * i) for i in reversed(range(weeks))]
    since = week_bounds(starts[0], zone)[0]
    cells: dict[Key, Figures] = {}

    def cell(moment: datetime | None, region_id: int | None) -> Figures:
        assert moment is not None  # every query filters on the moment
        return cells.setdefault((week_start(moment, zone), region_id), Figures())

    def between(column: Any) -> Any:
        return column.is_not(None) & (column >= since) & (column < until)

    for at, region_id in await session.execute(
        select(User.registered_at, User.region_id).where(between(User.registered_at))
    ):
        cell(at, region_id).signups += 1
    for at, region_id in await session.execute(
        select(User.region_verified_at, User.region_id).where(between(User.region_verified_at))
    ):
        cell(at, region_id).verified += 1
    for at, region_id in await session.execute(
        select(Meeting.created_at, Meeting.region_id).where(between(Meeting.created_at))
    ):
        cell(at, region_id).meetups_created += 1
    await _meetups(session, between, cell)
    for at, region_id in await session.execute(
        select(Participation.no_show_at, Meeting.region_id)
        .join(Meeting, Meeting.id == Participation.meeting_id)
        .where(between(Participation.no_show_at))
    ):
        cell(at, region_id).no_shows += 1
    for at, flags, region_id in await session.execute(
        select(Evidence.submitted_at, Evidence.flags, Meeting.region_id)
        .join(Meeting, Meeting.id == Evidence.meeting_id)
        .where(between(Evidence.submitted_at))
    ):
        figures = cell(at, region_id)
        figures.photos += 1
        figures.duplicates += "duplicate" in (flags or [])
    for decided_at, decision, submitted_at, region_id in await session.execute(
        select(Review.decided_at, Review.decision, Evidence.submitted_at, Meeting.region_id)
        .join(Evidence, Evidence.id == Review.evidence_id)
        .join(Meeting, Meeting.id == Evidence.meeting_id)
        .where(between(Review.decided_at))
    ):
        figures = cell(decided_at, region_id)
        figures.decided += 1
        figures.approved += decision == "approved"
        figures.decision_minutes.append((decided_at - submitted_at).total_seconds() / 60)
    for at, amount, region_id in await session.execute(
        select(LedgerEntry.created_at, LedgerEntry.amount, User.region_id)
        .join(User, User.id == LedgerEntry.user_id)
        .where(
            between(LedgerEntry.created_at),
            LedgerEntry.kind.in_(ISSUED_KINDS),
            LedgerEntry.amount > 0,
        )
    ):
        cell(at, region_id).points_issued += int(amount)
    return Report(
        weeks=starts,
        cells=cells,
        region_names=await _names(session, {r for _, r in cells if r is not None}),
        **await _snapshots(session),
    )


@dataclass(frozen=True)
class Overview:
    """The recent weeks' figures, and the longer run of weeks the chart shows."""

    recent: Report
    chart: Report


async def began_at(session: AsyncSession) -> datetime | None:
    """When the service began here: the first signup (None before anyone signed up)."""
    return await session.scalar(select(func.min(User.registered_at)))


def worth_reporting(report: Report, began: datetime | None, zone: tzinfo) -> bool:
    """A week's report goes out only for a whole week of service with something in it: not
    the week the service began part-way through (nor one before), not a week where nothing
    happened."""
    if began is None or not report.weeks:
        return False
    if began > week_bounds(report.weeks[0], zone)[0]:
        return False
    return report.total() != Figures()


async def overview(
    session: AsyncSession, *, until: datetime, zone: tzinfo, weeks: int, chart_weeks: int
) -> Overview:
    """The figures of `weeks` and of `chart_weeks` weeks up to `until`, read together."""
    return Overview(
        await report(session, until=until, zone=zone, weeks=weeks),
        await report(session, until=until, zone=zone, weeks=chart_weeks),
    )


async def admin_overview(
    session: AsyncSession,
    admin_id: int,
    *,
    until: datetime,
    zone: tzinfo,
    weeks: int,
    chart_weeks: int,
) -> Overview:
    """`/stats`: the overview for an admin; anyone else gets `NotAdmin("command")`."""
    if await users.acting_admin(session, admin_id) is None:
        raise NotAdmin("command")
    return await overview(session, until=until, zone=zone, weeks=weeks, chart_weeks=chart_weeks)


async def _meetups(session: AsyncSession, between: Any, cell: Any) -> None:
    """Held (finished with anyone checked in) and cancelled meetups, by their start;
    seats and check-ins of the held ones."""
    rows = await session.execute(
        select(Meeting.id, Meeting.starts_at, Meeting.status, Meeting.region_id).where(
            between(Meeting.starts_at), Meeting.status.in_(("finished", "cancelled"))
        )
    )
    finished: dict[int, tuple[datetime, int | None]] = {}
    for meeting_id, starts_at, status, region_id in rows:
        if status == "cancelled":
            cell(starts_at, region_id).meetups_cancelled += 1
        else:
            finished[int(meeting_id)] = (starts_at, region_id)
    if not finished:
        return
    seats = await session.execute(
        select(
            Participation.meeting_id,
            func.count(),
            func.count(Participation.checked_in_at),
        )
        .where(Participation.meeting_id.in_(list(finished)), Participation.status == "joined")
        .group_by(Participation.meeting_id)
    )
    for meeting_id, seated, present in seats:
        if not present:
            continue  # finished, but nobody came: not held
        figures = cell(*finished[int(meeting_id)])
        figures.meetups_held += 1
        figures.seats += int(seated)
        figures.checked_in += int(present)


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, RegionName]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Region.id, Region.name_ko, Region.name_en).where(Region.id.in_(ids))
    )
    return {int(i): RegionName(ko, en) for i, ko, en in rows}


async def _snapshots(session: AsyncSession) -> dict[str, int]:
    pending = await session.scalar(
        select(func.count()).select_from(Evidence).where(Evidence.status.in_(IN_FLIGHT))
    )
    outstanding = await session.scalar(select(func.coalesce(func.sum(Balance.points), 0)))
    codes, value = (
        await session.execute(
            select(func.count(VoucherCode.id), func.coalesce(func.sum(MarketItem.cost), 0))
            .join(MarketItem, MarketItem.id == VoucherCode.item_id)
            .where(
                VoucherCode.issued_to.is_(None),
                VoucherCode.refunded_at.is_(None),
                MarketItem.active.is_(True),
            )
        )
    ).one()
    return {
        "pending": int(pending or 0),
        "points_outstanding": int(outstanding or 0),
        "voucher_codes": int(codes or 0),
        "voucher_value": int(value or 0),
    }


# --------------------------------------------------------------------------- weekly claim


def week_slot(start: date) -> str:
    """The claim's slot for a week: its ISO week ("2026-W48")."""
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


async def claim_week(
    session: AsyncSession, chat_id: int, slot: str, worker: str, now: datetime
) -> bool:
    """Claims sending one week's chart to one chat; False when someone already has."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    result = await session.execute(
        insert(ScheduledSend)
        .values(kind=WEEKLY, target=chat_id, slot=slot, claimed_by=worker[:60], claimed_at=now)
        .on_conflict_do_nothing(index_elements=["kind", "target", "slot"])
        # RETURNING, not rowcount: psycopg's async rowcount of this INSERT is -1 (unknown).
        .returning(ScheduledSend.id)
    )
    return result.first() is not None


async def week_sent(session: AsyncSession, chat_id: int, slot: str, now: datetime) -> None:
    await session.execute(
        update(ScheduledSend)
        .where(
            ScheduledSend.kind == WEEKLY,
            ScheduledSend.target == chat_id,
            ScheduledSend.slot == slot,
        )
        .values(done_at=now)
    )


async def release_week(session: AsyncSession, chat_id: int, slot: str) -> None:
    """Gives the claim back after a failed send, so the next run tries again."""
    await session.execute(
        delete(ScheduledSend).where(
            ScheduledSend.kind == WEEKLY,
            ScheduledSend.target == chat_id,
            ScheduledSend.slot == slot,
            ScheduledSend.done_at.is_(None),
        )
    )
