"""Step 2, missions: the curated places, the rule generator and the OpenAI generator (against a
local fake OpenAI-compatible server, never the real service)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from missions import ai, rules
from missions.categories import INTERESTS
from missions.draft import POINTS_MAX, POINTS_MIN, problems
from missions.places import places
from missions.rules import Conditions
from storage.seed import SONGPA, _load_json
from tests.servers import local_server
from ui import callbacks
from ui.callbacks import Action
from verification import geo

ROOT = Path(__file__).resolve().parents[1]
WEDNESDAY = date(2026, 11, 25)  # autumn


def songpa_dongs() -> list[dict[str, Any]]:
    features = _load_json("storage", "data/geo/seoul_neighborhoods_geo_simple.json")["features"]
    return [f for f in features if f["properties"]["EMD_CD"].startswith(SONGPA)]


# --------------------------------------------------------------------------- places


def test_every_place_lies_inside_a_songpa_dong() -> None:
    dongs = songpa_dongs()
    for place in places():
        inside = [d for d in dongs if geo.contains(d["geometry"], place.lat, place.lon)]
        assert inside, f"{place.key} ({place.lat}, {place.lon}) is outside Songpa-gu"
    assert 20 <= len(places()) <= 30
    assert len({p.key for p in places()}) == len(places())
    # Place keys travel in callback data (hosting a meetup at a place).
    for place in places():
        callbacks.encode(Action.HOST_PLACE, place.key)
        assert set(place.categories) <= INTERESTS.keys()


def test_the_catalogue_uses_the_curated_places() -> None:
    catalogue = json.loads((ROOT / "missions/data/catalogue.json").read_text())["missions"]
    by_name = {p.name_ko: p for p in places()}
    for mission in catalogue:
        place = by_name.get(mission["place_name_ko"])
        assert place is not None, f"{mission['key']}: {mission['place_name_ko']} is not curated"
        assert place.name_en == mission["place_name_en"]
        assert geo.distance_m(place.lat, place.lon, mission["lat"], mission["lon"]) < 50
        assert mission["category"] in place.categories


# --------------------------------------------------------------------------- rules


def test_rules_give_50_valid_distinct_missions_deterministically() -> None:
    first = rules.generate(Conditions(WEDNESDAY), 50, seed="songpa")
    again = rules.generate(Conditions(WEDNESDAY), 50, seed="songpa")
    other = rules.generate(Conditions(WEDNESDAY), 50, seed="elsewhere")
    assert first == again
    assert [d.key for d in first] != [d.key for d in other]
    assert len(first) == 50 and len({d.key for d in first}) == 50
    assert len({(d.title_en, d.place.key) for d in first}) == 50
    for draft in first:
        assert problems(draft) == [], draft.key
        assert POINTS_MIN <= draft.points <= POINTS_MAX
        assert "autumn" in draft.seasons and "{p}" not in draft.title_ko + draft.title_en
    assert len({d.category for d in first}) == len(INTERESTS)  # a varied batch
    assert not any("벚꽃" in d.title_ko for d in first)  # no cherry blossoms in November


def test_rules_follow_the_weather_and_skip_what_is_stored() -> None:
    rainy = rules.generate(Conditions(WEDNESDAY, weather="rain"), 50, seed=1)
    assert rainy and all(d.place.indoor for d in rainy)
    evening = rules.generate(Conditions(WEDNESDAY, part_of_day="evening"), 50, seed=1)
    assert all("evening" in d.times_of_day for d in evening)
    first = rules.generate(Conditions(WEDNESDAY), 20, seed=1)
    more = rules.generate(Conditions(WEDNESDAY), 20, seed=1, avoid={d.key for d in first})
    assert not {d.key for d in first} & {d.key for d in more}


def test_points_follow_effort() -> None:
    easy = rules.points_for(30, 1, 2)
    hard = rules.points_for(60, 4, 4)
    assert POINTS_MIN <= easy < hard <= POINTS_MAX
    assert rules.points_for(30, 3, 2, weather="snow") > rules.points_for(30, 3, 2)
    assert rules.points_for(999, 5, 10) == POINTS_MAX


def test_interests_come_first() -> None:
    drafts = rules.generate(Conditions(WEDNESDAY, interests=("badminton", "study")), 4, seed="x")
    assert [d.category for d in drafts[:2]] == ["badminton", "study"]


# --------------------------------------------------------------------------- AI


@dataclass
class FakeOpenAI:
    """What the fake server answers next, and what it was asked."""

    mode: str = "ok"  # ok | refusal | malformed | slow | error
    missions: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


def _message(content: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_790_000_000,
        "model": "fake-model",
        "status": "completed",
        "parallel_tool_calls": False,
        "tool_choice": "auto",
        "tools": [],
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [content],
            }
        ],
    }


def _app(fake: FakeOpenAI) -> Starlette:
    async def responses(request: Request) -> Response:
        fake.requests.append(await request.json())
        if fake.mode == "slow":
            await fake.release.wait()
        if fake.mode == "error":
            return JSONResponse({"error": {"message": "overloaded", "type": "server"}}, 500)
        content: dict[str, Any]
        if fake.mode == "refusal":
            content = {"type": "refusal", "refusal": "I can't help with that."}
        elif fake.mode == "malformed":
            content = {
                "type": "output_text",
                "text": '{"missions": [{"title_ko": ',
                "annotations": [],
            }
        else:
            text = json.dumps({"missions": fake.missions}, ensure_ascii=False)
            content = {"type": "output_text", "text": text, "annotations": []}
        return JSONResponse(_message(content))

    return Starlette(routes=[Route("/v1/responses", responses, methods=["POST"])])


@pytest.fixture
async def fake_openai() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    """A local OpenAI-compatible server on a free port; yields it and its base URL."""
    fake = FakeOpenAI()
    async with local_server(_app(fake)) as base:
        yield fake, f"{base}/v1"
        fake.release.set()  # a request held back to test the timeout may now finish


def ai_mission(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "place_key": "seokchon-lake",
        "category": "photos",
        "title_ko": "석촌호수 물그림자 사진 찍기",
        "title_en": "Photograph reflections on Seokchon Lake",
        "description_ko": "호수에 비친 풍경을 찾아 함께 사진으로 남겨요.",
        "description_en": "Find reflections on the lake and photograph them together.",
        "evidence_rule_ko": "호수에 비친 풍경 사진",
        "evidence_rule_en": "A photo of a reflection on the lake",
        "duration_min": 40,
        "min_group": 2,
        "max_group": 6,
        "points": 90,
        "difficulty": 2,
        "times_of_day": ["afternoon", "evening"],
    }
    values.update(overrides)
    return values


def config(base_url: str, timeout: float = 5.0) -> ai.AiConfig:
    return ai.AiConfig(
        api_key="test-key", model="fake-model", base_url=base_url, timeout_seconds=timeout
    )


async def test_ai_missions_are_validated_and_topped_up_by_rules(
    fake_openai: tuple[FakeOpenAI, str],
) -> None:
    fake, url = fake_openai
    fake.missions = [
        ai_mission(),
        ai_mission(place_key="a-private-flat", title_en="Games at my place"),
        ai_mission(title_en="Night swim in the lake", title_ko="호수에서 수영하기"),
        ai_mission(points=5000, title_en="Jackpot walk"),
        ai_mission(category="badminton", title_en="Badminton on the water"),
        ai_mission(
            place_key="olympic-park",
            category="walking",
            title_en="Walk the ramparts",
            title_ko="몽촌토성 성곽길 걷기",
        ),
    ]
    conditions = Conditions(WEDNESDAY, weather="cloudy", interests=("photos",))
    result = await ai.generate(config(url), conditions, 5, seed=1)
    assert result.fallback is None and result.from_ai == 2
    titles = [d.title_en for d in result.drafts]
    assert titles[:2] == ["Photograph reflections on Seokchon Lake", "Walk the ramparts"]
    assert len(result.drafts) == 5 and all(problems(d) == [] for d in result.drafts)
    assert [d.source for d in result.drafts] == ["ai", "ai", "rules", "rules", "rules"]
    # The prompt carries the region's conditions and the place list, nothing personal.
    [request] = fake.requests
    asked = json.loads(request["input"])
    assert asked["season"] == "autumn" and asked["weather"] == "cloudy"
    assert {p["place_key"] for p in asked["places"]} == {p.key for p in places()}
    assert request["model"] == "fake-model" and request["text"]["format"]["type"] == "json_schema"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("refusal", "refusal"), ("malformed", "malformed output"), ("error", "API error")],
)
async def test_ai_failures_fall_back_to_rules(
    fake_openai: tuple[FakeOpenAI, str], caplog: pytest.LogCaptureFixture, mode: str, reason: str
) -> None:
    fake, url = fake_openai
    fake.mode = mode
    with caplog.at_level(logging.WARNING, logger="missions.ai"):
        result = await ai.generate(config(url), Conditions(WEDNESDAY), 50, seed="songpa")
    assert result.fallback is not None and result.fallback.startswith(reason)
    assert result.drafts == rules.generate(Conditions(WEDNESDAY), 50, seed="songpa")
    assert f"fell back to rules: {reason}" in caplog.text


async def test_ai_timeout_falls_back_quickly(
    fake_openai: tuple[FakeOpenAI, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = fake_openai
    fake.mode = "slow"
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.WARNING, logger="missions.ai"):
        result = await ai.generate(config(url, timeout=0.3), Conditions(WEDNESDAY), 10, seed=1)
    assert loop.time() - started < 5
    assert result.fallback == "timeout" and len(result.drafts) == 10
    assert "fell back to rules: timeout" in caplog.text


async def test_all_invalid_ai_output_falls_back(fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, url = fake_openai
    fake.missions = [ai_mission(place_key="somebodys-house"), ai_mission(points=0)]
    result = await ai.generate(config(url), Conditions(WEDNESDAY), 3, seed=1)
    assert result.fallback == "all 2 missions failed validation"
    assert [d.source for d in result.drafts] == ["rules"] * 3
