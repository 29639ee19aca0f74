"""Ranks missions for "recommended for you", each with a one-line reason.

The score adds up what a person would notice: a category they like, a mission that suits the
time of day right now (and their preferred times), a place close to their neighbourhood, and
a little for points. Missions out of season or done within `REPEAT_DAYS` are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from missions.categories import N_
from missions.timing import part_of_day, season_of
from verification.geo import distance_m

REPEAT_DAYS = 7
NEAR_KM = 1.5

BECAUSE_INTEREST_AND_TIME = N_("Because you like {interest} and it is {time}")
BECAUSE_INTEREST = N_("Because you like {interest}")
BECAUSE_TIME = N_("It is {time}, a good time for this one")
BECAUSE_NEAR = N_("Close to your neighbourhood ({km} km)")
BECAUSE_POINTS = N_("One of the best-paid missions around you")


class MissionLike(Protocol):
    """What ranking needs of a mission (a stored `Mission` has it)."""

    @property
    def id(self) -> int: ...
    @property
    def category(self) -> str: ...
    @property
    def place_lat(self) -> float: ...
    @property
    def place_lon(self) -> float: ...
    @property
    def points(self) -> int: ...
    @property
    def seasons(self) -> Sequence[str]: ...
    @property
    def times_of_day(self) -> Sequence[str]: ...


M = TypeVar("M", bound=MissionLike)


@dataclass(frozen=True)
class Person:
    """What ranking knows of a person: no name, no phone, the centre of their dong."""

    interests: Sequence[str]
    preferred_times: Sequence[str]
    home_lat: float
    home_lon: float


@dataclass(frozen=True)
class Reason:
    """A msgid and the values handlers translate and fill in: `interest` is a category key,
    `hour` the local hour (0-23), `km` the distance."""

    msgid: str
    interest: str | None = None
    hour: int | None = None
    km: float | None = None


@dataclass(frozen=True)
class Recommendation(Generic[M]):
    mission: M
    score: float
    reason: Reason


def recommend(
    missions: Iterable[M],
    person: Person,
    now_local: datetime,
    done: Mapping[int, datetime],
    *,
    repeat_days: int = REPEAT_DAYS,
    limit: int = 5,
) -> list[Recommendation[M]]:
    """The best `limit` missions for the person at `now_local` (their local time); `done`
    maps mission ids to when they last did them."""
    season = season_of(now_local.date())
    part = part_of_day(now_local)
    weekend = now_local.weekday() >= 5
    since = now_local - timedelta(days=repeat_days)
    ranked = []
    for mission in missions:
        if mission.seasons and season not in mission.seasons:
            continue
        last = done.get(mission.id)
        if last is not None and last >= since:
            continue
        liked = mission.category in person.interests
        fits_now = part is not None and part in mission.times_of_day
        preferred = fits_now and part in person.preferred_times
        km = distance_m(person.home_lat, person.home_lon, mission.place_lat, mission.place_lon)
        km /= 1000
        score = 3.0 * liked + 2.0 * fits_now + 1.0 * preferred
        score += 0.5 * (weekend and "weekend" in person.preferred_times)
        score += max(0.0, 2.0 - km / 2) + mission.points / 1000
        ranked.append(
            Recommendation(mission, score, _reason(mission, liked, fits_now, km, now_local))
        )
    ranked.sort(key=lambda r: (-r.score, r.mission.id))
    return ranked[:limit]


def _reason(mission: MissionLike, liked: bool, fits_now: bool, km: float, now: datetime) -> Reason:
    if liked and fits_now:
        return Reason(BECAUSE_INTEREST_AND_TIME, interest=mission.category, hour=now.hour)
    if liked:
        return Reason(BECAUSE_INTEREST, interest=mission.category)
    if fits_now:
        return Reason(BECAUSE_TIME, hour=now.hour)
    if km <= NEAR_KM:
        return Reason(BECAUSE_NEAR, km=round(km, 1))
    return Reason(BECAUSE_POINTS)
