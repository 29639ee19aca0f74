"""Maps as pictures: `/map` shows my neighbourhood with numbered pins for open meetups, and a
meetup card's "🗺 Map" button shows its venue the same way.

The picture is drawn by `missions/map.py` (Pillow, off the event loop). Its base layer (the
dong, its neighbours, the mission places) is cached in this process's memory per region,
language, hour and view; pins and the legend are drawn per request, so they always match the
list in the caption (`ui.maps`): pin 1 is the first line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from missions import map as drawing
from missions.places import places
from storage import meetings, regions
from storage.models import Region
from ui import callbacks
from ui import maps as ui
from ui.callbacks import Action
from ui.meetups import MAX_LISTED

CACHE_KEY = "map_cache"


@dataclass(frozen=True)
class Sketch:
    """What a picture needs, read inside the handler's one session: the projection, the
    pins, and the base layer when cached, else the areas to draw it from."""

    key: Hashable
    projection: drawing.Projection
    pins: list[drawing.Pin]
    title: str
    base: bytes | None
    home: drawing.Area
    neighbours: list[drawing.Area]


def _cache(context: Context) -> drawing.BaseCache:
    found = context.bot_data.get(CACHE_KEY)
    if not isinstance(found, drawing.BaseCache):
        found = context.bot_data[CACHE_KEY] = drawing.BaseCache()
    return found


async def sketch(
    context: Context, session: AsyncSession, region: Region, views: Sequence[meetings.MeetupView]
) -> Sketch:
    """The map of `region` with these meetups as pins; the neighbouring areas are read (in
    the caller's session) only when the base layer is not cached."""
    svc, lang = context.services, context.lang
    pins = ui.pins(lang, svc.settings.zone, views)
    projection = drawing.fit(region.boundary, [(p.lat, p.lon) for p in pins])
    hour = svc.clock.now().astimezone(svc.settings.zone).strftime("%Y%m%d%H")
    key = (region.id, lang, hour, projection)
    base = _cache(context).get(key)
    around = [] if base else await regions.within(session, projection.view_bounds(), skip=region.id)
    return Sketch(
        key, projection, pins, ui.region_title(lang, region), base,
        ui.home_area(region), ui.areas(lang, around),
    )  # fmt: skip


async def picture(context: Context, sketch: Sketch) -> bytes:
    """The neighbourhood map PNG with its pins (the base layer drawn once, then cached)."""
    base = sketch.base
    if base is None:
        spots = ui.spots(context.lang, places())
        base = await asyncio.to_thread(
            drawing.base_layer, sketch.projection, sketch.home, sketch.neighbours, spots,
            sketch.title,
        )  # fmt: skip
        _cache(context).put(sketch.key, base)
    legend = ui.legend(context.lang)
    return await asyncio.to_thread(drawing.with_pins, base, sketch.projection, sketch.pins, legend)


async def show_map(update: Update, context: Context) -> None:
    """`/map`: my neighbourhood with the open meetups as numbered pins, listed below."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    svc, lang = context.services, context.lang
    async with svc.sessions() as session:
        found = await meetings.neighbourhood(session, user.id, svc.clock.now(), limit=MAX_LISTED)
        drawn = await sketch(context, session, found.home, found.meetups) if found.home else None
    if not drawn:
        await message.reply_text(ui.no_home(lang))
        return
    png = await picture(context, drawn)
    await message.reply_photo(png, caption=ui.caption(lang, svc.settings.zone, found.meetups))


async def venue_map(update: Update, context: Context) -> None:
    """A meetup card's map button: the venue as pin 1 on its neighbourhood's map."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    meeting_id = context.pressed.int_arg(0)
    async with context.services.sessions() as session:
        found = await meetings.venue(session, meeting_id)
        drawn = await sketch(context, session, found.home, [found.meetup]) if found.home else None
    await context.answer()
    if not drawn:
        return  # a meetup of no neighbourhood: the card's venue message already shows it
    png = await picture(context, drawn)
    caption = ui.caption(context.lang, context.services.settings.zone, [found.meetup])
    await context.bot.send_photo(update.effective_chat.id, png, caption=caption)


def register(application: Application) -> None:
    """/map and a meetup's venue on a map."""
    application.add_handler(CommandHandler("map", show_map, filters=filters.ChatType.PRIVATE))
    application.add_handler(
        CallbackQueryHandler(venue_map, pattern=callbacks.pattern(Action.MEETUP_MAP))
    )
