"""Feedback after a meetup (step 7): stars for each attendee, then optional tags.

Stateless buttons: each carries the meeting, the person rated and the stars, so a restart or
an old message still works, and the database's unique (meeting, rater, rated) makes a second
rating impossible. A press handled twice (a crash before the inbox marked it done) shows the
same both times: the same stars find their rating, a tag button sets a tag on or off. Refusals
come from storage and read from `ui/refusals.py`. A rating's press is answered first, before
the database work; the edited message then shows what was kept.
"""

from __future__ import annotations

import contextlib

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler

from bot.context import Context
from storage import errors, feedback
from storage.db import transaction
from ui import callbacks
from ui import feedback as ui
from ui.callbacks import Action, InvalidCallback
from ui.i18n import t


async def start_rating(update: Update, context: Context) -> None:
    """ "Rate the others": one message per attendee, with stars (a refusal, e.g. not checked
    in, is answered by the error handler)."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    meeting_id = context.pressed.int_arg(0)
    async with context.services.sessions() as session:
        people = await feedback.to_rate(session, meeting_id, user.id)
    await context.answer()
    if not people:
        await context.bot.send_message(chat.id, t(context.lang, ui.ALL_RATED))
    for text, markup in ui.rating_requests(context.lang, meeting_id, people):
        await context.bot.send_message(chat.id, text, reply_markup=markup)


async def stars(update: Update, context: Context) -> None:
    """Stars for one attendee, once; the message then offers tags (those already chosen ticked,
    when the same press comes again)."""
    query, user, pressed = update.callback_query, update.effective_user, context.pressed
    assert query is not None and user is not None
    meeting_id, ratee_id, count = pressed.int_arg(0), pressed.int_arg(1), pressed.int_arg(2)
    if count not in feedback.STARS:
        raise InvalidCallback("stars")
    svc = context.services
    await context.answer()
    try:
        async with transaction(svc.sessions) as session:
            rating = await feedback.rate(
                session, meeting_id, user.id, ratee_id, count, svc.clock.now()
            )
    except errors.FeedbackError as refused:  # rated already, or an outdated button
        await context.refuse(refused, alert=False)
        return
    # The message now says the stars given: no toast repeats it.
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(
            ui.rated(context.lang, count),
            reply_markup=ui.tags(context.lang, rating.id, rating.tags),
        )


async def tag(update: Update, context: Context) -> None:
    """A tag on one's own rating, put on or taken off."""
    query, user, pressed = update.callback_query, update.effective_user, context.pressed
    assert query is not None and user is not None
    rating_id, (chosen, on) = pressed.int_arg(0), ui.tag_choice(pressed.args[1])
    await context.answer()
    try:
        async with transaction(context.services.sessions) as session:
            rating = await feedback.set_tag(session, rating_id, user.id, chosen, on=on)
    except errors.FeedbackError as refused:  # not one's own rating: an outdated button
        await context.refuse(refused, alert=False)
        return
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(ui.tags(context.lang, rating.id, rating.tags))


def register(application: Application) -> None:
    """Step 7: rating the people one met."""
    for action, callback in (
        (Action.FEEDBACK, start_rating),
        (Action.FEEDBACK_STARS, stars),
        (Action.FEEDBACK_TAG, tag),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
