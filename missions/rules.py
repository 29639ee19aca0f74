"""The rule-based mission generator: templates × places × season × time of day × weather.

Works offline and is deterministic: the same conditions and seed give the same missions, in
the same order. A mission is identified by day, template and place (`MissionDraft.key`), so
one day never holds the same mission twice in a region; `avoid` skips keys already stored.
Points follow effort: difficulty and duration, plus a little for braving snow or cold.
"""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources

from missions.categories import INTERESTS
from missions.draft import POINTS_MAX, POINTS_MIN, MissionDraft
from missions.places import Place, places
from missions.timing import PARTS_OF_DAY, SEASONS, season_of

ALL_PARTS = frozenset(PARTS_OF_DAY)
ALL_SEASONS = frozenset(SEASONS)


@dataclass(frozen=True)
class Template:
    """A kind of mission (`data/templates.json`); `{p}` in its texts becomes the place's name."""

    key: str
    category: str
    title_ko: str
    title_en: str
    description_ko: str
    description_en: str
    evidence_ko: str
    evidence_en: str
    duration_min: int
    difficulty: int
    min_group: int = 2
    max_group: int = 6
    kinds: frozenset[str] = frozenset()  # empty: any place that fits the category
    seasons: frozenset[str] = ALL_SEASONS
    parts: frozenset[str] = ALL_PARTS
    snow_ok: bool = False  # an outdoor mission still worth doing in snow


@dataclass(frozen=True)
class Conditions:
    """What the day is like; weather and part of day are optional."""

    day: date
    weather: str | None = None
    part_of_day: str | None = None
    interests: tuple[str, ...] = field(default=())

    @property
    def season(self) -> str:
        return season_of(self.day)


@cache
def templates() -> tuple[Template, ...]:
    """Every template, from `data/templates.json`."""
    raw = json.loads(
        resources.files("missions").joinpath("data/templates.json").read_text(encoding="utf-8")
    )
    found = []
    for item in raw["templates"]:
        template = Template(
            key=item["key"],
            category=item["category"],
            title_ko=item["title_ko"],
            title_en=item["title_en"],
            description_ko=item["description_ko"],
            description_en=item["description_en"],
            evidence_ko=item["evidence_ko"],
            evidence_en=item["evidence_en"],
            duration_min=int(item["duration_min"]),
            difficulty=int(item["difficulty"]),
            min_group=int(item.get("min_group", 2)),
            max_group=int(item.get("max_group", 6)),
            kinds=frozenset(item.get("kinds", ())),
            seasons=frozenset(item.get("seasons", SEASONS)),
            parts=frozenset(item.get("parts", PARTS_OF_DAY)),
            snow_ok=bool(item.get("snow_ok", False)),
        )
        # A typo in the data file should fail loudly at first use, not produce odd missions.
        if template.category not in INTERESTS or not template.seasons <= ALL_SEASONS:
            raise ValueError(f"template {template.key}: unknown category or season")
        found.append(template)
    return tuple(found)


def points_for(
    duration_min: int, difficulty: int, min_group: int, weather: str | None = None
) -> int:
    """Points by effort, rounded to 10 and kept within bounds."""
    raw = difficulty * 30 + duration_min * 0.8 + (10 if min_group >= 4 else 0)
    if weather in ("snow", "cold"):
        raw += 20  # going out anyway deserves a little more
    return max(POINTS_MIN, min(POINTS_MAX, round(raw / 10) * 10))


def _parts(template: Template, place: Place, conditions: Conditions) -> tuple[str, ...]:
    parts = template.parts & set(place.times_of_day)
    if conditions.weather == "heat" and not place.indoor:
        parts -= {"afternoon"}  # no outdoor effort in the midday heat
    return tuple(p for p in PARTS_OF_DAY if p in parts)


def _fits(template: Template, place: Place, conditions: Conditions) -> bool:
    if template.category not in place.categories:
        return False
    if template.kinds and place.kind not in template.kinds:
        return False
    if conditions.season not in template.seasons:
        return False
    weather = conditions.weather
    if weather == "rain" and not place.indoor:
        return False
    if weather == "snow" and not (place.indoor or template.snow_ok):
        return False
    if weather == "heat" and not place.indoor and template.difficulty >= 3:
        return False
    if weather == "cold" and not place.indoor and template.duration_min > 60:
        return False
    parts = _parts(template, place, conditions)
    return bool(parts) and (conditions.part_of_day is None or conditions.part_of_day in parts)


def mission_key(day: date, template_key: str, place_key: str) -> str:
    """One mission per template and place per day."""
    return f"{day:%Y%m%d}-{template_key}-{place_key}"


def _draft(template: Template, place: Place, conditions: Conditions) -> MissionDraft:
    def fill(text: str, lang: str) -> str:
        return text.replace("{p}", place.name(lang))

    return MissionDraft(
        key=mission_key(conditions.day, template.key, place.key),
        source="rules",
        category=template.category,
        title_ko=fill(template.title_ko, "ko"),
        title_en=fill(template.title_en, "en"),
        description_ko=fill(template.description_ko, "ko"),
        description_en=fill(template.description_en, "en"),
        evidence_rule_ko=fill(template.evidence_ko, "ko"),
        evidence_rule_en=fill(template.evidence_en, "en"),
        place=place,
        duration_min=template.duration_min,
        min_group=template.min_group,
        max_group=template.max_group,
        points=points_for(
            template.duration_min,
            template.difficulty,
            template.min_group,
            None if place.indoor else conditions.weather,
        ),
        difficulty=template.difficulty,
        seasons=tuple(s for s in SEASONS if s in template.seasons),
        times_of_day=_parts(template, place, conditions),
    )


def generate(
    conditions: Conditions,
    count: int,
    *,
    seed: int | str,
    where: Sequence[Place] | None = None,
    avoid: Collection[str] = (),
) -> list[MissionDraft]:
    """Up to `count` distinct missions for the day, categories interleaved so a batch is
    varied; the person's (or region's) interests come first."""
    rng = random.Random(f"{seed}")
    by_category: dict[str, list[MissionDraft]] = {}
    for template in templates():
        for place in where if where is not None else places():
            if not _fits(template, place, conditions):
                continue
            if mission_key(conditions.day, template.key, place.key) in avoid:
                continue
            by_category.setdefault(template.category, []).append(
                _draft(template, place, conditions)
            )
    for drafts in by_category.values():
        rng.shuffle(drafts)
    others = sorted(c for c in by_category if c not in conditions.interests)
    rng.shuffle(others)
    order = [c for c in conditions.interests if c in by_category] + others
    chosen: list[MissionDraft] = []
    while len(chosen) < count and any(by_category[c] for c in order):
        for category in order:
            if by_category[category] and len(chosen) < count:
                chosen.append(by_category[category].pop())
    return chosen
