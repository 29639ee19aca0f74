"""The curated public places of Songpa-gu that missions happen at (`data/places.json`).

Only places from this list appear in missions, generated or not: they are public, well known
and inside the district, so a meetup never points at a private address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from missions.categories import INTERESTS, TIMES_OF_DAY


@dataclass(frozen=True)
class Place:
    """A public place with coordinates (WGS84) and the mission categories that fit it."""

    key: str
    name_ko: str
    name_en: str
    kind: str
    lat: float
    lon: float
    categories: tuple[str, ...]
    times_of_day: tuple[str, ...]

    @property
    def indoor(self) -> bool:
        """Libraries and cafés: fine in rain or heat."""
        return self.kind in INDOOR_KINDS

    def name(self, lang: str) -> str:
        return self.name_ko if lang == "ko" else self.name_en


INDOOR_KINDS = frozenset({"library", "cafe"})


@cache
def places() -> tuple[Place, ...]:
    """Every known place, in the order of the data file."""
    raw = json.loads(
        resources.files("missions").joinpath("data/places.json").read_text(encoding="utf-8")
    )
    kinds = set(raw["kinds"])
    found = []
    for item in raw["places"]:
        place = Place(
            key=item["key"],
            name_ko=item["name_ko"],
            name_en=item["name_en"],
            kind=item["kind"],
            lat=float(item["lat"]),
            lon=float(item["lon"]),
            categories=tuple(item["categories"]),
            times_of_day=tuple(item["times_of_day"]),
        )
        # A typo in the data file should fail loudly at first use, not produce odd missions.
        if place.kind not in kinds or not set(place.categories) <= INTERESTS.keys():
            raise ValueError(f"place {place.key}: unknown kind or category")
        if not set(place.times_of_day) <= TIMES_OF_DAY.keys():
            raise ValueError(f"place {place.key}: unknown time of day")
        found.append(place)
    return tuple(found)


def by_key() -> dict[str, Place]:
    return {p.key: p for p in places()}


@cache
def _by_name() -> dict[str, Place]:
    return {name: p for p in places() for name in (p.name_ko, p.name_en)}


def place_name(lang: str, name: str) -> str:
    """A stored place name (a meetup keeps the one its host saw, in the host's language) in
    `lang` when it is one of the catalogue's places (`data/places.json` has both names);
    a place typed by a host stays as typed."""
    place = _by_name().get(name)
    return place.name(lang) if place is not None else name
