"""Optional OpenAI mission generator: Responses API with structured output, validated, and
the rule generator as the fallback for anything that goes wrong.

The model only writes texts and picks from what it is given: places come from the curated
list, categories from `INTERESTS`, points within bounds, nothing unsafe. A timeout, a refusal,
output that does not parse, an API error or output that fails validation falls back to
`missions.rules` with one log line (never personal data: the prompt holds none either).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import openai
import pydantic
from pydantic import BaseModel, ConfigDict

from missions import rules
from missions.categories import INTERESTS
from missions.draft import (
    DURATION_MAX,
    DURATION_MIN,
    GROUP_MAX,
    POINTS_MAX,
    POINTS_MIN,
    MissionDraft,
    problems,
)
from missions.places import Place, places
from missions.rules import Conditions
from missions.timing import PARTS_OF_DAY

log = logging.getLogger(__name__)

# Activities a mission must never suggest in a public meetup of strangers.
UNSAFE = re.compile(
    r"swim|dive|diving|alcohol|beer|soju|wine|drunk|drinking game|fire|firework|barbecue|bbq"
    r"|climb|rooftop|trespass|fishing|knife|drone|night hike|hitchhik|gambl|bet "
    r"|수영|다이빙|입수|술|음주|맥주|소주|와인|불꽃|폭죽|캠프파이어|바베큐|등반|암벽|옥상|무단"
    r"|낚시|칼|드론|야간 산행|도박|내기",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AiConfig:
    """How to reach an OpenAI-compatible Responses API."""

    api_key: str
    model: str
    base_url: str | None = None
    timeout_seconds: float = 20.0


class AiMission(BaseModel):
    """One mission as the model writes it (the structured-output schema)."""

    model_config = ConfigDict(extra="forbid")

    place_key: str
    category: str
    title_ko: str
    title_en: str
    description_ko: str
    description_en: str
    evidence_rule_ko: str
    evidence_rule_en: str
    duration_min: int
    min_group: int
    max_group: int
    points: int
    difficulty: int
    times_of_day: list[str]


class AiMissions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    missions: list[AiMission]


@dataclass(frozen=True)
class Generated:
    """Missions and where they came from; `fallback` says why rules were used, if they were."""

    drafts: list[MissionDraft]
    from_ai: int
    fallback: str | None


INSTRUCTIONS = f"""You write small, concrete, safe missions for flash meetups of neighbours \
in Seoul. Each mission happens at one of the given public places (use its place_key exactly), \
fits one of the given categories and the place's categories, and can be done in one meetup. \
Write every text in natural Korean (polite 해요체) and in English. The evidence rule says what \
one photo must show, without faces being required and without other people's private details. \
Points reward effort: {POINTS_MIN}-{POINTS_MAX}. Duration {DURATION_MIN}-{DURATION_MAX} \
minutes; group size 1-{GROUP_MAX}; difficulty 1-5; times_of_day from {list(PARTS_OF_DAY)}. \
Never suggest alcohol, swimming, fire, climbing, trespassing, rooftops, fishing, or going to \
anyone's home; never an address other than the given places. Give each mission a different \
idea; do not repeat the same activity at the same place."""


def prompt(conditions: Conditions, count: int, where: Sequence[Place], region: str) -> str:
    """The request: region, season, weather, interests and the places to choose from."""
    return json.dumps(
        {
            "region": region,
            "date": conditions.day.isoformat(),
            "season": conditions.season,
            "weather": conditions.weather or "unknown",
            "time_of_day": conditions.part_of_day or "any",
            "popular_interests": list(conditions.interests),
            "categories": list(INTERESTS),
            "count": count,
            "places": [
                {
                    "place_key": p.key,
                    "name_ko": p.name_ko,
                    "name_en": p.name_en,
                    "kind": p.kind,
                    "categories": list(p.categories),
                    "times_of_day": list(p.times_of_day),
                }
                for p in where
            ],
        },
        ensure_ascii=False,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:30] or "mission"


def to_draft(item: AiMission, conditions: Conditions, known: dict[str, Place]) -> MissionDraft:
    """A validated draft; raises ValueError naming what is wrong."""
    place = known.get(item.place_key)
    if place is None:
        raise ValueError("unknown place")
    texts = (
        item.title_ko,
        item.title_en,
        item.description_ko,
        item.description_en,
        item.evidence_rule_ko,
        item.evidence_rule_en,
    )
    if any(UNSAFE.search(text) for text in texts):
        raise ValueError("unsafe activity")
    draft = MissionDraft(
        key=f"{conditions.day:%Y%m%d}-ai-{place.key}-{_slug(item.title_en)}",
        source="ai",
        category=item.category,
        title_ko=item.title_ko.strip(),
        title_en=item.title_en.strip(),
        description_ko=item.description_ko.strip(),
        description_en=item.description_en.strip(),
        evidence_rule_ko=item.evidence_rule_ko.strip(),
        evidence_rule_en=item.evidence_rule_en.strip(),
        place=place,
        duration_min=item.duration_min,
        min_group=item.min_group,
        max_group=item.max_group,
        points=item.points,
        difficulty=item.difficulty,
        seasons=(conditions.season,),
        times_of_day=tuple(p for p in PARTS_OF_DAY if p in item.times_of_day),
    )
    found = problems(draft)
    if found:
        raise ValueError(found[0])
    return draft


async def _ask(config: AiConfig, instructions: str, request: str) -> AiMissions | str:
    """The parsed answer, or why there is none."""
    # No SDK retries: the rule generator is the fallback, a retry would only delay it.
    client = openai.AsyncOpenAI(
        api_key=config.api_key,
        base_url=config.base_url,
        timeout=config.timeout_seconds,
        max_retries=0,
    )
    try:
        async with asyncio.timeout(config.timeout_seconds):
            response = await client.responses.parse(
                model=config.model,
                instructions=instructions,
                input=request,
                text_format=AiMissions,
            )
    except (openai.APITimeoutError, TimeoutError):
        return "timeout"
    except (pydantic.ValidationError, json.JSONDecodeError):
        return "malformed output"
    except openai.APIError as exc:
        return f"API error ({type(exc).__name__})"
    finally:
        await client.close()
    parsed = response.output_parsed
    if isinstance(parsed, AiMissions):
        return parsed
    refused = any(
        getattr(content, "type", "") == "refusal"
        for item in response.output
        if item.type == "message"
        for content in item.content
    )
    return "refusal" if refused else "empty output"


async def generate(
    config: AiConfig | None,
    conditions: Conditions,
    count: int,
    *,
    seed: int | str,
    region: str = "Songpa-gu, Seoul",
    where: Sequence[Place] | None = None,
    avoid: Collection[str] = (),
) -> Generated:
    """Up to `count` missions: the model's valid ones first, topped up by the rules."""
    where = tuple(where if where is not None else places())
    if config is None:
        return Generated(
            rules.generate(conditions, count, seed=seed, where=where, avoid=avoid), 0, None
        )
    answer = await _ask(config, INSTRUCTIONS, prompt(conditions, count, where, region))
    drafts: list[MissionDraft] = []
    reason: str | None = None
    if isinstance(answer, str):
        reason = answer
    else:
        known = {p.key: p for p in where}
        seen = set(avoid)
        rejected = 0
        for item in answer.missions:
            if len(drafts) == count:
                break
            try:
                draft = to_draft(item, conditions, known)
            except ValueError:
                rejected += 1
                continue
            if draft.key in seen:
                rejected += 1
                continue
            seen.add(draft.key)
            drafts.append(draft)
        if rejected and not drafts:
            reason = f"all {rejected} missions failed validation"
        elif rejected:
            log.info("AI missions: %d of %d failed validation", rejected, len(answer.missions))
    if reason is not None:
        log.warning("AI mission generation fell back to rules: %s", reason)
    missing = count - len(drafts)
    if missing > 0:
        taken = set(avoid) | {d.key for d in drafts}
        drafts += rules.generate(conditions, missing, seed=seed, where=where, avoid=taken)
    from_ai = sum(1 for d in drafts if d.source == "ai")
    return Generated(drafts, from_ai, reason)
