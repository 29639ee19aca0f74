"""Gathering on a group's daily post (issue 23): "🙋" taps, "who?", and `/setgather N`.

A tap is counted by `storage.gathering.tap` (once per person, post and mission); its answer is
a toast, and the post is edited to show the counts. The tap that completes the count makes a
meetup: its card (the meetup card's own text and Join button) goes to the group under the
post through the outbox, or, when nobody who tapped may host, a call for a host. Someone
without an account is answered with the bot's private chat opened on the mission (a
`t.me/<bot>?start=m<id>` link, which Telegram lets a button's answer open) and counts once
signed up and tapping again.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import date, datetime

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from bot.senders import sender_is_admin
from storage import errors, gathering
from storage.db import transaction
from ui import callbacks, links
from ui import gathering as screens
from ui.callbacks import Action

log = logging.getLogger(__name__)


def _day(arg: str) -> date:
    try:
        return datetime.strptime(arg, "%Y%m%d").date()
    except ValueError as error:
        raise errors.NotDailyPost from error


async def tap(update: Update, context: Context) -> None:
    """ "🙋" under a mission of a daily post. What the taps made is told to the group through
    the outbox, queued in the same transaction (`storage.gathering`)."""
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and chat is not None
    svc, pressed = context.services, context.pressed
    mission_id, day = pressed.int_arg(0), _day(pressed.args[1])
    try:
        async with transaction(svc.sessions) as session:
            tapped = await gathering.tap(
                session, chat_id=chat.id, day=day, mission_id=mission_id,
                user_id=query.from_user.id, rules=svc.rules, now=svc.clock.now(),
                zone=svc.settings.zone, cutoff=svc.settings.gather_cutoff_time,
            )  # fmt: skip
    except errors.NotRegistered:
        await _sign_up_first(context, mission_id)
        return
    await context.answer(screens.tapped(context.lang, tapped))
    text, markup = screens.post_screen(tapped.post.language, tapped.post, context.bot.username)
    with contextlib.suppress(BadRequest):  # "not modified": a double tap changed nothing
        await query.edit_message_text(text, reply_markup=markup)
    if tapped.formed is not None and tapped.formed.meeting_id is not None:
        log.info("group %s: taps made meetup %s", chat.id, tapped.formed.meeting_id)


async def _sign_up_first(context: Context, mission_id: int) -> None:
    """No account: the answer opens the private chat on the mission (its invitation to sign
    up); the tap is not counted."""
    username = context.bot.username
    url = links.mission_link(username, mission_id) if username else None
    await context.answer(screens.sign_up_first(context.lang), alert=url is None, url=url)


async def who(update: Update, context: Context) -> None:
    """ "👀 Who?": the display names of who tapped, as an alert."""
    chat = update.effective_chat
    assert chat is not None
    pressed = context.pressed
    mission_id, day = pressed.int_arg(0), _day(pressed.args[1])
    async with context.services.sessions() as session:
        names = await gathering.who(session, chat.id, day, mission_id)
    await context.answer(screens.who(context.lang, names), alert=True)


async def set_gather(update: Update, context: Context) -> None:
    """`/setgather N`: how many taps make a meetup in this group (admins only)."""
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None and message is not None
    if not await sender_is_admin(update, context):
        await context.refuse(errors.NotAdmin("group"))
        return
    arg = "".join(context.args or [])
    if not arg.isdigit():
        await message.reply_text(screens.size_format(context.lang))
        return
    async with transaction(context.services.sessions) as session:
        size = await gathering.set_size(session, chat.id, int(arg))
    await message.reply_text(screens.size_set(context.lang, size))


def register(application: Application) -> None:
    """Issue 23: the daily post's "🙋" and "who?", and /setgather in groups."""
    application.add_handler(CallbackQueryHandler(tap, pattern=callbacks.pattern(Action.GATHER_TAP)))
    application.add_handler(CallbackQueryHandler(who, pattern=callbacks.pattern(Action.GATHER_WHO)))
    application.add_handler(
        CommandHandler("setgather", set_gather, filters=filters.ChatType.GROUPS)
    )
