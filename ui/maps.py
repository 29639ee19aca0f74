"""Maps as people see them: the title over a neighbourhood map, its numbered pins and the
caption listing them (pin 1 is the first line), and the areas and places of its base layer.

Pure functions of a language, a time zone and storage's rows and views; `missions/map.py`
draws the picture from what they return.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import tzinfo

from missions import map as drawing
from missions.places import Place
from storage.meetings import MeetupView
from storage.models import Region
from ui.i18n import format_when, localized, t
from ui.meetups import nothing_near, place_of, title_of

CAPTION_LIMIT = 1024


def region_title(lang: str, region: Region) -> str:
    """ "잠실동 · 송파구" / "Jamsil-dong, Songpa-gu": each language's usual punctuation."""
    dong, district = localized(lang, region, "name"), localized(lang, region, "district")
    return f"{dong} · {district}" if lang == "ko" else f"{dong}, {district}"


def home_area(region: Region) -> drawing.Area:
    """The neighbourhood itself (its name is drawn in Korean, as on street signs)."""
    return drawing.Area(region.name_ko, region.boundary)


def areas(lang: str, regions: Iterable[Region]) -> list[drawing.Area]:
    return [drawing.Area(localized(lang, r, "name"), r.boundary) for r in regions]


def spots(lang: str, places: Iterable[Place]) -> list[drawing.Spot]:
    return [drawing.Spot(localized(lang, p, "name"), p.lat, p.lon) for p in places]


def legend(lang: str) -> str:
    return t(lang, "Open meetups")


def pins(lang: str, zone: tzinfo, views: Sequence[MeetupView]) -> list[drawing.Pin]:
    found = []
    for number, view in enumerate(views, start=1):
        when = format_when(lang, view.meeting.starts_at, zone)
        label = f"{title_of(lang, view)} — {when}"
        found.append(drawing.Pin(number, view.meeting.place_lat, view.meeting.place_lon, label))
    return found


def caption(lang: str, zone: tzinfo, views: Sequence[MeetupView]) -> str:
    """A line per pin, in the pins' order; the empty-map text when there are none."""
    if not views:
        return nothing_near(lang)
    lines = []
    for number, view in enumerate(views, start=1):
        when = format_when(lang, view.meeting.starts_at, zone)
        lines.append(f"{number}. {title_of(lang, view)} — {when}, {place_of(lang, view.meeting)}")
    text = "\n".join(lines)
    return text if len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT - 1] + "…"


def no_home(lang: str) -> str:
    return t(lang, "Choose your neighbourhood first: /profile → Neighbourhood.")
