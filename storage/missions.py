"""Missions: browsing what is published, storing generated drafts, the admins' review.

Browsing is per district (Songpa-gu): every mission's place lies in one dong, but a dong holds
only a handful, and the whole district is a short walk or bus ride. Review operations re-check
on the server that the person is an admin, whatever button they pressed.

What a screen shows is read by one call returning a view (`listing`, `recommended_page`,
`detail`, `drafts_for_review`), so a handler opens one session and hands the view to
`ui.missions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from missions.draft import POINTS_MAX, POINTS_MIN, MissionDraft
from missions.recommend import REPEAT_DAYS, Person, Reason, recommend
from missions.timing import season_of
from storage import catalogue, users
from storage.errors import AlreadyReviewed, MissionNotFound, NotAdmin, PointsOutOfRange
from storage.models import Meeting, Mission, Participation, Region, User
from verification.geo import contains

PAGE_SIZE = 5
RECOMMENDED = 15  # ranked missions shown on the "for you" pages, a page at a time
Decision = Literal["publish", "discard", "points"]


@dataclass(frozen=True)
class MissionPage:
    missions: list[Mission]
    page: int  # 0-based, clamped into range
    pages: int  # at least 1
    total: int


async def published_in_district(
    session: AsyncSession,
    district_code: str,
    *,
    season: str | None = None,
    category: str | None = None,
) -> list[Mission]:
    """Published missions whose place lies in the district, most points first."""
    found = await catalogue.published(session, district_code)
    if category is not None:
        found = [m for m in found if m.category == category]
    # Filtered in memory: a district holds hundreds of published missions at most
    # (generated ones are reviewed), and the list comes from the catalogue's copy.
    if season is not None:
        found = [m for m in found if not m.seasons or season in m.seasons]
    return found


async def page_in_district(
    session: AsyncSession,
    district_code: str,
    page: int,
    *,
    season: str | None = None,
    category: str | None = None,
    per_page: int = PAGE_SIZE,
) -> MissionPage:
    """One page of `published_in_district`; a page past the end shows the last one."""
    found = await published_in_district(session, district_code, season=season, category=category)
    pages = max(1, -(-len(found) // per_page))
    page = min(max(page, 0), pages - 1)
    return MissionPage(found[page * per_page : (page + 1) * per_page], page, pages, len(found))


@dataclass(frozen=True)
class Listing:
    """A page of the missions in the person's district (their dong's, None without one)."""

    region: Region | None
    page: MissionPage


async def listing(
    session: AsyncSession, user: User, page: int, now: datetime, zone: tzinfo, category: str | None
) -> Listing:
    """`/missions`: this season's missions of the person's district, a page at a time."""
    region = await home_region(session, user)
    found = await page_in_district(
        session,
        region.district_code if region else "",
        page,
        season=season_of(now.astimezone(zone).date()),
        category=category,
    )
    return Listing(region, found)


@dataclass(frozen=True)
class RecommendedPage:
    """A page of the missions ranked for one person, each with its reason."""

    picks: list[tuple[Mission, Reason]]
    page: int  # 0-based, clamped into range
    pages: int  # at least 1


async def recommended_page(
    session: AsyncSession, user: User, page: int, now: datetime, zone: tzinfo
) -> RecommendedPage:
    """ "Recommended for you": the district's missions ranked for the person at their local
    time, leaving out what they did within `REPEAT_DAYS`."""
    region = await home_region(session, user)
    candidates = await published_in_district(session, region.district_code) if region else []
    done = await recently_done(session, user.id, now - timedelta(days=REPEAT_DAYS))
    person = Person(
        interests=user.interests,
        preferred_times=user.preferred_times,
        home_lat=region.center_lat if region else 0.0,
        home_lon=region.center_lon if region else 0.0,
    )
    ranked = recommend(candidates, person, now.astimezone(zone), done, limit=RECOMMENDED)
    pages = max(1, -(-len(ranked) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = ranked[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    return RecommendedPage([(r.mission, r.reason) for r in shown], page, pages)


async def get_mission(session: AsyncSession, mission_id: int) -> Mission:
    """Any mission by id, whatever its status (for admins)."""
    mission = await session.get(Mission, mission_id)
    if mission is None:
        raise MissionNotFound
    return mission


async def published_mission(session: AsyncSession, mission_id: int) -> Mission:
    """A mission people may see; drafts and retired ones are not found."""
    mission = await catalogue.published_mission(session, mission_id)
    if mission is None:
        raise MissionNotFound
    return mission


async def mission_region(session: AsyncSession, mission: Mission) -> Region | None:
    return await catalogue.region(session, mission.region_id) if mission.region_id else None


@dataclass(frozen=True)
class Detail:
    """A published mission and the dong its place lies in (its address)."""

    mission: Mission
    region: Region | None


async def detail(session: AsyncSession, mission_id: int) -> Detail:
    """A mission's card; raises `MissionNotFound` unless it is published."""
    mission = await published_mission(session, mission_id)
    return Detail(mission, await mission_region(session, mission))


async def enabled_regions(session: AsyncSession, district_code: str) -> list[Region]:
    """The open dongs of a district (where generated missions may be placed)."""
    rows = await session.scalars(
        select(Region).where(Region.district_code == district_code, Region.enabled)
    )
    return list(rows)


async def keys_of_day(session: AsyncSession, day_prefix: str) -> set[str]:
    """Mission keys already stored for a day (`20261125-…`), whatever their status."""
    rows = await session.scalars(select(Mission.key).where(Mission.key.startswith(day_prefix)))
    return {k for k in rows if k}


async def interest_counts(session: AsyncSession, region_ids: Sequence[int]) -> list[str]:
    """Interests of the people in these dongs, most common first (no one is named)."""
    rows = await session.scalars(
        select(User.interests).where(
            User.region_id.in_(region_ids), User.registered_at.is_not(None)
        )
    )
    counts: dict[str, int] = {}
    for interests in rows:
        for interest in interests or []:
            counts[interest] = counts.get(interest, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))


async def save_drafts(
    session: AsyncSession, drafts: Sequence[MissionDraft], regions: Sequence[Region], now: datetime
) -> list[Mission]:
    """Stores generated missions as drafts in the dong their place lies in; a key already
    stored (the same mission that day) or a place outside these dongs is skipped."""
    keys = [d.key for d in drafts]
    existing = set(await session.scalars(select(Mission.key).where(Mission.key.in_(keys))))
    saved = []
    for draft in drafts:
        place = draft.place
        region = next((r for r in regions if contains(r.boundary, place.lat, place.lon)), None)
        if draft.key in existing or region is None:
            continue
        existing.add(draft.key)
        mission = Mission(
            key=draft.key,
            title_ko=draft.title_ko,
            title_en=draft.title_en,
            description_ko=draft.description_ko,
            description_en=draft.description_en,
            category=draft.category,
            region_id=region.id,
            place_name_ko=place.name_ko,
            place_name_en=place.name_en,
            place_lat=place.lat,
            place_lon=place.lon,
            duration_min=draft.duration_min,
            min_group=draft.min_group,
            max_group=draft.max_group,
            points=draft.points,
            difficulty=draft.difficulty,
            evidence_rule_ko=draft.evidence_rule_ko,
            evidence_rule_en=draft.evidence_rule_en,
            seasons=list(draft.seasons),
            times_of_day=list(draft.times_of_day),
            status="draft",
            source=draft.source,
            created_at=now,
        )
        session.add(mission)
        saved.append(mission)
    await session.flush()
    return saved


@dataclass(frozen=True)
class Drafts:
    """The oldest drafts waiting for review and how many wait in all."""

    missions: list[Mission]
    total: int


async def drafts_for_review(session: AsyncSession, admin_id: int, limit: int) -> Drafts:
    """`/drafts`: up to `limit` drafts, oldest first; raises `NotAdmin("command")` for
    anyone who may not review."""
    await require_admin(session, admin_id, "command")
    return await waiting_drafts(session, limit)


async def waiting_drafts(session: AsyncSession, limit: int) -> Drafts:
    """Up to `limit` drafts, oldest first, for whoever the caller vouches for (an anonymous
    admin of the admin group, whom Telegram does not name)."""
    waiting = Mission.status == "draft"
    total = await session.scalar(select(func.count()).select_from(Mission).where(waiting))
    rows = await session.scalars(select(Mission).where(waiting).order_by(Mission.id).limit(limit))
    return Drafts(list(rows), int(total or 0))


async def require_admin(session: AsyncSession, user_id: int, reason: str = "drafts") -> User:
    """The admin, or `NotAdmin(reason)`: the reason picks the refusal's wording."""
    user = await users.acting_admin(session, user_id)
    if user is None:
        raise NotAdmin(reason)
    return user


async def _draft_for_review(session: AsyncSession, mission_id: int, admin_id: int) -> Mission:
    await require_admin(session, admin_id)
    # Locks the row on PostgreSQL (SQLite serialises writers with BEGIN IMMEDIATE), so two
    # admins pressing at once decide once.
    mission = await session.scalar(
        select(Mission).where(Mission.id == mission_id).with_for_update()
    )
    if mission is None:
        raise MissionNotFound("review")
    return mission


async def publish(session: AsyncSession, mission_id: int, admin_id: int, now: datetime) -> Mission:
    """Makes a draft visible to everyone; raises `AlreadyReviewed` if it is not a draft."""
    mission = await _draft_for_review(session, mission_id, admin_id)
    if mission.status != "draft":
        raise AlreadyReviewed(mission.status)
    mission.status = "published"
    mission.published_at = now
    return mission


async def discard(session: AsyncSession, mission_id: int, admin_id: int) -> Mission:
    """Retires a draft; its key stays, so the generator does not offer it again that day."""
    mission = await _draft_for_review(session, mission_id, admin_id)
    if mission.status != "draft":
        raise AlreadyReviewed(mission.status)
    mission.status = "retired"
    return mission


async def set_points(session: AsyncSession, mission_id: int, admin_id: int, points: int) -> Mission:
    """Sets the points of a draft or a published mission (an absolute value, so a double
    tap changes nothing twice)."""
    if not POINTS_MIN <= points <= POINTS_MAX:
        raise PointsOutOfRange
    mission = await _draft_for_review(session, mission_id, admin_id)
    if mission.status == "retired":
        raise AlreadyReviewed(mission.status)
    mission.points = points
    return mission


@dataclass(frozen=True)
class Reviewed:
    """What a review press left: the mission as it is now, and the refusal when another
    press had already decided it (then nothing changed)."""

    mission: Mission
    decision: Decision
    refused: AlreadyReviewed | None = None


async def review(
    session: AsyncSession,
    mission_id: int,
    admin_id: int,
    decision: Decision,
    now: datetime,
    points: int = 0,
) -> Reviewed:
    """Publish, discard or re-price (`points`) a mission from its review card."""
    try:
        if decision == "publish":
            mission = await publish(session, mission_id, admin_id, now)
        elif decision == "discard":
            mission = await discard(session, mission_id, admin_id)
        else:
            mission = await set_points(session, mission_id, admin_id, points)
    except AlreadyReviewed as refused:
        return Reviewed(await get_mission(session, mission_id), decision, refused)
    return Reviewed(mission, decision)


async def recently_done(
    session: AsyncSession, user_id: int, since: datetime
) -> dict[int, datetime]:
    """Missions of meetings the person joined or hosted that started after `since`, with the
    latest start; this is what "no repeat within N days" looks at."""
    recent = (Meeting.status != "cancelled", Meeting.starts_at >= since)
    joined = (
        select(Meeting.mission_id, Meeting.starts_at)
        .join(Participation, Participation.meeting_id == Meeting.id)
        .where(Participation.user_id == user_id, Participation.status == "joined", *recent)
    )
    hosted = select(Meeting.mission_id, Meeting.starts_at).where(
        Meeting.host_id == user_id, *recent
    )
    done: dict[int, datetime] = {}
    for query in (joined, hosted):
        for mission_id, started in await session.execute(query):
            done[mission_id] = max(started, done.get(mission_id, started))
    return done


async def home_region(session: AsyncSession, user: User) -> Region | None:
    """The person's dong, whose district they browse and whose centre is "near"."""
    return await catalogue.region(session, user.region_id) if user.region_id else None
