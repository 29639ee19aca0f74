"""Neighbourhoods for maps: one region, and the regions a map around it shows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import catalogue
from storage.models import Region

# A dong is at most a few kilometres across: regions whose centre is this far outside the
# view may still reach into it.
REACH_DEGREES = 0.03


async def region(session: AsyncSession, region_id: int) -> Region | None:
    return await catalogue.region(session, region_id)


async def within(
    session: AsyncSession, bounds: tuple[float, float, float, float], *, skip: int | None = None
) -> list[Region]:
    """Regions that may appear inside (west, south, east, north), by their centres."""
    west, south, east, north = bounds
    query = select(Region).where(
        Region.center_lon.between(west - REACH_DEGREES, east + REACH_DEGREES),
        Region.center_lat.between(south - REACH_DEGREES, north + REACH_DEGREES),
    )
    if skip is not None:
        query = query.where(Region.id != skip)
    return list(await session.scalars(query.order_by(Region.id)))
