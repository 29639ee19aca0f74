"""Step 2, missions: `/missions` lists what is published in the person's district, most points
first, a page at a time; category buttons filter; "recommended for you" ranks for them. Every
button edits the same list message, so the chat does not fill up with pages. A mission's card
is a new message, followed by a venue message showing its place on a map; the card links to
meetups ("create a meetup", "see meetups"), which `handlers.meetups` answers.
"""

from __future__ import annotations

import contextlib

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from missions.categories import INTERESTS
from storage import accounts, errors, missions
from ui import callbacks
from ui import missions as screens
from ui.callbacks import Action, InvalidCallback
from ui.i18n import localized, t


async def list_missions(update: Update, context: Context) -> None:
    """`/missions`: the first page of missions in the person's district."""
    assert update.effective_message is not None
    screen = await _listing(update, context, screens.ALL, 0)
    if screen is not None:
        await update.effective_message.reply_text(screen[0], reply_markup=screen[1])


async def list_page(update: Update, context: Context) -> None:
    """A page or a category filter: the same message shows it."""
    try:
        pressed = context.pressed
        category, page = pressed.args[0], pressed.int_arg(1)
    except InvalidCallback:
        category, page = "", 0
    if category != screens.ALL and category not in INTERESTS:
        await _stale_list(update, context)
        return
    screen = await _listing(update, context, category, page)
    if screen is not None:
        await _edit(update, context, *screen)


async def for_you(update: Update, context: Context) -> None:
    """The "recommended for you" pages, in the same message."""
    try:
        page = context.pressed.int_arg(0)
    except InvalidCallback:
        await _stale_list(update, context)
        return
    svc = context.services
    async with svc.sessions() as session:
        user = await accounts.require_user(session, _person(update))
        ranked = await missions.recommended_page(
            session, user, page, svc.clock.now(), svc.settings.zone
        )
    await _edit(update, context, *screens.recommended(context.lang, ranked))


async def show_mission(update: Update, context: Context) -> None:
    """A mission's card with the meetup buttons, then its place as a venue on the map."""
    assert update.callback_query is not None and update.effective_chat is not None
    try:
        mission_id = context.pressed.int_arg(0)
        async with context.services.sessions() as session:
            await accounts.require_user(session, _person(update))
            found = await missions.detail(session, mission_id)
    except InvalidCallback:
        await _stale_list(update, context)
        return
    except errors.MissionNotFound as gone:
        await context.refuse(gone, alert=False)
        return
    await context.answer()
    lang, mission, chat_id = context.lang, found.mission, update.effective_chat.id
    await context.bot.send_message(
        chat_id,
        screens.mission_card(lang, mission),
        reply_markup=screens.card_buttons(lang, mission),
    )
    await context.bot.send_venue(
        chat_id,
        latitude=mission.place_lat,
        longitude=mission.place_lon,
        title=localized(lang, mission, "place_name"),
        address=screens.venue_address(lang, found.region),
    )


async def _listing(
    update: Update, context: Context, category: str, page: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    """The list message for a page and filter (`NotRegistered` without an account)."""
    svc = context.services
    async with svc.sessions() as session:
        user = await accounts.require_user(session, _person(update))
        listing = await missions.listing(
            session,
            user,
            page,
            svc.clock.now(),
            svc.settings.zone,
            None if category == screens.ALL else category,
        )
    return screens.mission_list(context.lang, listing, category)


async def _edit(update: Update, context: Context, text: str, markup: InlineKeyboardMarkup) -> None:
    """Shows a page in the pressed list message (the press answered after its read)."""
    query = update.callback_query
    assert query is not None
    await context.answer()
    # Pressing the filter already shown changes nothing; Telegram then says "not modified".
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(text, reply_markup=markup)


async def _stale_list(update: Update, context: Context) -> None:
    await context.answer(t(context.lang, screens.STALE_LIST))


def register(application: Application) -> None:
    """Step 2: /missions, its pages, "recommended for you" and a mission's card."""
    application.add_handler(
        CommandHandler("missions", list_missions, filters=filters.ChatType.PRIVATE)
    )
    for action, callback in (
        (Action.MISSION_LIST, list_page),
        (Action.MISSION_FOR_YOU, for_you),
        (Action.MISSION_SHOW, show_mission),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))


def _person(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id
