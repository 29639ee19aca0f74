"""The published missions and the neighbourhoods, kept in memory for the pages people browse.

/missions, its pages and filters, a mission's card and the maps read them on nearly every
update, and they change rarely: an admin publishes or edits a mission, `halsaram seed` adds
dongs. A write to either through the ORM in this process clears the copy as it commits;
a change made by another process (the CLI) shows within `TTL_SECONDS`.

Decisions never trust the copy: creating or joining a meetup re-reads the mission and the
meeting in its own transaction. The objects handed out are detached and shared, so callers
read them and never change them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from storage.models import Mission, Region

TTL_SECONDS = 60.0
_CHANGED = "halsaram_catalogue_changed"


@dataclass
class _Copy:
    """What one database's catalogue held when it was read (regions are read as asked)."""

    # Cache age is not domain time: monotonic seconds, not the application's clock.
    read_at: float = field(default_factory=time.monotonic)
    missions: dict[int, Mission] | None = None  # published ones, by id
    by_district: dict[str, list[Mission]] = field(default_factory=dict)
    regions: dict[int, Region | None] = field(default_factory=dict)


# By pool: the readers' autocommit engine and the writers' engine share one database.
_copies: WeakKeyDictionary[Pool, _Copy] = WeakKeyDictionary()


def _engine(session: AsyncSession) -> AsyncEngine | None:
    """The engine whose copy this session may use; None when it must read for itself: bound
    to a connection (a test's), or holding changes to missions or regions not yet committed
    (no one else may see those)."""
    bind = session.bind
    if not isinstance(bind, AsyncEngine) or session.info.get(_CHANGED):
        return None
    pending = (*session.new, *session.dirty, *session.deleted)
    return None if any(isinstance(row, Mission | Region) for row in pending) else bind


def _current(engine: AsyncEngine) -> _Copy:
    """The copy to read; a missing or stale one is replaced by an empty one.

    A read that was under way when the copy was cleared fills the old copy, which no one
    reads any more, so a commit is never followed by a page from before it.
    """
    pool = engine.sync_engine.pool
    copy = _copies.get(pool)
    if copy is None or time.monotonic() - copy.read_at > TTL_SECONDS:
        copy = _copies[pool] = _Copy()
    return copy


def forget(engine: Engine) -> None:
    """Clears the copy of this database (after a commit that changed missions or regions)."""
    _copies.pop(engine.pool, None)


async def _with_missions(session: AsyncSession, engine: AsyncEngine) -> _Copy:
    """The current copy, its published missions read if they are not yet."""
    copy = _current(engine)
    if copy.missions is None:
        async with _reader(session) as reader:
            rows = await reader.execute(
                select(Mission, Region.district_code)
                .outerjoin(Region, Region.id == Mission.region_id)
                .where(Mission.status == "published")
                .order_by(Mission.points.desc(), Mission.id)
            )
            missions: dict[int, Mission] = {}
            by_district: dict[str, list[Mission]] = {}
            for mission, district_code in rows:
                missions[mission.id] = mission
                if district_code is not None:
                    by_district.setdefault(district_code, []).append(mission)
        copy.missions, copy.by_district = missions, by_district
    return copy


@asynccontextmanager
async def _reader(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A session of its own on the caller's connection and transaction.

    Its own, so the objects kept belong to no caller's session (whose rollback would expire
    them under everyone); on the caller's connection, so a miss under load never waits for a
    second connection from a pool the waiting handlers hold. Closing it leaves the caller's
    transaction as it was.
    """
    async with AsyncSession(await session.connection(), expire_on_commit=False) as reader:
        yield reader


async def published(session: AsyncSession, district_code: str) -> list[Mission]:
    """The published missions whose place lies in the district, most points first."""
    engine = _engine(session)
    if engine is None:
        return await _published_now(session, district_code)
    copy = await _with_missions(session, engine)
    return list(copy.by_district.get(district_code, ()))


async def _published_now(session: AsyncSession, district_code: str) -> list[Mission]:
    rows = await session.scalars(
        select(Mission)
        .join(Region, Mission.region_id == Region.id)
        .where(Mission.status == "published", Region.district_code == district_code)
        .order_by(Mission.points.desc(), Mission.id)
    )
    return list(rows)


async def published_mission(session: AsyncSession, mission_id: int) -> Mission | None:
    """A published mission by id, or None; one published a moment ago by another process
    is read from the database."""
    engine = _engine(session)
    if engine is not None:
        copy = await _with_missions(session, engine)
        if copy.missions and mission_id in copy.missions:
            return copy.missions[mission_id]
    mission = await session.get(Mission, mission_id)
    return mission if mission is not None and mission.status == "published" else None


async def region(session: AsyncSession, region_id: int) -> Region | None:
    """A neighbourhood by id, boundary included."""
    engine = _engine(session)
    if engine is None:
        return await session.get(Region, region_id)
    copy = _current(engine)
    if region_id not in copy.regions:
        async with _reader(session) as reader:
            copy.regions[region_id] = await reader.get(Region, region_id)
    return copy.regions[region_id]


# A commit that wrote a mission or a region clears the copy of that database. Flush events
# see the ORM's own writes; nothing in the project changes these tables with bulk SQL. A
# session holding such changes reads for itself (`_engine`), so a rollback leaves the copy
# clean; the mark it leaves only costs one needless clearing at that session's next commit.


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context: Any) -> None:
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(row, Mission | Region) for row in touched):
        session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        bind = session.get_bind()
        forget(bind if isinstance(bind, Engine) else bind.engine)
