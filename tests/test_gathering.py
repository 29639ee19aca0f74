"""Issue 23: "🙋" taps on a group's daily post gather a meetup (storage/gathering.py), and the
daily pick fits the group's 동 and the hour. On SQLite and PostgreSQL.

- A tap counts once per person, post and mission: a double tap (or a redelivered update) is
  idempotent, so two taps by one person and one by another make no meetup when 3 are needed.
- The third tap makes the meetup once: the first tapper who may host hosts it (the hosting
  checks), the others are seated (the Join rules), anyone who may not join is told why.
- Nobody may host: no meetup, a volunteer is asked for; a later tap by someone who may host
  makes it. Taps stop at the cut-off and on another day; a button not in the post is refused.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from missions.timing import part_of_day
from storage import erasure, export, gathering, groups, outbox
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction
from storage.errors import (
    GatheringClosed,
    InvalidGatherSize,
    NotDailyPost,
    NotRegistered,
)
from storage.meetings import Rules
from storage.models import (
    Gathering,
    GatheringTap,
    GroupChat,
    Meeting,
    Mission,
    OutboxMessage,
    Participation,
    Region,
    User,
)
from tests.people import SEOUL

pytestmark = pytest.mark.usefixtures("seeded")

CHAT = -100777
RULES = Rules()
CUTOFF = time(17, 0)


def at(hour: int, minute: int = 0) -> datetime:
    """25 November 2026 (the fixture clock's day) in Seoul."""
    return datetime(2026, 11, 25, hour, minute, tzinfo=SEOUL)


DAY = date(2026, 11, 25)


async def jamsil(sessions: SessionFactory) -> Region:
    async with sessions() as s:
        region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
        assert region is not None
        return region


async def mission_by_key(sessions: SessionFactory, key: str) -> Mission:
    async with sessions() as s:
        mission = await s.scalar(select(Mission).where(Mission.key == key))
        assert mission is not None
        return mission


async def person(
    sessions: SessionFactory, uid: int, name: str, *, verified: bool = True, trust: float = 50
) -> int:
    region = await jamsil(sessions)
    now = at(8)
    async with transaction(sessions) as s:
        s.add(
            User(
                id=uid, display_name=name, region_id=region.id, trust_score=trust,
                region_verified_at=now if verified else None, terms_accepted_at=now,
                registered_at=now, created_at=now,
            )
        )  # fmt: skip
    return uid


async def posted(sessions: SessionFactory, mission: Mission, needed: int = 3) -> None:
    """The group bound to 잠실동 and today's post of `mission` queued (as the job does)."""
    region = await jamsil(sessions)
    now = at(8)
    async with transaction(sessions) as s:
        s.add(
            GroupChat(
                chat_id=CHAT, title="잠실 모임", region_id=region.id, post_time=time(8),
                created_at=now, gather_size=needed,
            )
        )  # fmt: skip
        await s.flush()
        region_row = await s.get(Region, region.id)
        assert region_row is not None
        due = groups.Due(CHAT, region.id, DAY, now, False, None, needed)
        assert await groups.queue_post(s, due, [mission], region_row, now)


async def tap(
    sessions: SessionFactory, uid: int, mission_id: int, now: datetime, day: date = DAY,
    rules: Rules = RULES,
) -> gathering.Tapped:  # fmt: skip
    async with transaction(sessions) as s:
        return await gathering.tap(
            s, chat_id=CHAT, day=day, mission_id=mission_id, user_id=uid, rules=rules,
            now=now, zone=SEOUL, cutoff=CUTOFF,
        )  # fmt: skip


async def notices(sessions: SessionFactory) -> list[tuple[int, str, dict[str, Any]]]:
    """What the tappers are told privately (what the group is told: tests/test_gathering_cards)."""
    async with sessions() as s:
        rows = await s.execute(
            select(OutboxMessage.chat_id, OutboxMessage.payload)
            .where(OutboxMessage.dedupe_key.like("gather%"), OutboxMessage.chat_id != CHAT)
            .order_by(OutboxMessage.id)
        )
        return [(chat_id, str(p["kind"]), dict(p)) for chat_id, p in rows]


@pytest.fixture
async def walk(sessions: SessionFactory) -> Mission:
    """석촌호수 한 바퀴: morning, afternoon and evening; 2-6 people."""
    mission = await mission_by_key(sessions, "seokchon-lake-loop")
    await posted(sessions, mission)
    return mission


async def test_three_taps_make_a_meetup_hosted_by_the_first(
    sessions: SessionFactory, walk: Mission
) -> None:
    a, b, c = [await person(sessions, 9001 + i, n) for i, n in enumerate(("지훈", "민지", "서연"))]
    first = await tap(sessions, a, walk.id, at(9, 10))
    assert first.counted and first.formed is None and first.post.counts == {walk.id: 1}
    second = await tap(sessions, b, walk.id, at(9, 11))
    assert second.formed is None and second.post.counts == {walk.id: 2}
    third = await tap(sessions, c, walk.id, at(9, 12))
    formed = third.formed
    assert formed is not None and formed.meeting_id is not None
    assert formed.host_id == a and formed.seated == (b, c) and formed.refused == ()
    assert third.post.made == {walk.id: formed.meeting_id}
    async with sessions() as s:
        meeting = await s.get(Meeting, formed.meeting_id)
        assert meeting is not None
        seated = set(
            await s.scalars(
                select(Participation.user_id).where(
                    Participation.meeting_id == meeting.id, Participation.status == "joined"
                )
            )
        )
    assert seated == {a, b, c}
    # The mission's own public place; 09:12 + 1 h rounded up to the half hour.
    assert meeting.place_name == walk.place_name_ko
    assert (meeting.place_lat, meeting.place_lon) == (walk.place_lat, walk.place_lon)
    assert meeting.starts_at == at(10, 30)
    assert meeting.capacity == 6
    told = [(chat_id, kind) for chat_id, kind, _ in await notices(sessions)]
    assert told == [(a, "gathering_host"), (b, "gathering_seated"), (c, "gathering_seated")]
    # A fourth tap after the meetup is made takes a seat the same way.
    d = await person(sessions, 9004, "하준")
    late = await tap(sessions, d, walk.id, at(9, 20))
    assert late.counted and late.seat == "joined" and late.formed is None


async def test_a_double_tap_counts_once(sessions: SessionFactory, walk: Mission) -> None:
    """The protection: UNIQUE (group, day, mission, person) and ON CONFLICT DO NOTHING. Two
    taps by one person and one by another are 2 people, not the 3 a meetup needs."""
    a, b = await person(sessions, 9001, "지훈"), await person(sessions, 9002, "민지")
    assert (await tap(sessions, a, walk.id, at(9, 10))).counted
    again = await tap(sessions, a, walk.id, at(9, 10))
    assert not again.counted and again.post.counts == {walk.id: 1}
    after = await tap(sessions, b, walk.id, at(9, 11))
    assert after.formed is None and after.post.counts == {walk.id: 2}
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(GatheringTap)) == 2
        assert await s.scalar(select(func.count()).select_from(Meeting)) == 0


async def test_the_meetup_is_made_once(sessions: SessionFactory, walk: Mission) -> None:
    """The third tap handled again (a redelivered update) makes nothing more."""
    people = [await person(sessions, 9001 + i, f"사람{i}") for i in range(3)]
    for uid in people:
        await tap(sessions, uid, walk.id, at(9, 10))
    replay = await tap(sessions, people[2], walk.id, at(9, 10))
    assert not replay.counted and replay.formed is None
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Meeting)) == 1
    assert len(await notices(sessions)) == 3


async def test_the_first_who_may_host_hosts_and_who_may_not_join_is_told(
    sessions: SessionFactory, walk: Mission
) -> None:
    unverified = await person(sessions, 9001, "지훈", verified=False)
    b, c = await person(sessions, 9002, "민지"), await person(sessions, 9003, "서연")
    for uid in (unverified, b, c):
        last = await tap(sessions, uid, walk.id, at(9, 10))
    formed = last.formed
    assert formed is not None and formed.host_id == b and formed.seated == (c,)
    assert formed.refused == ((unverified, "not_verified"),)
    told = {(chat_id, kind): values for chat_id, kind, values in await notices(sessions)}
    assert told[(unverified, "gathering_refused")]["why"] == "not_verified"


async def test_nobody_may_host_asks_for_a_volunteer_then_a_host_makes_it(
    sessions: SessionFactory, walk: Mission
) -> None:
    # Unverified people may not host; here (a setting) they may join.
    rules = Rules(join_requires_verified=False)
    low = [await person(sessions, 9001 + i, f"사람{i}", verified=False) for i in range(3)]
    for uid in low:
        last = await tap(sessions, uid, walk.id, at(9, 10), rules=rules)
    assert last.formed is not None and last.formed.meeting_id is None
    assert last.post.made == {walk.id: None}
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Meeting)) == 0
    host = await person(sessions, 9009, "하준")
    made = await tap(sessions, host, walk.id, at(9, 30), rules=rules)
    assert made.formed is not None and made.formed.host_id == host
    assert set(made.formed.seated) == set(low)


async def test_taps_stop_at_the_cutoff_and_on_another_day(
    sessions: SessionFactory, walk: Mission
) -> None:
    a = await person(sessions, 9001, "지훈")
    with pytest.raises(GatheringClosed) as late:
        await tap(sessions, a, walk.id, at(17, 0))
    assert late.value.reason == "late"
    with pytest.raises(GatheringClosed) as other:
        await tap(sessions, a, walk.id, at(9, 0) + timedelta(days=1))
    assert other.value.reason == "day"
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(GatheringTap)) == 0


async def test_a_tap_needs_an_account_and_a_mission_of_the_post(
    sessions: SessionFactory, walk: Mission
) -> None:
    with pytest.raises(NotRegistered):
        await tap(sessions, 424242, walk.id, at(9, 10))
    a = await person(sessions, 9001, "지훈")
    other = await mission_by_key(sessions, "jangji-stream-walk")
    with pytest.raises(NotDailyPost):
        await tap(sessions, a, other.id, at(9, 10))
    with pytest.raises(NotDailyPost):  # no post that day
        await tap(sessions, a, walk.id, at(9, 10), day=DAY - timedelta(days=1))


async def test_who_lists_display_names_in_order(sessions: SessionFactory, walk: Mission) -> None:
    for i, name in enumerate(("지훈", "민지")):
        await tap(sessions, await person(sessions, 9001 + i, name), walk.id, at(9, 10 + i))
    async with sessions() as s:
        assert await gathering.who(s, CHAT, DAY, walk.id) == ["지훈", "민지"]


async def test_the_group_sets_how_many_taps(sessions: SessionFactory, walk: Mission) -> None:
    async with transaction(sessions) as s:
        assert await gathering.set_size(s, CHAT, 2) == 2
        for wrong in (1, 11):
            with pytest.raises(InvalidGatherSize):
                await gathering.set_size(s, CHAT, wrong)
    a, b = await person(sessions, 9001, "지훈"), await person(sessions, 9002, "민지")
    await tap(sessions, a, walk.id, at(9, 10))
    made = await tap(sessions, b, walk.id, at(9, 11))
    assert made.formed is not None and made.formed.host_id == a


def test_the_suggested_start_fits_the_mission_part_of_the_day() -> None:
    utc = at(9, 10).astimezone(SEOUL).tzinfo
    assert utc is not None
    assert gathering.suggested_start(at(9, 10), SEOUL, ()) == at(10, 30)
    assert gathering.suggested_start(at(9, 0), SEOUL, ("morning",)) == at(10, 0)
    # An evening walk tapped in the morning starts in the evening, not in an hour.
    assert gathering.suggested_start(at(9, 10), SEOUL, ("evening",)) == at(18, 30)
    assert gathering.suggested_start(at(12, 40), SEOUL, ("afternoon", "evening")) == at(14, 0)


# --------------------------------------------------------------------------- the daily pick


@pytest.mark.parametrize("hour", [8, 13, 19])
async def test_the_daily_pick_fits_the_dong_and_the_hour(
    sessions: SessionFactory, clock: FrozenClock, hour: int
) -> None:
    """A 잠실동 group posting at 08:00 never gets "장지천 저녁 산책" (another area, evening)."""
    region = await jamsil(sessions)
    local = at(hour)
    async with transaction(sessions) as s:
        region_row = await s.get(Region, region.id)
        assert region_row is not None
        picked = await groups.daily_missions(
            s, region_row, DAY, count=3, weather=None, local_time=local, now=local
        )
    assert picked
    part = part_of_day(local)
    for mission in picked:
        assert not mission.times_of_day or part in mission.times_of_day, mission.key
        near = (
            mission.region_id == region.id
            or groups.distance_m(
                region.center_lat, region.center_lon, mission.place_lat, mission.place_lon
            )
            <= groups.NEAR_M
        )
        assert near, mission.key
        assert mission.key != "jangji-stream-walk"


def test_fitting_prefers_near_and_now_then_later_then_the_district() -> None:
    region = Region(id=1, center_lat=37.5133, center_lon=127.1000)

    def m(mid: int, lat: float, times: list[str]) -> Mission:
        return Mission(id=mid, region_id=None, place_lat=lat, place_lon=127.1, times_of_day=times)

    near_evening, far_morning = m(1, 37.5133, ["evening"]), m(2, 37.47, ["morning"])
    near_morning = m(3, 37.514, ["morning"])
    assert groups.fitting([near_evening, far_morning, near_morning], region, "morning") == [
        near_morning
    ]
    # No near mission for the morning: a near one for later today beats a far one.
    assert groups.fitting([near_evening, far_morning], region, "morning") == [near_evening]
    # Nothing near at all: the district's, by the hour.
    assert groups.fitting([far_morning, m(4, 37.46, ["evening"])], region, "morning") == [
        far_morning
    ]


async def test_taps_at_once_make_one_meetup(sessions: SessionFactory, walk: Mission) -> None:
    """The protection: a tap locks the group's row first (FOR UPDATE). Without it, on
    PostgreSQL three taps at once each count only their own uncommitted row and none makes the
    meetup. (SQLite serialises write transactions anyway.)"""
    people = [await person(sessions, 9001 + i, f"사람{i}") for i in range(3)]
    results = await asyncio.gather(*(tap(sessions, uid, walk.id, at(9, 10)) for uid in people))
    assert sum(r.formed is not None for r in results) == 1
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Meeting)) == 1
        assert await s.scalar(select(func.count()).select_from(GatheringTap)) == 3


async def test_a_deleted_account_is_no_longer_counted_nor_named(
    sessions: SessionFactory, walk: Mission
) -> None:
    """/deleteme drops the person's taps (storage.erasure.DROPPED): "who?" names nobody gone
    and the count on the post does not keep them."""
    a, b = await person(sessions, 9001, "지훈"), await person(sessions, 9002, "민지")
    await tap(sessions, a, walk.id, at(9, 10))
    await tap(sessions, b, walk.id, at(9, 11))
    async with transaction(sessions) as s:
        await erasure.erase(s, a, at(9, 20))
    async with sessions() as s:
        assert await gathering.who(s, CHAT, DAY, walk.id) == ["민지"]
        assert (await gathering.post(s, CHAT, DAY)).counts == {walk.id: 1}


async def test_mydata_lists_the_persons_taps(sessions: SessionFactory, walk: Mission) -> None:
    """/mydata holds everything kept about the person: their taps too."""
    a = await person(sessions, 9001, "지훈")
    await tap(sessions, a, walk.id, at(9, 10))
    async with sessions() as s:
        data = await export.everything(s, a, at(9, 20), photo_days=180)
    [mine] = data["group_post_taps"]
    assert mine["group"] == "잠실 모임" and mine["day"] == "2026-11-25"
    assert mine["mission"] == walk.title_en
    assert datetime.fromisoformat(mine["tapped_at"]) == at(9, 10)


# --------------------------------------------------------------------------- the group's card


async def group_cards(sessions: SessionFactory) -> list[OutboxMessage]:
    async with sessions() as s:
        query = select(OutboxMessage).where(OutboxMessage.chat_id == CHAT,
                                            OutboxMessage.dedupe_key.like("gather%"))  # fmt: skip
        return list(await s.scalars(query.order_by(OutboxMessage.id)))


async def test_the_group_card_is_queued_in_the_taps_own_transaction(
    sessions: SessionFactory, walk: Mission, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 23: what the group is told is an outbox row written with the meetup: a failure
    after the tap leaves neither, a failure queueing the card leaves no meetup."""
    a, b, c = [await person(sessions, 9001 + i, n) for i, n in enumerate(("지훈", "민지", "서연"))]
    for uid in (a, b):
        await tap(sessions, uid, walk.id, at(9, 10))

    async def made() -> tuple[int, int, list[OutboxMessage]]:
        async with sessions() as s:
            gatherings = await s.scalar(select(func.count()).select_from(Gathering))
            meetups = await s.scalar(select(func.count()).select_from(Meeting))
        return int(gatherings or 0), int(meetups or 0), await group_cards(sessions)

    with pytest.raises(RuntimeError):
        async with transaction(sessions) as s:
            await gathering.tap(
                s, chat_id=CHAT, day=DAY, mission_id=walk.id, user_id=c, rules=RULES,
                now=at(9, 12), zone=SEOUL, cutoff=CUTOFF,
            )  # fmt: skip
            raise RuntimeError("the process dies before the commit")
    assert await made() == (0, 0, [])
    real_enqueue = outbox.enqueue

    async def broken(session: Any, **row: Any) -> bool:
        if row["kind"] == "gathering_card":
            raise RuntimeError("the card cannot be queued")
        return await real_enqueue(session, **row)

    monkeypatch.setattr(outbox, "enqueue", broken)
    with pytest.raises(RuntimeError):
        await tap(sessions, c, walk.id, at(9, 12))
    assert await made() == (0, 0, [])
    monkeypatch.setattr(outbox, "enqueue", real_enqueue)
    third = await tap(sessions, c, walk.id, at(9, 12))
    assert third.formed is not None and third.formed.meeting_id is not None
    gatherings, meetups, [card] = await made()
    assert (gatherings, meetups, card.status) == (1, 1, "pending")
    assert card.payload == {"kind": "gathering_card", "count": 3,
                            "meeting_id": third.formed.meeting_id}  # fmt: skip


async def test_a_call_for_a_host_is_queued_once_per_count(
    sessions: SessionFactory, walk: Mission
) -> None:
    rules = Rules(join_requires_verified=False)
    low = [await person(sessions, 9001 + i, f"사람{i}", verified=False) for i in range(4)]
    for uid in low:
        await tap(sessions, uid, walk.id, at(9, 10), rules=rules)
    await tap(sessions, low[-1], walk.id, at(9, 11), rules=rules)  # a double tap: no call
    calls = await group_cards(sessions)
    assert [c.dedupe_key.rsplit(":", 1)[-1] for c in calls] == ["3", "4"]
    assert all(c.payload["mission"]["id"] == walk.id and "meeting_id" not in c.payload
               for c in calls)  # fmt: skip
