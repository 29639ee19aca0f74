"""Foundation: the database itself holds the rules people rely on, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction
from storage.models import (
    Balance,
    Feedback,
    LedgerEntry,
    MarketItem,
    Meeting,
    Mission,
    Participation,
    Region,
    User,
    VoucherCode,
)
from storage.seed import seed_all
from verification.geo import contains


async def _people_and_meeting(sessions: SessionFactory, clock: FrozenClock) -> int:
    now = clock.now()
    async with transaction(sessions) as s:
        s.add_all([User(id=1, created_at=now), User(id=2, created_at=now)])
        mission = Mission(
            title_ko="산책", title_en="Walk", category="walking", place_name_ko="석촌호수",
            place_name_en="Seokchon Lake", place_lat=37.5096, place_lon=127.1027,
            duration_min=40, points=100, created_at=now,
        )  # fmt: skip
        s.add(mission)
        await s.flush()
        meeting = Meeting(
            mission_id=mission.id, host_id=1, starts_at=now + timedelta(hours=2),
            ends_at=now + timedelta(hours=3),
            place_name="Seokchon Lake", place_lat=37.5096, place_lon=127.1027, capacity=4,
            created_at=now,
        )  # fmt: skip
        s.add(meeting)
        await s.flush()
        return meeting.id


async def test_a_person_joins_a_meeting_once(sessions: SessionFactory, clock: FrozenClock) -> None:
    meeting_id = await _people_and_meeting(sessions, clock)
    async with transaction(sessions) as s:
        s.add(Participation(meeting_id=meeting_id, user_id=2, joined_at=clock.now()))
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as s:
            s.add(Participation(meeting_id=meeting_id, user_id=2, joined_at=clock.now()))
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Participation)) == 1


async def test_balance_never_below_zero_and_references_are_unique(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await _people_and_meeting(sessions, clock)
    async with transaction(sessions) as s:
        s.add(Balance(user_id=2, points=100, updated_at=clock.now()))
        s.add(LedgerEntry(user_id=2, amount=100, balance_after=100, kind="reward",
                          reference="evidence:1", created_at=clock.now()))  # fmt: skip
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as s:
            balance = await s.get(Balance, 2)
            assert balance is not None
            balance.points = -1
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as s:
            s.add(LedgerEntry(user_id=2, amount=100, balance_after=200, kind="reward",
                              reference="evidence:1", created_at=clock.now()))  # fmt: skip
    async with sessions() as s:
        assert (await s.get(Balance, 2)).points == 100  # type: ignore[union-attr]
        total = await s.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.user_id == 2))
        assert total == 100


async def test_a_voucher_code_exists_once(sessions: SessionFactory, clock: FrozenClock) -> None:
    async with transaction(sessions) as s:
        item = MarketItem(key="coffee", name_ko="커피", name_en="Coffee", cost=500)
        s.add(item)
        await s.flush()
        s.add(VoucherCode(item_id=item.id, code="CAFE-0001"))
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as s:
            s.add(VoucherCode(item_id=item.id, code="CAFE-0001"))


async def test_nobody_rates_themselves(sessions: SessionFactory, clock: FrozenClock) -> None:
    meeting_id = await _people_and_meeting(sessions, clock)
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as s:
            s.add(Feedback(meeting_id=meeting_id, from_user_id=1, to_user_id=1, rating=5,
                           created_at=clock.now()))  # fmt: skip


async def test_seed_loads_songpa_and_the_catalogue_once(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    for _ in range(2):
        async with transaction(sessions) as s:
            result = await seed_all(s, clock)
    assert result.regions == 467
    async with sessions() as s:
        enabled = (await s.scalars(select(Region).where(Region.enabled))).all()
        missions = (await s.scalars(select(Mission))).all()
        assert await s.scalar(select(func.count()).select_from(Region)) == 467
    assert {r.district_ko for r in enabled} == {"송파구"}
    assert {"잠실동", "방이동", "석촌동", "가락동"} <= {r.name_ko for r in enabled}
    assert len(missions) == result.missions >= 10
    by_id = {r.id: r for r in enabled}
    for mission in missions:
        assert mission.status == "published"
        assert mission.region_id is not None
        region = by_id[mission.region_id]  # every demo place lies inside Songpa-gu
        assert contains(region.boundary, mission.place_lat, mission.place_lon)
