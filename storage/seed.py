"""Reference data: Seoul neighbourhoods from the bundled boundary data, the demo catalogue.

Both loaders are idempotent: running `halsaram seed` twice leaves the same rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import Clock
from storage.models import Mission, Region
from verification.geo import centroid, contains

SONGPA = "11710"
DEFAULT_ENABLED_DISTRICTS = (SONGPA,)


@dataclass(frozen=True)
class SeedResult:
    regions: int
    missions: int


def _load_json(package: str, path: str) -> Any:
    return json.loads(resources.files(package).joinpath(path).read_text(encoding="utf-8"))


def _districts() -> dict[str, tuple[str, str]]:
    data = _load_json("storage", "data/geo/seoul_municipalities_geo_simple.json")
    return {
        f["properties"]["SIG_CD"]: (f["properties"]["SIG_KOR_NM"], f["properties"]["SIG_ENG_NM"])
        for f in data["features"]
    }


async def seed_regions(
    session: AsyncSession, enabled_districts: tuple[str, ...] = DEFAULT_ENABLED_DISTRICTS
) -> int:
    """Loads every Seoul dong; the ones in `enabled_districts` are open for signup."""
    districts = _districts()
    data = _load_json("storage", "data/geo/seoul_neighborhoods_geo_simple.json")
    existing = {r.dong_code: r for r in (await session.scalars(select(Region))).all()}
    for feature in data["features"]:
        props = feature["properties"]
        code = props["EMD_CD"]
        district_code = code[:5]
        district_ko, district_en = districts.get(district_code, ("", ""))
        lat, lon = centroid(feature["geometry"])
        values = {
            "dong_code": code,
            "district_code": district_code,
            "district_ko": district_ko,
            "district_en": district_en,
            "name_ko": props["EMD_KOR_NM"],
            "name_en": props["EMD_ENG_NM"],
            "center_lat": lat,
            "center_lon": lon,
            "boundary": feature["geometry"],
            "enabled": district_code in enabled_districts,
        }
        region = existing.get(code)
        if region is None:
            session.add(Region(**values))
        else:
            for key, value in values.items():
                setattr(region, key, value)
    await session.flush()
    return len(data["features"])


async def seed_catalogue(session: AsyncSession, clock: Clock) -> int:
    """Publishes the demo missions, each tied to the neighbourhood its place lies in."""
    data = _load_json("missions", "data/catalogue.json")
    regions = (await session.scalars(select(Region).where(Region.enabled))).all()
    existing = {
        m.key: m for m in (await session.scalars(select(Mission).where(Mission.key.is_not(None))))
    }
    now = clock.now()
    for item in data["missions"]:
        lat, lon = item["lat"], item["lon"]
        region = next((r for r in regions if contains(r.boundary, lat, lon)), None)
        values = {k: v for k, v in item.items() if k not in ("lat", "lon")}
        values |= {"place_lat": lat, "place_lon": lon, "region_id": region.id if region else None}
        mission = existing.get(item["key"])
        if mission is None:
            mission = Mission(
                **values, status="published", source="catalogue", created_at=now, published_at=now
            )
            session.add(mission)
        else:
            for key, value in values.items():
                setattr(mission, key, value)
    await session.flush()
    return len(data["missions"])


async def seed_all(
    session: AsyncSession,
    clock: Clock,
    enabled_districts: tuple[str, ...] = DEFAULT_ENABLED_DISTRICTS,
) -> SeedResult:
    regions = await seed_regions(session, enabled_districts)
    missions = await seed_catalogue(session, clock)
    return SeedResult(regions, missions)
