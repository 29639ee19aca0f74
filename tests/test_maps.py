"""Beyond: `/map` draws my neighbourhood with numbered pins for the open meetups, in the
order of the list under it; a meetup card's map button shows its venue; drawing is fast and
the base layer is cached."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from handlers.maps import CACHE_KEY
from missions import map as drawing
from missions.places import place_name
from storage import meetings
from storage.models import Region
from tests.harness import BotHarness, buttons
from tests.people import Neighbour, meetup_card, new_meetup

pytestmark = pytest.mark.usefixtures("seeded")
PLACES = ("seokchon-lake-loop", "olympic-park-lone-tree", "songridan-cafe")


def _sent_png(bot: BotHarness) -> Image.Image:
    """The PNG of the last sendPhoto, as the bot uploaded it (before any recompression)."""
    call = bot.calls("sendPhoto")[-1]
    return Image.open(io.BytesIO(call.files["photo"][1])).convert("RGB")


async def _home(bot: BotHarness) -> Region:
    async with bot.sessions() as s:
        region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
        assert region is not None
        return region


def _pin_pixels(image: Image.Image, xy: tuple[int, int]) -> list[tuple[int, int, int]]:
    """Inside the pin's disc, clear of its white number and outline: below and left of it."""
    x, y = xy
    inset = drawing.PIN_RADIUS - 5
    return [image.getpixel((x, y + inset)), image.getpixel((x - inset, y))]  # type: ignore[list-item]


async def test_map_pins_match_the_listed_meetups(bot: BotHarness) -> None:
    viewer = await Neighbour(bot, "Mina", lang="en").register()
    for hours, key in zip((5, 3, 4), PLACES, strict=True):
        host = await Neighbour(bot, f"host-{key}").register()
        await new_meetup(bot, host, hours=hours, key=key)
    [reply] = await viewer.say("/map")
    assert "photo" in reply
    lines = reply["caption"].splitlines()
    async with bot.sessions() as s:
        listed = await meetings.open_meetups(s, (await _home(bot)).id, bot.clock.now())
    assert [line.split(".")[0] for line in lines] == ["1", "2", "3"]
    for line, view in zip(lines, listed, strict=True):
        # The place in the viewer's language (issue 23): 석촌호수 reads "Seokchon Lake".
        assert view.mission.title_en in line and place_name("en", view.meeting.place_name) in line

    image = _sent_png(bot)
    home = await _home(bot)
    points = [(v.meeting.place_lat, v.meeting.place_lon) for v in listed]
    projection = drawing.fit(home.boundary, points)
    assert image.width == projection.width
    for number, (lat, lon) in enumerate(points, start=1):
        xy = projection.to_pixel(lat, lon)
        assert _pin_pixels(image, xy) == [drawing.pin_colour(number)] * 2, number
        # The legend under the map: the same colour and number on line `number`.
        legend_y = projection.height + 10 + drawing.LEGEND_ROW * number + drawing.PIN_RADIUS
        legend = (12 + drawing.PIN_RADIUS, legend_y)
        assert _pin_pixels(image, legend) == [drawing.pin_colour(number)] * 2
    # Nothing else on the map uses a pin colour.
    used = {image.getpixel((x, y)) for x in range(0, image.width, 7) for y in range(0, 40, 7)}
    assert not used & set(drawing.PIN_COLOURS)


async def test_a_meetup_card_shows_its_venue_on_the_map(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "Mina", lang="en").register()
    meeting_id = await new_meetup(bot, host, key="songridan-cafe")
    card = await meetup_card(bot, guest, meeting_id)
    assert [label for label, _ in buttons(card)] == ["Join", "🗺 Map"]
    await bot.press(guest.user, card, buttons(card)[1][1])
    sent: dict[str, Any] = bot.bot_messages(guest.id)[-1]
    assert sent["caption"].startswith("1. ") and "Seokchon Lake" in sent["caption"]
    async with bot.sessions() as s:
        meeting = (await meetings.view(s, meeting_id)).meeting
    projection = drawing.fit((await _home(bot)).boundary, [(meeting.place_lat, meeting.place_lon)])
    xy = projection.to_pixel(meeting.place_lat, meeting.place_lon)
    assert _pin_pixels(_sent_png(bot), xy) == [drawing.pin_colour(1)] * 2


async def test_the_maps_base_is_drawn_once_per_region_and_hour(bot: BotHarness) -> None:
    # How fast it draws is measured in bench/map.py, not asserted here.
    viewer = await Neighbour(bot, "Mina", lang="en").register()
    [first] = await viewer.say("/map")
    assert "No open meetups" in first["caption"]
    await viewer.say("/map")
    cache = bot.app.bot_data[CACHE_KEY]
    assert (cache.misses, cache.hits) == (1, 1)
