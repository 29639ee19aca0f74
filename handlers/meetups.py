"""Meetups (steps 3 and 4): list, card, join/leave, host tools (the check-in itself is
`handlers.checkin`).

A venue message shows the meeting point on a map with its name.

Each handler calls one `storage.meetings` operation and hands its view to `ui.meetups`. A
press that changes something (join, leave, the host's tools) is answered first, before the
database work, so the answer reaches Telegram while the client still waits; what the change
did is then a message or the redrawn card, never the answer. A refusal (a `DomainError`) is
left to propagate: the error handler tells it with the text from `ui.refusals`, as the
press's alert when a read refused before the answer, else as a message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import Context
from storage import meetings
from storage.db import transaction
from ui import callbacks, links
from ui import checkin as checkin_ui
from ui import meetups as ui
from ui.callbacks import Action
from verification.qr import checkin_qr_png


def _user_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


def _press_id(update: Update) -> str:
    """The press's own id (Telegram's callback query id): the same press handled again, as
    after a crash before its update was marked done, is recognised by storage."""
    assert update.callback_query is not None
    return update.callback_query.id


async def _reply(update: Update, screen: ui.Screen | str) -> None:
    assert update.effective_message is not None
    text, markup = (screen, None) if isinstance(screen, str) else screen
    await update.effective_message.reply_text(text, reply_markup=markup)


async def _send_card(update: Update, context: Context, card: meetings.Card) -> None:
    """The meetup's venue on a map, then its card with the buttons that fit the person."""
    lang, chat_id, meeting = context.lang, _chat_id(update), card.meetup.meeting
    await context.bot.send_venue(
        chat_id, latitude=meeting.place_lat, longitude=meeting.place_lon,
        title=ui.place_of(lang, meeting), address=ui.title_of(lang, card.meetup),
    )  # fmt: skip
    text, markup = ui.meetup_card(lang, context.services.settings.zone, card)
    await context.bot.send_message(chat_id, text, reply_markup=markup)


async def _redraw(update: Update, context: Context, card: meetings.Card) -> None:
    """Redraws the pressed card so its numbers and buttons are current."""
    assert update.callback_query is not None
    text, markup = ui.meetup_card(context.lang, context.services.settings.zone, card)
    # The change is committed and answered: a refused redraw ("not modified" on a double tap,
    # or a message that can no longer be edited) must not become an apology.
    with contextlib.suppress(BadRequest):
        await update.callback_query.edit_message_text(text, reply_markup=markup)


# --------------------------------------------------------------------------- lists


async def list_meetups(update: Update, context: Context) -> None:
    """`/meetups`: open meetups of the person's district, nearest to their 동 first."""
    await _open_meetups(update, context, near=None)


async def meetups_near(update: Update, context: Context) -> None:
    """A location shared outside any conversation: the open meetups, with their distance.

    The location is used for this answer only and not stored.
    """
    message = update.effective_message
    assert message is not None
    location = message.venue.location if message.venue else message.location
    assert location is not None
    await _open_meetups(update, context, near=(location.latitude, location.longitude))


async def _open_meetups(update: Update, context: Context, near: tuple[float, float] | None) -> None:
    """The open meetups of the person's district, nearest first, with their distance from
    `near` (a shared location) or from the person's 동."""
    svc = context.services
    async with svc.sessions() as session:
        found = await meetings.nearby(session, _user_id(update), svc.clock.now(), near)
    await _reply(update, ui.nearby_list(context.lang, svc.settings.zone, found, near is not None))


async def my_meetups(update: Update, context: Context) -> None:
    """`/mymeetups`: my meetups, coming up and past (마이페이지)."""
    svc = context.services
    async with svc.sessions() as session:
        record = await meetings.my_record(session, _user_id(update), svc.clock.now())
    await _reply(update, ui.my_record(context.lang, svc.settings.zone, record))


async def my_meetups_page(update: Update, context: Context) -> None:
    """« Newer / Older » under /mymeetups: the list edited in place."""
    svc, query = context.services, update.callback_query
    assert query is not None
    page = min(context.pressed.int_arg(0), meetings.RECORD_LAST_PAGE)
    async with svc.sessions() as session:
        record = await meetings.my_record(session, _user_id(update), svc.clock.now(), page)
    await context.answer()
    text, markup = ui.my_record(context.lang, svc.settings.zone, record)
    with contextlib.suppress(BadRequest):  # "not modified" on a double tap
        await query.edit_message_text(text, reply_markup=markup)


async def meetups_of_mission(update: Update, context: Context) -> None:
    """The mission card's "see meetups" button."""
    mission_id = context.pressed.int_arg(0)
    await context.answer()
    svc = context.services
    async with svc.sessions() as session:
        found = await meetings.open_meetups(session, None, svc.clock.now(), mission_id=mission_id)
    await _reply(update, ui.mission_list(context.lang, svc.settings.zone, found))


# --------------------------------------------------------------------------- the card


async def view_meetup(update: Update, context: Context) -> None:
    """A list's button: the meetup's venue and card."""
    svc, meeting_id = context.services, context.pressed.int_arg(0)
    async with svc.sessions() as session:
        card = await meetings.card(session, meeting_id, _user_id(update), svc.clock.now())
    await context.answer()
    await _send_card(update, context, card)


async def join(update: Update, context: Context) -> None:
    """Join: a seat, or a waitlist place when full; every refusal says why. The same press
    handled twice joins once and confirms the same way both times.

    On a card in a group (a meetup gathered by the daily post's taps, issue 23) the card is
    everyone's: it is redrawn as anyone sees it (Join), and the confirmation goes privately."""
    svc, meeting_id, user_id = context.services, context.pressed.int_arg(0), _user_id(update)
    await context.answer()
    now = svc.clock.now()
    in_group = update.effective_chat is not None and update.effective_chat.type != "private"
    async with transaction(svc.sessions) as session:
        seat = await meetings.join(
            session, meeting_id, user_id, svc.rules, now, press=_press_id(update)
        )
        # Read before the commit: the card shows exactly what this join left.
        card = await meetings.card(session, meeting_id, 0 if in_group else user_id, now)
    told = ui.joined(context.lang, svc.settings.zone, seat)
    await context.bot.send_message(user_id if in_group else _chat_id(update), told)
    await _redraw(update, context, card)


async def leave(update: Update, context: Context) -> None:
    """Leave (until the start, never after checking in): the seat goes to the first on the
    waitlist, who is told. The same press handled twice leaves once."""
    svc, meeting_id, user_id = context.services, context.pressed.int_arg(0), _user_id(update)
    await context.answer()
    now = svc.clock.now()
    async with transaction(svc.sessions) as session:
        await meetings.leave(session, meeting_id, user_id, now, press=_press_id(update))
        card = await meetings.card(session, meeting_id, user_id, now)
    await context.bot.send_message(_chat_id(update), ui.left(context.lang))
    await _redraw(update, context, card)


async def still_coming(update: Update, context: Context) -> None:
    """ "Still coming" after the host moved the start (issue 23): the place is kept. On the
    card (`c`) the card is redrawn; on the notice its buttons close (the card keeps them)."""
    svc, pressed, user_id = context.services, context.pressed, _user_id(update)
    meeting_id = pressed.int_arg(0)
    await context.answer()
    now = svc.clock.now()
    async with transaction(svc.sessions) as session:
        seat = await meetings.confirm(session, meeting_id, user_id, now)
        card = await meetings.card(session, meeting_id, user_id, now)
    told = ui.still_coming(context.lang, svc.settings.zone, seat)
    await context.bot.send_message(_chat_id(update), told)
    if pressed.args[1] == "c":
        await _redraw(update, context, card)
    else:
        await context.close_buttons()


# --------------------------------------------------------------------------- host tools


async def host_tool(update: Update, context: Context) -> None:
    """The host's buttons on their card. Whether the person hosts the meetup is read before
    the press is answered: anyone else gets one answer, the refusal (an alert), and nothing
    more. Each tool's own operation checks it again in its transaction."""
    pressed = context.pressed
    tool = HOST_TOOLS.get(pressed.args[1])
    if tool is None:
        await context.stale_button()
        return
    meeting_id = pressed.int_arg(0)
    async with context.services.sessions() as session:
        await meetings.as_host(session, meeting_id, _user_id(update))
    await tool(update, context, meeting_id)


async def _checkin_qr(update: Update, context: Context, meeting_id: int) -> None:
    """The host's QR: a signed deep link for the current window, with the typed code."""
    svc, lang = context.services, context.lang
    await context.answer()
    async with transaction(svc.sessions) as session:
        sheet = await meetings.checkin_sheet(
            session, meeting_id, _user_id(update), svc.signer, svc.rules, svc.clock.now()
        )
    link = links.checkin_link(context.bot.username, sheet.token)
    image = checkin_qr_png(link, ui.title_of(lang, sheet.meetup), sheet.code)
    caption, markup = checkin_ui.checkin_caption(lang, sheet, svc.settings.checkin_rotation_seconds)
    await context.bot.send_photo(_chat_id(update), image, caption=caption, reply_markup=markup)


async def _roster(update: Update, context: Context, meeting_id: int) -> None:
    """The host's list: who holds a place, who is here and how (QR or code, where)."""
    svc = context.services
    presence = meetings.Presence.from_settings(svc.settings)
    async with svc.sessions() as session:
        roster = await meetings.attendance(session, meeting_id, _user_id(update), presence)
    await context.answer()
    await context.bot.send_message(_chat_id(update), checkin_ui.roster_text(context.lang, roster))


async def _close_joining(update: Update, context: Context, meeting_id: int) -> None:
    host_id, svc = _user_id(update), context.services
    await context.answer()
    async with transaction(svc.sessions) as session:
        await meetings.close_joining(session, meeting_id, host_id)
        card = await meetings.card(session, meeting_id, host_id, svc.clock.now())
    await context.bot.send_message(_chat_id(update), ui.joining_closed(context.lang))
    await _redraw(update, context, card)


async def _ask_cancel(update: Update, context: Context, meeting_id: int) -> None:
    await context.answer()
    text, markup = ui.cancel_question(context.lang, meeting_id)
    await context.bot.send_message(_chat_id(update), text, reply_markup=markup)


async def _cancel(update: Update, context: Context, meeting_id: int) -> None:
    svc = context.services
    await context.answer()
    async with transaction(svc.sessions) as session:
        told = await meetings.cancel(session, meeting_id, _user_id(update), svc.clock.now())
    assert update.callback_query is not None
    with contextlib.suppress(BadRequest):
        await update.callback_query.edit_message_text(ui.cancelled(context.lang, told))


HostTool = Callable[[Update, Context, int], Awaitable[None]]
# "msg" is the host message conversation's entry point (conversations.host); "when" and
# "note" are the change conversations' (conversations.changes).
HOST_TOOLS: dict[str, HostTool] = {
    "qr": _checkin_qr,
    "list": _roster,
    "close": _close_joining,
    "cancel": _ask_cancel,
    "cancelyes": _cancel,
}


def register(application: Application) -> None:
    """Steps 3-4: /meetups, /mymeetups, a shared location, and the meetup buttons."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("meetups", list_meetups, filters=private))
    application.add_handler(CommandHandler("mymeetups", my_meetups, filters=private))
    # A location outside a conversation (signup's location step comes first): distances.
    application.add_handler(
        MessageHandler((filters.LOCATION | filters.VENUE) & private, meetups_near)
    )
    for action, callback in (
        (Action.MEETUPS_OF, meetups_of_mission),
        (Action.MEETUP_VIEW, view_meetup),
        (Action.MY_MEETUPS, my_meetups_page),
        (Action.MEETUP_JOIN, join),
        (Action.MEETUP_LEAVE, leave),
        (Action.MEETUP_CONFIRM, still_coming),
        (Action.MEETUP_HOST, host_tool),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
