"""The in-memory copy of published missions and neighbourhoods behind /missions: a change
committed in this process shows at once, one from another process once the copy's lifetime
has passed, and one rolled back never shows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage import catalogue
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import Mission
from tests.harness import BotHarness
from tests.people import AUTUMN_POINTS, Person, points_in, sign_up

pytestmark = pytest.mark.usefixtures("seeded")


async def top_mission(sessions: SessionFactory) -> Mission:
    async with sessions() as s:
        found = await s.scalar(
            select(Mission).where(Mission.points == AUTUMN_POINTS[0], Mission.status == "published")
        )
    assert found is not None
    return found


async def test_a_change_committed_here_shows_at_once(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    p = Person(bot)
    await sign_up(p)
    [before] = await p.say("/missions")
    assert points_in(before["text"]) == AUTUMN_POINTS[:5]
    top = await top_mission(sessions)
    async with transaction(sessions) as s:
        mission = await s.get(Mission, top.id)
        assert mission is not None
        mission.points = 55
    [after] = await p.say("/missions")
    assert points_in(after["text"]) == AUTUMN_POINTS[1:6]


async def test_another_process_s_change_shows_when_the_copy_expires(
    bot: BotHarness, sessions: SessionFactory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = Person(bot)
    await sign_up(p)
    await p.say("/missions")
    top = await top_mission(sessions)
    other = create_engine(db_url)  # the CLI, say: its commits cannot clear the bot's copy
    try:
        async with transaction(session_factory(other)) as s:
            mission = await s.get(Mission, top.id)
            assert mission is not None
            mission.status = "retired"
    finally:
        await other.dispose()
    monkeypatch.setattr(catalogue, "TTL_SECONDS", 0.0)
    [after] = await p.say("/missions")
    assert points_in(after["text"]) == AUTUMN_POINTS[1:6]
    assert top.title_ko not in after["text"]


async def test_a_change_rolled_back_never_shows(bot: BotHarness, sessions: SessionFactory) -> None:
    p = Person(bot)
    await sign_up(p)
    top = await top_mission(sessions)
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as s:
            mission = await s.get(Mission, top.id)
            assert mission is not None
            mission.points = 5
            # Inside the change, its own session sees it; nobody else may.
            listed = await catalogue.published(s, "11710")
            assert [m.points for m in listed if m.id == top.id] == [5]
            [during] = await p.say("/missions")
            assert points_in(during["text"]) == AUTUMN_POINTS[:5]
            raise RuntimeError("the admin's change fails")
    [after] = await p.say("/missions")
    assert points_in(after["text"]) == AUTUMN_POINTS[:5]
