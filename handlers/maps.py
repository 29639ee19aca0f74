"""Maps as pictures: `/map` shows my neighbourhood with numbered pins for open meetups, and a
meetup card's "🗺 Map" button shows its venue the same way.

The picture is drawn by `missions/map.py` (Pillow, off the event loop). Its base layer (the
dong, its neighbours, the mission places) is cached in this process's memory per region,
language, hour and view; pins and the legend are drawn per request, so they always match the
list in the caption: pin 1 is the first line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from bot.services import Services
from handlers.meetups import MAX_LISTED, refusal, title_of
from handlers.profile import account_or_invite
from missions import map as drawing
from missions.places import places
from storage import errors, meetings, regions
from storage.models import Region
from ui import callbacks
from ui.callbacks import Action
from ui.i18n import format_when, t

CACHE_KEY = "map_cache"
CAPTION_LIMIT = 1024


def _cache(context: Context) -> drawing.BaseCache:
    found = context.bot_data.get(CACHE_KEY)
    if not isinstance(found, drawing.BaseCache):
        found = context.bot_data[CACHE_KEY] = drawing.BaseCache()
    return found


def region_title(lang: str, region: Region) -> str:
    if lang == "ko":
        return f"{region.name_ko} · {region.district_ko}"
    return f"{region.name_en}, {region.district_en}"


async def picture(
    context: Context, region: Region, pins: Sequence[drawing.Pin], lang: str
) -> bytes:
    """The neighbourhood map PNG with these pins (the base layer from the cache when fresh)."""
    svc = context.services
    projection = drawing.fit(region.boundary, [(p.lat, p.lon) for p in pins])
    hour = svc.clock.now().astimezone(svc.settings.zone).strftime("%Y%m%d%H")
    key = (region.id, lang, hour, projection)
    cache = _cache(context)
    base = cache.get(key)
    if base is None:
        async with svc.sessions() as session:
            around = await regions.within(session, projection.view_bounds(), skip=region.id)
        neighbours = [
            drawing.Area(r.name_ko if lang == "ko" else r.name_en, r.boundary) for r in around
        ]
        spots = [drawing.Spot(p.name(lang), p.lat, p.lon) for p in places()]
        home = drawing.Area(region.name_ko, region.boundary)
        base = await asyncio.to_thread(
            drawing.base_layer, projection, home, neighbours, spots, region_title(lang, region)
        )
        cache.put(key, base)
    legend = t(lang, "Open meetups")
    return await asyncio.to_thread(drawing.with_pins, base, projection, pins, legend)


def _pins(lang: str, svc: Services, views: Sequence[meetings.MeetupView]) -> list[drawing.Pin]:
    pins = []
    for number, view in enumerate(views, start=1):
        when = format_when(lang, view.meeting.starts_at, svc.settings.zone)
        label = f"{title_of(lang, view)} — {when}"
        pins.append(drawing.Pin(number, view.meeting.place_lat, view.meeting.place_lon, label))
    return pins


def _caption(lang: str, svc: Services, views: Sequence[meetings.MeetupView]) -> str:
    lines = []
    for number, view in enumerate(views, start=1):
        when = format_when(lang, view.meeting.starts_at, svc.settings.zone)
        lines.append(f"{number}. {title_of(lang, view)} — {when}, {view.meeting.place_name}")
    text = "\n".join(lines)
    return text if len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT - 1] + "…"


async def show_map(update: Update, context: Context) -> None:
    """`/map`: my neighbourhood with the open meetups as numbered pins, listed below."""
    message = update.effective_message
    assert message is not None
    lang = context.lang
    svc = context.services
    async with svc.sessions() as session:
        user = await account_or_invite(update, context, session)
        if user is None:
            return
        home = await regions.region(session, user.region_id) if user.region_id else None
        views = await meetings.open_meetups(
            session, user.region_id, svc.clock.now(), viewer_id=user.id, limit=MAX_LISTED
        )
    if home is None:
        await message.reply_text(
            t(lang, "Choose your neighbourhood first: /profile → Neighbourhood.")
        )
        return
    png = await picture(context, home, _pins(lang, svc, views), lang)
    caption = _caption(lang, svc, views) or t(
        lang, "No open meetups in your neighbourhood right now. Host one from /missions!"
    )
    await message.reply_photo(png, caption=caption)


async def venue_map(update: Update, context: Context) -> None:
    """A meetup card's map button: the venue as pin 1 on its neighbourhood's map."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    lang = context.lang
    svc = context.services
    try:
        meeting_id = callbacks.decode(query.data).int_arg(0)
        async with svc.sessions() as session:
            view = await meetings.view(session, meeting_id)
            home = await regions.region(session, view.meeting.region_id or 0)
    except errors.MeetupError as exc:
        await query.answer(refusal(lang, exc), show_alert=True)
        return
    except callbacks.InvalidCallback:
        await query.answer(t(lang, "This button no longer works. Send /start to begin again."))
        return
    await query.answer()
    if home is None:
        return  # a meetup of no neighbourhood: the card's venue message already shows it
    png = await picture(context, home, _pins(lang, svc, [view]), lang)
    await context.bot.send_photo(update.effective_chat.id, png, caption=_caption(lang, svc, [view]))


def register(application: Application) -> None:
    """/map and a meetup's venue on a map."""
    application.add_handler(CommandHandler("map", show_map, filters=filters.ChatType.PRIVATE))
    application.add_handler(
        CallbackQueryHandler(venue_map, pattern=callbacks.pattern(Action.MEETUP_MAP))
    )
