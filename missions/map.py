"""Neighbourhood maps as pictures: a dong, its neighbours, mission places and numbered pins.

Pure drawing with Pillow over GeoJSON boundaries (WGS84 lon/lat) and plain values: no
Telegram, no database. The projection is a local equirectangular one (x scaled by the cosine
of the latitude), exact to a pixel over a few kilometres; `Projection.to_pixel` is the one
function that places everything, so a test can compute where a pin must be. The base layer
(areas, places, names) is the slow part and is cached as PNG bytes by the caller's key; pins
and the legend are drawn on a copy for every request, so they always match the listed meetups.
"""

from __future__ import annotations

import io
import math
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

WIDTH, MAP_HEIGHT = 720, 560
PAD = 0.35  # the view extends this fraction of the dong's size on every side
PIN_RADIUS = 13
LEGEND_ROW = 28
# Pin colours by number (1-based, cycling): strong, distinct, and used nowhere else.
PIN_COLOURS: tuple[tuple[int, int, int], ...] = (
    (220, 38, 38),
    (37, 99, 235),
    (234, 88, 12),
    (147, 51, 234),
    (13, 148, 136),
    (219, 39, 119),
    (146, 64, 14),
    (30, 58, 138),
)
WATER_LIKE = (246, 244, 238)  # outside every boundary
HOME_FILL, HOME_LINE = (255, 247, 214), (180, 120, 20)
AREA_FILL, AREA_LINE = (236, 236, 232), (170, 170, 165)
PLACE_COLOUR = (46, 125, 50)
TEXT, MUTED = (40, 40, 40), (120, 120, 115)

_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKkr-Regular.otf",
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def font(size: int) -> Font:
    """A CJK font when the machine has one (Korean names), else Pillow's own."""
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size)


@dataclass(frozen=True)
class Area:
    """A neighbourhood: its name and GeoJSON boundary."""

    name: str
    boundary: dict[str, Any]


@dataclass(frozen=True)
class Spot:
    """A public place missions use."""

    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Pin:
    """A numbered meetup pin; `label` is its legend line."""

    number: int
    lat: float
    lon: float
    label: str

    @property
    def colour(self) -> tuple[int, int, int]:
        return pin_colour(self.number)


def pin_colour(number: int) -> tuple[int, int, int]:
    return PIN_COLOURS[(number - 1) % len(PIN_COLOURS)]


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    """Every ring (outer and holes) of a Polygon or MultiPolygon."""
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    if geometry["type"] == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    raise ValueError(f"unsupported geometry {geometry['type']}")


def bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees."""
    points = [p for ring in _rings(geometry) for p in ring]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return min(lons), min(lats), max(lons), max(lats)


@dataclass(frozen=True)
class Projection:
    """Degrees to pixels: local equirectangular, north up, centred on the view."""

    centre_lat: float
    centre_lon: float
    pixels_per_degree: float  # of latitude
    width: int = WIDTH
    height: int = MAP_HEIGHT

    @property
    def _kx(self) -> float:
        return self.pixels_per_degree * math.cos(math.radians(self.centre_lat))

    def to_pixel(self, lat: float, lon: float) -> tuple[int, int]:
        """The pixel (x, y) of a point, rounded; may lie outside the picture."""
        x = self.width / 2 + (lon - self.centre_lon) * self._kx
        y = self.height / 2 - (lat - self.centre_lat) * self.pixels_per_degree
        return round(x), round(y)

    def view_bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of what the picture shows, in degrees."""
        half_lon = self.width / 2 / self._kx
        half_lat = self.height / 2 / self.pixels_per_degree
        return (self.centre_lon - half_lon, self.centre_lat - half_lat,
                self.centre_lon + half_lon, self.centre_lat + half_lat)  # fmt: skip

    def metres_per_pixel(self) -> float:
        return 111_195.0 / self.pixels_per_degree

    def inside(self, lat: float, lon: float, margin: int = 0) -> bool:
        x, y = self.to_pixel(lat, lon)
        return margin <= x < self.width - margin and margin <= y < self.height - margin


def fit(
    geometry: dict[str, Any],
    points: Sequence[tuple[float, float]] = (),
    width: int = WIDTH,
    height: int = MAP_HEIGHT,
) -> Projection:
    """The projection that shows this boundary (and any (lat, lon) points: pins outside the
    dong) centred, with the neighbourhood around it."""
    west, south, east, north = bounds(geometry)
    for lat, lon in points:
        west, east = min(west, lon), max(east, lon)
        south, north = min(south, lat), max(north, lat)
    lat0, lon0 = (south + north) / 2, (west + east) / 2
    cos = math.cos(math.radians(lat0))
    span_x = max((east - west) * cos, 1e-4) * (1 + 2 * PAD)
    span_y = max(north - south, 1e-4) * (1 + 2 * PAD)
    return Projection(lat0, lon0, min(width / span_x, height / span_y), width, height)


def _polygon_pixels(
    projection: Projection, ring: Sequence[Sequence[float]]
) -> list[tuple[int, int]]:
    return [projection.to_pixel(p[1], p[0]) for p in ring]


def _centre_pixel(projection: Projection, geometry: dict[str, Any]) -> tuple[int, int]:
    west, south, east, north = bounds(geometry)
    return projection.to_pixel((south + north) / 2, (west + east) / 2)


def _text_centred(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int,
                  fill: tuple[int, int, int]) -> None:  # fmt: skip
    draw.text(xy, text, fill=fill, font=font(size), anchor="mm")


def _draw_areas(draw: ImageDraw.ImageDraw, projection: Projection, home: Area,
                neighbours: Sequence[Area]) -> None:  # fmt: skip
    for area in neighbours:
        for ring in _rings(area.boundary):
            draw.polygon(_polygon_pixels(projection, ring), fill=AREA_FILL, outline=AREA_LINE)
    for ring in _rings(home.boundary):
        draw.polygon(_polygon_pixels(projection, ring), fill=HOME_FILL)
    for ring in _rings(home.boundary):
        draw.line([*_polygon_pixels(projection, ring), _polygon_pixels(projection, ring)[0]],
                  fill=HOME_LINE, width=3, joint="curve")  # fmt: skip
    for area in neighbours:
        x, y = _centre_pixel(projection, area.boundary)
        if 30 <= x < projection.width - 30 and 20 <= y < projection.height - 20:
            _text_centred(draw, (x, y), area.name, 13, MUTED)


def _draw_places(draw: ImageDraw.ImageDraw, projection: Projection,
                 places: Sequence[Spot]) -> None:  # fmt: skip
    for place in places:
        if not projection.inside(place.lat, place.lon, margin=4):
            continue
        x, y = projection.to_pixel(place.lat, place.lon)
        draw.rectangle((x - 4, y - 4, x + 4, y + 4), fill=PLACE_COLOUR, outline="white")
        draw.text((x + 7, y), place.name, fill=PLACE_COLOUR, font=font(12), anchor="lm")


def _draw_scale(draw: ImageDraw.ImageDraw, projection: Projection) -> None:
    """A scale bar of a round length about a sixth of the width."""
    target = projection.metres_per_pixel() * projection.width / 6
    metres = max((m for m in (100, 200, 250, 500, 1000, 2000, 5000) if m <= target), default=100)
    length = round(metres / projection.metres_per_pixel())
    x0, y0 = 16, projection.height - 18
    draw.rectangle((x0 - 6, y0 - 20, x0 + length + 6, y0 + 8), fill="white")
    draw.line((x0, y0, x0 + length, y0), fill=TEXT, width=3)
    label = f"{metres} m" if metres < 1000 else f"{metres // 1000} km"
    draw.text((x0, y0 - 4), label, fill=TEXT, font=font(12), anchor="ls")


def base_layer(projection: Projection, home: Area, neighbours: Sequence[Area],
               places: Sequence[Spot], title: str) -> bytes:  # fmt: skip
    """The map without pins, as PNG bytes (what is cached)."""
    image = Image.new("RGB", (projection.width, projection.height), WATER_LIKE)
    draw = ImageDraw.Draw(image)
    _draw_areas(draw, projection, home, neighbours)
    _draw_places(draw, projection, places)
    _draw_scale(draw, projection)
    box = draw.textbbox((12, 10), title, font=font(20))
    draw.rectangle((box[0] - 6, box[1] - 4, box[2] + 6, box[3] + 4), fill="white")
    draw.text((12, 10), title, fill=TEXT, font=font(20))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def _draw_pin(draw: ImageDraw.ImageDraw, centre: tuple[int, int], number: int) -> None:
    x, y = centre
    r = PIN_RADIUS
    draw.ellipse((x - r, y - r, x + r, y + r), fill=pin_colour(number), outline="white", width=2)
    _text_centred(draw, (x, y), str(number), 15, (255, 255, 255))


def with_pins(
    base_png: bytes, projection: Projection, pins: Sequence[Pin], legend_title: str
) -> bytes:
    """The base map with numbered pins and, below it, a legend line per pin; PNG bytes."""
    with Image.open(io.BytesIO(base_png)) as opened:
        base = opened.convert("RGB")
    legend_height = 16 + (LEGEND_ROW * (len(pins) + 1) if pins else 0)
    image = Image.new("RGB", (base.width, base.height + legend_height), "white")
    image.paste(base, (0, 0))
    draw = ImageDraw.Draw(image)
    # The soonest meetup (number 1) is drawn last, so it stays on top where pins overlap.
    for pin in sorted(pins, key=lambda p: -p.number):
        _draw_pin(draw, projection.to_pixel(pin.lat, pin.lon), pin.number)
    if pins:
        y = base.height + 10
        draw.text((12, y), legend_title, fill=TEXT, font=font(15))
        for pin in pins:
            y += LEGEND_ROW
            _draw_pin(draw, (12 + PIN_RADIUS, y + PIN_RADIUS), pin.number)
            draw.text((12 + 2 * PIN_RADIUS + 10, y + PIN_RADIUS), pin.label, fill=TEXT,
                      font=font(14), anchor="lm")  # fmt: skip
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=3)
    return out.getvalue()


class BaseCache:
    """Base layers as PNG bytes by key (e.g. region, language, hour), oldest dropped first.

    In memory, per process: a restart or a second worker draws its own, which costs a few
    hundred milliseconds once per region and hour.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        found = self._items.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return found

    def put(self, key: Hashable, png: bytes) -> None:
        self._items[key] = png
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
