"""The host changes a meetup (issue 23): "🕒 Change time" and "📝 Edit note" on the host's
card, each a short conversation like "message them" (conversations/host.py): the button,
then one typed answer, then `storage.meetings.postpone` or `edit_note` in one transaction.

The time is read as when hosting (`host.read_time`: `19:30`, `내일 19:30`, a bare time already
past today is tomorrow and said so) and validated as when hosting (`meetings.ensure_start`,
inside `postpone`); a time refused is asked again, anything else refused ends the
conversation with the refusal. Someone else's press (a forged button) gets the refusal and
no conversation starts. The question has "Cancel" under it (as `/cancel`); answered, it shows
the new time or the note's start (or "Cancelled") and loses it (`conversations.steps.Questions`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import Context
from bot.services import services_of
from conversations.host import read_time
from conversations.owner import Conversation
from conversations.steps import Questions, button
from storage import errors, meetings
from storage.db import transaction
from ui import callbacks
from ui import meetups as ui
from ui.callbacks import Action
from ui.refusals import refusal

NEW_TIME, NEW_NOTE = 20, 21
END = ConversationHandler.END
KEY = "change"  # the meetup changed and the open question
QUESTIONS = Questions(KEY)


async def _say(update: Update, text: str) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(text)


async def _refused(update: Update, context: Context, error: errors.DomainError) -> None:
    await _say(update, refusal(context.lang, error, context.services.settings.zone))


async def _as_host(update: Update, context: Context) -> meetings.MeetupView:
    """The pressed meetup, read before the press is answered: anyone but the host, or a
    meetup over or started, gets one answer, the refusal (handlers/errors.py), and no
    conversation starts. The operation checks it all again in its transaction."""
    assert update.effective_user is not None and context.user_data is not None
    async with context.services.sessions() as session:
        meetup = await meetings.as_host(
            session, context.pressed.int_arg(0), update.effective_user.id
        )
    meeting = meetup.meeting
    if meeting.status != "open":
        raise errors.MeetupNotOpen(meeting.status)
    if meeting.starts_at <= context.services.clock.now():
        raise errors.MeetupNotOpen("started")
    return meetup


async def _start(update: Update, context: Context, meetup: meetings.MeetupView) -> None:
    """The press answered; a question of an earlier try, if any, loses its "Cancel"."""
    await context.answer()
    assert context.user_data is not None
    await QUESTIONS.close_open(update, context)
    context.user_data[KEY] = {"meeting_id": meetup.meeting.id}


def _meeting_id(context: Context) -> int | None:
    meeting_id = QUESTIONS.answers(context).get("meeting_id")
    return None if meeting_id is None else int(meeting_id)


async def _done(update: Update, context: Context, shown: str | None) -> None:
    """The conversation ends: the question shows `shown` (or just loses its "Cancel")."""
    if shown is None:
        await QUESTIONS.close_open(update, context)
    else:
        await QUESTIONS.answered(update, context, shown)
    assert context.user_data is not None
    context.user_data.pop(KEY, None)


async def ask_time(update: Update, context: Context) -> int:
    """ "🕒 Change time": the next text is the new start."""
    meetup = await _as_host(update, context)
    await _start(update, context, meetup)
    zone, starts_at = context.services.settings.zone, meetup.meeting.starts_at
    await QUESTIONS.ask(update, context, ui.ask_new_time(context.lang, zone, starts_at))
    return NEW_TIME


async def time_typed(update: Update, context: Context) -> int | None:
    """Moves the start; a time refused (unreadable, too soon, too far) is asked again."""
    assert update.effective_message is not None
    svc = context.services
    meeting_id = _meeting_id(context)
    if meeting_id is None:
        return END
    now = svc.clock.now()
    read = read_time(update.effective_message.text or "", now.astimezone(svc.settings.zone))
    if read is None:
        await _say(update, ui.unreadable_new_time(context.lang))
        return None
    start, moved = read
    if moved:
        await _say(update, ui.moved_to_tomorrow(context.lang, start, svc.settings.zone))
    return await _postpone(update, context, meeting_id, start, now)


def _another_time(error: errors.DomainError) -> bool:
    """Whether a refused move asks for another time (the time itself was refused) rather than
    ending the conversation (someone has checked in, or anything else)."""
    if isinstance(error, errors.CannotChange):
        return error.reason != "checked_in"
    return isinstance(error, errors.InvalidTime | errors.TimeConflict)


async def _postpone(
    update: Update, context: Context, meeting_id: int, start: datetime, now: datetime
) -> int | None:
    """`meetings.postpone` in one transaction, then the outcome said; the question shows the
    new time."""
    assert update.effective_user is not None
    svc = context.services
    try:
        async with transaction(svc.sessions) as session:
            result = await meetings.postpone(
                session, meeting_id, update.effective_user.id, start, now
            )
    except errors.DomainError as exc:
        again = _another_time(exc)
        if not again:
            await _done(update, context, None)
        await _refused(update, context, exc)
        return None if again else END
    zone = svc.settings.zone
    shown = ui.chosen_time(context.lang, start.astimezone(zone), now.astimezone(zone))
    await _done(update, context, shown)
    await _say(update, ui.postponed(context.lang, zone, result))
    return END


async def ask_note(update: Update, context: Context) -> int:
    """ "📝 Edit note": the next text is the new note."""
    meetup = await _as_host(update, context)
    await _start(update, context, meetup)
    await QUESTIONS.ask(update, context, ui.ask_new_note(context.lang, meetup.meeting.note))
    return NEW_NOTE


async def note_typed(update: Update, context: Context) -> int:
    assert update.effective_user is not None and update.effective_message is not None
    svc, text = context.services, update.effective_message.text or ""
    meeting_id = _meeting_id(context)
    if meeting_id is None:
        return END
    try:
        async with transaction(svc.sessions) as session:
            told = await meetings.edit_note(
                session, meeting_id, update.effective_user.id, text, svc.clock.now(),
                # The host's message handled again (a redelivery) is told once.
                occasion=update.effective_message.message_id,
            )  # fmt: skip
    except errors.DomainError as exc:
        await _done(update, context, None)
        await _refused(update, context, exc)
        return END
    await _done(update, context, ui.note_answer(text))
    await _say(update, ui.note_changed(context.lang, told))
    return END


async def cancel(update: Update, context: Context) -> int:
    """`/cancel` or the question's "Cancel": the question shows "Cancelled"."""
    assert context.user_data is not None
    await QUESTIONS.cancelled(update, context)
    context.user_data.pop(KEY, None)
    await _say(update, ui.nothing_changed(context.lang))
    return END


async def timed_out(update: Update, context: Context) -> None:
    """Idle too long after "Change time" or "Edit note": nothing changes, the question loses
    its "Cancel", and the host is told."""
    await _done(update, context, None)
    if update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, ui.change_timed_out(context.lang))


def _tool(tool: str, callback: Any) -> CallbackQueryHandler:
    return CallbackQueryHandler(callback, pattern=callbacks.pattern(Action.MEETUP_HOST, last=tool))


def conversation(
    timeout_seconds: float, people: Mapping[int, Mapping[str, Any]]
) -> ConversationHandler:
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    with warnings.catch_warnings():
        # Tracked per person, not per message, on purpose (see conversations.signup).
        warnings.filterwarnings("ignore", message=".*per_message=False.*")
        return Conversation(
            entry_points=[_tool("when", ask_time), _tool("note", ask_note)],
            states={
                NEW_TIME: [MessageHandler(text, time_typed)],
                NEW_NOTE: [MessageHandler(text, note_typed)],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[CommandHandler("cancel", cancel), button(cancel, Action.STOP, "change")],
            name="meetup_change",
            persistent=True,
            allow_reentry=True,
            conversation_timeout=timeout_seconds,
            people=people,
        )


def register(application: Application) -> None:
    """Before the meetup buttons (handlers/meetups.py): it owns the "when" and "note" tools."""
    timeout = services_of(application.bot_data).settings.conversation_timeout_minutes * 60
    application.add_handler(conversation(timeout, application.user_data))
