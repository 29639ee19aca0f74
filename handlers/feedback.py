"""Feedback after a meetup (step 7): stars for each attendee, then optional tags.

Stateless buttons: each carries the meeting, the person rated and the stars, so a restart or
an old message still works, and the database's unique (meeting, rater, rated) makes a second
rating impossible.
"""

from __future__ import annotations

import contextlib

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler

from bot.context import Context
from storage import errors, feedback
from storage.db import transaction
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, t

TAG_LABELS = {
    "on_time": N_("On time"),
    "friendly": N_("Friendly"),
    "helpful": N_("Helpful"),
    "late": N_("Late"),
    "rude": N_("Rude"),
}


def _tags_markup(lang: str, feedback_id: int, chosen: list[str]) -> keyboards.InlineKeyboardMarkup:
    buttons = [
        (("✅ " if tag in chosen else "") + t(lang, label),
         callbacks.encode(Action.FEEDBACK_TAG, feedback_id, tag))
        for tag, label in TAG_LABELS.items()
    ]  # fmt: skip
    return keyboards.inline(keyboards.grid(buttons, 3))


async def start_rating(update: Update, context: Context) -> None:
    """ "Rate the others": one message per attendee, with stars."""
    query = update.callback_query
    assert (
        query is not None
        and update.effective_user is not None
        and update.effective_chat is not None
    )
    lang = context.lang
    meeting_id = callbacks.decode(query.data).int_arg(0)
    try:
        async with context.services.sessions() as session:
            people = await feedback.to_rate(session, meeting_id, update.effective_user.id)
    except errors.FeedbackError:
        await query.answer(t(lang, "Only people who checked in can rate, once the meetup is over."),
                           show_alert=True)  # fmt: skip
        return
    await query.answer()
    if not people:
        await context.bot.send_message(
            update.effective_chat.id, t(lang, "You have rated everyone. Thank you!")
        )
        return
    for person in people:
        stars = [
            ("★" * n, callbacks.encode(Action.FEEDBACK_STARS, meeting_id, person.user_id, n))
            for n in range(1, 6)
        ]
        await context.bot.send_message(
            update.effective_chat.id,
            t(lang, "How was meeting {name}?", name=person.name),
            reply_markup=keyboards.inline([stars]),
        )


async def stars(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    svc = context.services
    parsed = callbacks.decode(query.data)
    meeting_id, ratee_id, count = parsed.int_arg(0), parsed.int_arg(1), parsed.int_arg(2)
    try:
        async with transaction(svc.sessions) as session:
            rating = await feedback.rate(
                session, meeting_id, update.effective_user.id, ratee_id, count, svc.clock.now()
            )
    except errors.AlreadyRated:
        await query.answer(t(lang, "You already rated this person for this meetup."))
        return
    except (errors.FeedbackError, ValueError):
        await query.answer(t(lang, "This button no longer works. Send /start to begin again."))
        return
    await query.answer(t(lang, "Thank you!"))
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(
            t(lang, "You gave {stars}. Anything else? (optional)", stars="★" * count),
            reply_markup=_tags_markup(lang, rating.id, []),
        )


async def tag(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    parsed = callbacks.decode(query.data)
    try:
        async with transaction(context.services.sessions) as session:
            rating = await feedback.toggle_tag(
                session, parsed.int_arg(0), update.effective_user.id, parsed.args[1]
            )
            chosen, rating_id = list(rating.tags), rating.id
    except errors.FeedbackError:
        await query.answer(t(lang, "This button no longer works. Send /start to begin again."))
        return
    await query.answer()
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(_tags_markup(lang, rating_id, chosen))


def register(application: Application) -> None:
    """Step 7: rating the people one met."""
    for action, callback in (
        (Action.FEEDBACK, start_rating),
        (Action.FEEDBACK_STARS, stars),
        (Action.FEEDBACK_TAG, tag),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
