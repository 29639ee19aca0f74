"""Geometry over GeoJSON (WGS84 lon/lat): is a point inside a neighbourhood, how far is it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Ring = Sequence[Sequence[float]]
EARTH_RADIUS_M = 6_371_008.8


def _polygons(geometry: dict[str, Any]) -> list[list[Ring]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"unsupported geometry {geometry['type']}")


def _in_ring(ring: Ring, lon: float, lat: float) -> bool:
    """Ray casting; a point exactly on an edge may fall either way, which is fine at 1 m."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def contains(geometry: dict[str, Any], lat: float, lon: float) -> bool:
    """True when (lat, lon) lies inside the polygon (holes excluded)."""
    for polygon in _polygons(geometry):
        outer, *holes = polygon
        if _in_ring(outer, lon, lat) and not any(_in_ring(h, lon, lat) for h in holes):
            return True
    return False


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def centroid(geometry: dict[str, Any]) -> tuple[float, float]:
    """Area-weighted centroid of the outer rings, as (lat, lon)."""
    total = cx = cy = 0.0
    for polygon in _polygons(geometry):
        ring = polygon[0]
        for (x0, y0), (x1, y1) in zip(ring, [*ring[1:], ring[0]], strict=True):
            cross = x0 * y1 - x1 * y0
            total += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
    if total == 0:
        first = _polygons(geometry)[0][0][0]
        return first[1], first[0]
    return cy / (3 * total), cx / (3 * total)


def distance_to_area_m(geometry: dict[str, Any], lat: float, lon: float) -> float:
    """How far a point is from the area: 0 inside, else the distance to the nearest edge."""
    if contains(geometry, lat, lon):
        return 0.0
    # Local equirectangular projection: metres per degree around the point; exact enough
    # over a few kilometres, which is all a "you are 800 m away" message needs.
    ky = math.pi * EARTH_RADIUS_M / 180
    kx = ky * math.cos(math.radians(lat))
    best = math.inf
    for polygon in _polygons(geometry):
        for ring in polygon:
            for (x0, y0), (x1, y1) in zip(ring, [*ring[1:], ring[0]], strict=True):
                ax, ay = (x0 - lon) * kx, (y0 - lat) * ky
                bx, by = (x1 - lon) * kx, (y1 - lat) * ky
                dx, dy = bx - ax, by - ay
                length2 = dx * dx + dy * dy
                t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
                best = min(best, math.hypot(ax + t * dx, ay + t * dy))
    return best
