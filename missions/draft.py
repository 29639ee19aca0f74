"""A generated mission before it is stored: the same fields as `storage.models.Mission`,
and the bounds every mission must respect, whoever wrote it."""

from __future__ import annotations

from dataclasses import dataclass

from missions.categories import INTERESTS
from missions.places import Place
from missions.timing import PARTS_OF_DAY, SEASONS

POINTS_MIN, POINTS_MAX = 30, 300
DURATION_MIN, DURATION_MAX = 15, 180
GROUP_MIN, GROUP_MAX = 1, 12
DIFFICULTY_MIN, DIFFICULTY_MAX = 1, 5


@dataclass(frozen=True)
class MissionDraft:
    """A concrete mission at a known place; `key` is unique per day, template and place."""

    key: str
    source: str  # "rules" or "ai"
    category: str
    title_ko: str
    title_en: str
    description_ko: str
    description_en: str
    evidence_rule_ko: str
    evidence_rule_en: str
    place: Place
    duration_min: int
    min_group: int
    max_group: int
    points: int
    difficulty: int
    seasons: tuple[str, ...]
    times_of_day: tuple[str, ...]


def problems(draft: MissionDraft) -> list[str]:
    """What makes a draft unusable (empty when it is fine)."""
    found = []
    if draft.category not in INTERESTS:
        found.append("unknown category")
    if draft.category not in draft.place.categories:
        found.append("category does not fit the place")
    if not POINTS_MIN <= draft.points <= POINTS_MAX:
        found.append("points out of bounds")
    if not DURATION_MIN <= draft.duration_min <= DURATION_MAX:
        found.append("duration out of bounds")
    if not GROUP_MIN <= draft.min_group <= draft.max_group <= GROUP_MAX:
        found.append("group size out of bounds")
    if not DIFFICULTY_MIN <= draft.difficulty <= DIFFICULTY_MAX:
        found.append("difficulty out of bounds")
    if not draft.seasons or not set(draft.seasons) <= set(SEASONS):
        found.append("unknown season")
    if not draft.times_of_day or not set(draft.times_of_day) <= set(PARTS_OF_DAY):
        found.append("unknown time of day")
    texts = (draft.title_ko, draft.title_en, draft.evidence_rule_ko, draft.evidence_rule_en)
    if not all(text.strip() for text in texts):
        found.append("empty title or evidence rule")
    if max(len(draft.title_ko), len(draft.title_en)) > 120 or len(draft.key) > 80:
        found.append("too long")
    return found
