"""Picks the daily random mission(s) for a neighbourhood group: pure logic over missions.

The ranking is `recommend`'s, for a "person" made of the dong: the interests its registered
people share most and the dong's centre. The pick is random among the best few (seeded by the
caller with region and day, so every scheduler picks the same), skips missions posted there in
the last days, and on a rainy or snowy day keeps to indoor places when there are any.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TypeVar

from missions.places import places
from missions.recommend import MissionLike, Person, recommend

# Picking among the best few keeps posts varied from day to day without posting poor fits.
SHORTLIST = 5
INDOOR_WEATHER = frozenset({"rain", "snow"})

M = TypeVar("M", bound=MissionLike)


def _indoor(mission: MissionLike) -> bool:
    """Whether the mission's place is a known indoor place (a library, a café)."""
    for place in places():
        if abs(place.lat - mission.place_lat) < 1e-4 and abs(place.lon - mission.place_lon) < 1e-4:
            return place.indoor
    return False


def pick_daily(
    candidates: Sequence[M],
    *,
    interests: Sequence[str],
    home: tuple[float, float],
    local_time: datetime,
    weather: str | None,
    recent: Collection[int],
    count: int,
    rng: random.Random,
) -> list[M]:
    """Up to `count` distinct missions for the post; empty when there are no candidates."""
    pool = list(candidates)
    if weather in INDOOR_WEATHER:
        pool = [m for m in pool if _indoor(m)] or pool
    fresh = [m for m in pool if m.id not in recent] or pool
    person = Person(interests=interests, preferred_times=(), home_lat=home[0], home_lon=home[1])
    ranked = [r.mission for r in recommend(fresh, person, local_time, {}, limit=len(fresh))]
    if not ranked:
        # Everything is out of season: any mission beats an empty post.
        ranked = sorted(fresh, key=lambda m: (-m.points, m.id))
    shortlist = ranked[: max(SHORTLIST, count)]
    rng.shuffle(shortlist)
    return shortlist[:count]
